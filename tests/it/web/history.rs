//! `/history`: the latest verdicts, newest first, with their reasons and symbols, searchable
//! by queue id and sender. Its speed with a million entries: `cargo bench --bench web_history`.

use std::time::Duration;

use std::sync::Arc;

use kanmon_core::history::{Chunk, HistoryEntry, HistorySymbol};
use kanmon_core::stats::Counter;
use kanmon_core::{Action, Config, Engine, Envelope};
use kanmon_store::{Class, Clock, Store};

use super::{NOW, Server, request};

fn entry(i: u64, from: &str, action: Action) -> HistoryEntry {
    HistoryEntry {
        time: NOW - 1_000 + i,
        queue_id: Some(format!("4Q{i:06}")),
        client_ip: Some("192.0.2.25".parse().expect("ip")),
        client_name: Some("mx.sender.test".to_owned()),
        helo: Some("mx.sender.test".to_owned()),
        mail_from: Some(from.to_owned()),
        rcpts: vec!["bob@example.org".to_owned()],
        subject: None,
        action,
        score: if action == Action::Accept { 0.0 } else { 9.5 },
        required: 6.0,
        reason: (action != Action::Accept)
            .then(|| "score 9.50 reached add_header threshold 6.00".to_owned()),
        symbols: vec![HistorySymbol {
            name: "RBL_SPAMCOP".to_owned(),
            score: 9.5,
            reason: "192.0.2.25 listed in bl.spamcop.net (127.0.0.2) <script>".to_owned(),
        }],
        duration_ms: 3,
        internal: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_page_lists_the_latest_verdicts_and_searches_them() {
    let store = Store::memory_with_clock(Clock::manual(NOW));
    let entries = [
        entry(1, "alice@example.net", Action::Accept),
        entry(2, "spammer@bulk.test", Action::AddHeader),
        entry(3, "other@bulk.test", Action::AddHeader),
    ];
    store
        .import(&Chunk::of(&entries).store_entries(Duration::from_secs(86_400)))
        .await
        .expect("seed");
    let server = Server::start_with("", None, store).await;

    let all = request(server.addr, "GET", "/history", &[], b"").await;
    assert_eq!(all.status, 200, "{all:?}");
    let rows: Vec<&str> = all.body.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{}", all.body);
    assert!(
        rows[0].contains("4Q000003") && rows[2].contains("4Q000001"),
        "newest first"
    );
    assert!(rows[0].contains("add_header") && rows[0].contains("score 9.50 reached"));
    assert!(rows[0].contains("RBL_SPAMCOP(9.50)"));
    // Evidence is the sender's text: escaped, never markup.
    assert!(!all.body.contains("<script>") && all.body.contains("&lt;script&gt;"));

    let by_domain = request(server.addr, "GET", "/history?from=%40BULK.test", &[], b"").await;
    let rows: Vec<&str> = by_domain.body.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{}", by_domain.body);
    let by_id = request(server.addr, "GET", "/history?queue_id=4Q000001", &[], b"").await;
    let rows: Vec<&str> = by_id.body.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 1, "{}", by_id.body);
    assert!(rows[0].contains("alice@example.net"));
}

/// With `[stats] history_learnable`, a message the daemon scanned can be learned from its
/// history row, as `kanmon learn` would learn its file (same digest); the form needs its
/// CSRF token, and a message no longer kept says how to learn it instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_message_is_learned_from_its_history_row() {
    let store = Store::memory_with_clock(Clock::manual(NOW));
    let config = Config::parse(
        "[stats]\nhistory_learnable = 1\n\
         [dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout_ms = 200\n",
    )
    .expect("config");
    let engine = Engine::from_config(config)
        .expect("resolver")
        .with_store(store.clone())
        .with_counter(Counter::new(store.clone()));
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/messages/sample.eml"
    ))
    .expect("sample message");
    for queue_id in ["4QGONE", "4QKEPT"] {
        let envelope = Envelope {
            client_ip: Some("192.0.2.25".parse().expect("address")),
            mail_from: Some("alice@example.com".to_owned()),
            rcpt_to: vec!["bob@example.org".to_owned()],
            queue_id: Some(queue_id.to_owned()),
            ..Envelope::default()
        };
        engine.scan_message(&envelope, &raw).await;
    }
    engine.counter().flush().await;
    let server = Server::serve(Arc::new(engine), None, store.clone()).await;

    let page = request(server.addr, "GET", "/history", &[], b"").await;
    assert_eq!(page.status, 200);
    let rows: Vec<&str> = page.body.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{}", page.body);
    assert!(
        rows[0].contains("4QKEPT") && rows[0].contains("action=\"/history/learn\""),
        "the kept message can be learned: {}",
        rows[0]
    );
    assert!(
        !rows[1].contains("/history/learn"),
        "only the latest one is kept: {}",
        rows[1]
    );
    let cookie = page.cookie().expect("session cookie");
    let csrf = page.csrf().expect("the learn form's CSRF field");
    let learn = |csrf: Option<&str>, queue_id: &str, class: &str| {
        let mut body = format!("time={NOW}&queue_id={queue_id}&class={class}");
        if let Some(csrf) = csrf {
            body = format!("csrf={csrf}&{body}");
        }
        let cookie = cookie.clone();
        async move {
            request(
                server.addr,
                "POST",
                "/history/learn",
                &[
                    ("Cookie", &cookie),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                body.as_bytes(),
            )
            .await
        }
    };
    let digest = kanmon_core::bayes::learn_tokens(&raw, &Default::default()).digest;

    assert_eq!(learn(None, "4QKEPT", "spam").await.status, 403);
    assert_eq!(store.label(&digest).await.expect("label"), None);

    let learned = learn(Some(&csrf), "4QKEPT", "spam").await;
    assert_eq!(learned.status, 200, "{}", learned.body);
    assert!(
        learned.body.contains("Learned as spam: the message 4QKEPT"),
        "{}",
        learned.body
    );
    assert_eq!(
        store.label(&digest).await.expect("label"),
        Some(Class::Spam)
    );
    let again = learn(Some(&csrf), "4QKEPT", "spam").await;
    assert!(
        again.body.contains("Already learned as spam"),
        "{}",
        again.body
    );
    let moved = learn(Some(&csrf), "4QKEPT", "ham").await;
    assert!(
        moved.body.contains("Learned as ham (was spam)"),
        "{}",
        moved.body
    );
    assert_eq!(store.label(&digest).await.expect("label"), Some(Class::Ham));
    let summary = store.summary().await.expect("summary");
    assert_eq!((summary.learned.spam, summary.learned.ham), (0, 1));

    let gone = learn(Some(&csrf), "4QGONE", "spam").await;
    assert_eq!(gone.status, 404);
    assert!(
        gone.body.contains("no longer kept") && gone.body.contains("kanmon learn --spam"),
        "{}",
        gone.body
    );
}
