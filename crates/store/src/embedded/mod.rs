//! The embedded backend: the whole store in one redb file, for a single machine.
//!
//! Data flow: reads run on tokio's blocking pool, each in its own read transaction (redb
//! is MVCC: a reader sees the last commit and never waits for the writer). Writes go to
//! one writer thread ([`writer`]) that applies everything queued in one transaction and
//! commits it durably before answering, so an `Ok` means the change survives a crash and
//! concurrent writers share fsyncs. Every call is bounded by the configured timeout.
//!
//! The layout of the file is in [`schema`]; the write operations in [`change`], the reads
//! in [`read`].

mod change;
mod counts;
mod open;
mod read;
mod schema;
mod writer;

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Database, ReadTransaction, ReadableDatabase};
use tokio::sync::{mpsc, oneshot};

use crate::backend::Backend;
use crate::memory::bucket_expiry;
use crate::{
    Class, Entry, Record, Result, Sighting, StatCount, StoreError, Summary, Timestamp, TokenKey,
    TokenRead, expiry,
};
use schema::Db;
use writer::Tables;

pub use open::compact;

/// Most expired entries removed in one write transaction: the writer (and so every other
/// write) waits for one such batch at most, not for a whole day's expiry.
const EXPIRE_BATCH: usize = 1000;
/// Learned entries (labels, then tokens) removed per write by `clear_learned`.
const CLEAR_BATCH: usize = 10_000;

/// One redb file. Clones share the file and the writer thread.
#[derive(Clone)]
pub struct EmbeddedStore {
    // Declared before `shared`: when the last clone drops, the queue closes first, so the
    // writer thread can finish and `Shared`'s drop can wait for it.
    jobs: writer::Queue,
    shared: Arc<Shared>,
}

struct Shared {
    db: Arc<Database>,
    path: PathBuf,
    /// The file redb has open, for its size.
    file: File,
    timeout: Duration,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    /// Waits for the writer to finish what is queued and release the file, so the file
    /// can be opened again as soon as the store is dropped.
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

impl EmbeddedStore {
    /// Opens the file at `path` (creating it, and its directory, if missing), with every
    /// call bounded by `timeout`. Errors name the `store.path` setting.
    pub async fn open(path: &Path, timeout: Duration) -> Result<EmbeddedStore> {
        let owned = path.to_path_buf();
        let (db, file) = tokio::task::spawn_blocking(move || open::database(&owned))
            .await
            .map_err(|e| open::failed(path, StoreError::Corrupt(e.to_string())))??;
        let db = Arc::new(db);
        let (jobs, thread) = writer::spawn(Arc::clone(&db))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer: {e}")))?;
        Ok(EmbeddedStore {
            jobs,
            shared: Arc::new(Shared {
                db,
                path: path.to_path_buf(),
                file,
                timeout,
                writer: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Fails with [`StoreError::Timeout`] if `work` takes longer than the store's timeout.
    async fn bounded<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let timeout = self.shared.timeout;
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| StoreError::Timeout(timeout))?
    }

    /// Runs `f` over a fresh read transaction on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(&self.shared.db);
        self.bounded(async move {
            tokio::task::spawn_blocking(move || f(&db.begin_read().db()?))
                .await
                .map_err(|e| StoreError::Unavailable(format!("store read failed: {e}")))?
        })
        .await
    }

    /// Hands `change` to the writer; its result once the batch it went in is durable.
    async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Tables<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.bounded(async {
            self.jobs
                .send(writer::job(change, reply))
                .await
                .map_err(|_| writer_gone())?;
            answer.await.map_err(|_| writer_gone())?
        })
        .await
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable("the store writer stopped (see the log)".to_owned())
}

impl Backend for EmbeddedStore {
    async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        let keys = keys.to_vec();
        self.read(move |txn| read::token_counts(txn, &keys)).await
    }

    async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        let (digest, tokens) = (digest.to_vec(), tokens.to_vec());
        self.write(move |t| change::relabel(t, &digest, class, &tokens))
            .await
    }

    async fn label(&self, digest: &[u8]) -> Result<Option<Class>> {
        let digest = digest.to_vec();
        self.read(move |txn| read::label(txn, &digest)).await
    }

    /// Implementation note: in writes of [`CLEAR_BATCH`] entries, each with its own
    /// timeout, so a large store is emptied without holding the writer (and the mail path's
    /// writes) for long. The totals go in the first, so the classifier abstains from then on.
    async fn clear_learned(&self) -> Result<()> {
        while self
            .write(|t| change::clear_learned_batch(t, CLEAR_BATCH))
            .await?
        {}
        Ok(())
    }

    async fn greylist_touch(&self, key: &[u8], now: Timestamp, ttl: Duration) -> Result<Sighting> {
        let key = key.to_vec();
        let expires = expiry(now, ttl);
        self.write(move |t| change::greylist_touch(t, &key, now, expires))
            .await
    }

    async fn greylist_get(&self, key: &[u8], now: Timestamp) -> Result<Option<Sighting>> {
        let key = key.to_vec();
        self.read(move |txn| read::greylist_get(txn, &key, now))
            .await
    }

    async fn stats_add(
        &self,
        bucket: Timestamp,
        deltas: &[(&str, i64)],
        _now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let deltas: Vec<(String, i64)> = deltas
            .iter()
            .map(|(name, delta)| ((*name).to_owned(), *delta))
            .collect();
        let expires = bucket_expiry(bucket, ttl);
        self.write(move |t| change::stats_add(t, bucket, &deltas, expires))
            .await
    }

    async fn stats_read(
        &self,
        first: Timestamp,
        last: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<StatCount>> {
        self.read(move |txn| read::stats_read(txn, first, last, now))
            .await
    }

    async fn append_record(
        &self,
        stream: &str,
        data: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let (stream, data) = (stream.to_owned(), data.to_vec());
        let expires = expiry(now, ttl);
        self.write(move |t| change::append_record(t, &stream, &data, now, expires))
            .await
    }

    async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Record>> {
        let stream = stream.to_owned();
        self.read(move |txn| read::records(txn, &stream, since, until, now))
            .await
    }

    async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        let stream = stream.to_owned();
        self.write(move |t| change::trim_records_before(t, &stream, before))
            .await
    }

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.read(move |txn| read::get(txn, &key, now)).await
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        now: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_vec());
        let expires = ttl.map(|ttl| expiry(now, ttl));
        self.write(move |t| change::set(t, &key, &value, expires))
            .await
    }

    async fn delete(&self, key: &str, now: Timestamp) -> Result<bool> {
        let key = key.to_owned();
        self.write(move |t| change::delete(t, &key, now)).await
    }

    /// Implementation note: each batch of [`EXPIRE_BATCH`] is its own write (and its own
    /// timeout), so a large backlog is worked off without holding the writer for long; other
    /// writes queued meanwhile go in between.
    async fn expire(&self, now: Timestamp) -> Result<u64> {
        let mut removed = 0;
        loop {
            let (count, more) = self
                .write(move |t| change::expire_batch(t, now, EXPIRE_BATCH))
                .await?;
            removed += count;
            if !more {
                return Ok(removed);
            }
        }
    }

    async fn summary(&self, now: Timestamp) -> Result<Summary> {
        let mut summary = self.read(move |txn| read::summary(txn, now)).await?;
        summary.location = self.shared.path.display().to_string();
        summary.bytes = Some(self.shared.file.metadata()?.len());
        Ok(summary)
    }

    /// Implementation note: the snapshot is read on the blocking pool and handed over in
    /// chunks, so memory stays bounded whatever the store's size; the timeout bounds the
    /// wait for each chunk, not the whole export, which for a large store takes longer.
    async fn export(
        &self,
        now: Timestamp,
        sink: &mut (dyn FnMut(Entry) -> Result<()> + Send),
    ) -> Result<()> {
        let (chunks, mut received) = mpsc::channel(4);
        let db = Arc::clone(&self.shared.db);
        let reader =
            tokio::task::spawn_blocking(move || read::export(&db.begin_read().db()?, now, &chunks));
        while let Some(chunk) = self.bounded(async { Ok(received.recv().await) }).await? {
            chunk.into_iter().try_for_each(&mut *sink)?;
        }
        reader
            .await
            .map_err(|e| StoreError::Unavailable(format!("store export failed: {e}")))?
    }

    async fn import(&self, entries: &[Entry], now: Timestamp) -> Result<()> {
        let entries = entries.to_vec();
        self.write(move |t| change::import(t, &entries, now)).await
    }
}

#[cfg(test)]
mod tests;
