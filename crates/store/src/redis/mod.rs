//! The Redis backend: one Redis server (TCP or Unix socket), or a Redis Cluster, shared by
//! any number of kanmon hosts.
//!
//! Every operation is one round trip: reads are pipelines, and changes that must not
//! interleave with another host's (learning, greylist sightings, stats, records) are Lua
//! scripts, which Redis runs atomically. Key layout and the hash tag: [`keys`].
//!
//! Time: entries store the expiry the store's clock gave them, and their keys get a Redis
//! TTL ending at the same moment on Redis's clock. Reads honour the stored expiry too, so
//! answers match the other backends; Redis's TTL is what actually frees the memory.

mod conn;
mod greylist;
mod inventory;
mod keys;
mod records;
mod stats;
mod tokens;
mod url;
mod values;

use std::sync::Arc;
use std::time::Duration;

use ::redis::Script;

use crate::backend::Backend;
use crate::{
    Class, Entry, Record, Result, Sighting, StatCount, StoreError, StoreSettings, Summary,
    Timestamp, TokenKey, TokenRead,
};
use conn::{Conn, bounded};
use keys::Keys;

/// The longest TTL given to a key: Redis refuses expiry times past what fits its clock in
/// milliseconds, and a century is as good as forever here.
const MAX_TTL_SECS: u64 = 100 * 365 * 86_400;

/// A Redis server (or cluster) holding one prefix's entries. Clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    keys: Keys,
    scripts: Scripts,
    timeout: Duration,
    /// `store.url` without passwords.
    location: String,
}

/// The Lua scripts, hashed once (redis-rs sends EVALSHA, and the source when the server
/// does not know it yet, as after a restart).
struct Scripts {
    relabel: Script,
    greylist_touch: Script,
    stats_add: Script,
    append_record: Script,
    trim_records_before: Script,
}

impl RedisStore {
    /// Connects to `settings.url` within `settings.connect_timeout`. Errors name
    /// `store.url` (or `store.prefix`) and never show a password.
    pub async fn open(settings: &StoreSettings) -> Result<RedisStore> {
        let location = url::redact(&settings.url);
        let keys = Keys::new(&settings.prefix)?;
        let target = url::parse(&settings.url)?;
        let conn = Conn::open(target, settings.timeout, settings.connect_timeout)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "store.url = \"{location}\": cannot reach the server: {e}"
                ))
            })?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                conn,
                keys,
                scripts: Scripts {
                    relabel: Script::new(include_str!("lua/relabel.lua")),
                    greylist_touch: Script::new(include_str!("lua/greylist_touch.lua")),
                    stats_add: Script::new(include_str!("lua/stats_add.lua")),
                    append_record: Script::new(include_str!("lua/append_record.lua")),
                    trim_records_before: Script::new(include_str!("lua/trim_records_before.lua")),
                },
                timeout: settings.timeout,
                location,
            }),
        })
    }

    fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    /// Runs one call's Redis work within `store.timeout`.
    async fn bounded<T>(
        &self,
        work: impl Future<Output = std::result::Result<T, ::redis::RedisError>>,
    ) -> Result<T> {
        bounded(self.inner.timeout, work).await
    }
}

/// Seconds from `now` until `expires`, for a Redis TTL (0: already expired).
fn ttl_secs(now: Timestamp, expires: Timestamp) -> u64 {
    expires.saturating_sub(now).min(MAX_TTL_SECS)
}

/// A number the store wrote as decimal text, read back.
fn parse_u64(bytes: &[u8], what: &str) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{what} is not a number")))
}

impl Backend for RedisStore {
    async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        self.read_tokens(keys).await
    }

    async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        self.relabel_tokens(digest, class, tokens).await
    }

    async fn label(&self, digest: &[u8]) -> Result<Option<Class>> {
        self.read_label(digest).await
    }

    async fn clear_learned(&self) -> Result<()> {
        self.unlink_learned().await
    }

    async fn greylist_touch(&self, key: &[u8], now: Timestamp, ttl: Duration) -> Result<Sighting> {
        self.touch(key, now, ttl).await
    }

    async fn greylist_get(&self, key: &[u8], now: Timestamp) -> Result<Option<Sighting>> {
        self.sighting(key, now).await
    }

    async fn stats_add(
        &self,
        bucket: Timestamp,
        deltas: &[(&str, i64)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        self.add_stats(bucket, deltas, now, ttl).await
    }

    async fn stats_read(
        &self,
        first: Timestamp,
        last: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<StatCount>> {
        self.read_stats(first, last, now).await
    }

    async fn append_record(
        &self,
        stream: &str,
        data: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        self.append(stream, data, now, ttl).await
    }

    async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Record>> {
        self.read_records(stream, since, until, now).await
    }

    async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        self.trim_before(stream, before).await
    }

    async fn get(&self, key: &str, _now: Timestamp) -> Result<Option<Vec<u8>>> {
        self.get_value(key).await
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        now: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.set_value(key, value, now, ttl).await
    }

    async fn delete(&self, key: &str, _now: Timestamp) -> Result<bool> {
        self.delete_value(key).await
    }

    async fn expire(&self, now: Timestamp) -> Result<u64> {
        self.trim(now).await
    }

    async fn summary(&self, now: Timestamp) -> Result<Summary> {
        self.summarise(now).await
    }

    async fn export(
        &self,
        now: Timestamp,
        sink: &mut (dyn FnMut(Entry) -> Result<()> + Send),
    ) -> Result<()> {
        self.export_all(now, sink).await
    }

    async fn import(&self, entries: &[Entry], now: Timestamp) -> Result<()> {
        self.import_all(entries, now).await
    }
}
