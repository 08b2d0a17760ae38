//! The dashboard in headless Chromium: the pages load without a console message (no CSP
//! violation, no missing file), the stylesheet applies, and every number shown equals what
//! was written to the store; a screenshot is left in target/test-artifacts/dashboard.png.
//! A message is learned as spam by pressing its History row's button.

use std::collections::BTreeMap;

use kanmon_store::{Class, STAT_BUCKET_SECS, Timestamp};
use serde_json::Value;

use super::{NOW, Server, artifacts, python};

const HOUR: u64 = STAT_BUCKET_SECS;
const DAY: u64 = 86_400;

/// (hours before NOW, counter, value) written to the store.
fn seeded() -> Vec<(u64, String, i64)> {
    let mut counts: Vec<(u64, String, i64)> = (0..30)
        .map(|h| (h, "messages".to_owned(), h as i64 + 1))
        .collect();
    for (hours_ago, name, value) in [
        (0, "action:reject", 4),
        (2, "action:add_header", 3),
        (30, "action:accept", 9),
        (0, "symbol:SPF_FAIL", 4),
        (72, "symbol:SPF_FAIL", 10),
        (5, "symbol:DNSBL_ZEN", 1),
        (1, "would_enforce:spf", 2),
        (8 * 24, "would_enforce:rbl", 50),
        (3, "zone:zen.spamhaus.org", 6),
        (50, "zone:zen.spamhaus.org", 2),
        (4, "rule:SUBJ_ALL_CAPS", 1),
        (6, "sender_domain:bulk.test", 5),
        (100, "client_net:192.0.2.0/24", 7),
    ] {
        counts.push((hours_ago, name.to_owned(), value));
    }
    counts
}

/// What the page must show: (counter, window) → sum, by the windows' definition
/// (24 h: this hour and the 23 before; 7 d: today and the 6 days before, UTC).
fn expected(counts: &[(u64, String, i64)]) -> BTreeMap<(String, String), i64> {
    let hour = NOW - NOW % HOUR;
    let first_day = NOW - NOW % DAY - 6 * DAY;
    let mut sums = BTreeMap::new();
    for (hours_ago, name, value) in counts {
        let at: Timestamp = hour - hours_ago * HOUR;
        if at >= first_day {
            *sums.entry((name.clone(), "7d".to_owned())).or_insert(0) += value;
            let day = sums.entry((name.clone(), "24h".to_owned())).or_insert(0);
            if *hours_ago < 24 {
                *day += value;
            }
        }
    }
    sums
}

fn shown(page: &Value) -> BTreeMap<(String, String), i64> {
    page["counters"]
        .as_array()
        .expect("counters")
        .iter()
        .map(|c| {
            (
                (
                    c["counter"].as_str().expect("name").to_owned(),
                    c["window"].as_str().expect("window").to_owned(),
                ),
                c["text"].as_str().expect("text").parse().expect("a number"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_stores_numbers_in_chromium() {
    let server = Server::start("", None).await;
    let counts = seeded();
    for (hours_ago, name, value) in &counts {
        server
            .store
            .stats_add_at(
                NOW - hours_ago * HOUR,
                &[(name.as_str(), *value)],
                kanmon_core::stats::RETENTION,
            )
            .await
            .expect("seed counters");
    }
    for (i, class) in [
        Class::Spam,
        Class::Spam,
        Class::Spam,
        Class::Ham,
        Class::Ham,
    ]
    .into_iter()
    .enumerate()
    {
        server
            .store
            .relabel(&[i as u8; 16], Some(class), &[])
            .await
            .expect("seed learned counts");
    }
    let screenshot = artifacts().join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = python(
        "browser.py",
        vec![
            format!("http://{}", server.addr),
            screenshot.display().to_string(),
        ],
    )
    .await;
    let out: Value = serde_json::from_str(&out).expect("script output is JSON");
    assert_eq!(
        out["console"],
        Value::Array(vec![]),
        "console messages: {out:#}"
    );

    let overview = &out["pages"]["/"];
    assert_eq!(overview["h1"], "Overview");
    assert_eq!(
        overview["stylesheet_applied"], "flex",
        "kanmon.css did not apply"
    );
    assert_eq!(shown(overview), expected(&counts));
    // The hourly chart: the last 24 hours, the oldest first (hour h has h+1 messages).
    let hourly: Vec<i64> = (0..24).rev().map(|h| h + 1).collect();
    assert_eq!(overview["hourly"], serde_json::json!(hourly));
    let daily = overview["daily"].as_array().expect("daily bars");
    assert_eq!(daily.len(), 7);
    let week: i64 = daily.iter().map(|v| v.as_i64().expect("number")).sum();
    assert_eq!(
        week,
        expected(&counts)[&("messages".to_owned(), "7d".to_owned())]
    );

    assert_eq!(out["pages"]["/history"]["h1"], "History");

    let totals = server.store.token_counts(&[]).await.expect("totals").totals;
    let bayes = &out["pages"]["/bayes"];
    assert_eq!(bayes["ids"]["learned-spam"], totals.spam.to_string());
    assert_eq!(bayes["ids"]["learned-ham"], totals.ham.to_string());
    assert_eq!((totals.spam, totals.ham), (3, 2));
    assert!(
        bayes["ids"]["ready"]
            .as_str()
            .expect("ready")
            .starts_with("no: needs"),
        "{bayes:#}"
    );

    let summary = server.store.summary().await.expect("summary");
    let store = &out["pages"]["/store"];
    assert_eq!(store["ids"]["backend"], summary.backend);
    assert_eq!(
        store["ids"]["stat-counters"],
        summary.stat_counters.to_string()
    );
    assert!(
        store["ids"]["ping"]
            .as_str()
            .expect("ping")
            .starts_with("The store answers")
    );

    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sends_the_browser_through_the_login_form() {
    let hash = kanmon_web::hash_password("correct horse battery").expect("hash");
    let server = Server::start(&format!("[http]\npassword_hash = \"{hash}\"\n"), None).await;
    let screenshot = artifacts().join("dashboard-signed-in.png");
    let out = python(
        "browser.py",
        vec![
            format!("http://{}", server.addr),
            screenshot.display().to_string(),
            "correct horse battery".to_owned(),
        ],
    )
    .await;
    let out: Value = serde_json::from_str(&out).expect("script output is JSON");
    assert_eq!(out["redirected_to"], "/login");
    assert_eq!(out["after_login"], "/");
    assert_eq!(out["pages"]["/"]["h1"], "Overview");
    assert_eq!(
        out["console"],
        Value::Array(vec![]),
        "console messages: {out:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_learned_as_spam_from_the_history_page() {
    let store = kanmon_store::Store::memory_with_clock(kanmon_store::Clock::manual(NOW));
    let config = kanmon_core::Config::parse(
        "[stats]\nhistory_learnable = 10\n\
         [dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout_ms = 200\n",
    )
    .expect("config");
    let engine = kanmon_core::Engine::from_config(config)
        .expect("resolver")
        .with_store(store.clone())
        .with_counter(kanmon_core::stats::Counter::new(store.clone()));
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/messages/sample.eml"
    ))
    .expect("sample message");
    let envelope = kanmon_core::Envelope {
        client_ip: Some("192.0.2.25".parse().expect("address")),
        mail_from: Some("alice@example.com".to_owned()),
        queue_id: Some("4QBROWSER".to_owned()),
        ..kanmon_core::Envelope::default()
    };
    engine.scan_message(&envelope, &raw).await;
    engine.counter().flush().await;
    let server = Server::serve(std::sync::Arc::new(engine), None, store.clone()).await;
    let screenshot = artifacts().join("history-learn.png");
    let out = python(
        "browser.py",
        vec![
            format!("http://{}", server.addr),
            screenshot.display().to_string(),
            "--learn".to_owned(),
        ],
    )
    .await;
    let out: Value = serde_json::from_str(&out).expect("script output is JSON");
    assert_eq!(out["after_learn"], "/history/learn", "{out:#}");
    assert!(
        out["learned"]
            .as_str()
            .expect("learned")
            .starts_with("Learned as spam: the message 4QBROWSER"),
        "{out:#}"
    );
    assert_eq!(
        out["console"],
        Value::Array(vec![]),
        "console messages: {out:#}"
    );
    let digest = kanmon_core::bayes::learn_tokens(&raw, &Default::default()).digest;
    assert_eq!(
        store.label(&digest).await.expect("label"),
        Some(Class::Spam)
    );
}
