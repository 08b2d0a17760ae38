//! History: one entry per message kanmon decided about, in the store's `history` stream,
//! so `kanmon history` and the dashboard can answer "what happened to the mail from X?"
//! on any MX host sharing the store.
//!
//! Entries are written by the [`crate::stats::Counter`], batched with the counters (never
//! while a message waits): one store record per write, a [`Chunk`] of JSON lines, so
//! recording costs the store one insert per flush rather than per message. Beside each
//! chunk, at the same time, a record of the `history_index` stream holds three 32-bit
//! hashes per entry (queue id, sender address, sender domain, ASCII lowercase): a search
//! reads that small stream and decodes only the chunks of the seconds whose hashes match
//! (a hash that matches by chance costs a decode, never a wrong answer).
//!
//! The stream is a ring: [`trim`] removes the chunks older than the newest
//! `[stats] history_size` entries, and an entry also expires after
//! `[stats] history_retention_days`. Searches read backwards from now in windows that
//! double, so a search for the latest few reads little and none reads more than the ring.

use std::net::IpAddr;
use std::time::Duration;

use kanmon_store::{Entry, Record, Store, StoreError, TRIM_RECORDS_MAX, Timestamp};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::verdict::{Action, Verdict};

/// The store stream of the entries: per record, a chunk's JSON lines, oldest first.
pub const STREAM: &str = "history";

/// The store stream of the search keys: per chunk, a record at the same time.
pub const INDEX_STREAM: &str = "history_index";

/// The first window a search reads back from now; each next one is twice as long.
const FIRST_WINDOW_SECS: u64 = 3_600;

/// The bytes of one entry's search keys in [`INDEX_STREAM`].
const KEYS_LEN: usize = 12;

/// What an index record holds per entry: hashes of the queue id, the sender address and
/// the sender's domain (0 when there is none), so a search needs no decoding to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SearchKeys {
    queue_id: u32,
    address: u32,
    domain: u32,
}

impl SearchKeys {
    fn of(queue_id: Option<&str>, mail_from: Option<&str>) -> SearchKeys {
        let address = mail_from.unwrap_or("");
        SearchKeys {
            queue_id: queue_id.map_or(0, |id| key_hash(id.as_bytes())),
            address: lowercase_hash(address),
            domain: address
                .rsplit_once('@')
                .map_or(0, |(_, domain)| lowercase_hash(domain)),
        }
    }

    fn to_bytes(self) -> [u8; KEYS_LEN] {
        let mut bytes = [0; KEYS_LEN];
        bytes[..4].copy_from_slice(&self.queue_id.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.address.to_le_bytes());
        bytes[8..].copy_from_slice(&self.domain.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> SearchKeys {
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        SearchKeys {
            queue_id: word(0),
            address: word(4),
            domain: word(8),
        }
    }
}

/// FNV-1a: fixed for ever (the hashes are stored), and quick on short strings.
fn key_hash(bytes: &[u8]) -> u32 {
    fold_hash(bytes.iter().copied())
}

/// [`key_hash`] of the ASCII lowercase of `text`, without making it.
fn lowercase_hash(text: &str) -> u32 {
    fold_hash(text.bytes().map(|b| b.to_ascii_lowercase()))
}

fn fold_hash(bytes: impl Iterator<Item = u8>) -> u32 {
    bytes.fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// What a search asks of an entry's keys: each `Some` must be equal.
#[derive(Debug, Clone, Copy, Default)]
struct WantedKeys {
    queue_id: Option<u32>,
    address: Option<u32>,
    domain: Option<u32>,
}

impl WantedKeys {
    /// `None` when the filter takes every entry.
    fn of(filter: &Filter) -> Option<WantedKeys> {
        let mut wanted = WantedKeys {
            queue_id: filter.queue_id.as_deref().map(|id| key_hash(id.as_bytes())),
            ..WantedKeys::default()
        };
        match filter.sender() {
            Some(Sender::Domain(domain)) => wanted.domain = Some(lowercase_hash(domain)),
            Some(Sender::Address(address)) => wanted.address = Some(lowercase_hash(address)),
            None => {}
        }
        (filter.queue_id.is_some() || filter.from.is_some()).then_some(wanted)
    }

    fn admit(&self, keys: SearchKeys) -> bool {
        self.queue_id.is_none_or(|k| k == keys.queue_id)
            && self.address.is_none_or(|k| k == keys.address)
            && self.domain.is_none_or(|k| k == keys.domain)
    }

    /// Whether an index record names an entry these keys admit.
    fn admit_any(&self, index: &[u8]) -> bool {
        index
            .chunks_exact(KEYS_LEN)
            .any(|keys| self.admit(SearchKeys::from_bytes(keys)))
    }
}

/// The entries of one write: records of [`STREAM`] (JSON lines) and, for each, a record
/// of [`INDEX_STREAM`] with their keys, made as the messages come so a flush only hands the
/// bytes over. A record ends past [`MAX_CHUNK_BYTES`], so a burst of mail makes several
/// records rather than one too big to read back through the daemon's socket.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Oldest first; the last takes the next entry.
    records: Vec<ChunkRecord>,
    len: usize,
}

#[derive(Debug, Default)]
struct ChunkRecord {
    lines: Vec<u8>,
    keys: Vec<u8>,
    newest: Timestamp,
}

/// Bytes of JSON lines after which a chunk's record ends: a few hundred entries.
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;

impl Chunk {
    /// A chunk of `entries`, oldest first.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a HistoryEntry>) -> Chunk {
        let mut chunk = Chunk::default();
        entries.into_iter().for_each(|entry| chunk.push(entry));
        chunk
    }

    /// Adds `entry` as the newest.
    pub fn push(&mut self, entry: &HistoryEntry) {
        let keys = SearchKeys::of(entry.queue_id.as_deref(), entry.mail_from.as_deref());
        self.push_json(entry, entry.time, keys);
    }

    /// Adds the entry of a message decided at `time` as the newest: what
    /// [`HistoryEntry::new`] would make, written from the envelope and verdict themselves.
    pub fn push_message(
        &mut self,
        time: Timestamp,
        (envelope, verdict): (&Envelope, &Verdict),
        elapsed: Duration,
        subject: Option<&str>,
    ) {
        let entry = BorrowedEntry::new(time, envelope, verdict, elapsed, subject);
        let keys = SearchKeys::of(entry.queue_id, entry.mail_from);
        self.push_json(&entry, time, keys);
    }

    fn push_json(&mut self, entry: &impl Serialize, time: Timestamp, keys: SearchKeys) {
        if self
            .records
            .last()
            .is_none_or(|record| record.lines.len() >= MAX_CHUNK_BYTES)
        {
            self.records.push(ChunkRecord::default());
        }
        let Some(record) = self.records.last_mut() else {
            return;
        };
        let start = record.lines.len();
        if serde_json::to_writer(&mut record.lines, entry).is_err() {
            // Only a serializer bug could get here; the message's counts still count.
            record.lines.truncate(start);
            return;
        }
        record.lines.push(b'\n');
        record.keys.extend_from_slice(&keys.to_bytes());
        record.newest = record.newest.max(time);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the store keeps of the chunk: per record, it and its index record, stamped with
    /// the newest entry's time and gone `retention` after it.
    pub fn store_entries(self, retention: Duration) -> Vec<Entry> {
        let mut entries = Vec::with_capacity(2 * self.records.len());
        for record in self.records.into_iter().filter(|r| !r.keys.is_empty()) {
            let expires = record.newest.saturating_add(retention.as_secs());
            entries.push(Entry::Record {
                stream: STREAM.to_owned(),
                at: record.newest,
                data: record.lines,
                expires,
            });
            entries.push(Entry::Record {
                stream: INDEX_STREAM.to_owned(),
                at: record.newest,
                data: record.keys,
                expires,
            });
        }
        entries
    }
}

/// The lines of a [`STREAM`] record, newest first (a record written before chunks holds
/// one entry and no newline).
fn lines_newest_first(record: &Record) -> impl Iterator<Item = &[u8]> {
    record
        .data
        .rsplit(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
}

/// Removes from the ring the chunks older than its newest `bounds.size` entries (and their
/// index records); how many records went. The cut is found in the index, newest first, so
/// a trim reads about one ring's worth of index, whichever process wrote it: a
/// `kanmon filter` that records one message keeps the ring as the daemon does.
pub async fn trim(store: &Store, bounds: Bounds) -> Result<u64, StoreError> {
    let Some(cut) = ring_start(store, bounds).await? else {
        return Ok(0);
    };
    let mut removed = 0;
    for stream in [STREAM, INDEX_STREAM] {
        loop {
            let gone = store.trim_records_before(stream, cut).await?;
            removed += gone;
            if gone < TRIM_RECORDS_MAX {
                break;
            }
        }
    }
    Ok(removed)
}

/// The time of the oldest chunk holding one of the newest `bounds.size` entries, `None`
/// when the ring is not full (within the retention: older chunks have expired).
async fn ring_start(store: &Store, bounds: Bounds) -> Result<Option<Timestamp>, StoreError> {
    let mut counted = 0usize;
    for (since, until) in windows_back(store.clock().now(), bounds.retention) {
        let index = store.records(INDEX_STREAM, since, until).await?;
        for record in index.iter().rev() {
            counted += record.data.len() / KEYS_LEN;
            if counted >= bounds.size {
                return Ok(Some(record.at));
            }
        }
    }
    Ok(None)
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
}

/// A [`HistoryEntry`] borrowing from the envelope and verdict: the same JSON without
/// copying every string of the message first (recording is on every message's path).
#[derive(Serialize)]
struct BorrowedEntry<'a> {
    time: Timestamp,
    queue_id: Option<&'a str>,
    client_ip: Option<IpAddr>,
    client_name: Option<&'a str>,
    helo: Option<&'a str>,
    mail_from: Option<&'a str>,
    rcpts: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    action: Action,
    score: f64,
    required: f64,
    reason: Option<&'a str>,
    symbols: BorrowedSymbols<'a>,
    duration_ms: u64,
    internal: bool,
}

impl<'a> BorrowedEntry<'a> {
    fn new(
        time: Timestamp,
        envelope: &'a Envelope,
        verdict: &'a Verdict,
        elapsed: Duration,
        subject: Option<&'a str>,
    ) -> BorrowedEntry<'a> {
        BorrowedEntry {
            time,
            queue_id: envelope.queue_id.as_deref(),
            client_ip: envelope.client_ip,
            client_name: envelope.client_name.name(),
            helo: envelope.helo.as_deref(),
            mail_from: envelope.mail_from.as_deref(),
            rcpts: &envelope.rcpt_to,
            subject,
            action: verdict.action,
            score: verdict.score,
            required: verdict.required,
            reason: verdict.reason.as_deref(),
            symbols: BorrowedSymbols(&verdict.hits),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            internal: verdict.internal,
        }
    }
}

/// The hits as [`HistorySymbol`]s.
struct BorrowedSymbols<'a>(&'a [crate::symbol::ScoredHit]);

impl Serialize for BorrowedSymbols<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Symbol<'a> {
            name: &'a str,
            score: f64,
            reason: &'a str,
        }
        serializer.collect_seq(self.0.iter().map(|hit| Symbol {
            name: hit.name,
            score: hit.score,
            reason: &hit.reason,
        }))
    }
}

/// Which entries a search returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The MTA's queue id, exactly.
    pub queue_id: Option<String>,
    /// The MAIL FROM address (case-insensitive), or with a leading `@` its domain.
    pub from: Option<String>,
}

/// The sender a [`Filter`] asks for, as its `from` says it.
#[derive(Debug, Clone, Copy)]
enum Sender<'a> {
    /// `user@example.org` (angle brackets dropped; `<>` is the empty address).
    Address(&'a str),
    /// `@example.org`.
    Domain(&'a str),
}

impl Filter {
    pub fn matches(&self, entry: &HistoryEntry) -> bool {
        let queue_id = self
            .queue_id
            .as_deref()
            .is_none_or(|id| entry.queue_id.as_deref() == Some(id));
        let from = self.sender().is_none_or(|wanted| {
            let sender = entry.mail_from.as_deref().unwrap_or("");
            match wanted {
                Sender::Domain(domain) => sender
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)),
                Sender::Address(address) => sender.eq_ignore_ascii_case(address),
            }
        });
        queue_id && from
    }

    fn sender(&self) -> Option<Sender<'_>> {
        let from = self.from.as_deref()?;
        Some(match from.strip_prefix('@') {
            Some(domain) => Sender::Domain(domain),
            None => Sender::Address(from.trim_matches(['<', '>'])),
        })
    }

    /// Tests on an entry's stored bytes, each false only when [`Filter::matches`] would
    /// be: the queue id and the sender as serde_json writes them (the sender ASCII
    /// case-insensitive). A value that JSON would escape gets no test: only decoding can
    /// tell.
    fn prefilter(&self) -> Vec<regex::bytes::Regex> {
        let escaped = |text: &str| {
            text.chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        };
        let literal = |text: &str, case_insensitive: bool| {
            regex::bytes::RegexBuilder::new(&regex::escape(text))
                .case_insensitive(case_insensitive)
                .unicode(false)
                .build()
                .ok()
        };
        let mut tests = Vec::new();
        if let Some(id) = self.queue_id.as_deref().filter(|id| !escaped(id)) {
            tests.extend(literal(&format!("\"queue_id\":\"{id}\""), false));
        }
        let sender = self.sender().map(|sender| match sender {
            Sender::Domain(domain) => format!("@{domain}"),
            Sender::Address(address) => address.to_owned(),
        });
        if let Some(sender) = sender.filter(|sender| !escaped(sender)) {
            tests.extend(literal(&sender, true));
        }
        tests
    }
}

/// How far back a search may look.
#[derive(Debug, Clone, Copy, Default)]
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
    let wanted = WantedKeys::of(filter);
    let prefilter = filter.prefilter();
    let mut found = Vec::new();
    let mut scanned = 0usize;
    for (since, until) in windows_back(store.clock().now(), bounds.retention) {
        if found.len() >= limit || scanned >= bounds.size {
            break;
        }
        let budget = Budget {
            look: bounds.size - scanned,
            keep: limit - found.len(),
        };
        let (seen, matching) = match wanted {
            None => {
                let records = store.records(STREAM, since, until).await?;
                newest_matching(&records, &prefilter, filter, budget)
            }
            Some(wanted) => {
                let window = (since, until);
                by_index(store, wanted, window, &prefilter, filter, budget).await?
            }
        };
        scanned += seen;
        found.extend(matching);
    }
    Ok(found)
}

/// Windows (`since`, `until`, inclusive) back from `now`, the first [`FIRST_WINDOW_SECS`]
/// long and each next twice the last, the last ending at `retention` ago (or 1970).
fn windows_back(
    now: Timestamp,
    retention: Duration,
) -> impl Iterator<Item = (Timestamp, Timestamp)> {
    let oldest = now.saturating_sub(retention.as_secs());
    let mut next = Some((now, FIRST_WINDOW_SECS));
    std::iter::from_fn(move || {
        let (until, length) = next?;
        let since = until.saturating_sub(length - 1).max(oldest);
        next = (since > oldest && since > 0).then(|| (since - 1, length.saturating_mul(2)));
        Some((since, until))
    })
}

/// How much more of the ring a search may read, and how many entries it still wants.
#[derive(Debug, Clone, Copy)]
struct Budget {
    look: usize,
    keep: usize,
}

/// The entries of `records` (oldest first) that `filter` keeps, newest first, within
/// `budget`: how many entries were looked at, and those kept. The `prefilter` skips
/// without decoding the entries whose bytes cannot match.
fn newest_matching(
    records: &[Record],
    prefilter: &[regex::bytes::Regex],
    filter: &Filter,
    budget: Budget,
) -> (usize, Vec<HistoryEntry>) {
    let mut seen = 0;
    let mut kept = Vec::new();
    for line in records.iter().rev().flat_map(lines_newest_first) {
        if seen >= budget.look || kept.len() >= budget.keep {
            break;
        }
        seen += 1;
        if !prefilter.iter().all(|test| test.is_match(line)) {
            continue;
        }
        if let Ok(entry) = serde_json::from_slice::<HistoryEntry>(line)
            && filter.matches(&entry)
        {
            kept.push(entry);
        }
    }
    (seen, kept)
}

/// As [`newest_matching`] over the chunks of the `window` (`since`, `until`), reading
/// only the seconds whose index names an entry `wanted` admits; entries counted from the
/// index.
async fn by_index(
    store: &Store,
    wanted: WantedKeys,
    (since, until): (Timestamp, Timestamp),
    prefilter: &[regex::bytes::Regex],
    filter: &Filter,
    budget: Budget,
) -> Result<(usize, Vec<HistoryEntry>), StoreError> {
    let index = store.records(INDEX_STREAM, since, until).await?;
    let mut seen = 0;
    let mut kept = Vec::new();
    let mut last_read = None;
    for record in index.iter().rev() {
        if seen >= budget.look || kept.len() >= budget.keep {
            break;
        }
        seen += record.data.len() / KEYS_LEN;
        // Chunks of one second are read together (several hosts, or two flushes).
        if last_read == Some(record.at) || !wanted.admit_any(&record.data) {
            continue;
        }
        last_read = Some(record.at);
        let chunks = store.records(STREAM, record.at, record.at).await?;
        let rest = Budget {
            look: usize::MAX,
            keep: budget.keep - kept.len(),
        };
        kept.extend(newest_matching(&chunks, prefilter, filter, rest).1);
    }
    Ok((seen, kept))
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
        let long_id = "L".repeat(100);
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
        // Written as a flush does, a few entries to a chunk.
        let stored: Vec<Entry> = all
            .chunks(4)
            .flat_map(|entries| Chunk::of(entries).store_entries(Duration::from_secs(86_400)))
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
        // A queue id that came back: both entries, newest first.
        assert_eq!(search(&store, Some("4QREUSED"), None).await, vec![40, 7]);
        assert_eq!(
            search_some(&store, Some("4QREUSED"), None, 1).await,
            vec![40]
        );
        // Every entry, newest first, unfiltered.
        assert_eq!(
            search(&store, None, None).await,
            (10..60).rev().collect::<Vec<u64>>()
        );
    }

    /// A burst of mail makes several records, each with its index, none much past
    /// [`MAX_CHUNK_BYTES`]; searches find the entries of all of them.
    #[tokio::test]
    async fn a_large_chunk_is_split_into_records() {
        let store = Store::memory_with_clock(Clock::manual(NOW));
        let mut entries = Vec::new();
        for n in 0..1_000u64 {
            let mut e = entry(59, &format!("4QB{n:04}"), &format!("u{n}@burst.test"));
            e.reason = Some("x".repeat(700));
            e.duration_ms = n;
            entries.push(e);
        }
        let stored = Chunk::of(&entries).store_entries(Duration::from_secs(86_400));
        assert!(stored.len() >= 6, "{} store entries", stored.len());
        let mut lines = 0;
        for pair in stored.chunks(2) {
            let (
                Entry::Record { data, at, .. },
                Entry::Record {
                    data: keys,
                    at: index_at,
                    ..
                },
            ) = (&pair[0], &pair[1])
            else {
                panic!("a record and its index");
            };
            assert!(data.len() < MAX_CHUNK_BYTES + 2_000, "{} bytes", data.len());
            let count = data
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(keys.len(), count * KEYS_LEN);
            assert_eq!(at, index_at);
            lines += count;
        }
        assert_eq!(lines, 1_000);
        store.import(&stored).await.expect("import");
        assert_eq!(search(&store, Some("4QB0000"), None).await, vec![0]);
        assert_eq!(search(&store, Some("4QB0999"), None).await, vec![999]);
        assert_eq!(
            search(&store, None, Some("U500@burst.TEST")).await,
            vec![500]
        );
        assert_eq!(
            search_some(&store, None, Some("@burst.test"), 3).await,
            vec![999, 998, 997]
        );
    }
}
