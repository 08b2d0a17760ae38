//! Greylist entries: one hash per key (`first`, `last`, `count`, `expires`) whose Redis TTL
//! ends when the entry does, so Redis frees it; a sighting is `greylist_touch.lua`.

use std::time::Duration;

use super::{RedisStore, parse_u64, ttl_secs};
use crate::{Result, Sighting, StoreError, Timestamp, expiry};

/// The fields of an entry, in the order reads ask for them.
pub(super) const FIELDS: [&str; 4] = ["first", "last", "count", "expires"];

/// An entry's fields (as [`FIELDS`] orders them) with its expiry; `None` if there is no
/// entry.
pub(super) fn parse_entry(fields: &[Option<Vec<u8>>]) -> Result<Option<(Sighting, Timestamp)>> {
    let [Some(first), Some(last), Some(count), Some(expires)] = fields else {
        return if fields.iter().all(Option::is_none) {
            Ok(None)
        } else {
            Err(StoreError::Corrupt(
                "a greylist entry lacks a field".to_owned(),
            ))
        };
    };
    let what = "a greylist field";
    Ok(Some((
        Sighting {
            first_seen: parse_u64(first, what)?,
            last_seen: parse_u64(last, what)?,
            count: parse_u64(count, what)?,
        },
        parse_u64(expires, what)?,
    )))
}

impl RedisStore {
    pub(super) async fn touch(
        &self,
        key: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Sighting> {
        let expires = expiry(now, ttl);
        let mut invocation = self.scripts().greylist_touch.prepare_invoke();
        invocation
            .key(self.keys().greylist(key))
            .arg(now)
            .arg(expires)
            .arg(ttl_secs(now, expires));
        let mut conn = self.conn();
        let (first, last, count): (u64, u64, u64) =
            self.bounded(invocation.invoke_async(&mut conn)).await?;
        Ok(Sighting {
            first_seen: first,
            last_seen: last,
            count,
        })
    }

    pub(super) async fn sighting(&self, key: &[u8], now: Timestamp) -> Result<Option<Sighting>> {
        let mut conn = self.conn();
        let fields: Vec<Option<Vec<u8>>> = self
            .bounded(
                ::redis::cmd("HMGET")
                    .arg(self.keys().greylist(key))
                    .arg(&FIELDS[..])
                    .query_async(&mut conn),
            )
            .await?;
        Ok(parse_entry(&fields)?
            .filter(|(_, expires)| *expires > now)
            .map(|(sighting, _)| sighting))
    }
}
