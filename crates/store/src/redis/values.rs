//! Values: one string key each, `SET ... EX` when they expire. Redis's TTL is the expiry;
//! an export reads it back as `now + TTL` (rounded up, as the TTL was).

use std::time::Duration;

use super::{RedisStore, ttl_secs};
use crate::{Result, Timestamp, expiry};

impl RedisStore {
    pub(super) async fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.conn();
        self.bounded(
            ::redis::cmd("GET")
                .arg(self.keys().value(key))
                .query_async(&mut conn),
        )
        .await
    }

    pub(super) async fn set_value(
        &self,
        key: &str,
        value: &[u8],
        now: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.put_value(key, value, ttl.map(|ttl| expiry(now, ttl)), now)
            .await
    }

    /// Sets `key` to expire at `expires` (never with `None`); a value already expired is
    /// removed instead.
    pub(super) async fn put_value(
        &self,
        key: &str,
        value: &[u8],
        expires: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.keys().value(key)).arg(value);
        if let Some(expires) = expires {
            let secs = ttl_secs(now, expires);
            if secs == 0 {
                cmd = ::redis::cmd("DEL");
                cmd.arg(self.keys().value(key));
            } else {
                cmd.arg("EX").arg(secs);
            }
        }
        let mut conn = self.conn();
        self.bounded(cmd.query_async::<()>(&mut conn)).await
    }

    pub(super) async fn delete_value(&self, key: &str) -> Result<bool> {
        let mut conn = self.conn();
        let removed: u64 = self
            .bounded(
                ::redis::cmd("DEL")
                    .arg(self.keys().value(key))
                    .query_async(&mut conn),
            )
            .await?;
        Ok(removed > 0)
    }
}
