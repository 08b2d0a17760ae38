//! Parsed SPF records, keyed by their text ([`ParseCache`]).

use std::sync::Arc;

use super::record::{Record, RecordError};
use crate::dns::TxtRecords;
use crate::parse_cache::ParseCache;

/// Records kept by default: far more distinct SPF records than a small MX sees in a day.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;
/// Longer records are parsed every time: nobody publishes them, so caching them would only let
/// a hostile zone fill the cache with big keys. (A TXT record can be 64 KiB.)
const MAX_CACHED_LEN: usize = 1024;

/// The outcome of parsing one record, shared between checks.
pub(crate) type Parsed = Arc<Result<Record, RecordError>>;

pub(crate) struct RecordCache(ParseCache<Result<Record, RecordError>>);

impl RecordCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self(ParseCache::new(capacity, MAX_CACHED_LEN))
    }

    /// The parsed form of `txt`, parsing it only the first time.
    #[cfg(test)]
    pub(crate) fn parse(&self, txt: &[u8]) -> Parsed {
        self.0.get_or_parse(txt, Record::parse)
    }

    /// The parsed form of record `index` of `answer`, parsing it only the first time.
    pub(crate) fn parse_record(&self, answer: &TxtRecords, index: usize) -> Parsed {
        self.0.get_or_parse_record(answer, index, Record::parse)
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
}
