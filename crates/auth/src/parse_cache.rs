//! Parsed DNS records, keyed by their text: shared by SPF (records) and DKIM (keys).
//!
//! A sender's records are the same for every message it sends, and parsing them is much of
//! the cost of a check once the DNS answers are cached. Keying by the record text (not the
//! name it was found at) means an entry can never be stale: a changed record is a different
//! key, and TTLs stay the resolver's business.
//!
//! Implementation note: a caching resolver hands out the same shared answer
//! ([`TxtRecords`]) for every check until the TTL runs out, so the cache also knows entries
//! by the address of the record's bytes in such an answer, and a repeat lookup hashes two
//! words instead of the whole text and compares nothing. The entry holds a clone of the
//! answer, so those bytes cannot be freed and their address reused while it exists: an
//! address hit is always the same text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::quality::RandomState;

use crate::dns::TxtRecords;

/// Answers larger than this many times the longest cached text are not kept alive for the
/// address lookup (a domain's TXT answer may hold verification tokens besides its SPF
/// record; 64 KiB of them is possible).
const KEPT_ANSWER_FACTOR: usize = 4;

/// Parsed values of type `T` by the text they were parsed from, at most `capacity` of them.
/// Hashed with foldhash's seeded quality hasher: much cheaper than SipHash, and still
/// randomised per process, since senders choose the texts.
pub(crate) struct ParseCache<T> {
    entries: Mutex<Entries<T>>,
    capacity: usize,
    max_len: usize,
}

struct Entries<T> {
    by_text: HashMap<Box<[u8]>, Arc<T>, RandomState>,
    /// (address, length) of a record in `TxtRecords`, which the entry keeps alive.
    by_address: HashMap<(usize, usize), (TxtRecords, Arc<T>), RandomState>,
}

impl<T> ParseCache<T> {
    /// Keeps at most `capacity` values (0 keeps none); texts longer than `max_len` are
    /// parsed every time, so a hostile zone cannot fill the cache with big keys.
    pub(crate) fn new(capacity: usize, max_len: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                by_text: HashMap::default(),
                by_address: HashMap::default(),
            }),
            capacity,
            max_len,
        }
    }

    /// The value parsed from `text`, parsing it only the first time.
    pub(crate) fn get_or_parse(&self, text: &[u8], parse: impl FnOnce(&[u8]) -> T) -> Arc<T> {
        if text.len() > self.max_len || self.capacity == 0 {
            return Arc::new(parse(text));
        }
        if let Some(parsed) = self
            .entries
            .lock()
            .ok()
            .and_then(|e| e.by_text.get(text).cloned())
        {
            return parsed;
        }
        let parsed = Arc::new(parse(text));
        if let Ok(mut entries) = self.entries.lock() {
            entries.make_room(self.capacity);
            entries.by_text.insert(text.into(), parsed.clone());
        }
        parsed
    }

    /// The value parsed from record `index` of `answer` (which must exist), as
    /// [`ParseCache::get_or_parse`], found by the record's address when `answer` was seen
    /// before.
    pub(crate) fn get_or_parse_record(
        &self,
        answer: &TxtRecords,
        index: usize,
        parse: impl FnOnce(&[u8]) -> T,
    ) -> Arc<T> {
        let text: &[u8] = answer.get(index).map_or(&[], |text| text);
        if text.len() > self.max_len || self.capacity == 0 {
            return Arc::new(parse(text));
        }
        // The entry keeps the whole answer alive: only small ones, so that the memory held
        // stays within a few times what the texts themselves take.
        let answer_len: usize = answer.iter().map(|record| record.len()).sum();
        if answer_len > KEPT_ANSWER_FACTOR * self.max_len {
            return self.get_or_parse(text, parse);
        }
        let address = (text.as_ptr() as usize, text.len());
        if let Ok(entries) = self.entries.lock()
            && let Some((_, parsed)) = entries.by_address.get(&address)
        {
            return parsed.clone();
        }
        let parsed = self.get_or_parse(text, parse);
        if let Ok(mut entries) = self.entries.lock() {
            entries.make_room(self.capacity);
            let kept = (answer.clone(), parsed.clone());
            entries.by_address.insert(address, kept);
        }
        parsed
    }
}

impl<T> Entries<T> {
    /// Full: start over rather than track recency on every hit.
    fn make_room(&mut self, capacity: usize) {
        if self.by_text.len() >= capacity || self.by_address.len() >= capacity {
            self.by_text.clear();
            self.by_address.clear();
        }
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
    fn records_are_found_by_address_and_by_text() {
        let cache = ParseCache::new(4, 16);
        let answer: TxtRecords = vec![b"one".to_vec().into(), b"three".to_vec().into()].into();
        let first = cache.get_or_parse_record(&answer, 1, length);
        let again = cache.get_or_parse_record(&answer, 1, |_| unreachable!("parsed twice"));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*first, 5);
        // Another answer with the same text shares the parse.
        let other: TxtRecords = vec![b"three".to_vec().into()].into();
        let same = cache.get_or_parse_record(&other, 0, |_| unreachable!("parsed twice"));
        assert!(Arc::ptr_eq(&first, &same));
        assert_eq!(*cache.get_or_parse_record(&answer, 0, length), 3);
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
