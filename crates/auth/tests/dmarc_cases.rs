//! The data-driven DMARC cases in `testdata/dmarc/*.case`: a zone, the SPF and DKIM results,
//! the message's header, and the expected `dmarc=` result and reason, exactly.
//!
//! Case format (one or more cases per file):
//!
//! ```text
//! === name
//! zone:
//!   _dmarc.example.com TXT v=DMARC1; p=reject
//!   example.com A 192.0.2.1
//!   example.com MX 10 mx.example.com
//!   broken.example SERVFAIL
//! spf: pass bounce.example.com          (the MAIL FROM identity's result; optional)
//! dkim: pass example.com                (one line per signature; optional)
//! sample: 30                            (the pct roll, 0..=99; default 0)
//! discovery: tree-walk                  (default psl)
//! message:
//!   From: Alice <alice@example.com>
//!   Subject: folded lines start with more indentation
//! expect: dmarc=fail (p=reject dis=reject) header.from=example.com
//! reason: From example.com: ...
//! ```
//!
//! The `expect` line is rendered like OpenDMARC's Authentication-Results clause, with the tag
//! that supplied the policy (`p`, `sp` or `np`).

use std::path::{Path, PathBuf};

use kanmon_auth::dmarc::{
    Discovery, DkimIdentifier, DmarcOutput, DmarcRequest, SpfIdentifier, verify,
};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::spf::SpfResult;

#[derive(Debug, Default)]
struct Case {
    file: String,
    name: String,
    zone: Vec<String>,
    spf: Option<(SpfResult, String)>,
    dkim: Vec<(bool, String)>,
    sample: u8,
    discovery: Discovery,
    message: Vec<String>,
    expect: String,
    reason: Option<String>,
}

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dmarc")
}

fn parse_spf(word: &str) -> SpfResult {
    match word {
        "pass" => SpfResult::Pass,
        "fail" => SpfResult::Fail,
        "softfail" => SpfResult::SoftFail,
        "neutral" => SpfResult::Neutral,
        "none" => SpfResult::None,
        "temperror" => SpfResult::TempError,
        "permerror" => SpfResult::PermError,
        other => panic!("unknown SPF result {other}"),
    }
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case {
                file: file.to_owned(),
                name: name.trim().to_owned(),
                ..Case::default()
            });
            section = "";
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("{file}: text before the first === line"));
        if let Some(indented) = line.strip_prefix("  ") {
            match section {
                "zone" => case.zone.push(indented.to_owned()),
                "message" => case.message.push(indented.to_owned()),
                _ => panic!("{file}: {}: indented line outside zone/message", case.name),
            }
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{file}: bad line {line:?}"));
        let value = value.trim();
        section = "";
        match key {
            "zone" | "message" => section = if key == "zone" { "zone" } else { "message" },
            "spf" => {
                let (result, domain) = value.split_once(' ').expect("spf: RESULT DOMAIN");
                case.spf = Some((parse_spf(result), domain.to_owned()));
            }
            "dkim" => {
                let (result, domain) = value.split_once(' ').expect("dkim: pass|fail DOMAIN");
                case.dkim.push((result == "pass", domain.to_owned()));
            }
            "sample" => case.sample = value.parse().expect("sample: 0..=99"),
            "discovery" => {
                case.discovery = match value {
                    "psl" => Discovery::Psl,
                    "tree-walk" => Discovery::TreeWalk,
                    other => panic!("unknown discovery {other}"),
                }
            }
            "expect" => case.expect = value.to_owned(),
            "reason" => case.reason = Some(value.to_owned()),
            other => panic!("{file}: unknown key {other}"),
        }
    }
    cases
}

fn zone(lines: &[String]) -> StaticResolver {
    let mut zone = StaticResolver::new();
    for line in lines {
        let mut parts = line.splitn(3, ' ');
        let name = parts.next().expect("zone line: NAME TYPE DATA");
        let kind = parts.next().unwrap_or("");
        let data = parts.next().unwrap_or("");
        zone = match kind {
            "TXT" => zone.with_txt(name, data),
            "A" | "AAAA" => zone.with_ip(name, data.parse().expect("an IP address")),
            "MX" => {
                let (pref, host) = data.split_once(' ').expect("MX PREF HOST");
                zone.with_mx(name, pref.parse().expect("MX preference"), host)
            }
            "SERVFAIL" => zone.with_failure(name),
            other => panic!("unknown record type {other}"),
        };
    }
    zone
}

/// The bodies of the From fields, unfolded (RFC 5322 §2.2.3).
fn from_values(header: &[String]) -> Vec<String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header {
        if line.starts_with([' ', '\t']) {
            if let Some((_, body)) = fields.last_mut() {
                body.push_str(line);
            }
        } else if let Some((name, body)) = line.split_once(':') {
            fields.push((name.to_owned(), body.to_owned()));
        }
    }
    fields
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("from"))
        .map(|(_, body)| body)
        .collect()
}

fn render(output: &DmarcOutput) -> String {
    let mut text = format!("dmarc={}", output.result);
    if let (Some(tag), Some(policy)) = (output.policy_tag, output.policy) {
        text.push_str(&format!(
            " ({}={} dis={})",
            tag.as_str(),
            policy,
            output.disposition
        ));
    }
    text.push_str(&format!(" header.from={}", output.from_domain));
    text
}

async fn run(case: &Case) -> Result<(), String> {
    let zone = zone(&case.zone);
    let dkim: Vec<DkimIdentifier<'_>> = case
        .dkim
        .iter()
        .map(|(passed, domain)| DkimIdentifier {
            domain,
            passed: *passed,
        })
        .collect();
    let mut request = DmarcRequest::new(
        case.spf.as_ref().map(|(result, domain)| SpfIdentifier {
            domain,
            result: *result,
        }),
        &dkim,
    );
    request.sample = case.sample;
    request.discovery = case.discovery;
    let values = from_values(&case.message);
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let output = verify(&zone, &values, &request).await;
    let mut problems = Vec::new();
    let got = render(&output);
    if got != case.expect {
        problems.push(format!("  expect: {}\n     got: {got}", case.expect));
    }
    if let Some(reason) = case.reason.as_ref().filter(|r| output.reason() != **r) {
        problems.push(format!("  reason: {reason}\n     got: {}", output.reason()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} / {}:\n{}",
            case.file,
            case.name,
            problems.join("\n")
        ))
    }
}

#[tokio::test]
async fn dmarc_cases() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(case_dir())
        .expect("testdata/dmarc exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    let mut count = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        for case in parse_cases(&name, &text) {
            count += 1;
            if let Err(failure) = run(&case).await {
                failures.push(failure);
            }
        }
    }
    assert!(count > 0, "no cases found in {}", case_dir().display());
    assert!(
        failures.is_empty(),
        "{} of {count} DMARC cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
