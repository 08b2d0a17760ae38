//! The contract, as tests any backend must pass. Each case gets a fresh, empty store whose
//! clock starts at [`START`] and is moved by [`Subject::pass`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kanmon_store::{
    Class, ClassTotals, Clock, Entry, STAT_BUCKET_SECS, Sighting, StatCount, Store, TokenCounts,
};

/// Ten minutes into an hour, so a case has room before the next stats bucket.
pub(crate) const START: u64 = 1_800_000_000 - 1_800_000_000 % STAT_BUCKET_SECS + 600;

/// A store under test and how time passes for it.
pub(crate) struct Subject {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    /// Whether the backend expires entries on its own real clock (Redis): passing time then
    /// also sleeps.
    pub(crate) real_expiry: bool,
}

impl Subject {
    /// Moves the clock `secs` forward (and waits that long when expiry is real).
    pub(crate) async fn pass(&self, secs: u64) {
        self.clock.advance(secs);
        if self.real_expiry {
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
    }
}

const SPAM: Class = Class::Spam;
const HAM: Class = Class::Ham;

fn counts(spam: u64, ham: u64) -> TokenCounts {
    TokenCounts { spam, ham }
}

pub(crate) async fn unknown_tokens_read_as_zero(s: Subject) {
    let read = s.store.token_counts(&[1, 2, 3]).await.unwrap();
    assert_eq!(read.totals, ClassTotals::default());
    assert_eq!(read.counts, vec![TokenCounts::default(); 3]);
    assert_eq!(s.store.token_counts(&[]).await.unwrap().counts, vec![]);
}

pub(crate) async fn learning_twice_counts_once(s: Subject) {
    let store = &s.store;
    assert_eq!(
        store.relabel(b"m1", Some(SPAM), &[1, 2, 3]).await.unwrap(),
        None
    );
    assert_eq!(
        store.relabel(b"m1", Some(SPAM), &[1, 2, 3]).await.unwrap(),
        Some(SPAM)
    );
    store
        .relabel(b"m2", Some(SPAM), &[2, 3, 3, 3])
        .await
        .unwrap();
    store.relabel(b"m3", Some(HAM), &[3, 4]).await.unwrap();
    let read = store.token_counts(&[1, 2, 3, 4, 5]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 2, ham: 1 });
    assert_eq!(
        read.counts,
        vec![
            counts(1, 0),
            counts(2, 0),
            counts(2, 1),
            counts(0, 1),
            counts(0, 0)
        ]
    );
    assert_eq!(store.label(b"m2").await.unwrap(), Some(SPAM));
    assert_eq!(store.label(b"nope").await.unwrap(), None);
}

pub(crate) async fn relabelling_moves_and_forgetting_removes(s: Subject) {
    let store = &s.store;
    store.relabel(b"m1", Some(SPAM), &[1, 2]).await.unwrap();
    store.relabel(b"m2", Some(HAM), &[2]).await.unwrap();
    assert_eq!(
        store.relabel(b"m1", Some(HAM), &[1, 2]).await.unwrap(),
        Some(SPAM)
    );
    let read = store.token_counts(&[1, 2]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 0, ham: 2 });
    assert_eq!(read.counts, vec![counts(0, 1), counts(0, 2)]);

    assert_eq!(
        store.relabel(b"m1", None, &[1, 2]).await.unwrap(),
        Some(HAM)
    );
    assert_eq!(store.relabel(b"m1", None, &[1, 2]).await.unwrap(), None);
    let read = store.token_counts(&[1, 2]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 0, ham: 1 });
    assert_eq!(read.counts, vec![counts(0, 0), counts(0, 1)]);
    let summary = store.summary().await.unwrap();
    assert_eq!((summary.tokens, summary.digests), (1, 1));
}

/// Clearing what was learned empties counters, totals and labels and nothing else; the
/// store learns again from zero afterwards.
pub(crate) async fn clearing_learned_keeps_everything_else(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(3600);
    store.relabel(b"m1", Some(SPAM), &[1, 2, 3]).await.unwrap();
    store.relabel(b"m2", Some(HAM), &[3, 4]).await.unwrap();
    store.greylist_touch(b"g", ttl).await.unwrap();
    store.append_record("r", b"x", ttl).await.unwrap();
    store.set("bayes:tokenizer", b"v1", None).await.unwrap();
    store.stats_add(&[("a", 1)], ttl).await.unwrap();

    store.clear_learned().await.unwrap();
    let read = store.token_counts(&[1, 2, 3, 4]).await.unwrap();
    assert_eq!(read.totals, ClassTotals::default());
    assert_eq!(read.counts, vec![TokenCounts::default(); 4]);
    assert_eq!(store.label(b"m1").await.unwrap(), None);
    assert_eq!(store.label(b"m2").await.unwrap(), None);
    let summary = store.summary().await.unwrap();
    assert_eq!((summary.tokens, summary.digests), (0, 0));
    assert_eq!(summary.learned, ClassTotals::default());
    assert_eq!(
        (
            summary.greylist,
            summary.records,
            summary.values,
            summary.stat_counters
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(
        store.get("bayes:tokenizer").await.unwrap(),
        Some(b"v1".to_vec())
    );

    store.clear_learned().await.unwrap();
    assert_eq!(
        store.relabel(b"m1", Some(HAM), &[1]).await.unwrap(),
        None,
        "a cleared label is gone, so this is a new learn, not a move"
    );
    let read = store.token_counts(&[1, 3]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 0, ham: 1 });
    assert_eq!(read.counts, vec![counts(0, 1), counts(0, 0)]);
}

/// One message's worth of tokens in one call, answers in the order asked.
pub(crate) async fn a_batch_of_two_thousand_tokens(s: Subject) {
    let tokens: Vec<u64> = (0..2000u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    s.store
        .relabel(b"big", Some(SPAM), &tokens[..1000])
        .await
        .unwrap();
    s.store
        .relabel(b"big2", Some(HAM), &tokens[500..])
        .await
        .unwrap();
    let read = s.store.token_counts(&tokens).await.unwrap();
    assert_eq!(read.counts.len(), 2000);
    for (i, c) in read.counts.iter().enumerate() {
        let want = counts(u64::from(i < 1000), u64::from(i >= 500));
        assert_eq!(*c, want, "token {i}");
    }
}

/// Many tasks learning at once lose no update.
pub(crate) async fn concurrent_learning_loses_nothing(s: Subject) {
    let tasks: Vec<_> = (0..40u32)
        .map(|i| {
            let store = s.store.clone();
            tokio::spawn(async move {
                let class = if i % 4 == 0 { HAM } else { SPAM };
                let digest = format!("message-{i}");
                store
                    .relabel(digest.as_bytes(), Some(class), &[7, 8, u64::from(i) + 100])
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let read = s.store.token_counts(&[7, 8, 100, 139]).await.unwrap();
    assert_eq!(read.totals, ClassTotals { spam: 30, ham: 10 });
    assert_eq!(read.counts[..2], [counts(30, 10), counts(30, 10)]);
    assert_eq!(read.counts[2..], [counts(0, 1), counts(1, 0)]);
}

pub(crate) async fn greylist_sightings(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(3600);
    assert_eq!(store.greylist_get(b"triplet").await.unwrap(), None);
    let first = store.greylist_touch(b"triplet", ttl).await.unwrap();
    assert_eq!(
        first,
        Sighting {
            first_seen: START,
            last_seen: START,
            count: 1
        }
    );
    s.pass(2).await;
    let second = store.greylist_touch(b"triplet", ttl).await.unwrap();
    assert_eq!(
        second,
        Sighting {
            first_seen: START,
            last_seen: START + 2,
            count: 2
        }
    );
    assert_eq!(store.greylist_get(b"triplet").await.unwrap(), Some(second));
    assert_eq!(store.greylist_get(b"other").await.unwrap(), None);
}

/// An entry is gone once its TTL after the last sighting has passed, and a sighting then
/// starts a new one.
pub(crate) async fn greylist_entries_expire(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(2);
    store.greylist_touch(b"t", ttl).await.unwrap();
    s.pass(1).await;
    assert_eq!(store.greylist_touch(b"t", ttl).await.unwrap().count, 2);
    s.pass(1).await;
    assert!(
        store.greylist_get(b"t").await.unwrap().is_some(),
        "TTL restarts at each sighting"
    );
    s.pass(2).await;
    assert_eq!(store.greylist_get(b"t").await.unwrap(), None);
    let fresh = store.greylist_touch(b"t", ttl).await.unwrap();
    assert_eq!((fresh.count, fresh.first_seen), (1, START + 4));
}

pub(crate) async fn concurrent_sightings_all_count(s: Subject) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = s.store.clone();
            tokio::spawn(
                async move { store.greylist_touch(b"busy", Duration::from_secs(60)).await },
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap().unwrap().count);
    }
    assert_eq!(seen, (1..=50).collect(), "every sighting saw its own count");
}

pub(crate) async fn stats_are_bucketed_by_hour(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(86_400);
    store
        .stats_add(&[("messages", 1), ("action:reject", 1)], ttl)
        .await
        .unwrap();
    store.stats_add(&[("messages", 2)], ttl).await.unwrap();
    s.clock.advance(STAT_BUCKET_SECS);
    store
        .stats_add(&[("messages", 5), ("action:reject", -1)], ttl)
        .await
        .unwrap();
    let hour = START - START % STAT_BUCKET_SECS;
    let stat = |bucket, name: &str, value| StatCount {
        bucket,
        name: name.to_owned(),
        value,
    };
    let now = s.clock.now();
    assert_eq!(
        store.stats_read(START - 7200, now).await.unwrap(),
        vec![
            stat(hour, "action:reject", 1),
            stat(hour, "messages", 3),
            stat(hour + STAT_BUCKET_SECS, "action:reject", -1),
            stat(hour + STAT_BUCKET_SECS, "messages", 5),
        ]
    );
    assert_eq!(store.stats_read(now, now).await.unwrap().len(), 2);
    assert_eq!(store.stats_read(hour - 1, hour - 1).await.unwrap(), vec![]);
}

/// Counts gathered earlier land in the hour they were gathered in.
pub(crate) async fn stats_for_an_earlier_hour(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(86_400);
    let hour = START - START % STAT_BUCKET_SECS;
    s.clock.advance(STAT_BUCKET_SECS);
    store
        .stats_add_at(START, &[("late", 2)], ttl)
        .await
        .unwrap();
    store.stats_add(&[("late", 1)], ttl).await.unwrap();
    let counts: Vec<(u64, i64)> = store
        .stats_read(START, s.clock.now())
        .await
        .unwrap()
        .iter()
        .map(|c| (c.bucket, c.value))
        .collect();
    assert_eq!(counts, [(hour, 2), (hour + STAT_BUCKET_SECS, 1)]);
}

pub(crate) async fn concurrent_stat_adds_sum(s: Subject) {
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = s.store.clone();
            tokio::spawn(async move {
                store
                    .stats_add(&[("n", 1), ("m", 2)], Duration::from_secs(3600))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let values: Vec<i64> = s
        .store
        .stats_read(START, START)
        .await
        .unwrap()
        .iter()
        .map(|c| c.value)
        .collect();
    assert_eq!(values, [80, 40]);
}

/// A bucket lives until `ttl` after its hour ends.
pub(crate) async fn stats_expire(s: Subject) {
    let store = &s.store;
    // The hour of START ends 3000 s after it; jump to 1 s before that.
    s.clock.advance(STAT_BUCKET_SECS - 600 - 1);
    store
        .stats_add(&[("x", 1)], Duration::from_secs(2))
        .await
        .unwrap();
    s.pass(2).await;
    assert_eq!(store.stats_read(START, START).await.unwrap().len(), 1);
    s.pass(2).await;
    assert_eq!(store.stats_read(START, START).await.unwrap(), vec![]);
}

pub(crate) async fn records_in_order(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(3600);
    store.append_record("dmarc", b"one", ttl).await.unwrap();
    store.append_record("dmarc", b"two", ttl).await.unwrap();
    store
        .append_record("other", b"elsewhere", ttl)
        .await
        .unwrap();
    s.clock.advance(5);
    store.append_record("dmarc", b"three", ttl).await.unwrap();
    store.append_record("dmarc", b"one", ttl).await.unwrap();
    let data = |records: Vec<kanmon_store::Record>| -> Vec<(u64, Vec<u8>)> {
        records
            .into_iter()
            .map(|r| (r.at - START, r.data))
            .collect()
    };
    assert_eq!(
        data(store.records("dmarc", START, START + 5).await.unwrap()),
        vec![
            (0, b"one".to_vec()),
            (0, b"two".to_vec()),
            (5, b"three".to_vec()),
            (5, b"one".to_vec())
        ]
    );
    assert_eq!(
        data(
            store
                .records("dmarc", START + 1, START + 100)
                .await
                .unwrap()
        ),
        vec![(5, b"three".to_vec()), (5, b"one".to_vec())]
    );
    assert_eq!(store.records("dmarc", 0, START - 1).await.unwrap(), vec![]);
    assert_eq!(store.records("none", 0, u64::MAX).await.unwrap(), vec![]);
}

pub(crate) async fn records_expire(s: Subject) {
    let store = &s.store;
    store
        .append_record("r", b"short", Duration::from_secs(2))
        .await
        .unwrap();
    store
        .append_record("r", b"long", Duration::from_secs(3600))
        .await
        .unwrap();
    s.pass(3).await;
    let left = store.records("r", 0, u64::MAX).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].data, b"long");
}

/// `(at, data)` of each of `stream`'s records.
async fn stamped(store: &Store, stream: &str) -> Vec<(u64, Vec<u8>)> {
    store
        .records(stream, 0, u64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.at, r.data))
        .collect()
}

pub(crate) async fn records_trimmed_before_a_time(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(3600);
    store.append_record("ring", b"a", ttl).await.unwrap();
    store.append_record("other", b"o", ttl).await.unwrap();
    s.clock.advance(1);
    store.append_record("ring", b"b", ttl).await.unwrap();
    store.append_record("ring", b"c", ttl).await.unwrap();
    s.clock.advance(1);
    store.append_record("ring", b"d", ttl).await.unwrap();
    s.clock.advance(1);
    store.append_record("ring", b"e", ttl).await.unwrap();
    assert_eq!(store.trim_records_before("ring", START).await.unwrap(), 0);
    assert_eq!(
        store.trim_records_before("ring", START + 1).await.unwrap(),
        1
    );
    // Both records of one second go together; the one at `before` itself stays.
    assert_eq!(
        store.trim_records_before("ring", START + 2).await.unwrap(),
        2
    );
    assert_eq!(
        stamped(store, "ring").await,
        [(START + 2, b"d".to_vec()), (START + 3, b"e".to_vec())]
    );
    assert_eq!(
        store.trim_records_before("ring", START + 2).await.unwrap(),
        0
    );
    assert_eq!(stamped(store, "other").await, [(START, b"o".to_vec())]);
    assert_eq!(store.summary().await.unwrap().records, 3);
    assert_eq!(
        store.trim_records_before("none", u64::MAX).await.unwrap(),
        0
    );
    assert_eq!(
        store.trim_records_before("ring", u64::MAX).await.unwrap(),
        2
    );
    assert_eq!(stamped(store, "ring").await, []);
    // Trimmed records are gone from the expiry bookkeeping too.
    assert_eq!(store.summary().await.unwrap().records, 1);
    assert_eq!(
        store.trim_records_before("ring", u64::MAX).await.unwrap(),
        0
    );
}

/// Far past 2^53 seconds neighbouring times share a double (Redis's scores), yet `before`
/// still splits them exactly.
pub(crate) async fn records_trimmed_before_a_far_time(s: Subject) {
    let store = &s.store;
    let far = 1u64 << 60;
    let entries: Vec<Entry> = (0..4u8)
        .map(|i| Entry::Record {
            stream: "ring".to_owned(),
            at: far + u64::from(i),
            data: vec![i],
            expires: START + 3600,
        })
        .collect();
    store.import(&entries).await.unwrap();
    assert_eq!(store.trim_records_before("ring", far).await.unwrap(), 0);
    assert_eq!(store.trim_records_before("ring", far + 2).await.unwrap(), 2);
    assert_eq!(
        stamped(store, "ring").await,
        [(far + 2, vec![2]), (far + 3, vec![3])]
    );
}

/// One call removes at most `TRIM_RECORDS_MAX`, the oldest; the next call goes on.
pub(crate) async fn records_trimmed_before_in_bounded_calls(s: Subject) {
    let store = &s.store;
    let max = kanmon_store::TRIM_RECORDS_MAX;
    let old = max + 4;
    // Two records a second: `old` of them before START, then two at START.
    let entries: Vec<Entry> = (0..old + 2)
        .map(|i| Entry::Record {
            stream: "ring".to_owned(),
            at: START - old / 2 + i / 2,
            data: i.to_be_bytes().to_vec(),
            expires: START + 3600,
        })
        .collect();
    let before_start = entries
        .iter()
        .filter(|e| matches!(e, Entry::Record { at, .. } if *at < START))
        .count();
    assert_eq!(u64::try_from(before_start).unwrap(), old);
    store.import(&entries).await.unwrap();
    assert_eq!(store.trim_records_before("ring", START).await.unwrap(), max);
    let left: Vec<Vec<u8>> = store
        .records("ring", 0, u64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.data)
        .collect();
    let newest: Vec<Vec<u8>> = (max..old + 2).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(left, newest, "the oldest went first");
    assert_eq!(store.trim_records_before("ring", START).await.unwrap(), 4);
    assert_eq!(store.trim_records_before("ring", START).await.unwrap(), 0);
    assert_eq!(store.records("ring", 0, u64::MAX).await.unwrap().len(), 2);
    assert_eq!(store.summary().await.unwrap().records, 2);
}

pub(crate) async fn values_with_and_without_ttl(s: Subject) {
    let store = &s.store;
    assert_eq!(store.get("k").await.unwrap(), None);
    store.set("k", b"v1", None).await.unwrap();
    store.set("k", b"v2", None).await.unwrap();
    store
        .set("brief", b"x", Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(b"v2".to_vec()));
    assert_eq!(store.get("brief").await.unwrap(), Some(b"x".to_vec()));
    s.pass(3).await;
    assert_eq!(store.get("brief").await.unwrap(), None);
    assert_eq!(store.get("k").await.unwrap(), Some(b"v2".to_vec()));
    assert!(store.delete("k").await.unwrap());
    assert!(!store.delete("k").await.unwrap());
    assert_eq!(store.get("k").await.unwrap(), None);
}

/// An imported value whose expiry has passed deletes its key, so one batch can write some
/// values and remove others; the summary no longer counts it.
pub(crate) async fn an_expired_import_deletes(s: Subject) {
    let store = &s.store;
    let now = store.clock().now();
    store.set("old", b"x", None).await.unwrap();
    store
        .set("timed", b"y", Some(Duration::from_secs(3_600)))
        .await
        .unwrap();
    store
        .import(&[
            Entry::Value {
                key: "old".to_owned(),
                value: Vec::new(),
                expires: Some(now),
            },
            Entry::Value {
                key: "timed".to_owned(),
                value: Vec::new(),
                expires: Some(now.saturating_sub(5)),
            },
            Entry::Value {
                key: "new".to_owned(),
                value: b"z".to_vec(),
                expires: Some(now + 3_600),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.get("old").await.unwrap(), None);
    assert_eq!(store.get("timed").await.unwrap(), None);
    assert_eq!(store.get("new").await.unwrap(), Some(b"z".to_vec()));
    assert_eq!(store.summary().await.unwrap().values, 1);
}

/// `expire` leaves only live entries, and the summary counts what is there.
pub(crate) async fn expire_and_summary(s: Subject) {
    let store = &s.store;
    let short = Duration::from_secs(2);
    let long = Duration::from_secs(3600);
    store.relabel(b"m", Some(SPAM), &[1, 2, 3]).await.unwrap();
    store.greylist_touch(b"g1", short).await.unwrap();
    store.greylist_touch(b"g2", long).await.unwrap();
    store.append_record("r", b"x", short).await.unwrap();
    store.set("v", b"x", Some(long)).await.unwrap();
    store.set("w", b"x", Some(short)).await.unwrap();
    store.stats_add(&[("a", 1), ("b", 1)], long).await.unwrap();
    s.pass(3).await;
    store.expire().await.unwrap();
    let summary = store.summary().await.unwrap();
    assert_eq!(summary.tokens, 3);
    assert_eq!(summary.learned, ClassTotals { spam: 1, ham: 0 });
    assert_eq!(summary.digests, 1);
    assert_eq!(summary.greylist, 1);
    assert_eq!(summary.records, 0);
    assert_eq!(summary.values, 1);
    assert_eq!(summary.stat_counters, 2);
}

/// Exported entries imported into an empty store give the same export.
pub(crate) async fn export_then_import_is_identity(s: Subject, empty: Subject) {
    let store = &s.store;
    let ttl = Duration::from_secs(3600);
    store
        .relabel(b"\x01\x02", Some(SPAM), &[1, u64::MAX])
        .await
        .unwrap();
    store.relabel(b"\x03", Some(HAM), &[1]).await.unwrap();
    store.greylist_touch(b"grey", ttl).await.unwrap();
    store.stats_add(&[("messages", 4)], ttl).await.unwrap();
    store
        .append_record("dmarc", b"\x00\xff", ttl)
        .await
        .unwrap();
    store.set("plain", b"v", None).await.unwrap();
    store.set("timed", b"w", Some(ttl)).await.unwrap();

    let lines = |store: Store| async move {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = Arc::clone(&lines);
        store
            .export(&mut move |entry: Entry| {
                sink_lines.lock().unwrap().push(entry.to_line());
                Ok(())
            })
            .await
            .unwrap();
        let mut lines = lines.lock().unwrap().clone();
        lines.sort();
        lines
    };
    let exported = lines(s.store.clone()).await;
    assert_eq!(exported.len(), 10, "{exported:#?}");
    let entries: Vec<Entry> = exported
        .iter()
        .map(|l| Entry::from_line(l).unwrap())
        .collect();
    empty.store.import(&entries).await.unwrap();
    assert_eq!(lines(empty.store.clone()).await, exported);
    let read = empty.store.token_counts(&[1, u64::MAX]).await.unwrap();
    assert_eq!(read.counts, vec![counts(1, 1), counts(1, 0)]);
    assert_eq!(empty.store.label(b"\x03").await.unwrap(), Some(HAM));
}
