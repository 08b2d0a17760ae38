//! The file's layout: one redb table per kind of entry, an expiry index over every entry
//! that expires, and the conversions between redb's errors and [`StoreError`].
//!
//! Keys are redb's own ordered types, so range reads (a stream's records in time order, the
//! stats of a span of hours, what has expired by now) are b-tree ranges, not scans.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::{Class, Result, StoreError, Timestamp};

/// What this version writes; a file with another number was written by another version.
pub(super) const FORMAT: u64 = 1;

/// Token key → (spam, ham), packed by [`super::counts`]. A token whose counts both fall to
/// zero is removed.
pub(super) const TOKENS: TableDefinition<u64, &[u8]> = TableDefinition::new("tokens");
/// Class name ("spam", "ham") → learned messages of that class.
pub(super) const TOTALS: TableDefinition<&str, u64> = TableDefinition::new("totals");
/// Message digest → its class ([`class_byte`]).
pub(super) const LABELS: TableDefinition<&[u8], u8> = TableDefinition::new("labels");
/// Greylist key → (first_seen, last_seen, count, expires).
pub(super) const GREYLIST: TableDefinition<&[u8], (u64, u64, u64, u64)> =
    TableDefinition::new("greylist");
/// (bucket, name) → (value, expires).
pub(super) const STATS: TableDefinition<(u64, &str), (i64, u64)> = TableDefinition::new("stats");
/// (stream, at, sequence) → (data, expires). The sequence keeps appends of one second in
/// the order they were made.
pub(super) const RECORDS: TableDefinition<(&str, u64, u64), (&[u8], u64)> =
    TableDefinition::new("records");
/// Key → (value, expires or never).
pub(super) const VALUES: TableDefinition<&str, (&[u8], Option<u64>)> =
    TableDefinition::new("values");
/// (expires, kind, encoded key) for every entry that expires, so `expire` reads what is due
/// from the front of one b-tree instead of scanning the tables. Each expiring entry has
/// exactly one index entry, moved whenever its expiry changes.
pub(super) const EXPIRY: TableDefinition<(u64, u8, &[u8]), ()> = TableDefinition::new("expiry");
/// "format" → [`FORMAT`]; "sequence" → the last record sequence handed out. Files of
/// earlier versions also hold "records:<stream>" (a stream's count, for a trim to a number
/// of records) and "counted"; nothing reads them now, and a version that does recounts,
/// since "counted" falls behind "sequence".
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(super) const META_FORMAT: &str = "format";
pub(super) const META_SEQUENCE: &str = "sequence";

/// The table an expiry index entry points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Greylist = 1,
    Stat = 2,
    Record = 3,
    Value = 4,
}

impl Kind {
    pub(super) fn from_byte(byte: u8) -> Result<Kind> {
        match byte {
            1 => Ok(Kind::Greylist),
            2 => Ok(Kind::Stat),
            3 => Ok(Kind::Record),
            4 => Ok(Kind::Value),
            other => Err(StoreError::Corrupt(format!(
                "expiry index entry of unknown kind {other}"
            ))),
        }
    }
}

pub(super) fn class_byte(class: Class) -> u8 {
    match class {
        Class::Spam => 1,
        Class::Ham => 2,
    }
}

pub(super) fn byte_class(byte: u8) -> Result<Class> {
    match byte {
        1 => Ok(Class::Spam),
        2 => Ok(Class::Ham),
        other => Err(StoreError::Corrupt(format!(
            "label of unknown class {other}"
        ))),
    }
}

/// A stats key in the expiry index: the bucket (8 bytes, big-endian), then the name.
pub(super) fn stat_index_key(bucket: Timestamp, name: &str) -> Vec<u8> {
    let mut key = bucket.to_be_bytes().to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}

/// A record key in the expiry index: `at` and the sequence (8 bytes each, big-endian), then
/// the stream.
pub(super) fn record_index_key(stream: &str, at: Timestamp, sequence: u64) -> Vec<u8> {
    let mut key = at.to_be_bytes().to_vec();
    key.extend_from_slice(&sequence.to_be_bytes());
    key.extend_from_slice(stream.as_bytes());
    key
}

/// The first 8 bytes as a big-endian number, and the rest.
fn split_u64(bytes: &[u8]) -> Result<(u64, &[u8])> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| StoreError::Corrupt("expiry index key too short".to_owned()))?;
    Ok((u64::from_be_bytes(*head), rest))
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes)
        .map_err(|_| StoreError::Corrupt("expiry index key is not UTF-8".to_owned()))
}

pub(super) fn parse_stat_index_key(key: &[u8]) -> Result<(Timestamp, &str)> {
    let (bucket, name) = split_u64(key)?;
    Ok((bucket, utf8(name)?))
}

pub(super) fn parse_record_index_key(key: &[u8]) -> Result<(&str, Timestamp, u64)> {
    let (at, rest) = split_u64(key)?;
    let (sequence, stream) = split_u64(rest)?;
    Ok((utf8(stream)?, at, sequence))
}

pub(super) fn parse_value_index_key(key: &[u8]) -> Result<&str> {
    utf8(key)
}

/// Opens (creating) every table and checks the format marker, so a file that redb can
/// read but kanmon did not write is refused at open rather than misread later.
pub(super) fn prepare(db: &redb::Database) -> Result<()> {
    let foreign = {
        let txn = db.begin_read().db()?;
        let tables: Vec<String> = txn
            .list_tables()
            .db()?
            .map(|t| t.name().to_owned())
            .collect();
        let has_meta = tables.iter().any(|t| t == META.name());
        !tables.is_empty() && !has_meta
    };
    if foreign {
        return Err(StoreError::Corrupt(
            "a redb database, but not a kanmon store".to_owned(),
        ));
    }
    let txn = db.begin_write().db()?;
    {
        let mut meta = txn.open_table(META).db()?;
        let format = meta.get(META_FORMAT).db()?.map(|v| v.value());
        match format {
            None => {
                meta.insert(META_FORMAT, FORMAT).db()?;
            }
            Some(FORMAT) => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "store format {other}, but this kanmon reads format {FORMAT}"
                )));
            }
        }
        // Opening a table with other key or value types than it was created with fails:
        // that too is a file kanmon did not write.
        txn.open_table(TOKENS).db()?;
        txn.open_table(TOTALS).db()?;
        txn.open_table(LABELS).db()?;
        txn.open_table(GREYLIST).db()?;
        txn.open_table(STATS).db()?;
        txn.open_table(RECORDS).db()?;
        txn.open_table(VALUES).db()?;
        txn.open_table(EXPIRY).db()?;
    }
    txn.commit().db()?;
    Ok(())
}

/// redb's errors as [`StoreError`]s: damage and foreign files are [`StoreError::Corrupt`],
/// I/O stays I/O, and the rest (a file held by another process, a closed database) means
/// the store cannot be used now.
pub(super) fn store_error(error: redb::Error) -> StoreError {
    use redb::Error as E;
    match error {
        E::Corrupted(reason) => StoreError::Corrupt(reason),
        E::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            StoreError::Corrupt(io.to_string())
        }
        E::Io(io) => StoreError::Io(io),
        e @ (E::TableTypeMismatch { .. }
        | E::TableIsMultimap(_)
        | E::TableIsNotMultimap(_)
        | E::TypeDefinitionChanged { .. }
        | E::UpgradeRequired(_)) => StoreError::Corrupt(e.to_string()),
        E::DatabaseAlreadyOpen => {
            // redb locks the file for one process: a running `kanmon serve` holds it.
            StoreError::InUse(
                "the file is open in another process (a running `kanmon serve`?); the \
                 embedded store has one user at a time"
                    .to_owned(),
            )
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// `.db()?` on any redb result.
pub(super) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> Db<T> for std::result::Result<T, E> {
    fn db(self) -> Result<T> {
        self.map_err(|e| store_error(e.into()))
    }
}

/// Whether an entry expiring at `expires` still counts at `now`.
pub(super) fn is_live(expires: Timestamp, now: Timestamp) -> bool {
    expires > now
}

/// Reads the two class totals.
pub(super) fn read_totals(
    table: &impl ReadableTable<&'static str, u64>,
) -> Result<crate::ClassTotals> {
    let get = |class: Class| -> Result<u64> {
        Ok(table.get(class.as_str()).db()?.map_or(0, |v| v.value()))
    };
    Ok(crate::ClassTotals {
        spam: get(Class::Spam)?,
        ham: get(Class::Ham)?,
    })
}
