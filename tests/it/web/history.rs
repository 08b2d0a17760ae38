//! `/history`: the latest verdicts, newest first, with their reasons and symbols, searchable
//! by queue id and sender. Its speed with a million entries: `cargo bench --bench web_history`.

use std::time::Duration;

use kanmon_core::Action;
use kanmon_core::history::{Chunk, HistoryEntry, HistorySymbol};
use kanmon_store::{Clock, Store};

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
