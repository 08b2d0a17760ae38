//! Parsed SPF records, keyed by their text.
//!
//! A sender's records are the same for every message it sends, and parsing them is most of
//! the cost of a check once the DNS answers are cached. Keying by the record text (not the
//! domain) means an entry can never be stale: a changed record is a different key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::quality::RandomState;

use super::record::{Record, RecordError};

/// Records kept by default: far more distinct SPF records than a small MX sees in a day.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;
/// Longer records are parsed every time: nobody publishes them, so caching them would only let
/// a hostile zone fill the cache with big keys. (A TXT record can be 64 KiB.)
const MAX_CACHED_LEN: usize = 1024;

/// The outcome of parsing one record, shared between checks.
pub(crate) type Parsed = Arc<Result<Record, RecordError>>;

pub(crate) struct RecordCache {
    records: Mutex<HashMap<Box<[u8]>, Parsed, RandomState>>,
    capacity: usize,
}

impl RecordCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            records: Mutex::new(HashMap::default()),
            capacity,
        }
    }

    /// The parsed form of `txt`, parsing it only the first time.
    pub(crate) fn parse(&self, txt: &[u8]) -> Parsed {
        if txt.len() > MAX_CACHED_LEN || self.capacity == 0 {
            return Arc::new(Record::parse(txt));
        }
        if let Some(parsed) = self.records.lock().ok().and_then(|r| r.get(txt).cloned()) {
            return parsed;
        }
        let parsed = Arc::new(Record::parse(txt));
        if let Ok(mut records) = self.records.lock() {
            if records.len() >= self.capacity {
                // Full: start over rather than track recency on every hit.
                records.clear();
            }
            records.insert(txt.into(), parsed.clone());
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_once_and_shares() {
        let cache = RecordCache::new(2);
        let first = cache.parse(b"v=spf1 ip4:192.0.2.0/24 -all");
        let second = cache.parse(b"v=spf1 ip4:192.0.2.0/24 -all");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(cache.parse(b"v=spf1 bogus:x").is_err());
    }

    #[test]
    fn stays_within_capacity() {
        let cache = RecordCache::new(1);
        let first = cache.parse(b"v=spf1 -all");
        cache.parse(b"v=spf1 ~all");
        assert!(!Arc::ptr_eq(&first, &cache.parse(b"v=spf1 -all")));
    }
}
