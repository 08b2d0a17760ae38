//! History: one entry per message kanmon decided about, in the store's `history` stream,
//! so `kanmon history` and the dashboard can answer "what happened to the mail from X?"
//! on any MX host sharing the store.
//!
//! Entries are written by the [`crate::stats::Counter`], batched with the counters (never
//! while a message waits). The stream is a ring: each write trims it to the newest
//! `[stats] history_size` entries (`Store::trim_records`), and an entry also expires after
//! `[stats] history_retention_days`. Searches read backwards from now in windows that
//! double, so a search for the latest few reads little and none reads more than the ring.
//!
//! Searches use an index of small store values written in the same batch as the entries
//! (so it works on every backend), removed as their entries leave the ring ([`IndexLog`])
//! and otherwise expiring with them: `history:queue:<id>` holds the
//! time of the newest entry with that queue id, so `--queue-id` reads one second of the
//! stream; `history:from:<hour>:<address>` and `history:domain:<hour>:<domain>` mark the
//! hours with mail from a sender, so `--from` reads only those hours, newest first, and
//! skips without decoding every entry whose bytes cannot hold the sender.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use kanmon_store::{Entry, Record, Store, StoreError, Timestamp};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::verdict::{Action, Verdict};

/// The store stream the entries are appended to.
pub const STREAM: &str = "history";

/// The first window a search reads back from now; each next one is twice as long.
const FIRST_WINDOW_SECS: u64 = 3_600;

/// The prefix of the queue-id index's keys.
pub const QUEUE_INDEX: &str = "history:queue:";

/// Longer queue ids (not an MTA's) are not indexed; a search for one reads the ring.
const MAX_INDEXED_QUEUE_ID: usize = 64;

fn queue_key(queue_id: &str) -> Option<String> {
    (queue_id.len() <= MAX_INDEXED_QUEUE_ID).then(|| format!("{QUEUE_INDEX}{queue_id}"))
}

/// Whether a history index key is a sender mark (the other kind is a queue id's value).
pub fn is_sender_mark(key: &str) -> bool {
    key.starts_with(FROM_INDEX) || key.starts_with(DOMAIN_INDEX)
}

const FROM_INDEX: &str = "history:from:";
const DOMAIN_INDEX: &str = "history:domain:";

/// The span of one sender-index mark.
const INDEX_HOUR: u64 = 3_600;

/// A sender as the index knows it: the address or, for `@domain`, the domain, in ASCII
/// lowercase (the search is ASCII case-insensitive); `<>` is the empty address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sender {
    Address(String),
    Domain(String),
}

impl Sender {
    /// What a `--from` search asks for.
    fn wanted(from: &str) -> Sender {
        match from.strip_prefix('@') {
            Some(domain) => Sender::Domain(domain.to_ascii_lowercase()),
            None => Sender::Address(from.trim_matches(['<', '>']).to_ascii_lowercase()),
        }
    }

    /// The index key marking mail from this sender in the hour starting at `hour`.
    fn key(&self, hour: Timestamp) -> String {
        match self {
            Sender::Address(address) => format!("{FROM_INDEX}{hour}:{address}"),
            Sender::Domain(domain) => format!("{DOMAIN_INDEX}{hour}:{domain}"),
        }
    }
}

/// One message's story, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the verdict was made (Unix seconds).
    pub time: Timestamp,
    pub queue_id: Option<String>,
    pub client_ip: Option<IpAddr>,
    /// The client's verified reverse DNS name.
    pub client_name: Option<String>,
    pub helo: Option<String>,
    /// The MAIL FROM address; empty for `<>`.
    pub mail_from: Option<String>,
    pub rcpts: Vec<String>,
    /// The decoded Subject, only with `[stats] history_subjects = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub action: Action,
    pub score: f64,
    pub required: f64,
    /// Why, when the action is not `accept`.
    pub reason: Option<String>,
    pub symbols: Vec<HistorySymbol>,
    /// How long the message took, from its first command to its verdict.
    pub duration_ms: u64,
    /// Our own mail (internal network or authenticated client).
    pub internal: bool,
}

/// A symbol that fired, with its score and evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistorySymbol {
    pub name: String,
    pub score: f64,
    pub reason: String,
}

impl HistoryEntry {
    pub fn new(
        time: Timestamp,
        envelope: &Envelope,
        verdict: &Verdict,
        elapsed: Duration,
        subject: Option<String>,
    ) -> HistoryEntry {
        HistoryEntry {
            time,
            queue_id: envelope.queue_id.clone(),
            client_ip: envelope.client_ip,
            client_name: envelope.client_name.name().map(str::to_owned),
            helo: envelope.helo.clone(),
            mail_from: envelope.mail_from.clone(),
            rcpts: envelope.rcpt_to.clone(),
            subject,
            action: verdict.action,
            score: verdict.score,
            required: verdict.required,
            reason: verdict.reason.clone(),
            symbols: verdict
                .hits
                .iter()
                .map(|hit| HistorySymbol {
                    name: hit.name.to_owned(),
                    score: hit.score,
                    reason: hit.reason.clone(),
                })
                .collect(),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            internal: verdict.internal,
        }
    }

    /// What the store keeps of this entry until `expires`: the record in [`STREAM`], the
    /// queue-id index value when it has a queue id (the newest entry with that id wins:
    /// Postfix's short queue ids can come back after days), and its sender's marks for
    /// this hour.
    pub fn store_entries(&self, expires: Timestamp) -> Vec<Entry> {
        let mut entries = vec![Entry::Record {
            stream: STREAM.to_owned(),
            at: self.time,
            data: serde_json::to_vec(self).unwrap_or_default(),
            expires,
        }];
        let mut index = |key: String, value: Vec<u8>| {
            entries.push(Entry::Value {
                key,
                value,
                expires: Some(expires),
            });
        };
        if let Some(key) = self.queue_id.as_deref().and_then(queue_key) {
            index(key, self.time.to_string().into_bytes());
        }
        let hour = self.time - self.time % INDEX_HOUR;
        let address = self.mail_from.as_deref().unwrap_or("").to_ascii_lowercase();
        if let Some((_, domain)) = address.rsplit_once('@') {
            index(Sender::Domain(domain.to_owned()).key(hour), Vec::new());
        }
        index(Sender::Address(address).key(hour), Vec::new());
        entries
    }
}

/// The index keys this process wrote for entries that may still be in the ring, oldest
/// first, so they are removed when their entries leave it: the keys' own expiry is the
/// retention (a week), and without this a busy server would keep a week of mail's keys
/// however small the ring. About 100 bytes per entry of the ring (10,000: 1 MB).
///
/// With several hosts on one store each logs its own entries: its newest `history_size`
/// reach further back than the shared ring's, so a key goes only after every entry it
/// finds has left the ring. Keys written before a restart expire with the retention.
#[derive(Debug, Default)]
pub struct IndexLog {
    /// The logged entries, oldest first: time and queue-id key.
    entries: VecDeque<(Timestamp, Option<String>)>,
    /// How many logged entries wrote each queue-id key (a queue id can come back), by the
    /// key's hash: a collision only keeps a key longer.
    queue_keys: HashMap<u64, usize>,
    /// The sender marks by hour.
    marks: BTreeMap<Timestamp, HashSet<String>>,
}

impl IndexLog {
    /// Whether the sender mark `key` was written and is still in the store: marks name
    /// their hour, and those of the current hour are never removed (the ring reaches it).
    pub fn has_mark(&self, key: &str) -> bool {
        self.marks
            .values()
            .rev()
            .take(2)
            .any(|hour| hour.contains(key))
    }

    /// Logs a batch of [`HistoryEntry::store_entries`] just written and returns what
    /// removes the keys of the entries now past the newest `ring` (values expired at `now`,
    /// for [`Store::import`]).
    pub fn written(&mut self, batch: &[Entry], ring: usize, now: Timestamp) -> Vec<Entry> {
        for entry in batch {
            match entry {
                Entry::Record { stream, at, .. } if stream == STREAM => {
                    self.entries.push_back((*at, None));
                }
                Entry::Value { key, .. } if is_sender_mark(key) => {
                    if let Some((at, _)) = self.entries.back() {
                        let hour = at - at % INDEX_HOUR;
                        self.marks.entry(hour).or_default().insert(key.clone());
                    }
                }
                Entry::Value { key, .. } => {
                    if let Some((_, slot @ None)) = self.entries.back_mut() {
                        *slot = Some(key.clone());
                        *self.queue_keys.entry(key_hash(key)).or_insert(0) += 1;
                    }
                }
                _ => {}
            }
        }
        let mut gone = Vec::new();
        while self.entries.len() > ring {
            let Some((_, Some(key))) = self.entries.pop_front() else {
                continue;
            };
            let hash = key_hash(&key);
            if let Some(count) = self.queue_keys.get_mut(&hash) {
                *count -= 1;
                if *count == 0 {
                    self.queue_keys.remove(&hash);
                    gone.push(key);
                }
            }
        }
        let oldest_hour = self
            .entries
            .front()
            .map_or(Timestamp::MAX, |(at, _)| at - at % INDEX_HOUR);
        while let Some(hour) = self.marks.first_entry()
            && *hour.key() < oldest_hour
        {
            gone.extend(hour.remove());
        }
        gone.into_iter()
            .map(|key| Entry::Value {
                key,
                value: Vec::new(),
                expires: Some(now),
            })
            .collect()
    }
}

fn key_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// Which entries a search returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The MTA's queue id, exactly.
    pub queue_id: Option<String>,
    /// The MAIL FROM address (case-insensitive), or with a leading `@` its domain.
    pub from: Option<String>,
}

impl Filter {
    pub fn matches(&self, entry: &HistoryEntry) -> bool {
        let queue_id = self
            .queue_id
            .as_deref()
            .is_none_or(|id| entry.queue_id.as_deref() == Some(id));
        let from = self.from.as_deref().is_none_or(|wanted| {
            let sender = entry.mail_from.as_deref().unwrap_or("");
            match wanted.strip_prefix('@') {
                Some(domain) => sender
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)),
                None => sender.eq_ignore_ascii_case(wanted.trim_matches(['<', '>'])),
            }
        });
        queue_id && from
    }

    /// A test on an entry's stored bytes that is false only when [`Filter::matches`] would
    /// be: the sender as serde_json writes it (ASCII case-insensitive). `None` when the
    /// sender would be escaped in JSON, so only decoding can tell.
    fn prefilter(&self) -> Option<regex::bytes::Regex> {
        let needle = match Sender::wanted(self.from.as_deref()?) {
            Sender::Domain(domain) => format!("@{domain}"),
            Sender::Address(address) => address,
        };
        if needle
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return None;
        }
        regex::bytes::RegexBuilder::new(&regex::escape(&needle))
            .case_insensitive(true)
            .unicode(false)
            .build()
            .ok()
    }
}

/// How far back a search may look.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Entries older than this are gone from the store anyway.
    pub retention: Duration,
    /// The newest this many entries are searched, no more.
    pub size: usize,
}

/// The newest entries matching `filter`, newest first, at most `limit`, among the newest
/// `bounds.size` entries. Entries the store holds but this version cannot read are skipped.
pub async fn recent(
    store: &Store,
    limit: usize,
    filter: &Filter,
    bounds: Bounds,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let now = store.clock().now();
    let oldest = now.saturating_sub(bounds.retention.as_secs());
    if let Some(key) = filter.queue_id.as_deref().and_then(queue_key) {
        return by_queue_id(store, &key, limit, filter, oldest).await;
    }
    if let Some(from) = filter.from.as_deref() {
        return by_sender(store, &Sender::wanted(from), limit, filter, oldest).await;
    }
    let prefilter = filter.prefilter();
    let mut found = Vec::new();
    let mut scanned = 0usize;
    let mut until = now;
    let mut window = FIRST_WINDOW_SECS;
    while found.len() < limit && scanned < bounds.size {
        let since = until.saturating_sub(window - 1).max(oldest);
        let records = store.records(STREAM, since, until).await?;
        for record in records.iter().rev() {
            if found.len() >= limit || scanned >= bounds.size {
                break;
            }
            scanned += 1;
            if prefilter
                .as_ref()
                .is_some_and(|bytes| !bytes.is_match(&record.data))
            {
                continue;
            }
            if let Ok(entry) = serde_json::from_slice::<HistoryEntry>(&record.data)
                && filter.matches(&entry)
            {
                found.push(entry);
            }
        }
        if since <= oldest || since == 0 {
            break;
        }
        until = since - 1;
        window = window.saturating_mul(2);
    }
    Ok(found)
}

/// The entries of `records` (oldest first) that `filter` keeps, newest first; the
/// `prefilter` skips without decoding those whose bytes cannot match.
fn newest_matching<'a>(
    records: &'a [Record],
    prefilter: Option<&'a regex::bytes::Regex>,
    filter: &'a Filter,
) -> impl Iterator<Item = HistoryEntry> + 'a {
    records
        .iter()
        .rev()
        .filter(move |record| prefilter.is_none_or(|bytes| bytes.is_match(&record.data)))
        .filter_map(|record| serde_json::from_slice::<HistoryEntry>(&record.data).ok())
        .filter(|entry| filter.matches(entry))
}

/// The entries from `sender`, newest first: the hours the index marks, each read and
/// filtered until `limit` are found.
async fn by_sender(
    store: &Store,
    sender: &Sender,
    limit: usize,
    filter: &Filter,
    oldest: Timestamp,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let now = store.clock().now();
    let prefilter = filter.prefilter();
    let mut found = Vec::new();
    let mut hour = now - now % INDEX_HOUR;
    while found.len() < limit && hour.saturating_add(INDEX_HOUR) > oldest {
        if store.get(&sender.key(hour)).await?.is_some() {
            let records = store
                .records(STREAM, hour.max(oldest), hour + INDEX_HOUR - 1)
                .await?;
            let wanted = limit - found.len();
            found.extend(newest_matching(&records, prefilter.as_ref(), filter).take(wanted));
        }
        let Some(earlier) = hour.checked_sub(INDEX_HOUR) else {
            break;
        };
        hour = earlier;
    }
    Ok(found)
}

/// The entries with the queue id of index `key`: those of the second the index names.
async fn by_queue_id(
    store: &Store,
    key: &str,
    limit: usize,
    filter: &Filter,
    oldest: Timestamp,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let Some(at) = store
        .get(key)
        .await?
        .and_then(|value| String::from_utf8(value).ok()?.parse::<Timestamp>().ok())
        .filter(|at| *at >= oldest)
    else {
        return Ok(Vec::new());
    };
    let records = store.records(STREAM, at, at).await?;
    Ok(newest_matching(&records, None, filter)
        .take(limit)
        .collect())
}

#[cfg(test)]
mod tests {
    use kanmon_store::Clock;

    use super::*;

    const NOW: Timestamp = 1_800_000_000;

    fn entry(n: u64, queue_id: &str, from: &str) -> HistoryEntry {
        HistoryEntry {
            // Over 17 hours, a few in each.
            time: NOW + 30 - (60 - n) * 1_000,
            queue_id: Some(queue_id.to_owned()),
            client_ip: None,
            client_name: None,
            helo: None,
            mail_from: Some(from.to_owned()),
            rcpts: vec!["bob@example.org".to_owned()],
            subject: None,
            action: Action::Accept,
            score: 0.0,
            required: 6.0,
            reason: None,
            symbols: Vec::new(),
            duration_ms: 1,
            internal: false,
        }
    }

    async fn search(store: &Store, queue_id: Option<&str>, from: Option<&str>) -> Vec<u64> {
        search_some(store, queue_id, from, 50).await
    }

    async fn search_some(
        store: &Store,
        queue_id: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Vec<u64> {
        let filter = Filter {
            queue_id: queue_id.map(str::to_owned),
            from: from.map(str::to_owned),
        };
        let bounds = Bounds {
            retention: Duration::from_secs(86_400),
            size: 1_000,
        };
        recent(store, limit, &filter, bounds)
            .await
            .expect("search")
            .iter()
            .map(|e| e.duration_ms)
            .collect()
    }

    /// Each search finds exactly what decoding every entry and filtering would, newest
    /// first, through the queue-id index and the sender prefilter alike.
    #[tokio::test]
    async fn searches_find_what_a_full_decode_finds() {
        let store = Store::memory_with_clock(Clock::manual(NOW));
        let long_id = "L".repeat(MAX_INDEXED_QUEUE_ID + 1);
        let senders = [
            "Alice@Example.NET",
            "\"odd \\\"quoted\\\" user\"@example.net",
            "bob@other.test",
            "",
            "josé@exämple.test",
        ];
        let mut all = Vec::new();
        for n in 0..60u64 {
            let queue_id = match n {
                7 | 40 => "4QREUSED".to_owned(),
                9 => long_id.clone(),
                _ => format!("4Q{n:04}"),
            };
            let mut e = entry(n, &queue_id, senders[n as usize % senders.len()]);
            e.duration_ms = n;
            all.push(e);
        }
        let stored: Vec<Entry> = all
            .iter()
            .flat_map(|e| e.store_entries(NOW + 600))
            .collect();
        store.import(&stored).await.expect("import");

        let expected = |filter: Filter| -> Vec<u64> {
            all.iter()
                .rev()
                .filter(|e| filter.matches(e))
                .map(|e| e.duration_ms)
                .collect()
        };
        for from in [
            "alice@example.net",
            "<ALICE@example.net>",
            "@EXAMPLE.net",
            "\"odd \\\"quoted\\\" user\"@example.net",
            "JOSÉ@exämple.test",
            "josé@EXÄMPLE.test",
            "@exämple.test",
            "nobody@example.net",
        ] {
            let want = expected(Filter {
                queue_id: None,
                from: Some(from.to_owned()),
            });
            assert_eq!(search(&store, None, Some(from)).await, want, "{from}");
        }
        let example = search(&store, None, Some("@example.net")).await;
        assert_eq!(example.len(), 24);
        assert_eq!(
            search_some(&store, None, Some("@example.net"), 5).await,
            example[..5]
        );
        assert_eq!(
            search(&store, None, Some("<>")).await,
            vec![58, 53, 48, 43, 38, 33, 28, 23, 18, 13, 8, 3]
        );

        assert_eq!(search(&store, Some("4Q0031"), None).await, vec![31]);
        assert_eq!(
            search(&store, Some("4Q0031"), Some("@other.test")).await,
            Vec::<u64>::new()
        );
        assert_eq!(search(&store, Some(&long_id), None).await, vec![9]);
        assert_eq!(
            search(&store, Some("4QNONE"), None).await,
            Vec::<u64>::new()
        );
        // A queue id that came back: the index names the newest entry's second.
        assert_eq!(search(&store, Some("4QREUSED"), None).await, vec![40]);
    }
}
