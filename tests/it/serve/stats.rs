//! Counters and history of the mail `kanmon serve` decided about, read back with
//! `kanmon report` and `kanmon history` against the daemon's store: the embedded file
//! (reached through the daemon's socket) and Redis.

use std::process::{Command, Stdio};
use std::time::Duration;

use kanmon_testdns::{DnsServer, parse_zone};
use kanmon_testredis::RedisServer;

use super::{Daemon, ZONE, open_temp_dir, transaction};

/// A listing for the test client 192.0.2.25, a rule, and subjects in history.
const CONFIG: &str = r#"
[[dnsbl]]
zone = "bl.stats.test"
symbol = "RCVD_IN_STATS_TEST"
score = 1.0
enforce = true

[[rules]]
name = "CHEAP_PILLS"
on = "body"
pattern = "pills"
score = 7.0

[stats]
history_subjects = true
"#;

const HELLO: &str = "From: alice@pass.test\nSubject: hello\n\nSee you.\n";
const PILLS: &str = "From: x@fail.test\nSubject: offer\n\nCheap pills.\n";

async fn dns() -> DnsServer {
    let server = DnsServer::start().await;
    let zone = format!("{ZONE}\n25.2.0.192.bl.stats.test A 127.0.0.2\n");
    server.set_zone(parse_zone(&zone).expect("zone parses"));
    server
}

/// Runs `kanmon <args> --config <the daemon's file>` and returns its standard output.
fn kanmon(daemon: &Daemon, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(args)
        .arg("--config")
        .arg(daemon.config_path())
        .env_remove("KANMON_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run kanmon");
    assert!(
        output.status.success(),
        "kanmon {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The value of `name` in a report's table.
fn count(report: &serde_json::Value, table: &str, name: &str) -> i64 {
    report[table]
        .as_array()
        .unwrap_or_else(|| panic!("{table} is not an array: {report}"))
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["value"].as_i64())
        .unwrap_or(0)
}

/// Sends the four messages: one clean, three with pills (two from fail.test).
async fn send_mail(daemon: &Daemon) {
    for (id, from, message) in [
        ("H1", "alice@pass.test", HELLO),
        ("H2", "alice@pass.test", PILLS),
        ("H3", "x@fail.test", PILLS),
        ("H4", "x@fail.test", PILLS),
    ] {
        let outcome = daemon
            .milter_client()
            .await
            .transaction(&transaction(id, from, message))
            .await
            .expect("transaction");
        assert_eq!(outcome.step, "eom", "{outcome:?}");
    }
}

/// `kanmon report --since 1h --json` once the daemon has flushed all four messages.
async fn report_of_four(daemon: &Daemon) -> serde_json::Value {
    let mut report = serde_json::Value::Null;
    for _ in 0..50 {
        report = json(&kanmon(daemon, &["report", "--since", "1h", "--json"]));
        if report["messages"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report
}

fn assert_counts(report: &serde_json::Value) {
    assert_eq!(report["messages"], 4, "{report:#}");
    assert_eq!(count(report, "actions", "accept"), 1, "{report:#}");
    assert_eq!(count(report, "actions", "add_header"), 3, "{report:#}");
    assert_eq!(count(report, "lists", "bl.stats.test"), 4);
    assert_eq!(count(report, "rules", "CHEAP_PILLS"), 3);
    assert_eq!(count(report, "symbols", "CHEAP_PILLS"), 3);
    assert_eq!(count(report, "symbols", "RCVD_IN_STATS_TEST"), 4);
    assert_eq!(count(report, "would_enforce", "rbl"), 4);
    assert_eq!(count(report, "would_enforce", "spf"), 2);
    // Tagged mail only; pass.test was tagged once, too rare to be named.
    assert_eq!(
        count(report, "sender_domains", "fail.test"),
        2,
        "{report:#}"
    );
    assert_eq!(count(report, "sender_domains", "other"), 1, "{report:#}");
    assert_eq!(count(report, "client_networks", "192.0.2.0/24"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_history_read_what_the_daemon_recorded_in_the_embedded_store() {
    let dns = dns().await;
    let state = open_temp_dir();
    let path = state.path().join("var").join("kanmon.redb");
    let daemon = Daemon::start(
        dns.addr,
        &format!("{CONFIG}\n[store]\npath = \"{}\"\n", path.display()),
    )
    .await;
    send_mail(&daemon).await;
    let report = report_of_four(&daemon).await;
    assert_counts(&report);

    let text = kanmon(&daemon, &["report", "--since", "1h", "--by", "list"]);
    assert!(text.contains("\n  4  bl.stats.test\n"), "{text}");
    let one = json(&kanmon(
        &daemon,
        &["report", "--since", "1h", "--by", "sender", "--json"],
    ));
    assert_eq!(one["by"], "sender");
    assert_eq!(one["counts"][0]["name"], "fail.test", "{one:#}");

    let found = json(&kanmon(&daemon, &["history", "--queue-id", "H3", "--json"]));
    let found = found.as_array().expect("an array");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["mail_from"], "x@fail.test");
    assert_eq!(found[0]["subject"], "offer");
    assert_eq!(found[0]["action"], "add_header");
    assert_eq!(found[0]["client_ip"], "192.0.2.25");
    let from = json(&kanmon(
        &daemon,
        &["history", "--from", "@FAIL.test", "--json"],
    ));
    let ids: Vec<&str> = from
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["queue_id"].as_str().expect("queue id"))
        .collect();
    assert_eq!(ids, ["H4", "H3"], "newest first");
    let latest = kanmon(&daemon, &["history", "--limit", "2"]);
    assert!(latest.contains("  H4  add_header  "), "{latest}");
    assert!(!latest.contains("H2"), "{latest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reads_counters_from_redis() {
    let dns = dns().await;
    let redis = RedisServer::tcp();
    let store = format!(
        "[store]\nbackend = \"redis\"\nurl = \"{}\"\nprefix = \"stats\"\ntimeout_ms = 2000\n",
        redis.url()
    );
    let daemon = Daemon::start(dns.addr, &format!("{CONFIG}\n{store}")).await;
    send_mail(&daemon).await;
    assert_counts(&report_of_four(&daemon).await);
    let found = json(&kanmon(&daemon, &["history", "--queue-id", "H1", "--json"]));
    assert_eq!(found[0]["action"], "accept", "{found:#}");
}
