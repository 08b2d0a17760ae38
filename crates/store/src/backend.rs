//! The operations every backend implements, with time passed in: [`crate::Store`] reads its
//! clock once per call and hands `now` down, so all backends see the same instant.

use std::time::Duration;

use crate::{
    Class, Entry, Record, Result, Sighting, StatCount, Summary, Timestamp, TokenKey, TokenRead,
};

/// One backend. The contract of each operation is on the [`crate::Store`] method of the
/// same name; here `tokens` are already distinct, and an entry whose expiry is at or
/// before `now` counts as absent whether or not it was removed yet.
pub(crate) trait Backend {
    async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead>;
    async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>>;
    async fn label(&self, digest: &[u8]) -> Result<Option<Class>>;
    async fn clear_learned(&self) -> Result<()>;
    async fn greylist_touch(&self, key: &[u8], now: Timestamp, ttl: Duration) -> Result<Sighting>;
    async fn greylist_get(&self, key: &[u8], now: Timestamp) -> Result<Option<Sighting>>;
    /// `bucket` is the current hour; it expires `ttl` after the hour ends.
    async fn stats_add(
        &self,
        bucket: Timestamp,
        deltas: &[(&str, i64)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()>;
    /// Buckets `first..=last` (hour starts).
    async fn stats_read(
        &self,
        first: Timestamp,
        last: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<StatCount>>;
    async fn append_record(
        &self,
        stream: &str,
        data: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()>;
    async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Record>>;
    /// At most [`crate::TRIM_RECORDS_MAX`] removed.
    async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64>;
    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>>;
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        now: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()>;
    async fn delete(&self, key: &str, now: Timestamp) -> Result<bool>;
    async fn expire(&self, now: Timestamp) -> Result<u64>;
    async fn summary(&self, now: Timestamp) -> Result<Summary>;
    async fn export(
        &self,
        now: Timestamp,
        sink: &mut (dyn FnMut(Entry) -> Result<()> + Send),
    ) -> Result<()>;
    async fn import(&self, entries: &[Entry], now: Timestamp) -> Result<()>;
}
