//! Load: 500 milter sessions open at once against one `kanmon serve`, each a whole ~20 KB
//! transaction, every one answered correctly; then 500 policy connections at once; the
//! daemon's peak memory (`VmHWM`) stays under 100 MB through both.
//!
//! Each phase first opens (and, for the milter, negotiates) every connection, then sends on
//! all of them together, so the daemon really holds 500 sessions at once.

use std::time::{Duration, Instant};

use kanmon_milter::{Client, Modification, Negotiation, Reply, TransactionOutcome};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{Daemon, dns, transaction};

const SESSIONS: usize = 500;

/// The daemon's peak RSS must stay under this (KiB).
const MAX_PEAK_RSS_KIB: u64 = 100 * 1024;

/// Bound on each phase, so a stuck session fails the test instead of hanging it.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

/// A ~20 KB plain-text message from `alice@pass.test` (SPF pass from 192.0.2.25 in
/// [`super::ZONE`], DMARC aligned by SPF).
fn message() -> String {
    let mut text = String::from(
        "From: Alice <alice@pass.test>\nTo: bob@kanmon.test\nSubject: quarterly report\n\
         Date: Tue, 13 Jan 2026 09:38:09 +0000\nMessage-ID: <load@pass.test>\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n",
    );
    let mut n = 0;
    while text.len() < 20_000 {
        n += 1;
        text.push_str(&format!(
            "Line {n:04}: the quick brown fox jumps over the lazy dog, again and again.\n"
        ));
    }
    text
}

/// The Authentication-Results field an outcome inserts, if any.
fn authentication_results(outcome: &TransactionOutcome) -> Option<&str> {
    outcome.modifications.iter().find_map(|m| match m {
        Modification::InsertHeader { name, value, .. } if name == "Authentication-Results" => {
            Some(value.as_str())
        }
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_sessions_are_all_answered_within_100_mb() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    let message = message();
    assert!(
        (20_000..21_000).contains(&message.len()),
        "{}",
        message.len()
    );

    // Milter: open and negotiate every connection, then run every transaction at once.
    let started = Instant::now();
    let mut connecting = JoinSet::new();
    for _ in 0..SESSIONS {
        let addr = daemon.milter;
        connecting.spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect milter");
            Client::connect(stream, Negotiation::mta_default())
                .await
                .expect("negotiate")
        });
    }
    let clients = tokio::time::timeout(PHASE_TIMEOUT, connecting.join_all())
        .await
        .expect("every milter connection negotiated in time");
    let connected = started.elapsed();
    let mut sessions = JoinSet::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let tx = transaction(&format!("LD{i:04}"), "alice@pass.test", &message);
        sessions.spawn(async move {
            let outcome = client.transaction(&tx).await.expect("transaction");
            client.quit(false).await.expect("quit");
            (i, outcome)
        });
    }
    let outcomes = tokio::time::timeout(PHASE_TIMEOUT, sessions.join_all())
        .await
        .expect("every milter transaction answered in time");
    let milter_time = started.elapsed();
    assert_eq!(outcomes.len(), SESSIONS);
    for (i, outcome) in &outcomes {
        assert_eq!(
            (outcome.step, &outcome.reply),
            ("eom", &Reply::Continue),
            "session {i}: {outcome:?}"
        );
        let results = authentication_results(outcome)
            .unwrap_or_else(|| panic!("session {i}: no Authentication-Results: {outcome:?}"));
        assert!(
            results.contains("mx.kanmon.test;")
                && results.contains("spf=pass")
                && results.contains("smtp.mailfrom=alice@pass.test"),
            "session {i}: {results}"
        );
    }
    // One log line per message, each with its own queue id.
    daemon.wait_log("queue_id=\"LD0499\"").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemon.log().matches("queue_id=\"LD").count() < SESSIONS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = daemon.log();
    for i in [0, 1, 250, 498, 499] {
        assert_eq!(
            log.matches(&format!("queue_id=\"LD{i:04}\"")).count(),
            1,
            "LD{i:04}"
        );
    }
    assert_eq!(log.matches("queue_id=\"LD").count(), SESSIONS);
    let after_milter = daemon.peak_rss_kib();

    // Policy: 500 connections at once, one RCPT request each, each its own transaction.
    let started = Instant::now();
    let mut connecting = JoinSet::new();
    for _ in 0..SESSIONS {
        let addr = daemon.policy;
        connecting.spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect policy");
            kanmon_policy::Client::new(stream)
        });
    }
    let clients = tokio::time::timeout(PHASE_TIMEOUT, connecting.join_all())
        .await
        .expect("every policy connection opened in time");
    let mut requests = JoinSet::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        requests.spawn(async move {
            let instance = format!("pl.{i}");
            let reply = client
                .send(&[
                    ("request", "smtpd_access_policy"),
                    ("protocol_state", "RCPT"),
                    ("protocol_name", "ESMTP"),
                    ("client_address", "192.0.2.25"),
                    ("client_name", "mx.client.test"),
                    ("helo_name", "mx.client.test"),
                    ("sender", "alice@pass.test"),
                    ("recipient", "bob@kanmon.test"),
                    ("instance", &instance),
                    ("queue_id", ""),
                ])
                .await
                .expect("policy reply");
            (i, reply)
        });
    }
    let replies = tokio::time::timeout(PHASE_TIMEOUT, requests.join_all())
        .await
        .expect("every policy request answered in time");
    let policy_time = started.elapsed();
    assert_eq!(replies.len(), SESSIONS);
    for (i, reply) in &replies {
        assert!(
            reply.starts_with(
                "PREPEND Received-SPF: pass (mx.kanmon.test: domain of alice@pass.test"
            ),
            "request {i}: {reply}"
        );
    }

    let peak = daemon.peak_rss_kib();
    eprintln!(
        "load: {SESSIONS} milter sessions of {} bytes in {milter_time:?} ({connected:?} to \
         connect and negotiate); {SESSIONS} policy requests in {policy_time:?}; daemon peak \
         RSS {:.1} MiB after the milter phase, {:.1} MiB at the end",
        message.len(),
        after_milter as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB, limit {MAX_PEAK_RSS_KIB} KiB"
    );
}
