//! kanmon-store: the state kanmon keeps between messages, behind one contract with three
//! backends.
//!
//! * [`EmbeddedStore`]: one redb file, the default (a single machine needs no server);
//! * [`RedisStore`]: a Redis (or Redis-compatible) server or cluster shared by several MX
//!   hosts;
//! * [`MemoryStore`]: a map in memory, for tests and for running with no state on disk.
//!
//! [`Store`] is the one type callers hold: [`Store::open`] picks the backend from
//! [`StoreSettings`]. `docs/store.md` says how each backend keeps its data and why.
//!
//! The operations speak storage, not mail: counters for token keys read and changed in one
//! batch per message, per-class totals and a set of labelled digests that keeps learning
//! idempotent ([`Store::relabel`]), greylist sightings with expiry, hour-bucketed
//! statistics counters, append-only records with expiry, and small values with a TTL. Every
//! backend gives the same answers to the same calls; `tests/conformance/` holds them to it.
//!
//! Time comes from the store's [`Clock`], so tests can move it; Redis expires keys on its
//! own clock, so with Redis a [`Clock::Manual`] moves the timestamps written but not expiry.
//!
//! A store call fails with a [`StoreError`] within the configured timeout; callers degrade
//! (a check that needs the store reports itself unavailable) and mail keeps flowing.

mod backend;
mod clock;
pub mod embedded;
mod entry;
mod error;
pub mod memory;
mod redis;
pub mod remote;
mod settings;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::redis::RedisStore;
use backend::Backend;
pub use clock::Clock;
pub use embedded::EmbeddedStore;
pub use entry::Entry;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use remote::RemoteStore;
pub use settings::{BackendKind, FILE_NAME, SYSTEM_DIR, StoreSettings, default_path};

/// Seconds since the Unix epoch.
pub type Timestamp = u64;

/// A token as the classifier names it: a 64-bit hash of its text.
pub type TokenKey = u64;

pub type Result<T> = std::result::Result<T, StoreError>;

/// Length of a statistics bucket: counters are kept per hour, and a day is 24 of them.
pub const STAT_BUCKET_SECS: u64 = 3600;

/// The two classes a learned message can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Spam,
    Ham,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Spam => "spam",
            Class::Ham => "ham",
        }
    }
}

/// In how many learned messages of each class a token appeared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    pub spam: u64,
    pub ham: u64,
}

/// How many messages of each class are learned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTotals {
    pub spam: u64,
    pub ham: u64,
}

/// One batched read of token counters: the totals, and one [`TokenCounts`] per key asked
/// for, in the same order (zero for a key never seen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRead {
    pub totals: ClassTotals,
    pub counts: Vec<TokenCounts>,
}

/// A greylist entry: when its key was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// The first sighting since the entry last expired.
    pub first_seen: Timestamp,
    /// The latest sighting.
    pub last_seen: Timestamp,
    /// Sightings since the first; 1 for a new entry.
    pub count: u64,
}

/// One statistics counter of one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatCount {
    /// Start of the hour (a multiple of [`STAT_BUCKET_SECS`]).
    pub bucket: Timestamp,
    pub name: String,
    pub value: i64,
}

/// One appended record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Timestamp,
    pub data: Vec<u8>,
}

/// What a store holds, for `kanmon store stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub backend: &'static str,
    /// Where: the file, or the Redis URL without its password.
    pub location: String,
    /// Token keys with a nonzero counter.
    pub tokens: u64,
    pub learned: ClassTotals,
    /// Labelled digests (learned messages).
    pub digests: u64,
    pub greylist: u64,
    /// Statistics counters (name × hour).
    pub stat_counters: u64,
    pub records: u64,
    pub values: u64,
    /// Bytes used: the file's size, or Redis's `used_memory` (the whole server's).
    pub bytes: Option<u64>,
}

/// The store: one of the backends, and the clock its timestamps come from.
#[derive(Clone)]
pub struct Store {
    backend: Backends,
    clock: Clock,
}

#[derive(Clone)]
enum Backends {
    Memory(MemoryStore),
    Redis(RedisStore),
    Embedded(EmbeddedStore),
    Remote(RemoteStore),
}

/// Calls `$op` on whichever backend this is, timed for `/metrics` (its duration, and an
/// error counted by operation).
macro_rules! dispatch {
    ($self:ident, $backend:ident => $b:ident . $op:ident ( $($arg:expr),* ) .await) => {{
        let started = std::time::Instant::now();
        let result = match &$self.backend {
            Backends::Memory($backend) => $b.$op($($arg),*).await,
            Backends::Redis($backend) => $b.$op($($arg),*).await,
            Backends::Embedded($backend) => $b.$op($($arg),*).await,
            Backends::Remote($backend) => $b.$op($($arg),*).await,
        };
        kanmon_metrics::store_call(stringify!($op), started.elapsed(), result.is_ok());
        result
    }};
}

impl Store {
    /// A store in memory, with the system clock.
    pub fn memory() -> Store {
        Store::memory_with_clock(Clock::System)
    }

    pub fn memory_with_clock(clock: Clock) -> Store {
        Store {
            backend: Backends::Memory(MemoryStore::default()),
            clock,
        }
    }

    /// The store the settings describe, opened (the file created, the server reached).
    /// Errors name the setting at fault.
    pub async fn open(settings: &StoreSettings) -> Result<Store> {
        Store::open_with_clock(settings, Clock::System).await
    }

    pub async fn open_with_clock(settings: &StoreSettings, clock: Clock) -> Result<Store> {
        let backend = match settings.backend {
            BackendKind::Memory => Backends::Memory(MemoryStore::default()),
            BackendKind::Redis => Backends::Redis(RedisStore::open(settings).await?),
            BackendKind::Embedded => {
                Backends::Embedded(EmbeddedStore::open(&settings.path, settings.timeout).await?)
            }
        };
        Ok(Store { backend, clock })
    }

    /// The store the settings describe, or, when it is the embedded file and a running
    /// daemon holds it, that daemon's store through its socket
    /// ([`StoreSettings::socket_path`]): how the command-line tools reach the store whether
    /// or not `kanmon serve` runs.
    pub async fn open_or_connect(settings: &StoreSettings) -> Result<Store> {
        match Store::open(settings).await {
            Err(StoreError::InUse(reason)) => {
                let socket = settings.socket_path();
                Store::connect(&socket, settings.timeout)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("{reason}; and {e}")))
            }
            other => other,
        }
    }

    /// The store a daemon serves on `socket`, with the system clock (the daemon's decides).
    pub async fn connect(socket: &std::path::Path, timeout: Duration) -> Result<Store> {
        Store::connect_with_clock(socket, timeout, Clock::System).await
    }

    pub async fn connect_with_clock(
        socket: &std::path::Path,
        timeout: Duration,
        clock: Clock,
    ) -> Result<Store> {
        Ok(Store {
            backend: Backends::Remote(RemoteStore::connect(socket, timeout).await?),
            clock,
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The totals and the counters of `keys`, in one round trip.
    pub async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        dispatch!(self, b => b.token_counts(keys).await)
    }

    /// Gives `digest` the label `class` (`None` removes it), moving the token counters with
    /// it, all at once: the counters of `tokens` (each distinct key once) and the totals
    /// lose one for the old class, if any, and gain one for the new. Labelling a digest
    /// with the class it has changes nothing, so learning a message twice counts once.
    /// Returns the old class.
    pub async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        let mut tokens = tokens.to_vec();
        tokens.sort_unstable();
        tokens.dedup();
        dispatch!(self, b => b.relabel(digest, class, &tokens).await)
    }

    /// The class `digest` is labelled with.
    pub async fn label(&self, digest: &[u8]) -> Result<Option<Class>> {
        dispatch!(self, b => b.label(digest).await)
    }

    /// Forgets everything learned: every token's counters, the class totals and every
    /// message's label. Greylist, stats, records and values stay (the tokenizer version the
    /// classifier keeps among the values is its own to remove). Redis does it at once; the
    /// embedded store in writes of 10,000 entries, totals first, so other writes are not held
    /// up by a large store — a learn made while it runs may be partly undone.
    pub async fn clear_learned(&self) -> Result<()> {
        dispatch!(self, b => b.clear_learned().await)
    }

    /// Records a sighting of `key` now and returns the entry with it (`count` 1 when it is
    /// new, or the old one had expired); the entry expires `ttl` after this sighting.
    pub async fn greylist_touch(&self, key: &[u8], ttl: Duration) -> Result<Sighting> {
        let now = self.clock.now();
        dispatch!(self, b => b.greylist_touch(key, now, ttl).await)
    }

    /// The entry for `key` as the last sighting left it, without a new one.
    pub async fn greylist_get(&self, key: &[u8]) -> Result<Option<Sighting>> {
        let now = self.clock.now();
        dispatch!(self, b => b.greylist_get(key, now).await)
    }

    /// Adds each delta to its counter in the current hour's bucket, in one batch; a bucket
    /// expires `ttl` after its hour ends.
    pub async fn stats_add(&self, deltas: &[(&str, i64)], ttl: Duration) -> Result<()> {
        self.stats_add_at(self.clock.now(), deltas, ttl).await
    }

    /// As [`Store::stats_add`], into the bucket of the hour containing `at`: for counts
    /// gathered in memory and written later.
    pub async fn stats_add_at(
        &self,
        at: Timestamp,
        deltas: &[(&str, i64)],
        ttl: Duration,
    ) -> Result<()> {
        let now = self.clock.now();
        let bucket = at - at % STAT_BUCKET_SECS;
        dispatch!(self, b => b.stats_add(bucket, deltas, now, ttl).await)
    }

    /// The counters of the hours from the one containing `from` to the one containing
    /// `until`, ordered by hour then name.
    pub async fn stats_read(&self, from: Timestamp, until: Timestamp) -> Result<Vec<StatCount>> {
        let now = self.clock.now();
        let first = from - from % STAT_BUCKET_SECS;
        let last = until - until % STAT_BUCKET_SECS;
        let mut counts = dispatch!(self, b => b.stats_read(first, last, now).await)?;
        counts.sort_by(|a, b| (a.bucket, &a.name).cmp(&(b.bucket, &b.name)));
        Ok(counts)
    }

    /// Appends a record to `stream`, stamped now; it expires `ttl` later.
    pub async fn append_record(&self, stream: &str, data: &[u8], ttl: Duration) -> Result<()> {
        let now = self.clock.now();
        dispatch!(self, b => b.append_record(stream, data, now, ttl).await)
    }

    /// The records of `stream` stamped from `since` to `until` (inclusive), oldest first,
    /// in the order they were appended.
    pub async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Record>> {
        let now = self.clock.now();
        dispatch!(self, b => b.records(stream, since, until, now).await)
    }

    /// Removes `stream`'s records older than `before` (their `at` < `before`), oldest first,
    /// at most [`TRIM_RECORDS_MAX`] per call; how many went. A ring kept by age rather than
    /// by count: a record at `before` itself stays.
    pub async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        dispatch!(self, b => b.trim_records_before(stream, before).await)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        dispatch!(self, b => b.get(key, now).await)
    }

    /// Sets `key`; it expires `ttl` from now, or never with `None`.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let now = self.clock.now();
        dispatch!(self, b => b.set(key, value, now, ttl).await)
    }

    /// Removes `key`; whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let now = self.clock.now();
        dispatch!(self, b => b.delete(key, now).await)
    }

    /// Removes what has expired, in small batches so scans are never held up for long;
    /// how many entries went. (Redis expires keys itself: nothing to do there.)
    pub async fn expire(&self) -> Result<u64> {
        let now = self.clock.now();
        dispatch!(self, b => b.expire(now).await)
    }

    pub async fn summary(&self) -> Result<Summary> {
        let now = self.clock.now();
        dispatch!(self, b => b.summary(now).await)
    }

    /// Every live entry, handed to `sink` one by one (the order is the backend's).
    pub async fn export(&self, sink: &mut (dyn FnMut(Entry) -> Result<()> + Send)) -> Result<()> {
        let now = self.clock.now();
        dispatch!(self, b => b.export(now, sink).await)
    }

    /// Writes `entries` as they are (replacing entries with the same key), in one batch. A
    /// value whose expiry has passed removes the value of its key: a batch can delete.
    pub async fn import(&self, entries: &[Entry]) -> Result<()> {
        let now = self.clock.now();
        dispatch!(self, b => b.import(entries, now).await)
    }
}

/// Most records one [`Store::trim_records_before`] call removes: a call stays short; a
/// caller that trims regularly keeps up anyway.
pub const TRIM_RECORDS_MAX: u64 = 10_000;

/// `now + ttl` in whole seconds, rounded up so a TTL never ends early, saturating.
pub(crate) fn expiry(now: Timestamp, ttl: Duration) -> Timestamp {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    now.saturating_add(secs)
}
