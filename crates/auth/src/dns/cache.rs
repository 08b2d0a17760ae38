//! The answer cache in front of the live resolver.
//!
//! hickory keeps its own cache, but reaching it costs a name parse, a query future and a
//! message clone per lookup; SPF asks the same few names for every message from a sender, so
//! kanmon keeps the decoded answers itself, for as long as their TTL allows. TXT answers are
//! kept joined, in the shared form the resolver hands out ([`TxtRecords`]), so a hit copies
//! nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foldhash::quality::RandomState;
use hickory_resolver::proto::rr::{RData, RecordType};

use super::{DnsError, TxtRecords, lookup_key};

/// Names kept when no size is configured: enough for the working set of a busy small MX.
pub(super) const DEFAULT_CAPACITY: usize = 10_000;
/// Longest time a "no such name / no records" answer is kept, whatever the zone's SOA says
/// (RFC 2308 §5 suggests one to three hours as a maximum; mail wants fresher).
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(300);

/// A cached answer: the records of one type at one name, or a definitive "none".
#[derive(Clone)]
pub(super) enum Cached {
    /// Records as hickory decoded them (every type but TXT).
    Records(Arc<[RData]>),
    /// TXT records, each one's strings joined.
    Text(TxtRecords),
    /// NXDOMAIN.
    Missing(DnsError),
}

/// The answers kept for one name, one per record type asked (at most five types).
type NameSlots = Vec<(RecordType, Slot)>;

struct Slot {
    answer: Cached,
    valid_until: Instant,
}

/// Decoded answers by lowercase name, then type, each until its own expiry. Keyed by name
/// alone so a lookup can borrow the caller's name instead of building a key. Hashed with
/// foldhash's seeded quality hasher: much cheaper than SipHash on short names, and still
/// randomised per process, since senders choose the names.
pub(super) struct AnswerCache {
    slots: Mutex<HashMap<Box<str>, NameSlots, RandomState>>,
    capacity: usize,
}

impl AnswerCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::default()),
            capacity,
        }
    }

    pub(super) fn get(&self, kind: RecordType, name: &str, now: Instant) -> Option<Cached> {
        let slots = self.slots.lock().ok()?;
        let (_, slot) = slots
            .get(lookup_key(name).as_ref())?
            .iter()
            .find(|(k, _)| *k == kind)?;
        (slot.valid_until > now).then(|| slot.answer.clone())
    }

    /// Keeps records (or an empty NODATA answer) until `valid_until`.
    pub(super) fn put_records(
        &self,
        kind: RecordType,
        name: &str,
        answer: Cached,
        valid_until: Instant,
    ) {
        self.put(kind, name, answer, valid_until);
    }

    /// Keeps an NXDOMAIN or NODATA answer for the zone's negative TTL (capped); without one
    /// the answer is not kept.
    pub(super) fn put_negative(
        &self,
        kind: RecordType,
        name: &str,
        answer: Cached,
        ttl: Option<u32>,
        now: Instant,
    ) {
        let Some(ttl) = ttl else { return };
        let ttl = Duration::from_secs(u64::from(ttl)).min(MAX_NEGATIVE_TTL);
        self.put(kind, name, answer, now + ttl);
    }

    fn put(&self, kind: RecordType, name: &str, answer: Cached, valid_until: Instant) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        if slots.len() >= self.capacity {
            let now = Instant::now();
            slots.retain(|_, types| {
                types.retain(|(_, slot)| slot.valid_until > now);
                !types.is_empty()
            });
            if slots.len() >= self.capacity {
                // Still full of live answers: start over rather than track recency on every hit.
                slots.clear();
            }
        }
        let types = slots.entry(lookup_key(name).into()).or_default();
        types.retain(|(k, _)| *k != kind);
        let slot = Slot {
            answer,
            valid_until,
        };
        types.push((kind, slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::A;

    #[test]
    fn answers_live_until_their_expiry() {
        let cache = AnswerCache::new(2);
        let now = Instant::now();
        let records: Arc<[RData]> = Arc::from(vec![RData::A(A::new(192, 0, 2, 1))]);
        cache.put_records(
            RecordType::A,
            "Example.ORG.",
            Cached::Records(records),
            now + Duration::from_secs(60),
        );
        assert!(
            matches!(cache.get(RecordType::A, "example.org", now), Some(Cached::Records(r)) if r.len() == 1)
        );
        assert!(cache.get(RecordType::TXT, "example.org", now).is_none());
        assert!(
            cache
                .get(RecordType::A, "example.org", now + Duration::from_secs(61))
                .is_none()
        );
    }

    #[test]
    fn negative_answers_need_a_ttl_and_are_capped() {
        let cache = AnswerCache::new(10);
        let now = Instant::now();
        let missing = Cached::Missing(DnsError::NxDomain);
        cache.put_negative(RecordType::TXT, "a.example", missing.clone(), None, now);
        assert!(cache.get(RecordType::TXT, "a.example", now).is_none());
        cache.put_negative(RecordType::TXT, "a.example", missing, Some(86_400), now);
        assert!(
            cache
                .get(RecordType::TXT, "a.example", now + Duration::from_secs(299))
                .is_some()
        );
        assert!(
            cache
                .get(RecordType::TXT, "a.example", now + Duration::from_secs(301))
                .is_none()
        );
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = AnswerCache::new(1);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let empty = || Cached::Records(Arc::from(vec![]));
        cache.put_records(RecordType::A, "one.example", empty(), later);
        cache.put_records(RecordType::A, "two.example", empty(), later);
        assert!(cache.get(RecordType::A, "one.example", now).is_none());
        assert!(cache.get(RecordType::A, "two.example", now).is_some());
    }
}
