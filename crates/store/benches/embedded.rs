#![allow(clippy::unwrap_used)] // a benchmark whose store fails has nothing to report

//! The embedded store's three numbers that matter for mail (see docs/store.md):
//!
//! 1. one message's token read: 2,000 counters from a store of 100,000 tokens, median and
//!    p99 latency through the whole `Store` call (blocking pool included);
//! 2. greylist sightings per second from 8 concurrent tasks, each durable when it returns;
//! 3. the file's size holding 1,000,000 tokens learned message by message, before and after
//!    compaction.
//!
//! `cargo bench -p kanmon-store --bench embedded` runs it in full; without `--bench` (as
//! under `cargo test --benches`) it runs each part briefly, as a smoke test.

use std::time::{Duration, Instant};

use kanmon_store::embedded::compact;
use kanmon_store::{BackendKind, Class, Entry, Store, StoreSettings};

/// Sizes of one run: full, or brief.
struct Scale {
    stored_tokens: u64,
    reads: usize,
    touch_for: Duration,
    size_tokens: u64,
}

const FULL: Scale = Scale {
    stored_tokens: 100_000,
    reads: 2_000,
    touch_for: Duration::from_secs(5),
    size_tokens: 1_000_000,
};

const BRIEF: Scale = Scale {
    stored_tokens: 10_000,
    reads: 20,
    touch_for: Duration::from_millis(200),
    size_tokens: 20_000,
};

/// Tokens in one message (what the classifier reads per message).
const MESSAGE_TOKENS: usize = 2_000;
const TOUCH_TASKS: usize = 8;
/// Tokens per learned message when filling the store for its size.
const LEARN_TOKENS: u64 = 1_000;

/// A well-mixed 64-bit key, as a token hash is.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

async fn open(path: &std::path::Path) -> Store {
    let settings = StoreSettings {
        backend: BackendKind::Embedded,
        path: path.to_path_buf(),
        timeout: Duration::from_secs(30),
        ..StoreSettings::default()
    };
    Store::open(&settings).await.unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

async fn token_read(scale: &Scale, dir: &std::path::Path) {
    let store = open(&dir.join("read.redb")).await;
    let entries: Vec<Entry> = (0..scale.stored_tokens)
        .map(|i| Entry::Token {
            key: mix(i),
            spam: i % 5,
            ham: 1 + i % 3,
        })
        .collect();
    store.import(&entries).await.unwrap();
    let mut times = Vec::with_capacity(scale.reads);
    for round in 0..scale.reads as u64 {
        // Three in four tokens known, as in a message like those learned.
        let keys: Vec<u64> = (0..MESSAGE_TOKENS as u64)
            .map(|j| {
                let i = mix(round * 7919 + j);
                if j % 4 == 0 {
                    mix(scale.stored_tokens + i)
                } else {
                    mix(i % scale.stored_tokens)
                }
            })
            .collect();
        let start = Instant::now();
        let read = store.token_counts(&keys).await.unwrap();
        times.push(start.elapsed());
        assert_eq!(read.counts.len(), MESSAGE_TOKENS);
    }
    times.sort();
    println!(
        "token read: {MESSAGE_TOKENS} counters of {} stored: median {:?}, p99 {:?}, max {:?} ({} reads)",
        scale.stored_tokens,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        times.len()
    );
    // The part of that which is the hop to the blocking pool and back.
    let mut hops = Vec::with_capacity(scale.reads);
    for _ in 0..scale.reads {
        let start = Instant::now();
        tokio::task::spawn_blocking(|| ()).await.unwrap();
        hops.push(start.elapsed());
    }
    hops.sort();
    println!(
        "  of which the blocking-pool hop: median {:?}, p99 {:?}",
        percentile(&hops, 0.5),
        percentile(&hops, 0.99)
    );
}

async fn greylist_touches(scale: &Scale, dir: &std::path::Path) {
    let store = open(&dir.join("grey.redb")).await;
    let ttl = Duration::from_secs(86_400);
    let start = Instant::now();
    let tasks: Vec<_> = (0..TOUCH_TASKS as u64)
        .map(|task| {
            let store = store.clone();
            let until = start + scale.touch_for;
            tokio::spawn(async move {
                let mut touches = 0u64;
                while Instant::now() < until {
                    // Half new triplets, half seen again (a retry after greylisting).
                    let n = mix((task << 32) | (touches / 2));
                    let key = format!("192.0.2.{}/sender{n}@example.org/rcpt@example.net", n % 256);
                    store.greylist_touch(key.as_bytes(), ttl).await.unwrap();
                    touches += 1;
                }
                touches
            })
        })
        .collect();
    let mut touches = 0;
    for task in tasks {
        touches += task.await.unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "greylist: {touches} durable touches from {TOUCH_TASKS} tasks in {elapsed:.2?}: {:.0}/s",
        touches as f64 / elapsed.as_secs_f64()
    );
}

async fn file_size(scale: &Scale, dir: &std::path::Path) {
    let path = dir.join("size.redb");
    let store = open(&path).await;
    let messages = scale.size_tokens / LEARN_TOKENS;
    let start = Instant::now();
    // Learned as mail arrives: a message at a time from a few tasks, each token new.
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for m in (task..messages).step_by(4) {
                    let tokens: Vec<u64> = (0..LEARN_TOKENS)
                        .map(|t| mix(m * LEARN_TOKENS + t))
                        .collect();
                    let class = if m % 3 == 0 { Class::Ham } else { Class::Spam };
                    store
                        .relabel(format!("message-{m}").as_bytes(), Some(class), &tokens)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let summary = store.summary().await.unwrap();
    let learned = start.elapsed();
    drop(store);
    let (before, after) = compact(&path).unwrap();
    println!(
        "size: {} tokens ({messages} messages learned in {learned:.2?}): {:.1} MB, {:.1} MB compacted",
        summary.tokens,
        before as f64 / 1e6,
        after as f64 / 1e6
    );
}

/// Whether to run the part `name`: all of them, unless names are given (`cargo bench
/// --bench embedded -- greylist`).
fn wanted(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { &FULL } else { &BRIEF };
    // Under target/ rather than the system's temporary directory, which may be a tmpfs
    // where fsync costs nothing and the durable numbers would mean nothing.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        if wanted("read") {
            token_read(scale, dir.path()).await;
        }
        if wanted("greylist") {
            greylist_touches(scale, dir.path()).await;
        }
        if wanted("size") {
            file_size(scale, dir.path()).await;
        }
    });
}
