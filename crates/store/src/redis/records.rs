//! Records: per stream, a sorted set scored by the record's time, and a twin scored by its
//! expiry so expired records can be trimmed (Redis expires whole keys, not members).
//!
//! A member is 16 hex digits of sequence number, 16 of time, 16 of expiry, then the data:
//! members of one second sort by sequence, so reads return records in append order, and
//! time and expiry come back exact (scores are doubles). Appending (with a bounded trim) is
//! `append_record.lua`.

use std::time::Duration;

use super::{RedisStore, ttl_secs};
use crate::{Record, Result, StoreError, Timestamp, expiry};

/// Length of one hex field of a member.
const HEX: usize = 16;

/// Most expired records one append trims: enough to keep up with appends of any mix of
/// TTLs, small enough that an append never stalls Redis.
const TRIM_BATCH: u64 = 100;

/// The member's tail after the sequence number.
pub(super) fn tail(at: Timestamp, expires: Timestamp, data: &[u8]) -> Vec<u8> {
    let mut tail = format!("{at:016x}{expires:016x}").into_bytes();
    tail.extend_from_slice(data);
    tail
}

/// A member as (time, expiry, data).
pub(super) fn parse_member(member: &[u8]) -> Result<(Timestamp, Timestamp, Vec<u8>)> {
    let hex = |range: std::ops::Range<usize>| {
        member
            .get(range)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|text| u64::from_str_radix(text, 16).ok())
            .ok_or_else(|| StoreError::Corrupt("a record member is malformed".to_owned()))
    };
    Ok((
        hex(HEX..2 * HEX)?,
        hex(2 * HEX..3 * HEX)?,
        member[3 * HEX..].to_vec(),
    ))
}

impl RedisStore {
    pub(super) async fn append(
        &self,
        stream: &str,
        data: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        self.add_record(stream, now, expiry(now, ttl), data, now)
            .await
            .map(|_| ())
    }

    /// Adds a record stamped `at` expiring at `expires` and trims up to [`TRIM_BATCH`] expired ones;
    /// how many went.
    pub(super) async fn add_record(
        &self,
        stream: &str,
        at: Timestamp,
        expires: Timestamp,
        data: &[u8],
        now: Timestamp,
    ) -> Result<u64> {
        let keys = self.keys();
        let mut invocation = self.scripts().append_record.prepare_invoke();
        invocation
            .key(keys.records(stream))
            .key(keys.records_by_expiry(stream))
            .key(keys.seq())
            .key(keys.streams())
            .arg(at)
            .arg(expires)
            .arg(ttl_secs(now, expires))
            .arg(tail(at, expires, data))
            .arg(now)
            .arg(TRIM_BATCH)
            .arg(stream);
        let mut conn = self.conn();
        self.bounded(invocation.invoke_async(&mut conn)).await
    }

    pub(super) async fn read_records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Record>> {
        if since > until {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let members: Vec<Vec<u8>> = self
            .bounded(
                ::redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys().records(stream))
                    .arg(since)
                    .arg(until)
                    .query_async(&mut conn),
            )
            .await?;
        let mut records = Vec::with_capacity(members.len());
        for member in &members {
            let (at, expires, data) = parse_member(member)?;
            // Scores are doubles: far from 2^53 they round, so the exact bounds decide.
            if expires > now && (since..=until).contains(&at) {
                records.push(Record { at, data });
            }
        }
        Ok(records)
    }

    /// See [`crate::Store::trim_records_before`] (`trim_records_before.lua`).
    pub(super) async fn trim_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        let keys = self.keys();
        let mut invocation = self.scripts().trim_records_before.prepare_invoke();
        invocation
            .key(keys.records(stream))
            .key(keys.records_by_expiry(stream))
            .arg(before)
            .arg(format!("{before:016x}"))
            .arg(crate::TRIM_RECORDS_MAX);
        let mut conn = self.conn();
        self.bounded(invocation.invoke_async(&mut conn)).await
    }

    /// Removes `stream`'s expired records, all of them; how many went.
    pub(super) async fn trim_stream(&self, stream: &str, now: Timestamp) -> Result<u64> {
        let mut trimmed = 0;
        loop {
            // An append with nothing to add (expired at once) only trims.
            let gone = self.add_record(stream, now, now, b"", now).await?;
            trimmed += gone;
            if gone < TRIM_BATCH {
                return Ok(trimmed);
            }
        }
    }
}
