//! The dashboard with a full history ring (issue 9: "pages render in < 100 ms with 1,000,000
//! messages of history in the store"): an embedded store holding 1,000,000 history entries
//! (`[stats] history_size = 1000000`, a week of mail, written as the daemon writes it: a
//! chunk per two-second flush) and a web server over it; each page fetched over TCP, median
//! and slowest of 9. Also searches: by queue id, by a sender with ten entries and by one that
//! is not there (each reads the whole history index), by a domain with thousands; and one
//! trim of the full ring (it reads the whole index too).
//!
//! `cargo bench --bench web_history` (release build; about a minute, most of it seeding).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::sync::Arc;
use std::time::{Duration, Instant};

use kanmon_core::history::{self, Chunk, HistoryEntry, HistorySymbol};
use kanmon_core::{Action, Config, Engine};
use kanmon_store::{Clock, Entry, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENTRIES: u64 = 1_000_000;
const NOW: u64 = 1_795_000_000;

fn entry(n: u64) -> HistoryEntry {
    HistoryEntry {
        // A million over the last week, the newest at NOW.
        time: NOW - (ENTRIES - 1 - n) * 604_800 / ENTRIES,
        queue_id: Some(format!("4Q{n:07}")),
        client_ip: Some("192.0.2.25".parse().unwrap()),
        client_name: Some("mx.sender.test".to_owned()),
        helo: Some("mx.sender.test".to_owned()),
        mail_from: Some(format!("user{}@sender{}.test", n % 977, n % 101)),
        rcpts: vec!["bob@example.org".to_owned()],
        subject: None,
        action: Action::AddHeader,
        score: 9.5,
        required: 6.0,
        reason: Some("score 9.50 reached add_header threshold 6.00".to_owned()),
        symbols: vec![
            HistorySymbol {
                name: "RBL_SPAMCOP".to_owned(),
                score: 4.0,
                reason: "192.0.2.25 listed in bl.spamcop.net (127.0.0.2)".to_owned(),
            },
            HistorySymbol {
                name: "BAYES_99".to_owned(),
                score: 5.5,
                reason: "P = 0.9950, log-odds 5.3, from 40 of 120 tokens".to_owned(),
            },
        ],
        duration_ms: 3,
        internal: false,
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{path}");
    (started.elapsed(), reply.len())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(&format!(
            "[store]\nbackend = \"embedded\"\npath = \"{}\"\ntimeout_ms = 60000\n\
             [stats]\nhistory_size = {ENTRIES}\nhistory_retention_days = 8\n\
             [dns]\nnameservers = [\"127.0.0.1:9\"]\n",
            dir.path().join("kanmon.redb").display()
        ))
        .unwrap();
        let store = Store::open_with_clock(&config.store, Clock::manual(NOW))
            .await
            .unwrap();
        let started = Instant::now();
        // As the daemon writes them: a chunk per two-second flush, about three entries each.
        let mut records: Vec<Entry> = Vec::new();
        let mut flush: Vec<HistoryEntry> = Vec::new();
        for n in 0..ENTRIES {
            let next = entry(n);
            if flush
                .first()
                .is_some_and(|first| first.time / 2 != next.time / 2)
            {
                records.extend(Chunk::of(&flush).store_entries(Duration::from_secs(8 * 86_400)));
                flush.clear();
            }
            flush.push(next);
            if records.len() >= 20_000 {
                store.import(&records).await.unwrap();
                records.clear();
            }
        }
        records.extend(Chunk::of(&flush).store_entries(Duration::from_secs(8 * 86_400)));
        store.import(&records).await.unwrap();
        let file = std::fs::metadata(dir.path().join("kanmon.redb"))
            .unwrap()
            .len();
        println!(
            "seeded {ENTRIES} history entries in {:.1} s; store file {} MiB",
            started.elapsed().as_secs_f64(),
            file >> 20
        );

        // What the Counter's periodic trim of the ring costs once the ring is full.
        let started = Instant::now();
        let bounds = history::Bounds {
            retention: Duration::from_secs(8 * 86_400),
            size: ENTRIES as usize,
        };
        let removed = history::trim(&store, bounds).await.unwrap();
        println!(
            "trim of the full ring (keep {ENTRIES}, {removed} removed): {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );

        let engine = Arc::new(
            Engine::from_config(config)
                .unwrap()
                .with_store(store.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let web = kanmon_web::Web::new(Arc::new(move || Arc::clone(&engine)), store, addr).unwrap();
        tokio::spawn(async move {
            let _ = kanmon_web::serve(listener, web, std::future::pending()).await;
        });
        for path in [
            "/",
            "/history",
            "/history?queue_id=4Q0999990",
            "/history?queue_id=4Q0000007",
            "/history?queue_id=NOSUCHID",
            "/history?from=user5%40sender5.test",
            "/history?from=%40sender5.test",
            "/history?from=nobody%40nowhere.test",
            "/bayes",
            "/dkim",
            "/store",
        ] {
            let mut times = Vec::new();
            let mut bytes = 0;
            let rounds = if path.contains("nobody") { 3 } else { 9 };
            for _ in 0..rounds {
                let (time, size) = get(addr, path).await;
                times.push(time);
                bytes = size;
            }
            times.sort();
            println!(
                "{path:<40} median {:>9.2} ms  slowest {:>9.2} ms  ({bytes} bytes)",
                times[times.len() / 2].as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3
            );
        }
    });
}
