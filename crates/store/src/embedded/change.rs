//! The write operations, as the writer thread applies them inside a batch's transaction.
//! Each keeps the expiry index in step with the entry it changes.

use redb::ReadableTable;

use super::counts;
use super::schema::{
    Db, Kind, META_SEQUENCE, byte_class, class_byte, is_live, parse_record_index_key,
    parse_stat_index_key, parse_value_index_key, record_index_key, stat_index_key,
};
use super::writer::Tables;
use crate::{Class, Entry, Result, Sighting, Timestamp, TokenKey};

fn index(t: &mut Tables<'_>, expires: Timestamp, kind: Kind, key: &[u8]) -> Result<()> {
    t.expiry.insert((expires, kind as u8, key), ()).db()?;
    Ok(())
}

fn unindex(t: &mut Tables<'_>, expires: Timestamp, kind: Kind, key: &[u8]) -> Result<()> {
    t.expiry.remove((expires, kind as u8, key)).db()?;
    Ok(())
}

/// One more (or one fewer, saturating at zero) learned message of `class` for a token.
fn bump(counts: (u64, u64), class: Class, up: bool) -> (u64, u64) {
    let step = |n: u64| {
        if up {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        }
    };
    match class {
        Class::Spam => (step(counts.0), counts.1),
        Class::Ham => (counts.0, step(counts.1)),
    }
}

/// See [`crate::Store::relabel`]; `tokens` are distinct.
pub(super) fn relabel(
    t: &mut Tables<'_>,
    digest: &[u8],
    class: Option<Class>,
    tokens: &[TokenKey],
) -> Result<Option<Class>> {
    let old = match t.labels.get(digest).db()? {
        Some(byte) => Some(byte_class(byte.value())?),
        None => None,
    };
    if old == class {
        return Ok(old);
    }
    for (label, up) in [(old, false), (class, true)] {
        let Some(label) = label else { continue };
        let total = t.totals.get(label.as_str()).db()?.map_or(0, |v| v.value());
        let total = if up {
            total.saturating_add(1)
        } else {
            total.saturating_sub(1)
        };
        t.totals.insert(label.as_str(), total).db()?;
        for key in tokens {
            let counts = match t.tokens.get(key).db()? {
                Some(packed) => counts::decode(packed.value())?,
                None => (0, 0),
            };
            match bump(counts, label, up) {
                (0, 0) => t.tokens.remove(key).db()?,
                (spam, ham) => t
                    .tokens
                    .insert(key, counts::encode(spam, ham).as_slice())
                    .db()?,
            };
        }
    }
    match class {
        Some(class) => t.labels.insert(digest, class_byte(class)).db()?,
        None => t.labels.remove(digest).db()?,
    };
    Ok(old)
}

/// See [`crate::Store::greylist_touch`]; the entry expires at `expires`.
pub(super) fn greylist_touch(
    t: &mut Tables<'_>,
    key: &[u8],
    now: Timestamp,
    expires: Timestamp,
) -> Result<Sighting> {
    let old = t.greylist.get(key).db()?.map(|v| v.value());
    let (first_seen, count) = match old {
        Some((first_seen, _, count, old_expires)) if is_live(old_expires, now) => {
            (first_seen, count.saturating_add(1))
        }
        _ => (now, 1),
    };
    if let Some((_, _, _, old_expires)) = old {
        unindex(t, old_expires, Kind::Greylist, key)?;
    }
    t.greylist
        .insert(key, (first_seen, now, count, expires))
        .db()?;
    index(t, expires, Kind::Greylist, key)?;
    Ok(Sighting {
        first_seen,
        last_seen: now,
        count,
    })
}

/// See [`crate::Store::stats_add`]; the bucket's counters expire at `expires`.
pub(super) fn stats_add(
    t: &mut Tables<'_>,
    bucket: Timestamp,
    deltas: &[(String, i64)],
    expires: Timestamp,
) -> Result<()> {
    for (name, delta) in deltas {
        let old = t
            .stats
            .get((bucket, name.as_str()))
            .db()?
            .map(|v| v.value());
        let value = old.map_or(0, |(value, _)| value).saturating_add(*delta);
        let index_key = stat_index_key(bucket, name);
        if let Some((_, old_expires)) = old {
            unindex(t, old_expires, Kind::Stat, &index_key)?;
        }
        t.stats
            .insert((bucket, name.as_str()), (value, expires))
            .db()?;
        index(t, expires, Kind::Stat, &index_key)?;
    }
    Ok(())
}

/// The next record sequence, persisted with the batch that uses it.
fn next_sequence(t: &mut Tables<'_>) -> Result<u64> {
    let sequence = t.meta.get(META_SEQUENCE).db()?.map_or(0, |v| v.value()) + 1;
    t.meta.insert(META_SEQUENCE, sequence).db()?;
    Ok(sequence)
}

/// See [`crate::Store::append_record`]; also how an imported record is written.
pub(super) fn append_record(
    t: &mut Tables<'_>,
    stream: &str,
    data: &[u8],
    at: Timestamp,
    expires: Timestamp,
) -> Result<()> {
    let sequence = next_sequence(t)?;
    t.records
        .insert((stream, at, sequence), (data, expires))
        .db()?;
    index(
        t,
        expires,
        Kind::Record,
        &record_index_key(stream, at, sequence),
    )
}

/// One step of [`crate::Store::clear_learned`]: the totals, then up to `limit` labels and
/// tokens from the front of their tables (learned entries never expire, so the expiry index
/// has none of them). False once it found nothing left to remove.
pub(super) fn clear_learned_batch(t: &mut Tables<'_>, limit: usize) -> Result<bool> {
    t.totals.retain(|_, _| false).db()?;
    for _ in 0..limit {
        if t.labels.pop_first().db()?.is_none() && t.tokens.pop_first().db()?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// See [`crate::Store::trim_records_before`]: the stream's records stamped before `before`,
/// at most [`crate::TRIM_RECORDS_MAX`], with their expiry index, read from the front of
/// the stream, so a trim costs what it removes, not the size of the ring.
pub(super) fn trim_records_before(
    t: &mut Tables<'_>,
    stream: &str,
    before: Timestamp,
) -> Result<u64> {
    let old: Vec<(Timestamp, u64, Timestamp)> = {
        let mut old = Vec::new();
        let range = t
            .records
            .range((stream, 0u64, 0u64)..(stream, before, 0u64))
            .db()?;
        let take = usize::try_from(crate::TRIM_RECORDS_MAX).unwrap_or(usize::MAX);
        for entry in range.take(take) {
            let (key, value) = entry.db()?;
            let (_, at, sequence) = key.value();
            old.push((at, sequence, value.value().1));
        }
        old
    };
    for (at, sequence, expires) in &old {
        t.records.remove((stream, *at, *sequence)).db()?;
        unindex(
            t,
            *expires,
            Kind::Record,
            &record_index_key(stream, *at, *sequence),
        )?;
    }
    Ok(old.len() as u64)
}

/// The expiry of `key`'s value, if it has one, whether or not it has passed.
fn value_expiry(t: &Tables<'_>, key: &str) -> Result<Option<Option<Timestamp>>> {
    Ok(t.values.get(key).db()?.map(|v| v.value().1))
}

/// See [`crate::Store::set`]; the value expires at `expires`, or never.
pub(super) fn set(
    t: &mut Tables<'_>,
    key: &str,
    value: &[u8],
    expires: Option<Timestamp>,
) -> Result<()> {
    if let Some(Some(old_expires)) = value_expiry(t, key)? {
        unindex(t, old_expires, Kind::Value, key.as_bytes())?;
    }
    t.values.insert(key, (value, expires)).db()?;
    if let Some(expires) = expires {
        index(t, expires, Kind::Value, key.as_bytes())?;
    }
    Ok(())
}

/// See [`crate::Store::delete`]: whether a live value went.
pub(super) fn delete(t: &mut Tables<'_>, key: &str, now: Timestamp) -> Result<bool> {
    let Some(expires) = value_expiry(t, key)? else {
        return Ok(false);
    };
    t.values.remove(key).db()?;
    if let Some(expires) = expires {
        unindex(t, expires, Kind::Value, key.as_bytes())?;
    }
    Ok(expires.is_none_or(|e| is_live(e, now)))
}

/// Removes up to `limit` entries that expired by `now`, earliest first: how many went, and
/// whether more are due.
pub(super) fn expire_batch(
    t: &mut Tables<'_>,
    now: Timestamp,
    limit: usize,
) -> Result<(u64, bool)> {
    let due: Vec<(u64, u8, Vec<u8>)> = {
        let mut due = Vec::new();
        let range = match now.checked_add(1) {
            Some(end) => t.expiry.range(..(end, 0u8, &[][..])).db()?,
            None => t.expiry.range::<(u64, u8, &[u8])>(..).db()?,
        };
        for entry in range.take(limit + 1) {
            let (key, _) = entry.db()?;
            let (expires, kind, key) = key.value();
            due.push((expires, kind, key.to_vec()));
        }
        due
    };
    let more = due.len() > limit;
    let mut removed = 0;
    for (expires, kind, key) in due.iter().take(limit) {
        t.expiry.remove((*expires, *kind, key.as_slice())).db()?;
        let gone = match Kind::from_byte(*kind)? {
            Kind::Greylist => t.greylist.remove(key.as_slice()).db()?.is_some(),
            Kind::Stat => {
                let (bucket, name) = parse_stat_index_key(key)?;
                t.stats.remove((bucket, name)).db()?.is_some()
            }
            Kind::Record => {
                let (stream, at, sequence) = parse_record_index_key(key)?;
                t.records.remove((stream, at, sequence)).db()?.is_some()
            }
            Kind::Value => {
                let key = parse_value_index_key(key)?;
                t.values.remove(key).db()?.is_some()
            }
        };
        removed += u64::from(gone);
    }
    Ok((removed, more))
}

/// See [`crate::Store::import`]: each entry written as it is, replacing one with its key.
pub(super) fn import(t: &mut Tables<'_>, entries: &[Entry], now: Timestamp) -> Result<()> {
    for entry in entries {
        match entry {
            Entry::Token { key, spam, ham } => {
                if (*spam, *ham) == (0, 0) {
                    t.tokens.remove(key).db()?;
                } else {
                    t.tokens
                        .insert(key, counts::encode(*spam, *ham).as_slice())
                        .db()?;
                }
            }
            Entry::Totals { spam, ham } => {
                t.totals.insert(Class::Spam.as_str(), spam).db()?;
                t.totals.insert(Class::Ham.as_str(), ham).db()?;
            }
            Entry::Label { digest, class } => {
                t.labels
                    .insert(digest.as_slice(), class_byte(*class))
                    .db()?;
            }
            Entry::Greylist {
                key,
                first_seen,
                last_seen,
                count,
                expires,
            } => {
                let old = t.greylist.get(key.as_slice()).db()?.map(|v| v.value());
                if let Some((_, _, _, old_expires)) = old {
                    unindex(t, old_expires, Kind::Greylist, key)?;
                }
                t.greylist
                    .insert(key.as_slice(), (*first_seen, *last_seen, *count, *expires))
                    .db()?;
                index(t, *expires, Kind::Greylist, key)?;
            }
            Entry::Stat {
                bucket,
                name,
                value,
                expires,
            } => {
                let index_key = stat_index_key(*bucket, name);
                let old = t
                    .stats
                    .get((*bucket, name.as_str()))
                    .db()?
                    .map(|v| v.value());
                if let Some((_, old_expires)) = old {
                    unindex(t, old_expires, Kind::Stat, &index_key)?;
                }
                t.stats
                    .insert((*bucket, name.as_str()), (*value, *expires))
                    .db()?;
                index(t, *expires, Kind::Stat, &index_key)?;
            }
            Entry::Record {
                stream,
                at,
                data,
                expires,
            } => append_record(t, stream, data, *at, *expires)?,
            Entry::Value {
                key,
                expires: Some(expires),
                ..
            } if !is_live(*expires, now) => {
                delete(t, key, now)?;
            }
            Entry::Value {
                key,
                value,
                expires,
            } => set(t, key, value, *expires)?,
        }
    }
    Ok(())
}
