//! SQLite doing what kanmon's embedded store does, measured as `benches/embedded.rs`
//! measures the redb store: the same workloads, keys and sizes, and the same design (one
//! writer thread with group commit, durable before answering; reads on their own
//! connection, which WAL lets run beside the writer).
//!
//! `cargo run --release -- redb` runs the read and greylist parts over redb in this same
//! harness (plain threads, no tokio), to compare the engines rather than the harnesses.
//!
//! `cargo run --release [-- normal]`: `synchronous=FULL` (the default here) fsyncs the WAL
//! at every commit, so an acknowledged write survives power loss as redb's do;
//! `synchronous=NORMAL` fsyncs only at checkpoints, losing the last commits on power loss,
//! and is shown for what durability costs. Files go under `target/`, on the same disk.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

pub(crate) const STORED_TOKENS: u64 = 100_000;
pub(crate) const MESSAGE_TOKENS: u64 = 2_000;
pub(crate) const READS: usize = 2_000;
pub(crate) const TOUCH_TASKS: u64 = 8;
pub(crate) const TOUCH_FOR: Duration = Duration::from_secs(5);
const SIZE_TOKENS: u64 = 1_000_000;
const LEARN_TOKENS: u64 = 1_000;
pub(crate) const MAX_BATCH: usize = 512;
pub(crate) const LINGER: Duration = Duration::from_micros(200);

/// The same mixing as benches/embedded.rs, so both engines see the same keys.
pub(crate) fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// SQLite stores INTEGER as i64; token keys are u64 bit patterns.
fn key(k: u64) -> i64 {
    k as i64
}

fn connect(path: &str, synchronous: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=10000;"
    ))
    .unwrap();
    conn
}

fn schema(conn: &Connection) {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS tokens (key INTEGER PRIMARY KEY, spam INTEGER NOT NULL, ham INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS labels (digest BLOB PRIMARY KEY, class INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS greylist (key BLOB PRIMARY KEY, first_seen INTEGER, last_seen INTEGER, count INTEGER, expires INTEGER) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS greylist_expires ON greylist(expires);",
    )
    .unwrap();
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn token_read(dir: &str, synchronous: &str) {
    let path = format!("{dir}/read.sqlite");
    let conn = connect(&path, synchronous);
    schema(&conn);
    let txn = conn.unchecked_transaction().unwrap();
    {
        let mut insert = txn
            .prepare("INSERT INTO tokens (key, spam, ham) VALUES (?1, ?2, ?3)")
            .unwrap();
        for i in 0..STORED_TOKENS {
            insert
                .execute(params![key(mix(i)), (i % 5) as i64, (1 + i % 3) as i64])
                .unwrap();
        }
    }
    txn.commit().unwrap();
    let reader = connect(&path, synchronous);
    let mut times = Vec::with_capacity(READS);
    for round in 0..READS as u64 {
        let keys: Vec<u64> = (0..MESSAGE_TOKENS)
            .map(|j| {
                let i = mix(round * 7919 + j);
                if j % 4 == 0 {
                    mix(STORED_TOKENS + i)
                } else {
                    mix(i % STORED_TOKENS)
                }
            })
            .collect();
        let start = Instant::now();
        let txn = reader.unchecked_transaction().unwrap();
        let mut counts = Vec::with_capacity(keys.len());
        {
            let mut get = txn
                .prepare_cached("SELECT spam, ham FROM tokens WHERE key = ?1")
                .unwrap();
            for k in &keys {
                let row: Option<(i64, i64)> = get
                    .query_row([key(*k)], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .unwrap();
                counts.push(row.unwrap_or_default());
            }
        }
        txn.finish().unwrap();
        times.push(start.elapsed());
        assert_eq!(counts.len(), keys.len());
    }
    times.sort();
    println!(
        "token read: {MESSAGE_TOKENS} counters of {STORED_TOKENS} stored: median {:?}, p99 {:?}, max {:?} ({READS} reads)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

/// A write for the writer thread, answered once its batch is committed.
enum Job {
    Touch(Vec<u8>, u64, mpsc::Sender<u64>),
    Learn(Vec<u8>, Vec<u64>, mpsc::Sender<()>),
}

/// The writer thread: drains the queue, applies it in one transaction, commits, answers.
fn writer(path: String, synchronous: &'static str, queue: mpsc::Receiver<Job>) {
    let mut conn = connect(&path, synchronous);
    schema(&conn);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_size = 1;
    while let Ok(first) = queue.recv() {
        batch.push(first);
        // The store's linger: wait up to LINGER for stragglers while the batch is smaller
        // than the last one.
        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let next = match queue.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::TryRecvError::Empty) if batch.len() < last_size => queue
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok(),
                Err(_) => None,
            };
            match next {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        last_size = batch.len();
        let txn = conn.transaction().unwrap();
        let mut answers: Vec<Box<dyn FnOnce()>> = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            match job {
                Job::Touch(k, now, reply) => {
                    let old: Option<(i64, i64, i64)> = txn
                        .prepare_cached(
                            "SELECT first_seen, count, expires FROM greylist WHERE key = ?1",
                        )
                        .unwrap()
                        .query_row([&k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()
                        .unwrap();
                    let now = now as i64;
                    let (first, count) = match old {
                        Some((first, count, expires)) if expires > now => (first, count + 1),
                        _ => (now, 1),
                    };
                    txn.prepare_cached(
                        "INSERT OR REPLACE INTO greylist VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .unwrap()
                    .execute(params![k, first, now, count, now + 86_400])
                    .unwrap();
                    answers.push(Box::new(move || {
                        let _ = reply.send(count as u64);
                    }));
                }
                Job::Learn(digest, tokens, reply) => {
                    txn.prepare_cached("INSERT OR REPLACE INTO labels VALUES (?1, 1)")
                        .unwrap()
                        .execute([&digest])
                        .unwrap();
                    let mut upsert = txn
                        .prepare_cached(
                            "INSERT INTO tokens (key, spam, ham) VALUES (?1, 1, 0)
                             ON CONFLICT(key) DO UPDATE SET spam = spam + 1",
                        )
                        .unwrap();
                    for t in tokens {
                        upsert.execute([key(t)]).unwrap();
                    }
                    answers.push(Box::new(move || {
                        let _ = reply.send(());
                    }));
                }
            }
        }
        txn.commit().unwrap();
        for answer in answers {
            answer();
        }
    }
}

fn greylist_touches(dir: &str, synchronous: &'static str) {
    let (jobs, queue) = mpsc::channel();
    let path = format!("{dir}/grey.sqlite");
    let writer = thread::spawn(move || writer(path, synchronous, queue));
    let start = Instant::now();
    let until = start + TOUCH_FOR;
    let tasks: Vec<_> = (0..TOUCH_TASKS)
        .map(|task| {
            let jobs = jobs.clone();
            thread::spawn(move || {
                let mut touches = 0u64;
                while Instant::now() < until {
                    let n = mix((task << 32) | (touches / 2));
                    let k = format!("192.0.2.{}/sender{n}@example.org/rcpt@example.net", n % 256);
                    let (reply, answer) = mpsc::channel();
                    jobs.send(Job::Touch(k.into_bytes(), 1_800_000_000, reply))
                        .unwrap();
                    answer.recv().unwrap();
                    touches += 1;
                }
                touches
            })
        })
        .collect();
    let touches: u64 = tasks.into_iter().map(|t| t.join().unwrap()).sum();
    let elapsed = start.elapsed();
    drop(jobs);
    writer.join().unwrap();
    println!(
        "greylist: {touches} durable touches from {TOUCH_TASKS} tasks in {elapsed:.2?}: {:.0}/s",
        touches as f64 / elapsed.as_secs_f64()
    );
}

fn file_size(dir: &str, synchronous: &'static str) {
    let (jobs, queue) = mpsc::channel();
    let path = format!("{dir}/size.sqlite");
    let writer_path = path.clone();
    let writer = thread::spawn(move || writer(writer_path, synchronous, queue));
    let messages = SIZE_TOKENS / LEARN_TOKENS;
    let start = Instant::now();
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let jobs = jobs.clone();
            thread::spawn(move || {
                for m in (task..messages).step_by(4) {
                    let tokens = (0..LEARN_TOKENS)
                        .map(|t| mix(m * LEARN_TOKENS + t))
                        .collect();
                    let (reply, answer) = mpsc::channel();
                    jobs.send(Job::Learn(
                        format!("message-{m}").into_bytes(),
                        tokens,
                        reply,
                    ))
                    .unwrap();
                    answer.recv().unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    let learned = start.elapsed();
    drop(jobs);
    writer.join().unwrap();
    let conn = connect(&path, synchronous);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let vacuumed = std::fs::metadata(&path).unwrap().len();
    println!(
        "size: {count} tokens ({messages} messages learned in {learned:.2?}): {:.1} MB, {:.1} MB vacuumed",
        size as f64 / 1e6,
        vacuumed as f64 / 1e6
    );
}

mod redb_side;

fn main() {
    if std::env::args().any(|a| a == "redb") {
        redb_side::run();
        return;
    }
    let synchronous = if std::env::args().any(|a| a == "normal") {
        "NORMAL"
    } else {
        "FULL"
    };
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/target/compare-data");
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).unwrap();
    println!(
        "SQLite {} (bundled), WAL, synchronous={synchronous}",
        rusqlite::version()
    );
    let wanted = |name: &str| {
        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "normal" && a != "redb")
            .collect();
        filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
    };
    if wanted("read") {
        token_read(base, synchronous);
    }
    if wanted("greylist") {
        greylist_touches(base, synchronous);
    }
    if wanted("size") {
        file_size(base, synchronous);
    }
    let _ = std::fs::remove_dir_all(base);
}
