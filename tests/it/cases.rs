//! The case files in `testdata/cases/`: DNS records, an envelope, expectations and a raw
//! message, run through the engine against a real DNS server on loopback (UDP with TCP
//! fallback, `kanmon-testdns`) and the production resolver, with a fixed clock.
//!
//! A case file is a sequence of sections, each opened by a `=== <name>` line:
//!
//! * `=== config`: TOML merged into the defaults (the runner adds `[dns] nameservers`);
//!   `${testdata}` stands for the absolute path of `testdata/` (files a config names).
//! * `=== dns`: zone lines, `name TYPE value` (see `kanmon_testdns::parse_zone`).
//! * `=== envelope`: `ip =`, `helo =`, `client_name =` and `client_ptr =` (as Postfix
//!   passes them: `unknown` when it found none), `from =` (`<>` for the null sender),
//!   `rcpt =` (repeatable), `sasl_user =`, `sample =` (the DMARC `pct` roll, default 0).
//! * `=== expect`: `action = reject`; `reason = <exact text>`; `symbols = A B C` (the exact
//!   set); `score = 1.1`; `spf = fail`, `helo = none`, `dmarc = pass`, `arc = none`,
//!   `dkim = pass fail` (results per signature, in order); `header = Name: value` (an exact
//!   header field among those added; repeatable); `skipped = what: why` (exact, repeatable;
//!   when any is given the list must match entirely); `forged = 0 2` (indexes);
//!   `would_enforce = rbl:reject` (what checks in `tag` mode would have enforced, as the
//!   log line's `would_enforce`, `-` for nothing).
//!   `config_error = <text>`: the config must fail to load with an error containing the
//!   text (`${testdata}` substituted), and nothing is scanned.
//! * `=== message`: the raw message to the end of the file; lines are sent with CRLF
//!   endings, as SMTP delivers them.
//!
//! Lines before the first section and lines starting with `#` in `config`, `dns`,
//! `envelope` and `expect` are comments. Every mismatch in every case is collected, so one
//! run shows all of them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kanmon_core::{Config, Engine, Envelope, ReverseName, Verdict};
use kanmon_testdns::{DnsServer, parse_zone};

/// The fixed "now" of every case: 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

#[derive(Debug, Default)]
struct Case {
    config: String,
    dns: String,
    envelope: Envelope,
    sample: u8,
    expect: Vec<(String, String)>,
    message: Vec<u8>,
}

fn cases_dir() -> PathBuf {
    testdata_dir().join("cases")
}

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// `text` with `${testdata}` replaced by the testdata directory's path.
fn with_testdata(text: &str) -> String {
    text.replace("${testdata}", &testdata_dir().display().to_string())
}

fn read_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = Case::default();
    let mut section: Option<String> = None;
    let mut message_lines: Vec<&str> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}", number + 1);
        if let Some(name) = line.strip_prefix("=== ") {
            section = Some(name.trim().to_owned());
            continue;
        }
        match section.as_deref() {
            None => {}
            Some("message") => message_lines.push(line),
            Some(_) if line.trim_start().starts_with('#') => {}
            Some("config") => {
                case.config.push_str(line);
                case.config.push('\n');
            }
            Some("dns") => {
                case.dns.push_str(line);
                case.dns.push('\n');
            }
            Some(kind @ ("envelope" | "expect")) => {
                if line.trim().is_empty() {
                    continue;
                }
                let (key, value) = line
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| at(format!("expected `key = value`, got {line:?}")))?;
                if kind == "expect" {
                    case.expect.push((key, value));
                } else {
                    read_envelope(&mut case, &key, &value).map_err(at)?;
                }
            }
            Some(other) => return Err(at(format!("unknown section {other:?}"))),
        }
    }
    let mut message = message_lines.join("\r\n");
    if !message.is_empty() {
        message.push_str("\r\n");
    }
    case.message = message.into_bytes();
    Ok(case)
}

fn read_envelope(case: &mut Case, key: &str, value: &str) -> Result<(), String> {
    let envelope = &mut case.envelope;
    match key {
        "ip" => envelope.client_ip = Some(value.parse().map_err(|e| format!("ip: {e}"))?),
        "helo" => envelope.helo = Some(value.to_owned()),
        "client_name" => envelope.client_name = ReverseName::from_postfix(Some(value)),
        "client_ptr" => envelope.client_ptr = ReverseName::from_postfix(Some(value)),
        "from" => {
            let from = value.trim_start_matches('<').trim_end_matches('>');
            envelope.mail_from = Some(from.to_owned());
        }
        "rcpt" => envelope.rcpt_to.push(value.to_owned()),
        "sasl_user" => envelope.sasl_user = Some(value.to_owned()),
        "sample" => case.sample = value.parse().map_err(|e| format!("sample: {e}"))?,
        other => return Err(format!("unknown envelope key {other:?}")),
    }
    Ok(())
}

/// Compares the verdict with every expectation; returns the mismatches.
fn compare(case: &Case, verdict: &Verdict) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut expected_skips = Vec::new();
    let auth = &verdict.auth;
    for (key, value) in &case.expect {
        let problem = match key.as_str() {
            "action" => differ("action", value, verdict.action.to_string()),
            "reason" => differ("reason", value, verdict.reason.clone().unwrap_or_default()),
            "score" => {
                let expected: f64 = value.parse().unwrap_or(f64::NAN);
                ((expected - verdict.score).abs() > 0.005 || expected.is_nan())
                    .then(|| format!("score: expected {value}, got {}", verdict.score))
            }
            "symbols" => {
                let expected: BTreeSet<&str> = value.split_whitespace().collect();
                let got: BTreeSet<&str> = verdict.hits.iter().map(|h| h.name).collect();
                (expected != got).then(|| {
                    let missing: Vec<_> = expected.difference(&got).collect();
                    let extra: Vec<_> = got.difference(&expected).collect();
                    format!("symbols: missing {missing:?}, unexpected {extra:?}")
                })
            }
            "spf" => differ(
                "spf",
                value,
                result(auth.spf.as_ref().map(|s| s.result.as_str())),
            ),
            "helo" => differ(
                "helo",
                value,
                result(auth.spf_helo.as_ref().map(|s| s.result.as_str())),
            ),
            "dmarc" => differ(
                "dmarc",
                value,
                result(auth.dmarc.as_ref().map(|d| d.result.as_str())),
            ),
            "arc" => differ(
                "arc",
                value,
                result(auth.arc.as_ref().map(|a| a.result.as_str())),
            ),
            "dkim" => differ(
                "dkim",
                value,
                auth.dkim
                    .iter()
                    .map(|d| d.result.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "header" => {
                let found = verdict
                    .headers
                    .iter()
                    .any(|h| format!("{}: {}", h.name, h.value) == *value);
                (!found).then(|| {
                    let mut got = String::new();
                    for h in &verdict.headers {
                        let _ = write!(got, "\n      {}: {}", h.name, h.value);
                    }
                    format!("header not added: {value}\n    added:{got}")
                })
            }
            "skipped" => {
                expected_skips.push(value.clone());
                None
            }
            "config_error" => Some(format!(
                "config_error: expected the config to fail with {value:?}, but it loaded"
            )),
            "forged" => differ(
                "forged",
                value,
                verdict
                    .forged_authentication_results
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "would_enforce" => {
                let tagged: Vec<String> = verdict
                    .enforcements
                    .iter()
                    .filter(|e| e.mode == kanmon_core::Mode::Tag)
                    .map(|e| format!("{}:{}", e.check, e.action.as_str()))
                    .collect();
                let got = if tagged.is_empty() {
                    "-".to_owned()
                } else {
                    tagged.join(",")
                };
                differ("would_enforce", value, got)
            }
            other => Some(format!("unknown expectation {other:?}")),
        };
        wrong.extend(problem);
    }
    if !expected_skips.is_empty() {
        let got: Vec<String> = verdict
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.what, s.why))
            .collect();
        if got != expected_skips {
            wrong.push(format!(
                "skipped: expected {expected_skips:#?}, got {got:#?}"
            ));
        }
    }
    wrong
}

fn differ(what: &str, expected: &str, got: String) -> Option<String> {
    (got != expected).then(|| format!("{what}: expected {expected:?}, got {got:?}"))
}

fn result(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

async fn run_case(server: &DnsServer, case: &Case) -> Result<Verdict, String> {
    let zone = parse_zone(&case.dns).map_err(|e| format!("dns: {e}"))?;
    server.set_zone(zone);
    // Headers name the authserv-id, which defaults to the host name: fix it unless the case
    // sets its own.
    let authserv_id = if case.config.contains("authserv_id") {
        ""
    } else {
        "authserv_id = \"mx.kanmon.test\"\n"
    };
    let config_text = format!(
        "{authserv_id}{}\n[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 1000\n",
        with_testdata(&case.config),
        server.addr
    );
    let config = Config::parse(&config_text).map_err(|e| format!("config: {e}"))?;
    // A fresh engine per case: nothing cached from another case's zone.
    let engine = Engine::from_config(config)
        .map_err(|e| format!("engine: {e}"))?
        .with_clock(|| NOW)
        .with_dmarc_sampler({
            let sample = case.sample;
            move || sample
        });
    Ok(engine.scan_message(&case.envelope, &case.message).await)
}

/// With `KANMON_CASE_SHOW=1`, prints what each case produced, to write expectations from
/// (after checking every line by hand against the RFCs).
fn show(name: &str, verdict: &Verdict) {
    println!(
        "--- {name}: {} ({:?}) score {}",
        verdict.action, verdict.reason, verdict.score
    );
    for hit in &verdict.hits {
        println!("  {} ({}): {}", hit.name, hit.score, hit.reason);
    }
    for header in &verdict.headers {
        println!("header = {}: {}", header.name, header.value);
    }
    for skip in &verdict.skipped {
        println!("skipped = {}: {}", skip.what, skip.why);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn case_files() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("testdata/cases exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "only {} case files", paths.len());
    let server = DnsServer::start().await;
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let case = match read_case(path) {
            Ok(case) => case,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if case.expect.is_empty() {
            failures.push(format!("{name}: no expectations"));
            continue;
        }
        let config_error = case
            .expect
            .iter()
            .find(|(key, _)| key == "config_error")
            .map(|(_, value)| with_testdata(value));
        match run_case(&server, &case).await {
            Err(e)
                if config_error
                    .as_ref()
                    .is_some_and(|wanted| e.contains(wanted)) => {}
            Ok(verdict) => {
                if std::env::var_os("KANMON_CASE_SHOW").is_some() {
                    show(&name, &verdict);
                }
                for problem in compare(&case, &verdict) {
                    failures.push(format!("{name}: {problem}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}
