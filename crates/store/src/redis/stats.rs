//! Statistics: one hash per hour, `v:<name>` → value and `x:<name>` → that counter's
//! expiry (counters of one hour may be written with different TTLs, and every backend
//! expires each on its own). The hour's key lives as long as its longest-lived counter,
//! and the index `{p}:stathours` lets a read of any range find the hours that exist
//! without scanning the keyspace. Adding is `stats_add.lua`.

use std::time::Duration;

use super::{RedisStore, parse_u64, ttl_secs};
use crate::memory::bucket_expiry;
use crate::{Result, StatCount, StoreError, Timestamp};

/// One hour's hash (field, value pairs) as live counters, in no particular order.
pub(super) fn parse_hour(
    hour: Timestamp,
    fields: &[(Vec<u8>, Vec<u8>)],
    now: Timestamp,
) -> Result<Vec<(StatCount, Timestamp)>> {
    let mut values = std::collections::HashMap::new();
    let mut expiries = std::collections::HashMap::new();
    for (field, value) in fields {
        let name = |f: &[u8]| {
            String::from_utf8(f.to_vec())
                .map_err(|_| StoreError::Corrupt("a stats name is not UTF-8".to_owned()))
        };
        if let Some(f) = field.strip_prefix(b"v:") {
            let value = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| StoreError::Corrupt("a stats value is not a number".to_owned()))?;
            values.insert(name(f)?, value);
        } else if let Some(f) = field.strip_prefix(b"x:") {
            expiries.insert(name(f)?, parse_u64(value, "a stats expiry")?);
        }
    }
    Ok(values
        .into_iter()
        .filter_map(|(name, value)| {
            let expires = *expiries.get(&name)?;
            (expires > now).then_some((
                StatCount {
                    bucket: hour,
                    name,
                    value,
                },
                expires,
            ))
        })
        .collect())
}

impl RedisStore {
    pub(super) async fn add_stats(
        &self,
        hour: Timestamp,
        deltas: &[(&str, i64)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let expires = bucket_expiry(hour, ttl);
        let mut invocation = self.scripts().stats_add.prepare_invoke();
        invocation
            .key(self.keys().stats(hour))
            .key(self.keys().stat_hours())
            .arg(hour)
            .arg(expires)
            .arg(ttl_secs(now, expires));
        for (name, delta) in deltas {
            invocation.arg(*name).arg(*delta);
        }
        let mut conn = self.conn();
        self.bounded(invocation.invoke_async::<()>(&mut conn)).await
    }

    /// The hours in `first..=last` that have a stats hash.
    pub(super) async fn stat_hours(
        &self,
        first: Timestamp,
        last: Timestamp,
    ) -> Result<Vec<Timestamp>> {
        let mut conn = self.conn();
        self.bounded(
            ::redis::cmd("ZRANGEBYSCORE")
                .arg(self.keys().stat_hours())
                .arg(first)
                .arg(last)
                .query_async(&mut conn),
        )
        .await
    }

    /// Each hour's hash (fields and values), in one pipeline.
    pub(super) async fn stat_hashes(
        &self,
        hours: &[Timestamp],
    ) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>> {
        if hours.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = ::redis::pipe();
        for hour in hours {
            pipeline.cmd("HGETALL").arg(self.keys().stats(*hour));
        }
        let mut conn = self.conn();
        self.bounded(pipeline.query_async(&mut conn)).await
    }

    pub(super) async fn read_stats(
        &self,
        first: Timestamp,
        last: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<StatCount>> {
        let hours = self.stat_hours(first, last).await?;
        let hashes = self.stat_hashes(&hours).await?;
        let mut counts = Vec::new();
        for (hour, fields) in hours.iter().zip(&hashes) {
            counts.extend(
                parse_hour(*hour, fields, now)?
                    .into_iter()
                    .map(|(count, _)| count),
            );
        }
        Ok(counts)
    }

    /// Drops hours whose hash Redis has expired from the index; how many went.
    pub(super) async fn trim_stat_hours(&self) -> Result<u64> {
        let hours = self.stat_hours(0, Timestamp::MAX).await?;
        if hours.is_empty() {
            return Ok(0);
        }
        let mut pipeline = ::redis::pipe();
        for hour in &hours {
            pipeline.cmd("EXISTS").arg(self.keys().stats(*hour));
        }
        let mut conn = self.conn();
        let exists: Vec<bool> = self.bounded(pipeline.query_async(&mut conn)).await?;
        let gone: Vec<Timestamp> = hours
            .iter()
            .zip(exists)
            .filter(|(_, exists)| !exists)
            .map(|(hour, _)| *hour)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let removed: u64 = self
            .bounded(
                ::redis::cmd("ZREM")
                    .arg(self.keys().stat_hours())
                    .arg(&gone)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(removed)
    }
}
