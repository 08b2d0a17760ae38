//! The read and greylist parts over redb, in the same harness as SQLite's: the engines
//! compared without tokio in between.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{
    LINGER, MAX_BATCH, MESSAGE_TOKENS, READS, STORED_TOKENS, TOUCH_FOR, TOUCH_TASKS, mix,
    percentile,
};

const TOKENS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("tokens");
const GREYLIST: TableDefinition<&[u8], (u64, u64, u64, u64)> = TableDefinition::new("greylist");
const EXPIRY: TableDefinition<(u64, &[u8]), ()> = TableDefinition::new("expiry");

pub(crate) fn run() {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/target/compare-redb");
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).unwrap();
    println!("redb 4.6.0, Durability::Immediate, same harness");
    token_read(&format!("{base}/read.redb"));
    greylist_touches(&format!("{base}/grey.redb"));
    let _ = std::fs::remove_dir_all(base);
}

fn token_read(path: &str) {
    let db = Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut tokens = txn.open_table(TOKENS).unwrap();
        for i in 0..STORED_TOKENS {
            tokens.insert(mix(i), (i % 5, 1 + i % 3)).unwrap();
        }
    }
    txn.commit().unwrap();
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
        let txn = db.begin_read().unwrap();
        let tokens = txn.open_table(TOKENS).unwrap();
        let counts: Vec<(u64, u64)> = keys
            .iter()
            .map(|k| tokens.get(k).unwrap().map_or((0, 0), |v| v.value()))
            .collect();
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

type Touch = (Vec<u8>, u64, mpsc::Sender<u64>);

fn writer(db: &Database, queue: &mpsc::Receiver<Touch>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_size = 1;
    while let Ok(first) = queue.recv() {
        batch.push(first);
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
        let txn = db.begin_write().unwrap();
        let mut answers = Vec::with_capacity(batch.len());
        {
            let mut greylist = txn.open_table(GREYLIST).unwrap();
            let mut expiry = txn.open_table(EXPIRY).unwrap();
            for (key, now, reply) in batch.drain(..) {
                let old = greylist.get(key.as_slice()).unwrap().map(|v| v.value());
                let (first, count) = match old {
                    Some((first, _, count, expires)) if expires > now => (first, count + 1),
                    _ => (now, 1),
                };
                if let Some((_, _, _, expires)) = old {
                    expiry.remove((expires, key.as_slice())).unwrap();
                }
                greylist
                    .insert(key.as_slice(), (first, now, count, now + 86_400))
                    .unwrap();
                expiry.insert((now + 86_400, key.as_slice()), ()).unwrap();
                answers.push((reply, count));
            }
        }
        txn.commit().unwrap();
        for (reply, count) in answers {
            let _ = reply.send(count);
        }
    }
}

fn greylist_touches(path: &str) {
    let db = Database::create(path).unwrap();
    let (jobs, queue) = mpsc::channel::<Touch>();
    let start = Instant::now();
    let until = start + TOUCH_FOR;
    let touches: u64 = thread::scope(|scope| {
        let db = &db;
        scope.spawn(move || writer(db, &queue));
        let tasks: Vec<_> = (0..TOUCH_TASKS)
            .map(|task| {
                let jobs = jobs.clone();
                scope.spawn(move || {
                    let mut touches = 0u64;
                    while Instant::now() < until {
                        let n = mix((task << 32) | (touches / 2));
                        let k =
                            format!("192.0.2.{}/sender{n}@example.org/rcpt@example.net", n % 256);
                        let (reply, answer) = mpsc::channel();
                        jobs.send((k.into_bytes(), 1_800_000_000, reply)).unwrap();
                        answer.recv().unwrap();
                        touches += 1;
                    }
                    touches
                })
            })
            .collect();
        let total = tasks.into_iter().map(|t| t.join().unwrap()).sum();
        drop(jobs);
        total
    });
    let elapsed: Duration = start.elapsed();
    println!(
        "greylist: {touches} durable touches from {TOUCH_TASKS} tasks in {elapsed:.2?}: {:.0}/s",
        touches as f64 / elapsed.as_secs_f64()
    );
}
