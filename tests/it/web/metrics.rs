//! `/metrics` of a running `kanmon serve`, read by Prometheus's parsers: messages by action
//! and symbol hits equal the verdicts the API returned, and every family the issue asks for
//! is there (scan and check durations, DNS lookups, store calls, sessions, errors).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{python, request};
use crate::serve::{Daemon, dns};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_what_the_daemon_did() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    let mut actions: BTreeMap<String, f64> = BTreeMap::new();
    let mut symbols: BTreeMap<String, f64> = BTreeMap::new();
    for from in [
        "alice@fail.test",
        "bob@pass.test",
        "carol@reject.test",
        "dave@fail.test",
    ] {
        let message = format!("From: {from}\r\nSubject: hi\r\n\r\nhello\r\n");
        let reply = request(
            daemon.http,
            "POST",
            &format!(
                "/api/check?ip=192.0.2.25&helo=mx.client.test&from={from}&rcpt=x%40example.org"
            ),
            &[],
            message.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let report: Value = serde_json::from_str(&reply.body).expect("JSON");
        *actions
            .entry(report["action"].as_str().expect("action").to_owned())
            .or_default() += 1.0;
        for symbol in report["symbols"].as_array().expect("symbols") {
            *symbols
                .entry(symbol["name"].as_str().expect("name").to_owned())
                .or_default() += 1.0;
        }
    }
    let reply = request(daemon.http, "GET", "/metrics", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text"))
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &reply.body).expect("write metrics");
    let samples: Vec<Value> =
        serde_json::from_str(&python("metrics.py", vec![file.display().to_string()]).await)
            .expect("JSON");

    let counted = |sample_name: &str, label: &str| -> BTreeMap<String, f64> {
        samples
            .iter()
            .filter(|s| s["name"] == sample_name)
            .map(|s| {
                (
                    s["labels"][label].as_str().expect("label").to_owned(),
                    s["value"].as_f64().expect("value"),
                )
            })
            .collect()
    };
    assert_eq!(counted("kanmon_messages_total", "action"), actions);
    assert_eq!(counted("kanmon_symbol_hits_total", "symbol"), symbols);
    let families: std::collections::BTreeSet<(String, String)> = samples
        .iter()
        .map(|s| {
            (
                s["family"].as_str().expect("family").to_owned(),
                s["type"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    for (family, kind) in [
        ("kanmon_scan_duration_seconds", "histogram"),
        ("kanmon_check_duration_seconds", "histogram"),
        ("kanmon_dns_lookup_duration_seconds", "histogram"),
        ("kanmon_store_call_duration_seconds", "histogram"),
    ] {
        assert!(
            families.contains(&(family.to_owned(), kind.to_owned())),
            "{family} missing: {families:?}"
        );
    }
    // Four final scans, each timed.
    let scans = samples
        .iter()
        .find(|s| {
            s["name"] == "kanmon_scan_duration_seconds_count" && s["labels"]["kind"] == "final"
        })
        .expect("final scan count");
    assert_eq!(scans["value"], 4.0);
}
