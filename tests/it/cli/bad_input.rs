//! Input a mail server does meet: bare LF line ends, no body, 8-bit bytes where there should
//! be none, header bombs, broken DKIM-Signature fields, a 50 MB message, an empty file, and
//! paths that are no message at all. Each gives a result (exit 0) or names the input it
//! could not read (exit 3); none panics. Non-UTF-8 charsets that verify are in
//! `check::sample_messages_pass_with_their_envelopes` (ISO-2022-JP, raw Shift_JIS).

use kanmon_core::kanmon_auth::dkim::{Signer, SigningKey};
use kanmon_core::kanmon_auth::message::Message;
use serde_json::Value;

use super::*;

/// `--json` and the envelope of `sample.eml` and `multipart.eml`, which SPF passes.
const ALICE: &[&str] = &[
    "--json",
    "--ip",
    "192.0.2.25",
    "--helo",
    "mail.example.com",
    "--client-name",
    "mail.example.com",
    "--from",
    "alice@example.com",
];

#[test]
fn a_signed_message_with_bare_lf_line_ends_still_verifies() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let crlf = String::from_utf8(sample("newsletter-dkim.eml")).expect("ascii");
    let lf = crlf.replace("\r\n", "\n");
    assert!(!lf.contains('\r'));
    let json = kanmon.check(&["--json"], lf.as_bytes()).json();
    assert_eq!(json["dkim"][0]["result"], "pass", "{:#}", json["dkim"]);
    assert_eq!(json["dmarc"]["result"], "pass");
}

#[test]
fn a_message_without_a_body() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    // No empty line and no final line end: all header.
    let json = kanmon
        .check(
            ALICE,
            b"From: Alice Example <alice@example.com>\r\n\
              To: bob@example.org\r\n\
              Subject: (no body)",
        )
        .json();
    assert_eq!(json["dkim"][0]["result"], "none");
    assert_eq!(json["dmarc"]["result"], "pass");
    assert_eq!(
        symbol_names(&json),
        ["SPF_PASS", "SPF_HELO_PASS", "DMARC_PASS"]
    );
    assert_eq!(skipped(&json), [BAYES_COLD_START]);

    // A signed message cut off after its header section: the body hash no longer matches.
    let newsletter = sample("newsletter-dkim.eml");
    let end = newsletter
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header section ends")
        + 4;
    let json = kanmon.check(&["--json"], &newsletter[..end]).json();
    assert_eq!(json["dkim"][0]["result"], "fail");
    assert_eq!(json["dkim"][0]["reason"], "body hash did not verify");
    assert_eq!(
        symbol_names(&json),
        ["DKIM_SIGNED", "DKIM_INVALID", "DMARC_REJECT"]
    );
}

#[test]
fn eight_bit_garbage_in_header_values_and_body_is_read_past() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    // Latin-1 and invalid UTF-8 in the From display name, Shift_JIS in an unencoded
    // Subject, an unknown charset, NUL and 0xFF bytes in the body.
    let json = kanmon
        .check(
            ALICE,
            b"From: \xc9lodie \xff\xfe <alice@example.com>\r\n\
              To: bob@example.org\r\n\
              Subject: \x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd \x80\x81\r\n\
              Content-Type: text/plain; charset=x-no-such-charset\r\n\
              Content-Transfer-Encoding: 8bit\r\n\
              \r\n\
              caf\xe9 \x00\xff\xfe\r\n",
        )
        .json();
    assert_eq!(json["dmarc"]["from_domain"], "example.com");
    assert_eq!(
        symbol_names(&json),
        ["SPF_PASS", "SPF_HELO_PASS", "DMARC_PASS"]
    );
}

#[test]
fn eight_bit_in_a_field_name_makes_the_header_unreadable() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let json = kanmon
        .check(
            ALICE,
            b"From: alice@example.com\r\nX-\xff\xfe: value\r\n\r\nbody\r\n",
        )
        .json();
    assert_json_symbols(
        &json,
        &[
            (
                "HEADER_UNREADABLE",
                "line 2 of the header section is not a header field",
            ),
            (
                "SPF_PASS",
                "192.0.2.25 is permitted by example.com (ip4:192.0.2.25)",
            ),
            (
                "SPF_HELO_PASS",
                "192.0.2.25 is permitted by mail.example.com (a)",
            ),
        ],
    );
    assert_eq!(
        skipped(&json),
        [
            "dkim: header section unreadable (HEADER_UNREADABLE)",
            "dmarc: header section unreadable (HEADER_UNREADABLE)",
            "arc: header section unreadable (HEADER_UNREADABLE)",
        ]
    );
}

/// More fields than `limits.max_header_fields` (1,000): the header is not read at all, the
/// message checks are skipped, the envelope is still checked, and the run succeeds.
#[test]
fn ten_thousand_header_fields() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let mut message = String::new();
    for hop in (1..=10_000).rev() {
        message.push_str(&format!(
            "Received: from relay{hop}.example.net by relay{}.example.net; Tue, 13 Jan 2026 09:00:00 +0000\r\n",
            hop + 1
        ));
    }
    message.push_str("From: alice@example.com\r\nSubject: loop\r\n\r\nbody\r\n");
    let run = kanmon.check(ALICE, message.as_bytes());
    let json = run.json();
    assert_json_symbols(
        &json,
        &[
            ("HEADER_UNREADABLE", "more than 1000 header fields"),
            (
                "SPF_PASS",
                "192.0.2.25 is permitted by example.com (ip4:192.0.2.25)",
            ),
            (
                "SPF_HELO_PASS",
                "192.0.2.25 is permitted by mail.example.com (a)",
            ),
        ],
    );
    assert_eq!(json["dkim"], serde_json::json!([]));
    assert_eq!(json["dmarc"], Value::Null);
    assert_eq!(json["arc"], Value::Null);
    assert_eq!(
        skipped(&json),
        [
            "dkim: header section unreadable (HEADER_UNREADABLE)",
            "dmarc: header section unreadable (HEADER_UNREADABLE)",
            "arc: header section unreadable (HEADER_UNREADABLE)",
        ]
    );

    // The same message is read when the limit allows it.
    let kanmon = Kanmon::new(&dns, "[limits]\nmax_header_fields = 20000\n");
    let json = kanmon.check(ALICE, message.as_bytes()).json();
    assert_eq!(
        symbol_names(&json),
        ["SPF_PASS", "SPF_HELO_PASS", "DMARC_PASS"]
    );
}

#[test]
fn a_header_section_over_max_header_bytes() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let mut message = b"From: alice@example.com\r\nSubject: ".to_vec();
    message.resize(message.len() + 2 * 1024 * 1024, b'A');
    message.extend_from_slice(b"\r\n\r\nbody\r\n");
    let json = kanmon.check(ALICE, &message).json();
    assert_eq!(json["symbols"][0]["name"], "HEADER_UNREADABLE");
    assert_eq!(
        json["symbols"][0]["reason"],
        "header section longer than 1048576 bytes"
    );
}

#[test]
fn malformed_dkim_signature_fields_are_permerrors() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    // One fault per field; bh= is the right length (the SHA-256 of an empty body) where the
    // fault is elsewhere.
    let message = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; h=from; bh=!!; b=\r\n\
DKIM-Signature: v=1; v=1; a=rsa-sha256; d=example.com; s=rsa2048; h=from;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
DKIM-Signature: garbage without tags\r\n\
DKIM-Signature: v=1; a=rsa-sha256; s=rsa2048; h=from;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
DKIM-Signature: v=1; a=rsa-md5; d=example.com; s=rsa2048; h=from;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=ex\xffample.com; s=rsa2048; h=from;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; h=subject;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; h=from; bh=AAAA; b=AAAA\r\n\
DKIM-Signature:\r\n\
From: Alice Example <alice@example.com>\r\n\
To: bob@example.org\r\n\
Subject: signatures\r\n\
\r\n\
body\r\n";
    let run = kanmon.check(&[], message);
    run.assert_code(0);
    let dkim: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("DKIM "))
        .collect();
    assert_eq!(
        dkim,
        [
            "DKIM      permerror  d=example.com s=rsa2048 a=rsa-sha256: invalid b= value",
            "DKIM      permerror  malformed signature: duplicate tag v",
            "DKIM      permerror  malformed signature: \"=\" expected at offset 9",
            "DKIM      permerror  signature lacks the required d= tag",
            "DKIM      permerror  d=example.com s=rsa2048: unknown signing algorithm a=rsa-md5",
            "DKIM      permerror  malformed signature: invalid character in the value of tag d",
            "DKIM      permerror  d=example.com s=rsa2048 a=rsa-sha256: h= does not include From",
            "DKIM      permerror  d=example.com s=rsa2048 a=rsa-sha256: invalid bh= value",
            "DKIM      permerror  signature lacks the required v= tag",
        ]
    );
    let symbols: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|line| *line != "Symbols:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(symbols, ["DKIM_SIGNED", "DKIM_PERMERROR", "DMARC_REJECT"]);
}

#[test]
fn an_empty_file_is_a_message_without_a_from_field() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let json = kanmon.check(&["--json"], b"").json();
    assert_eq!(json["dkim"][0]["result"], "none");
    assert_eq!(json["dmarc"]["result"], "permerror");
    assert_json_symbols(&json, &[("DMARC_PERMERROR", "From: no From header field")]);
    assert_eq!(json["action"], "accept");
}

#[test]
fn input_that_cannot_be_read_exits_3_and_names_it() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let config = kanmon.config.to_str().expect("utf-8 temp path");

    let missing = kanmon.path("missing.eml");
    let run = run(
        &[
            "check",
            "--config",
            config,
            missing.to_str().expect("utf-8"),
        ],
        None,
    );
    run.assert_code(3);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "kanmon: cannot read {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );

    let directory = kanmon.path("");
    let directory = directory.to_str().expect("utf-8");
    let run = super::run(&["check", "--config", config, directory], None);
    run.assert_code(3);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!("kanmon: cannot read {directory}: is a directory, not a message file\n")
    );
}

#[test]
fn standard_input_that_is_a_directory_exits_3() {
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let directory = std::fs::File::open(kanmon.path("")).expect("open the temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(["check", "--config"])
        .arg(&kanmon.config)
        .stdin(directory)
        .output()
        .expect("run kanmon");
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "kanmon: cannot read standard input: Is a directory (os error 21)\n"
    );
}

/// A 50 MB message (a 37 MB attachment, base64) is under the default
/// `limits.max_message_bytes` (50 MiB), so it is scanned in full: its DKIM body hash covers
/// every byte. Under a 1 MiB limit it is accepted unscanned with a note, whether it comes
/// from a file or a pipe the CLI stops reading.
#[test]
fn a_fifty_megabyte_message() {
    const SIZE: usize = 50_000_000;
    let dns = Dns::serving(&sample_zone());
    let kanmon = Kanmon::new(&dns, "");
    let message = fifty_megabytes(SIZE);
    assert_eq!(message.len(), SIZE);
    let json = kanmon.check(ALICE, &message).json();
    assert_eq!(
        symbol_names(&json),
        [
            "SPF_PASS",
            "SPF_HELO_PASS",
            "DKIM_SIGNED",
            "DKIM_VALID",
            "DKIM_VALID_AU",
            "DKIM_VALID_EF",
            "DMARC_PASS"
        ]
    );
    assert_eq!(skipped(&json), [BAYES_COLD_START]);

    let small = Kanmon::new(&dns, "[limits]\nmax_message_bytes = 1048576\n");
    let unscanned = [
        "message: larger than limits.max_message_bytes (1048576 bytes): only the envelope was checked",
        "dkim: message over limits.max_message_bytes",
        "dmarc: message over limits.max_message_bytes",
        "arc: message over limits.max_message_bytes",
    ];
    let from_file = small.check(ALICE, &message).json();
    assert_eq!(skipped(&from_file), unscanned);
    assert_eq!(symbol_names(&from_file), ["SPF_PASS", "SPF_HELO_PASS"]);
    let from_pipe = small.check_stdin(ALICE, &message).json();
    assert_eq!(from_pipe, from_file);
}

/// A signed message of exactly `size` bytes: a short text part and a base64 attachment.
fn fifty_megabytes(size: usize) -> Vec<u8> {
    let mut message = b"From: Alice Example <alice@example.com>\r\n\
To: bob@example.org\r\n\
Subject: The conference video\r\n\
Date: Tue, 13 Jan 2026 11:02:00 +0100\r\n\
Message-ID: <20260113100200.7731.alice@mail.example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_video\"\r\n\
\r\n\
--=_video\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Here is the recording of Tuesday's talk.\r\n\
\r\n\
--=_video\r\n\
Content-Type: video/mp4; name=\"talk.mp4\"\r\n\
Content-Disposition: attachment; filename=\"talk.mp4\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n"
        .to_vec();
    let end = b"\r\n--=_video--\r\n";
    // 76-column base64 lines (RFC 2045 §6.8) of an MP4 header and zeroes.
    let line = b"AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAAIZnJlZQAAAAAAAAAAAAAAAAAAAAAA\r\n";
    let key = SigningKey::from_pem(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/dkim/keys/rsa2048.TEST-ONLY.pkcs8.pem"
        ))
        .expect("test key"),
    )
    .expect("rsa key");
    let signer = Signer::new(key, "example.com", "rsa2048");
    // The signature's length depends on nothing that changes with the body's bytes, so
    // sign a draft, then fill the body to the size with the signature counted.
    let fill = |message: &mut Vec<u8>, budget: usize| {
        while message.len() + line.len() + end.len() <= budget {
            message.extend_from_slice(line);
        }
        message.resize(budget - end.len(), b'A');
        message.extend_from_slice(end);
    };
    let signature_len = {
        let mut draft = message.clone();
        fill(&mut draft, 4096);
        let parsed = Message::parse(&draft).expect("draft parses");
        signer.sign(&parsed, 1_768_300_800).expect("sign").len()
    };
    fill(&mut message, size - signature_len);
    let parsed = Message::parse(&message).expect("message parses");
    let signature = signer.sign(&parsed, 1_768_300_800).expect("sign");
    assert_eq!(signature.len(), signature_len);
    [signature.as_bytes(), &message].concat()
}

/// The `--json` symbols as (name, reason) pairs, in order.
fn assert_json_symbols(json: &Value, expected: &[(&str, &str)]) {
    let found: Vec<(&str, &str)> = json["symbols"]
        .as_array()
        .expect("symbols")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name"),
                s["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(found, expected);
}
