//! `kanmon check`: the readable report, `--json`, input from standard input, and the sample
//! messages of `testdata/messages/` with the envelopes their README gives.

use serde_json::{Value, json};

use super::*;

/// A domain whose SPF record `spf` allows only 192.0.2.0/24, with a policy asking to reject
/// what fails, and a HELO name that is fine: mail from 203.0.113.5 claiming to be from
/// spoofed.test is forged.
fn spoofed_zone(spf: &str) -> String {
    format!(
        r#"
spoofed.test                 TXT  "{spf}"
_dmarc.spoofed.test          TXT  "v=DMARC1; p=reject"
mx.sender.example            A    203.0.113.5
mx.sender.example            TXT  "v=spf1 a -all"
"#
    )
}

const SPOOFED_SPF: &str = "v=spf1 ip4:192.0.2.0/24 -all";

const SPOOFED: &[u8] = b"From: Alice Example <alice@spoofed.test>\r\n\
To: bob@example.org\r\n\
Subject: Invoice 2026-0113 overdue\r\n\
Date: Tue, 13 Jan 2026 10:00:00 +0000\r\n\
Message-ID: <20260113100000.1@spoofed.test>\r\n\
\r\n\
Please pay the attached invoice today.\r\n";

const SPOOFED_ENVELOPE: &[&str] = &[
    "--ip",
    "203.0.113.5",
    "--helo",
    "mx.sender.example",
    "--client-name",
    "mx.sender.example",
    "--from",
    "alice@spoofed.test",
    "--rcpt",
    "<bob@example.org>",
];

#[test]
fn report_explains_each_result_and_the_enforced_spf_fail() {
    let dns = Dns::serving(&spoofed_zone(SPOOFED_SPF));
    let kanmon = Kanmon::new(&dns, "[spf]\nmode = \"enforce\"\n");
    let run = kanmon.check(SPOOFED_ENVELOPE, SPOOFED);
    run.assert_code(0);
    let expected = format!(
        "\
kanmon check: {}
  client 203.0.113.5 (mx.sender.example), helo mx.sender.example, from alice@spoofed.test, to bob@example.org [inbound]

SPF       fail       203.0.113.5 is not permitted by spoofed.test (-all)
SPF HELO  pass       203.0.113.5 is permitted by mx.sender.example (a)
DKIM      none       message has no DKIM signature
DMARC     fail       From spoofed.test: no aligned SPF (fail for spoofed.test) or DKIM (no valid signature) pass; p=reject
ARC       none       message has no ARC header fields

Symbols:
    1.00  SPF_FAIL       203.0.113.5 is not permitted by spoofed.test (-all)
    0.00  SPF_HELO_PASS  203.0.113.5 is permitted by mx.sender.example (a)
    2.00  DMARC_REJECT   From spoofed.test: no aligned SPF (fail for spoofed.test) or DKIM (no valid signature) pass; p=reject
Score: 3.00 (spam at 6.00)
Action: reject (SPF fail: 203.0.113.5 is not permitted by spoofed.test (-all))
  would reject in enforce mode (dmarc mode is tag): DMARC reject: From spoofed.test: no aligned SPF (fail for spoofed.test) or DKIM (no valid signature) pass; p=reject

",
        kanmon.path("message.eml").display()
    );
    let (report, headers) = split_headers(&run.stdout);
    assert_eq!(report, expected);
    let json = kanmon
        .check(&[&["--json"], SPOOFED_ENVELOPE].concat(), SPOOFED)
        .json();
    assert_eq!(
        headers,
        format!(
            "{}\nSkipped:\n  {BAYES_COLD_START}\n",
            headers_section(&json)
        )
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn tag_mode_only_records_what_spf_would_have_enforced() {
    let dns = Dns::serving(&spoofed_zone(SPOOFED_SPF));
    let kanmon = Kanmon::new(&dns, "");
    let run = kanmon.check(SPOOFED_ENVELOPE, SPOOFED);
    run.assert_code(0);
    let action: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("Action:"))
        .take_while(|line| !line.is_empty())
        .collect();
    assert_eq!(
        action,
        [
            "Action: accept",
            "  would reject in enforce mode (spf mode is tag): SPF fail: 203.0.113.5 is not permitted by spoofed.test (-all)",
            "  would reject in enforce mode (dmarc mode is tag): DMARC reject: From spoofed.test: no aligned SPF (fail for spoofed.test) or DKIM (no valid signature) pass; p=reject",
        ]
    );
}

#[test]
fn json_report_of_a_signed_newsletter_from_its_own_servers() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let json = kanmon
        .check(
            &[
                "--json",
                "--ip",
                "192.0.2.40",
                "--helo",
                "mta1.news.example.com",
                "--client-name",
                "mta1.news.example.com",
                "--from",
                "<bounce+8f14e45f@bounces.news.example.com>",
                "--rcpt",
                "bob@example.org",
            ],
            &sample("newsletter-dkim.eml"),
        )
        .json();
    assert_json_includes(
        &json,
        &json!({
            "action": "accept",
            "reason": null,
            "score": -0.9,
            "required": 6.0,
            "internal": false,
            "symbols": [
                {"name": "SPF_PASS", "score": -0.2,
                 "reason": "192.0.2.40 is permitted by bounces.news.example.com (ip4:192.0.2.32/27)"},
                {"name": "SPF_HELO_PASS", "score": 0.0,
                 "reason": "192.0.2.40 is permitted by mta1.news.example.com (a)"},
                {"name": "DKIM_SIGNED", "score": 0.1, "reason": "d=news.example.com s=rsa2048"},
                {"name": "DKIM_VALID", "score": -0.1, "reason": "d=news.example.com s=rsa2048"},
                {"name": "DKIM_VALID_AU", "score": -0.1, "reason": "d=news.example.com s=rsa2048"},
                {"name": "DKIM_VALID_EF", "score": -0.1, "reason": "d=news.example.com s=rsa2048"},
                {"name": "DMARC_PASS", "score": -0.5,
                 "reason": "From news.example.com: aligned SPF (mail from bounces.news.example.com) and DKIM (d=news.example.com) pass; p=reject"},
            ],
            "spf": {
                "result": "pass",
                "domain": "bounces.news.example.com",
                "sender": "bounce+8f14e45f@bounces.news.example.com",
                "mechanism": "ip4:192.0.2.32/27",
                "explanation": null,
                "reason": "192.0.2.40 is permitted by bounces.news.example.com (ip4:192.0.2.32/27)",
            },
            "helo": {
                "result": "pass",
                "domain": "mta1.news.example.com",
                "sender": "postmaster@mta1.news.example.com",
                "mechanism": "a",
                "explanation": null,
            },
            "dkim": [{
                "result": "pass",
                "domain": "news.example.com",
                "selector": "rsa2048",
                "identity": "@news.example.com",
                "algorithm": "rsa-sha256",
                "key_bits": 2048,
                "reason": "signature verified",
            }],
            "dmarc": {
                "result": "pass",
                "from_domain": "news.example.com",
                "policy": "reject",
                "disposition": "none",
                "policy_domain": "news.example.com",
            },
            "arc": {"result": "none", "sets": 0, "reason": "message has no ARC header fields"},
            "enforcements": [],
            "forged_authentication_results": [],
            "skipped": [{"what": "bayes", "why": "0 spam and 0 ham learned, needs 50 spam and 50 ham"}],
        }),
    );
    assert_header_fields(&json);
    let field = |name: &str| -> Vec<&str> {
        json["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .filter(|h| h["name"] == name)
            .map(|h| h["value"].as_str().expect("value"))
            .collect()
    };
    assert_eq!(
        field("Authentication-Results"),
        ["mx.example.org; \
             spf=pass (192.0.2.40 is permitted by bounces.news.example.com (ip4:192.0.2.32/27)) \
             smtp.mailfrom=bounce+8f14e45f@bounces.news.example.com; \
             spf=pass (192.0.2.40 is permitted by mta1.news.example.com (a)) \
             smtp.helo=mta1.news.example.com; \
             dkim=pass (2048-bit key) header.d=news.example.com header.i=@news.example.com \
             header.a=rsa-sha256 header.s=rsa2048 header.b=NHRx1P4rvD6H; \
             dmarc=pass (p=reject dis=none) header.from=news.example.com; \
             arc=none"]
    );
    assert_eq!(
        field("Received-SPF"),
        [
            "pass (mx.example.org: domain of bounce+8f14e45f@bounces.news.example.com designates \
             192.0.2.40 as permitted sender) receiver=mx.example.org; client-ip=192.0.2.40; \
             envelope-from=\"bounce+8f14e45f@bounces.news.example.com\"; \
             helo=mta1.news.example.com; identity=mailfrom; mechanism=\"ip4:192.0.2.32/27\";",
            "pass (mx.example.org: domain of postmaster@mta1.news.example.com designates \
             192.0.2.40 as permitted sender) receiver=mx.example.org; client-ip=192.0.2.40; \
             helo=mta1.news.example.com; identity=helo; mechanism=a;",
        ]
    );
}

#[test]
fn json_report_carries_the_domains_spf_explanation_and_the_enforcement() {
    let zone = spoofed_zone("v=spf1 ip4:192.0.2.0/24 -all exp=why._spf.spoofed.test")
        + "why._spf.spoofed.test  TXT  \"%{i} is not one of %{d}'s mail servers\"\n";
    let dns = Dns::serving(&zone);
    let kanmon = Kanmon::new(&dns, "[spf]\nmode = \"enforce\"\n");
    let json = kanmon
        .check(&[&["--json"], SPOOFED_ENVELOPE].concat(), SPOOFED)
        .json();
    let reason = "SPF fail: 203.0.113.5 is not permitted by spoofed.test (-all): \
                  203.0.113.5 is not one of spoofed.test's mail servers";
    assert_json_includes(
        &json,
        &json!({
            "action": "reject",
            "reason": reason,
            "score": 3.0,
            "spf": {
                "result": "fail",
                "domain": "spoofed.test",
                "sender": "alice@spoofed.test",
                "mechanism": "-all",
                "explanation": "203.0.113.5 is not one of spoofed.test's mail servers",
            },
            "dmarc": {
                "result": "fail",
                "from_domain": "spoofed.test",
                "policy": "reject",
                "disposition": "reject",
            },
            "enforcements": [
                {"check": "spf", "action": "reject", "reason": reason, "mode": "enforce"},
                {"check": "dmarc", "action": "reject", "mode": "tag"},
            ],
            "skipped": [{"what": "bayes", "why": "0 spam and 0 ham learned, needs 50 spam and 50 ham"}],
        }),
    );
    assert_eq!(
        symbol_names(&json),
        ["SPF_FAIL", "SPF_HELO_PASS", "DMARC_REJECT"]
    );
}

#[test]
fn without_ip_or_sender_dkim_and_dmarc_still_run_and_the_skips_are_listed() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let json = kanmon.check(&["--json"], &sample("multipart.eml")).json();
    assert_json_includes(
        &json,
        &json!({
            "action": "accept",
            "spf": null,
            "helo": null,
            "dkim": [{"result": "pass", "domain": "example.com", "selector": "rsa2048", "key_bits": 2048}],
            "dmarc": {
                "result": "pass",
                "from_domain": "example.com",
                "reason": "From example.com: aligned DKIM pass (d=example.com); p=reject",
            },
            "arc": {"result": "none"},
        }),
    );
    assert_eq!(
        skipped(&json),
        [
            "spf: no client IP address given",
            "dmarc spf: no SPF result for the MAIL FROM identity: DMARC used DKIM alone",
            "s25r: no client name given (Postfix client_name, --client-name)",
            "helo: no HELO name given (--helo)",
            "helo rdns: no client name given (Postfix client_name and client_ptr, --client-name, --client-ptr)",
            BAYES_COLD_START,
        ]
    );

    // An IP address alone is not enough for SPF either; HELO has its own note.
    let json = kanmon
        .check(&["--json", "--ip", "192.0.2.25"], &sample("multipart.eml"))
        .json();
    assert_eq!(
        skipped(&json),
        [
            "spf: no MAIL FROM address given",
            "spf helo: no HELO name given",
            "dmarc spf: no SPF result for the MAIL FROM identity: DMARC used DKIM alone",
            "s25r: no client name given (Postfix client_name, --client-name)",
            "helo: no HELO name given (--helo)",
            "helo rdns: no client name given (Postfix client_name and client_ptr, --client-name, --client-ptr)",
            BAYES_COLD_START,
        ]
    );
}

#[test]
fn reads_the_message_from_standard_input_with_a_dash_or_no_file() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let message = sample("multipart.eml");
    let from_file = kanmon.check(&["--json"], &message).json();
    for args in [&["--json", "-"][..], &["--json"][..]] {
        let from_stdin = kanmon.check_stdin(args, &message).json();
        assert_eq!(from_stdin, from_file, "kanmon check {args:?}");
    }
    let run = kanmon.check_stdin(&["-"], &message);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("kanmon check: standard input\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nDKIM      pass       d=example.com s=rsa2048 a=rsa-sha256 (2048-bit key): signature verified\n"),
        "{}",
        run.stdout
    );
}

/// Each sample message, with the envelope `testdata/messages/README.md` gives it, passes
/// every check its zone lines let it pass.
#[test]
fn sample_messages_pass_with_their_envelopes() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let cases: &[(&str, [&str; 3], &[&str])] = &[
        (
            "sample.eml",
            ["192.0.2.25", "mail.example.com", "alice@example.com"],
            // Unsigned: DMARC passes on the aligned SPF result alone.
            &["SPF_PASS", "SPF_HELO_PASS", "DMARC_PASS"],
        ),
        (
            "multipart.eml",
            ["192.0.2.25", "mail.example.com", "alice@example.com"],
            &[
                "SPF_PASS",
                "SPF_HELO_PASS",
                "DKIM_SIGNED",
                "DKIM_VALID",
                "DKIM_VALID_AU",
                "DKIM_VALID_EF",
                "DMARC_PASS",
            ],
        ),
        (
            "iso-2022-jp.eml",
            ["192.0.2.80", "mail.example.jp", "tanaka@example.jp"],
            &[
                "SPF_PASS",
                "SPF_HELO_PASS",
                "DKIM_SIGNED",
                "DKIM_VALID",
                "DKIM_VALID_AU",
                "DKIM_VALID_EF",
                "DMARC_PASS",
            ],
        ),
        (
            "shift_jis-8bit.eml",
            ["192.0.2.80", "mail.example.jp", "tanaka@example.jp"],
            &[
                "SPF_PASS",
                "SPF_HELO_PASS",
                "DKIM_SIGNED",
                "DKIM_VALID",
                "DKIM_VALID_AU",
                "DKIM_VALID_EF",
                "DMARC_PASS",
            ],
        ),
        (
            "newsletter-dkim.eml",
            [
                "192.0.2.40",
                "mta1.news.example.com",
                "bounce+8f14e45f@bounces.news.example.com",
            ],
            &[
                "SPF_PASS",
                "SPF_HELO_PASS",
                "DKIM_SIGNED",
                "DKIM_VALID",
                "DKIM_VALID_AU",
                "DKIM_VALID_EF",
                "DMARC_PASS",
            ],
        ),
    ];
    for (name, [ip, helo, from], symbols) in cases {
        let args = [
            "--json",
            "--ip",
            ip,
            "--helo",
            helo,
            "--client-name",
            helo,
            "--from",
            from,
        ];
        let json = kanmon.check(&args, &sample(name)).json();
        assert_eq!(symbol_names(&json), *symbols, "{name}");
        assert_eq!(json["action"], "accept", "{name}");
        assert_eq!(json["arc"]["result"], "none", "{name}");
        assert_eq!(skipped(&json), [BAYES_COLD_START], "{name}");
    }
}

/// The readable report up to its header section, and the section itself.
fn split_headers(report: &str) -> (&str, &str) {
    let at = report
        .find("Headers to add:")
        .unwrap_or_else(|| panic!("no header section in:\n{report}"));
    report.split_at(at)
}

/// The header section the readable report should print for the headers `--json` lists.
fn headers_section(json: &Value) -> String {
    let headers = json["headers"].as_array().expect("headers is an array");
    if headers.is_empty() {
        return "Headers to add: none\n".to_owned();
    }
    let mut section = "Headers to add:\n".to_owned();
    for header in headers {
        section.push_str(&format!(
            "{}: {}\n",
            header["name"].as_str().expect("name"),
            header["value"].as_str().expect("value")
        ));
    }
    section
}

/// Every header field to add is a `{name, value}` pair of strings, with a field name a
/// message can carry.
fn assert_header_fields(json: &Value) {
    for header in json["headers"].as_array().expect("headers is an array") {
        let object = header.as_object().expect("a header is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["name", "value"], "{header}");
        let name = header["name"].as_str().expect("name is a string");
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
            "{header}"
        );
        assert!(header["value"].is_string(), "{header}");
    }
}

/// `actual` has every field of `expected` with the same value (arrays element by element,
/// same length); fields `expected` does not name may be there too, since the schema only
/// ever grows.
fn assert_json_includes(actual: &Value, expected: &Value) {
    fn walk(actual: &Value, expected: &Value, path: &str, problems: &mut Vec<String>) {
        match (actual, expected) {
            (Value::Object(actual), Value::Object(expected)) => {
                for (key, value) in expected {
                    match actual.get(key) {
                        Some(found) => walk(found, value, &format!("{path}.{key}"), problems),
                        None => problems.push(format!("{path}.{key}: missing")),
                    }
                }
            }
            (Value::Array(actual), Value::Array(expected)) if actual.len() == expected.len() => {
                for (index, (found, value)) in actual.iter().zip(expected).enumerate() {
                    walk(found, value, &format!("{path}[{index}]"), problems);
                }
            }
            _ if actual == expected => {}
            _ => problems.push(format!("{path}: expected {expected}, found {actual}")),
        }
    }
    let mut problems = Vec::new();
    walk(actual, expected, "", &mut problems);
    assert!(
        problems.is_empty(),
        "{}\nin {actual:#}",
        problems.join("\n")
    );
}
