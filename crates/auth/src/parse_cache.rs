//! Parsed DNS records, keyed by their text: shared by SPF (records) and DKIM (keys).
//!
//! A sender's records are the same for every message it sends, and parsing them is much of
//! the cost of a check once the DNS answers are cached. Keying by the record text (not the
//! name it was found at) means an entry can never be stale: a changed record is a different
//! key, and TTLs stay the resolver's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::quality::RandomState;

/// Parsed values of type `T` by the text they were parsed from, at most `capacity` of them.
/// Hashed with foldhash's seeded quality hasher: much cheaper than SipHash, and still
/// randomised per process, since senders choose the texts.
pub(crate) struct ParseCache<T> {
    entries: Mutex<HashMap<Box<[u8]>, Arc<T>, RandomState>>,
    capacity: usize,
    max_len: usize,
}

impl<T> ParseCache<T> {
    /// Keeps at most `capacity` values (0 keeps none); texts longer than `max_len` are
    /// parsed every time, so a hostile zone cannot fill the cache with big keys.
    pub(crate) fn new(capacity: usize, max_len: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::default()),
            capacity,
            max_len,
        }
    }

    /// The value parsed from `text`, parsing it only the first time.
    pub(crate) fn get_or_parse(&self, text: &[u8], parse: impl FnOnce(&[u8]) -> T) -> Arc<T> {
        if text.len() > self.max_len || self.capacity == 0 {
            return Arc::new(parse(text));
        }
        if let Some(parsed) = self.entries.lock().ok().and_then(|e| e.get(text).cloned()) {
            return parsed;
        }
        let parsed = Arc::new(parse(text));
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                // Full: start over rather than track recency on every hit.
                entries.clear();
            }
            entries.insert(text.into(), parsed.clone());
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(text: &[u8]) -> usize {
        text.len()
    }

    #[test]
    fn parses_once_and_shares() {
        let cache = ParseCache::new(2, 16);
        let first = cache.get_or_parse(b"abc", length);
        let second = cache.get_or_parse(b"abc", |_| unreachable!("parsed twice"));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(*first, 3);
    }

    #[test]
    fn stays_within_capacity_and_length() {
        let cache = ParseCache::new(1, 4);
        let first = cache.get_or_parse(b"a", length);
        cache.get_or_parse(b"b", length);
        assert!(!Arc::ptr_eq(&first, &cache.get_or_parse(b"a", length)));
        let long = cache.get_or_parse(b"abcdefgh", length);
        assert!(!Arc::ptr_eq(
            &long,
            &cache.get_or_parse(b"abcdefgh", length)
        ));
        let none = ParseCache::new(0, 4);
        assert!(!Arc::ptr_eq(
            &none.get_or_parse(b"a", length),
            &none.get_or_parse(b"a", length)
        ));
    }
}
