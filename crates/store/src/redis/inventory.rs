//! Whole-store operations: summary, export, import, and the trimming `expire` does.
//!
//! They walk the data in pages (HSCAN for the token and label hashes, SCAN of the prefix
//! for greylist entries and values, the indexes for stats hours and streams), each page one
//! round trip bounded by `store.timeout`, so a million tokens are never held at once and
//! Redis is never blocked for long. HSCAN and SCAN may return an item twice if the hash or
//! keyspace is resized meanwhile; an import of such an export writes it twice, harmlessly.

use ::redis::{Value, pipe};

use super::greylist::{FIELDS, parse_entry};
use super::keys::Kind;
use super::records::{parse_member, tail};
use super::stats::parse_hour;
use super::tokens::{field, format_counts, key_of, parse_class, parse_counts};
use super::{RedisStore, ttl_secs};
use crate::{Entry, Result, StoreError, Summary, Timestamp, TokenCounts};

/// Items asked for per SCAN / HSCAN page, and commands per import pipeline.
const PAGE: usize = 1000;

type Sink<'a> = &'a mut (dyn FnMut(Entry) -> Result<()> + Send);

impl RedisStore {
    /// One page of the keys under the prefix, from `cursor`; the next cursor (0: done).
    async fn scan_page(&self, cursor: u64) -> Result<(u64, Vec<Vec<u8>>)> {
        let mut cmd = ::redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(self.keys().pattern())
            .arg("COUNT")
            .arg(PAGE);
        let mut conn = self.conn();
        self.bounded(conn.on_node_of(self.keys().slot_key(), cmd))
            .await
    }

    /// One page of a hash's fields and values, from `cursor`.
    async fn hscan_page(&self, key: &str, cursor: u64) -> Result<(u64, Vec<(Vec<u8>, Vec<u8>)>)> {
        let mut conn = self.conn();
        self.bounded(
            ::redis::cmd("HSCAN")
                .arg(key)
                .arg(cursor)
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut conn),
        )
        .await
    }

    async fn streams(&self) -> Result<Vec<String>> {
        let mut conn = self.conn();
        self.bounded(
            ::redis::cmd("SMEMBERS")
                .arg(self.keys().streams())
                .query_async(&mut conn),
        )
        .await
    }

    /// Trims what Redis cannot expire by itself: records past their expiry inside a live
    /// stream, and index entries of hours and streams whose keys are gone. Returns the
    /// records removed.
    pub(super) async fn trim(&self, now: Timestamp) -> Result<u64> {
        self.trim_stat_hours().await?;
        let mut trimmed = 0;
        for stream in self.streams().await? {
            trimmed += self.trim_stream(&stream, now).await?;
        }
        self.forget_empty_streams().await?;
        Ok(trimmed)
    }

    async fn forget_empty_streams(&self) -> Result<()> {
        let streams = self.streams().await?;
        if streams.is_empty() {
            return Ok(());
        }
        let mut pipeline = pipe();
        for stream in &streams {
            pipeline.cmd("EXISTS").arg(self.keys().records(stream));
        }
        let mut conn = self.conn();
        let exists: Vec<bool> = self.bounded(pipeline.query_async(&mut conn)).await?;
        let gone: Vec<&String> = streams
            .iter()
            .zip(exists)
            .filter(|(_, exists)| !exists)
            .map(|(stream, _)| stream)
            .collect();
        if !gone.is_empty() {
            self.bounded(
                ::redis::cmd("SREM")
                    .arg(self.keys().streams())
                    .arg(&gone)
                    .query_async::<()>(&mut conn),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn summarise(&self, now: Timestamp) -> Result<Summary> {
        let keys = self.keys();
        let mut conn = self.conn();
        let mut pipeline = pipe();
        pipeline
            .cmd("HLEN")
            .arg(keys.tokens())
            .cmd("HLEN")
            .arg(keys.labels())
            .cmd("HMGET")
            .arg(keys.totals())
            .arg("spam")
            .arg("ham");
        let (tokens, digests, (spam, ham)): (u64, u64, (Option<u64>, Option<u64>)) =
            self.bounded(pipeline.query_async(&mut conn)).await?;

        let (mut greylist, mut values) = (0, 0);
        let mut cursor = 0;
        loop {
            let (next, found) = self.scan_page(cursor).await?;
            for key in &found {
                match keys.classify(key) {
                    Kind::Greylist(_) => greylist += 1,
                    Kind::Value(_) => values += 1,
                    Kind::Other => {}
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }

        let hours = self.stat_hours(0, Timestamp::MAX).await?;
        let mut stat_counters = 0;
        for (hour, fields) in hours.iter().zip(self.stat_hashes(&hours).await?) {
            stat_counters += parse_hour(*hour, &fields, now)?.len() as u64;
        }

        let streams = self.streams().await?;
        let mut records = 0;
        if !streams.is_empty() {
            let mut pipeline = pipe();
            for stream in &streams {
                pipeline
                    .cmd("ZCOUNT")
                    .arg(keys.records_by_expiry(stream))
                    .arg(format!("({now}"))
                    .arg("+inf");
            }
            let counts: Vec<u64> = self.bounded(pipeline.query_async(&mut conn)).await?;
            records = counts.iter().sum();
        }

        let info: String = self
            .bounded(conn.on_node_of(keys.slot_key(), ::redis::cmd("INFO").arg("memory").clone()))
            .await?;
        let bytes = info
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|n| n.trim().parse().ok());

        Ok(Summary {
            backend: "redis",
            location: self.inner.location.clone(),
            tokens,
            learned: crate::ClassTotals {
                spam: spam.unwrap_or(0),
                ham: ham.unwrap_or(0),
            },
            digests,
            greylist,
            stat_counters,
            records,
            values,
            bytes,
        })
    }

    pub(super) async fn export_all(&self, now: Timestamp, sink: Sink<'_>) -> Result<()> {
        let read = self.read_tokens(&[]).await?;
        sink(Entry::Totals {
            spam: read.totals.spam,
            ham: read.totals.ham,
        })?;
        self.export_hash(&self.keys().tokens(), sink, |field, value| {
            let counts = parse_counts(value)?;
            Ok(Entry::Token {
                key: key_of(field)?,
                spam: counts.spam,
                ham: counts.ham,
            })
        })
        .await?;
        self.export_hash(&self.keys().labels(), sink, |digest, class| {
            Ok(Entry::Label {
                digest: digest.to_vec(),
                class: parse_class(class)?,
            })
        })
        .await?;
        self.export_keyspace(now, sink).await?;

        let hours = self.stat_hours(0, Timestamp::MAX).await?;
        for (hour, fields) in hours.iter().zip(self.stat_hashes(&hours).await?) {
            for (count, expires) in parse_hour(*hour, &fields, now)? {
                sink(Entry::Stat {
                    bucket: count.bucket,
                    name: count.name,
                    value: count.value,
                    expires,
                })?;
            }
        }

        for stream in self.streams().await? {
            let mut conn = self.conn();
            let members: Vec<Vec<u8>> = self
                .bounded(
                    ::redis::cmd("ZRANGE")
                        .arg(self.keys().records(&stream))
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn),
                )
                .await?;
            for member in &members {
                let (at, expires, data) = parse_member(member)?;
                if expires > now {
                    sink(Entry::Record {
                        stream: stream.clone(),
                        at,
                        data,
                        expires,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Every field of the hash at `key`, a page at a time, as entries.
    async fn export_hash(
        &self,
        key: &str,
        sink: Sink<'_>,
        entry: impl Fn(&[u8], &[u8]) -> Result<Entry>,
    ) -> Result<()> {
        let mut cursor = 0;
        loop {
            let (next, fields) = self.hscan_page(key, cursor).await?;
            for (field, value) in &fields {
                sink(entry(field, value)?)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Greylist entries and values, found by scanning the prefix; each page's contents
    /// fetched in one pipeline.
    async fn export_keyspace(&self, now: Timestamp, sink: Sink<'_>) -> Result<()> {
        let keys = self.keys();
        let mut cursor = 0;
        loop {
            let (next, found) = self.scan_page(cursor).await?;
            let kinds: Vec<(Kind, &Vec<u8>)> = found
                .iter()
                .map(|key| (keys.classify(key), key))
                .filter(|(kind, _)| *kind != Kind::Other)
                .collect();
            if !kinds.is_empty() {
                let mut pipeline = pipe();
                for (kind, key) in &kinds {
                    match kind {
                        Kind::Greylist(_) => {
                            pipeline.cmd("HMGET").arg(key.as_slice()).arg(&FIELDS[..]);
                        }
                        _ => {
                            pipeline.cmd("GET").arg(key.as_slice());
                            pipeline.cmd("PTTL").arg(key.as_slice());
                        }
                    }
                }
                let mut conn = self.conn();
                let replies: Vec<Value> = self.bounded(pipeline.query_async(&mut conn)).await?;
                let mut replies = replies.into_iter();
                for (kind, _) in kinds {
                    match kind {
                        Kind::Greylist(key) => {
                            let fields: Vec<Option<Vec<u8>>> = next_reply(&mut replies)?;
                            if let Some((s, expires)) = parse_entry(&fields)?
                                && expires > now
                            {
                                sink(Entry::Greylist {
                                    key,
                                    first_seen: s.first_seen,
                                    last_seen: s.last_seen,
                                    count: s.count,
                                    expires,
                                })?;
                            }
                        }
                        Kind::Value(key) => {
                            let value: Option<Vec<u8>> = next_reply(&mut replies)?;
                            let pttl: i64 = next_reply(&mut replies)?;
                            // Gone between the scan and the read: nothing to export.
                            let Some(value) = value else { continue };
                            // -1: no TTL; otherwise whole seconds, rounded up as set.
                            let expires = (pttl >= 0).then(|| now + (pttl as u64).div_ceil(1000));
                            sink(Entry::Value {
                                key,
                                value,
                                expires,
                            })?;
                        }
                        Kind::Other => {}
                    }
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Writes `entries` in pipelines of [`PAGE`] commands. Each pipeline is applied as a
    /// whole, but the import is not one transaction: a failure part way leaves the
    /// pipelines before it written.
    pub(super) async fn import_all(&self, entries: &[Entry], now: Timestamp) -> Result<()> {
        let keys = self.keys();
        // Records need sequence numbers: one INCRBY reserves them all.
        let records = entries
            .iter()
            .filter(|e| matches!(e, Entry::Record { .. }))
            .count() as u64;
        let mut seq = 0;
        let mut conn = self.conn();
        if records > 0 {
            let last: u64 = self
                .bounded(
                    ::redis::cmd("INCRBY")
                        .arg(keys.seq())
                        .arg(records)
                        .query_async(&mut conn),
                )
                .await?;
            seq = last - records;
        }
        for batch in entries.chunks(PAGE) {
            let mut pipeline = pipe();
            for entry in batch {
                match entry {
                    Entry::Token { key, spam, ham } => {
                        if *spam == 0 && *ham == 0 {
                            pipeline
                                .cmd("HDEL")
                                .arg(keys.tokens())
                                .arg(&field(*key)[..]);
                        } else {
                            let counts = TokenCounts {
                                spam: *spam,
                                ham: *ham,
                            };
                            pipeline
                                .cmd("HSET")
                                .arg(keys.tokens())
                                .arg(&field(*key)[..])
                                .arg(format_counts(counts));
                        }
                    }
                    Entry::Totals { spam, ham } => {
                        pipeline
                            .cmd("HSET")
                            .arg(keys.totals())
                            .arg("spam")
                            .arg(spam)
                            .arg("ham")
                            .arg(ham);
                    }
                    Entry::Label { digest, class } => {
                        pipeline
                            .cmd("HSET")
                            .arg(keys.labels())
                            .arg(digest.as_slice())
                            .arg(class.as_str());
                    }
                    Entry::Greylist {
                        key,
                        first_seen,
                        last_seen,
                        count,
                        expires,
                    } => {
                        let ttl = ttl_secs(now, *expires);
                        if ttl == 0 {
                            continue;
                        }
                        let key = keys.greylist(key);
                        pipeline
                            .cmd("HSET")
                            .arg(&key)
                            .arg("first")
                            .arg(first_seen)
                            .arg("last")
                            .arg(last_seen)
                            .arg("count")
                            .arg(count)
                            .arg("expires")
                            .arg(expires)
                            .cmd("EXPIRE")
                            .arg(&key)
                            .arg(ttl);
                    }
                    Entry::Stat {
                        bucket,
                        name,
                        value,
                        expires,
                    } => {
                        let ttl = ttl_secs(now, *expires);
                        if ttl == 0 {
                            continue;
                        }
                        let key = keys.stats(*bucket);
                        pipeline
                            .cmd("HSET")
                            .arg(&key)
                            .arg(format!("v:{name}"))
                            .arg(value)
                            .arg(format!("x:{name}"))
                            .arg(expires)
                            .cmd("ZADD")
                            .arg(keys.stat_hours())
                            .arg(bucket)
                            .arg(bucket);
                        extend_ttl(&mut pipeline, &key, ttl);
                        extend_ttl(&mut pipeline, &keys.stat_hours(), ttl);
                    }
                    Entry::Record {
                        stream,
                        at,
                        data,
                        expires,
                    } => {
                        seq += 1;
                        let ttl = ttl_secs(now, *expires);
                        if ttl == 0 {
                            continue;
                        }
                        let mut member = format!("{seq:016x}").into_bytes();
                        member.extend(tail(*at, *expires, data));
                        let (by_time, by_expiry) =
                            (keys.records(stream), keys.records_by_expiry(stream));
                        pipeline
                            .cmd("ZADD")
                            .arg(&by_time)
                            .arg(at)
                            .arg(&member)
                            .cmd("ZADD")
                            .arg(&by_expiry)
                            .arg(expires)
                            .arg(&member)
                            .cmd("SADD")
                            .arg(keys.streams())
                            .arg(stream);
                        extend_ttl(&mut pipeline, &by_time, ttl);
                        extend_ttl(&mut pipeline, &by_expiry, ttl);
                    }
                    Entry::Value {
                        key,
                        value,
                        expires,
                    } => match expires.map(|e| ttl_secs(now, e)) {
                        Some(0) => {
                            pipeline.cmd("DEL").arg(keys.value(key));
                        }
                        Some(ttl) => {
                            pipeline
                                .cmd("SET")
                                .arg(keys.value(key))
                                .arg(value.as_slice())
                                .arg("EX")
                                .arg(ttl);
                        }
                        None => {
                            pipeline
                                .cmd("SET")
                                .arg(keys.value(key))
                                .arg(value.as_slice());
                        }
                    },
                }
            }
            if !pipeline.is_empty() {
                self.bounded(pipeline.exec_async(&mut conn)).await?;
            }
        }
        Ok(())
    }
}

/// Makes `key` live at least `ttl` seconds: sets the TTL if it has none (NX), else only
/// lengthens it (GT). Redis 7.0 or later.
fn extend_ttl(pipeline: &mut ::redis::Pipeline, key: &str, ttl: u64) {
    pipeline
        .cmd("EXPIRE")
        .arg(key)
        .arg(ttl)
        .arg("NX")
        .ignore()
        .cmd("EXPIRE")
        .arg(key)
        .arg(ttl)
        .arg("GT")
        .ignore();
}

/// The next reply of a pipeline, as `T`.
fn next_reply<T: ::redis::FromRedisValue>(replies: &mut impl Iterator<Item = Value>) -> Result<T> {
    let value = replies
        .next()
        .ok_or_else(|| StoreError::Corrupt("a pipeline answered too few replies".to_owned()))?;
    T::from_redis_value(value).map_err(|e| StoreError::Corrupt(format!("redis: {e}")))
}
