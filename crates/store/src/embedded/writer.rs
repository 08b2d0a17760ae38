//! The one thread that writes, and group commit.
//!
//! redb allows one write transaction at a time and makes each durable with an fsync, so a
//! transaction per call would cap writes at the disk's fsync rate. Instead every write is a
//! [`Job`] sent to this thread, which takes everything queued (up to [`MAX_BATCH`]), applies
//! it in one write transaction, commits it durably, and only then answers each caller: a
//! caller that got `Ok` has its change on disk, and N callers waiting together share one
//! fsync.
//!
//! Jobs run in the order they were queued, each seeing the ones before it, so concurrent
//! read-modify-write calls (a greylist touch, a relabel) serialise without locks.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability, Table, WriteTransaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::schema::{Db, EXPIRY, GREYLIST, LABELS, META, RECORDS, STATS, TOKENS, TOTALS, VALUES};
use crate::{Result, StoreError};

/// Most jobs applied in one transaction, so one commit stays short and callers queued
/// behind a big batch are not held up for long.
pub(super) const MAX_BATCH: usize = 512;

/// Jobs that may wait for the writer; a caller finding the queue full waits (within its
/// timeout) for room, so a stalled disk turns into timeouts rather than unbounded memory.
const QUEUE: usize = 4096;

/// Longest the writer waits for more jobs before committing, and only while the batch is
/// smaller than the last one (so a lone caller never waits). Callers answered by one commit
/// come back with their next job a few microseconds apart; without this the first of them
/// would be committed alone and the rest wait a whole fsync (about 1 ms) behind it. The
/// same idea as PostgreSQL's `commit_delay` with `commit_siblings`.
const LINGER: Duration = Duration::from_micros(200);

/// The tables of one write transaction, open for the jobs of a batch.
pub(super) struct Tables<'txn> {
    pub(super) tokens: Table<'txn, u64, &'static [u8]>,
    pub(super) totals: Table<'txn, &'static str, u64>,
    pub(super) labels: Table<'txn, &'static [u8], u8>,
    pub(super) greylist: Table<'txn, &'static [u8], (u64, u64, u64, u64)>,
    pub(super) stats: Table<'txn, (u64, &'static str), (i64, u64)>,
    pub(super) records: Table<'txn, (&'static str, u64, u64), (&'static [u8], u64)>,
    pub(super) values: Table<'txn, &'static str, (&'static [u8], Option<u64>)>,
    pub(super) expiry: Table<'txn, (u64, u8, &'static [u8]), ()>,
    pub(super) meta: Table<'txn, &'static str, u64>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>> {
        Ok(Tables {
            tokens: txn.open_table(TOKENS).db()?,
            totals: txn.open_table(TOTALS).db()?,
            labels: txn.open_table(LABELS).db()?,
            greylist: txn.open_table(GREYLIST).db()?,
            stats: txn.open_table(STATS).db()?,
            records: txn.open_table(RECORDS).db()?,
            values: txn.open_table(VALUES).db()?,
            expiry: txn.open_table(EXPIRY).db()?,
            meta: txn.open_table(META).db()?,
        })
    }
}

/// What a job leaves once applied: whether its change went in whole, and how to answer its
/// caller once the batch's commit is known.
pub(super) struct Applied {
    failed: bool,
    answer: Box<dyn FnOnce(Result<()>) + Send>,
}

/// One caller's change, applied by the writer thread.
pub(super) type Job = Box<dyn FnOnce(&mut Tables<'_>) -> Applied + Send>;

/// A job running `change` whose result goes to `reply` once committed.
pub(super) fn job<T: Send + 'static>(
    change: impl FnOnce(&mut Tables<'_>) -> Result<T> + Send + 'static,
    reply: oneshot::Sender<Result<T>>,
) -> Job {
    Box::new(move |tables| {
        let result = change(tables);
        Applied {
            failed: result.is_err(),
            answer: Box::new(move |committed| {
                // The caller may have given up (timed out); its answer has nowhere to go.
                let _ = reply.send(result.and_then(|value| committed.map(|()| value)));
            }),
        }
    })
}

/// A job waiting for the writer, holding its place in the queue.
struct Queued {
    job: Job,
    _room: OwnedSemaphorePermit,
}

/// The way to the writer thread. (A std channel, for the writer's `recv_timeout`; the
/// semaphore bounds it and lets callers wait for room without blocking a tokio thread.)
#[derive(Clone)]
pub(super) struct Queue {
    jobs: mpsc::Sender<Queued>,
    room: Arc<Semaphore>,
}

impl Queue {
    /// Queues `job`, waiting for room if the queue is full; fails if the writer is gone.
    pub(super) async fn send(&self, job: Job) -> std::result::Result<(), ()> {
        let room = Arc::clone(&self.room)
            .acquire_owned()
            .await
            .map_err(|_| ())?;
        self.jobs.send(Queued { job, _room: room }).map_err(|_| ())
    }
}

/// Starts the writer thread over `db`; it ends once every clone of the returned queue is
/// gone and the jobs already queued are done.
pub(super) fn spawn(db: Arc<Database>) -> std::io::Result<(Queue, JoinHandle<()>)> {
    let (jobs, queue) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("kanmon-store-writer".to_owned())
        .spawn(move || run(&db, &queue))?;
    let room = Arc::new(Semaphore::new(QUEUE));
    Ok((Queue { jobs, room }, thread))
}

/// Every commit is durable before its callers hear of it (`tests/crash.rs` fails with
/// `Durability::None`).
const DURABILITY: Durability = Durability::Immediate;

fn run(db: &Database, queue: &mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_size = 1;
    while let Ok(first) = queue.recv() {
        batch.push(first.job);
        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let next = match queue.try_recv() {
                Ok(queued) => Ok(queued),
                Err(TryRecvError::Empty) if batch.len() < last_size => {
                    queue.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
                Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(queued) => batch.push(queued.job),
                Err(_) => break,
            }
        }
        last_size = batch.len();
        commit_batch(db, &mut batch);
    }
}

/// Applies `batch` in one transaction and answers every job. If any job's change failed
/// part-way (a storage error) the transaction is abandoned, since it may hold half of that
/// change, and every job in it fails: the one that failed with its own error, the others
/// with the rollback.
fn commit_batch(db: &Database, batch: &mut Vec<Job>) {
    let mut answers = Vec::with_capacity(batch.len());
    let outcome = apply(db, batch, &mut answers);
    if let Err(error) = &outcome {
        tracing::warn!(error = %error, jobs = answers.len() + batch.len(), "store write failed");
    }
    for answer in answers {
        answer(outcome.as_ref().copied().map_err(copy));
    }
    // Jobs never run (the transaction could not begin): dropping them drops their reply
    // senders, and their callers fail with the writer's error logged above.
    batch.clear();
}

/// The same error again, for each caller of a failed batch.
fn copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::Config(s) => StoreError::Config(s.clone()),
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
        StoreError::InUse(s) => StoreError::InUse(s.clone()),
        StoreError::Timeout(d) => StoreError::Timeout(*d),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Io(e) => StoreError::Io(std::io::Error::new(e.kind(), e.to_string())),
        StoreError::BadEntry { line, reason } => StoreError::BadEntry {
            line: *line,
            reason: reason.clone(),
        },
    }
}

fn apply(
    db: &Database,
    batch: &mut Vec<Job>,
    answers: &mut Vec<Box<dyn FnOnce(Result<()>) + Send>>,
) -> Result<()> {
    let mut txn = db.begin_write().db()?;
    txn.set_durability(DURABILITY).db()?;
    let mut failed = false;
    {
        let mut tables = Tables::open(&txn)?;
        for job in batch.drain(..) {
            let applied = job(&mut tables);
            failed |= applied.failed;
            answers.push(applied.answer);
        }
    }
    if failed {
        txn.abort().db()?;
        return Err(StoreError::Unavailable(
            "a write in the same batch failed part-way; the batch was rolled back".to_owned(),
        ));
    }
    txn.commit().db()
}
