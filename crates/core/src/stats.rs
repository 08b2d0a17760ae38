//! Per-hour counters of what the engine decided, kept in the store, so several MX hosts
//! sharing one Redis see one picture (the report and the dashboard read them back), and
//! the history of each message ([`crate::history`]).
//!
//! One message adds, in one batched store call:
//! * `messages`;
//! * `action:<action>` (`action:reject`, `action:add_header`, …);
//! * `symbol:<NAME>` for each symbol that fired;
//! * `would_enforce:<check>` for a check in `tag` mode that would have refused the message,
//!   so an admin can see what enforcing it would do before switching;
//! * `zone:<zone>` once per DNS list (`[[dnsbl]]`, `[[rhsbl]]`, `[[uribl]]`) that listed
//!   something of the message (its "query refused" symbol does not count);
//! * `rule:<NAME>` for each `[[rules]]` entry that matched, and `rule:<file>:<line>` for
//!   each Postfix `header_checks`/`body_checks` entry;
//! * for mail that was not accepted as it is (tagged or refused) and not our own,
//!   `sender_domain:<domain>` (the MAIL FROM domain, `<>` for bounces) and
//!   `client_net:<network>` (the client's /24 or /64), bounded per hour ([`top`]).
//!
//! The names are bounded: actions, symbols, checks, lists and rules come from fixed lists
//! and the configuration; domains and networks by `[stats] top_n`.
//!
//! Counting never holds up a message and costs the store one write per
//! [`FLUSH_INTERVAL`], not one per message: counts and history entries gather in memory
//! and [`Counter::flush`] writes them (the daemon calls it on a timer and at shutdown; a
//! new hour flushes the last one's counts into their own bucket). A store that is down
//! costs those counts and a log line (at most one a minute), nothing else.

mod kept;
mod summary;
mod top;

pub use summary::{Count, Summary, UTC_DAY_SECS, parse_day, parse_since, utc_date};

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kanmon_store::{Entry, STAT_BUCKET_SECS, Store, Timestamp};

use crate::check::Mode;
use crate::config::Config;
use crate::envelope::Envelope;
use crate::history;
use crate::symbol::intern;
use crate::verdict::{Action, Verdict};
use kept::KeptMessages;
pub use kept::MAX_KEPT_BYTES;
use top::Top;

/// How long hourly counters are kept by default: a quarter of a year, long enough to
/// compare this month with the last (`[stats] retention_days`).
pub const RETENTION: Duration = Duration::from_secs(92 * 86_400);

/// How often the daemon writes the counts gathered in memory: fresh enough for a dashboard
/// fed by several MX hosts, and one store write where there were hundreds of messages.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// History entries waiting for a flush, at most: a store that is slow for a long while
/// costs entries past this, not memory.
const MAX_PENDING_HISTORY: usize = 20_000;

/// Shortest time between two trims of the history ring: the ring may hold this much mail
/// more than `history_size` for a while, and a trim's reads are made once per interval
/// rather than once per flush.
const TRIM_EVERY_SECS: u64 = 10;

/// A trim reads the ring's index (12 bytes an entry), so a larger ring is trimmed less
/// often: one second more between trims per this many entries of `history_size`.
const RING_ENTRIES_PER_EXTRA_TRIM_SEC: usize = 10_000;

/// A process that records one message and exits (`kanmon filter`, `kanmon deliver`) trims
/// the ring after one write in this many, by chance: a trim reads about the ring's index
/// (2 ms for 10,000 entries written one by one), more than the rest of its recording, and
/// the ring then holds this many entries more on average.
const ONE_MESSAGE_TRIM_ODDS: u32 = 16;

/// Shortest time between two warnings about counts the store did not take.
const WARN_EVERY_SECS: u64 = 60;

/// The symbols of Postfix table entries; their evidence names the entries as `file:line`.
const TABLE_SYMBOLS: &[&str] = &[
    "HEADER_CHECKS",
    "HEADER_CHECKS_WARN",
    "BODY_CHECKS",
    "BODY_CHECKS_WARN",
];

/// One counter, by its parts: formatted (`action:reject`) only when written, so counting a
/// message allocates nothing per symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Name {
    Messages,
    Action(&'static str),
    Symbol(&'static str),
    WouldEnforce(&'static str),
    Zone(&'static str),
    Rule(&'static str),
}

impl Name {
    fn text(self) -> String {
        match self {
            Name::Messages => "messages".to_owned(),
            Name::Action(action) => format!("action:{action}"),
            Name::Symbol(symbol) => format!("symbol:{symbol}"),
            Name::WouldEnforce(check) => format!("would_enforce:{check}"),
            Name::Zone(zone) => format!("zone:{zone}"),
            Name::Rule(rule) => format!("rule:{rule}"),
        }
    }
}

/// The counters one verdict adds to, without what needs the configuration.
fn counters(verdict: &Verdict) -> impl Iterator<Item = Name> + '_ {
    [Name::Messages, Name::Action(verdict.action.as_str())]
        .into_iter()
        .chain(verdict.hits.iter().map(|hit| Name::Symbol(hit.name)))
        .chain(
            verdict
                .enforcements
                .iter()
                .filter(|e| e.mode == Mode::Tag)
                .map(|e| Name::WouldEnforce(e.check.as_str())),
        )
}

/// The lists and rules behind a verdict's hits, by the configuration that made them.
fn lists_and_rules(config: &Config, verdict: &Verdict) -> Vec<Name> {
    let mut names = Vec::new();
    let rbl = &config.rbl;
    for hit in &verdict.hits {
        let listed_by = rbl
            .dnsbl
            .iter()
            .chain(&rbl.rhsbl)
            .chain(&rbl.uribl)
            .find(|list| {
                list.symbol == Some(hit.name) || list.codes.iter().any(|c| c.symbol == hit.name)
            });
        if let Some(list) = listed_by {
            let zone = Name::Zone(intern(&list.zone));
            if !names.contains(&zone) {
                names.push(zone);
            }
            continue;
        }
        let is_rule = config
            .content
            .groups
            .iter()
            .any(|group| group.rules.iter().any(|rule| rule.symbol == hit.name));
        if is_rule {
            names.push(Name::Rule(hit.name));
        } else if TABLE_SYMBOLS.contains(&hit.name) {
            for table in &config.content.tables {
                for entry in table_entries(&hit.reason, &table.path) {
                    let rule = Name::Rule(intern(&entry));
                    if !names.contains(&rule) {
                        names.push(rule);
                    }
                }
            }
        }
    }
    names
}

/// The `file:line` of each entry of the table at `path` that the evidence names (pieces
/// `path:line /pattern/ WORD …` joined by `; `).
fn table_entries(evidence: &str, path: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut rest = evidence;
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        let starts_piece = at == 0 || rest[..at].ends_with("; ");
        if starts_piece && let Some(tail) = after.strip_prefix(':') {
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && tail[digits..].starts_with(' ') {
                entries.push(format!("{path}:{}", &tail[..digits]));
            }
        }
        rest = after;
    }
    entries
}

/// The sender domain a report names: the MAIL FROM domain, `<>` for a bounce.
fn sender_domain(envelope: &Envelope) -> Option<String> {
    match envelope.mail_from.as_deref() {
        Some("") => Some("<>".to_owned()),
        _ => envelope.mail_from_domain(),
    }
}

/// The client's network as a report names it: its /24, or its /64 for IPv6.
pub fn client_network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            format!("{}/64", std::net::Ipv6Addr::from(segments))
        }
    }
}

/// The counter names one verdict adds to (without the configuration's lists and rules, and
/// the bounded domain and network names).
pub fn counter_names(verdict: &Verdict) -> Vec<String> {
    counters(verdict).map(Name::text).collect()
}

/// Counts verdicts into a store and keeps their history; clones share what is not yet
/// written.
#[derive(Clone)]
pub struct Counter {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Whether anything is recorded: only the daemon's and the mail filters' engines
    /// record, not a `kanmon check` that explains one message.
    enabled: bool,
    /// Whether this process records one message and exits ([`ONE_MESSAGE_TRIM_ODDS`]).
    one_message: bool,
    pending: Mutex<Pending>,
    lost: AtomicU64,
    last_warning: AtomicU64,
    last_trim: AtomicU64,
    /// History entries not kept because too many waited for a slow store (counted, said
    /// in the log after the next write).
    dropped_history: AtomicU64,
    /// The latest messages, for learning from the dashboard (`[stats] history_learnable`).
    kept: Mutex<KeptMessages>,
}

/// What one hour gathered and has not written.
#[derive(Default)]
struct Pending {
    hour: Timestamp,
    counts: HashMap<Name, i64>,
    senders: Top,
    networks: Top,
    history: history::Chunk,
    /// From the configuration of the latest message.
    retention: Duration,
    top_n: usize,
    /// The history ring's size and retention.
    history_bounds: history::Bounds,
}

/// One store write's worth.
struct Batch {
    hour: Timestamp,
    messages: i64,
    deltas: Vec<(String, i64)>,
    retention: Duration,
    history: history::Chunk,
    history_bounds: history::Bounds,
}

impl Pending {
    /// The counts to write now; the hour's domain and network tables stay.
    fn take(&mut self) -> Batch {
        let counts = std::mem::take(&mut self.counts);
        let messages = counts.get(&Name::Messages).copied().unwrap_or(0);
        let mut deltas: Vec<(String, i64)> = counts
            .into_iter()
            .map(|(name, value)| (name.text(), value))
            .collect();
        for (kind, top) in [
            ("sender_domain", &mut self.senders),
            ("client_net", &mut self.networks),
        ] {
            for (name, delta) in top.take(self.top_n) {
                let name = name.as_deref().unwrap_or("other");
                deltas.push((format!("{kind}:{name}"), delta));
            }
        }
        Batch {
            hour: self.hour,
            messages,
            deltas,
            retention: self.retention,
            history: std::mem::take(&mut self.history),
            history_bounds: self.history_bounds,
        }
    }
}

impl Counter {
    /// A counter that records into `store`.
    pub fn new(store: Store) -> Counter {
        Counter::with_recording(store, true, false)
    }

    /// A counter for a process that records one message and exits (`kanmon filter`,
    /// `kanmon deliver`): as [`Counter::new`], trimming the history ring now and then
    /// rather than at every run ([`ONE_MESSAGE_TRIM_ODDS`]).
    pub fn one_message(store: Store) -> Counter {
        Counter::with_recording(store, true, true)
    }

    /// A counter that records nothing: for an engine whose scans are not mail going
    /// through (`kanmon check`, tests).
    pub fn disabled(store: Store) -> Counter {
        Counter::with_recording(store, false, false)
    }

    fn with_recording(store: Store, enabled: bool, one_message: bool) -> Counter {
        Counter {
            inner: Arc::new(Inner {
                store,
                enabled,
                one_message,
                pending: Mutex::default(),
                lost: AtomicU64::new(0),
                last_warning: AtomicU64::new(0),
                last_trim: AtomicU64::new(0),
                dropped_history: AtomicU64::new(0),
                kept: Mutex::default(),
            }),
        }
    }

    /// Adds `verdict` to the counts of the current hour, in memory, with the settings and
    /// lists of `config`, and its history entry (`subject` is kept only when `[stats]
    /// history_subjects` is on; the `raw` message only with `history_learnable`, for
    /// [`Counter::kept_message`]). The first count of a new hour sends the last hour's
    /// counts to the store on a task of its own (so it needs a tokio runtime, as every
    /// scan has).
    pub fn record(
        &self,
        config: &Config,
        envelope: &Envelope,
        verdict: &Verdict,
        elapsed: Duration,
        subject: Option<String>,
        raw: Option<&[u8]>,
    ) {
        if !self.inner.enabled {
            return;
        }
        let stats = &config.stats;
        let now = self.inner.store.clock().now();
        self.keep_message(config, envelope, verdict, now, raw);
        let hour = now - now % STAT_BUCKET_SECS;
        let named = lists_and_rules(config, verdict);
        let judged = verdict.action != Action::Accept && !verdict.internal;
        let sender = judged.then(|| sender_domain(envelope)).flatten();
        let network = judged
            .then_some(envelope.client_ip)
            .flatten()
            .map(client_network);
        let subject = subject.filter(|_| stats.history_subjects);
        let previous = {
            let mut pending = self.pending();
            let previous =
                (pending.hour != hour && !pending.counts.is_empty()).then(|| pending.take());
            if pending.hour != hour {
                *pending = Pending::default();
                pending.hour = hour;
            }
            pending.retention = stats.retention;
            pending.top_n = stats.top_n;
            pending.history_bounds = history::Bounds {
                retention: stats.history_retention,
                size: stats.history_size,
            };
            for name in counters(verdict).chain(named) {
                *pending.counts.entry(name).or_insert(0) += 1;
            }
            if let Some(sender) = sender {
                pending.senders.add(&sender, stats.top_n);
            }
            if let Some(network) = network {
                pending.networks.add(&network, stats.top_n);
            }
            if stats.history_size > 0 {
                if pending.history.len() < MAX_PENDING_HISTORY {
                    let message = (envelope, verdict);
                    pending
                        .history
                        .push_message(now, message, elapsed, subject.as_deref());
                } else {
                    self.inner.dropped_history.fetch_add(1, Ordering::Relaxed);
                }
            }
            previous
        };
        if let Some(previous) = previous {
            let inner = Arc::clone(&self.inner);
            tokio::spawn(async move { inner.write(previous).await });
        }
    }

    /// Keeps the message for learning from the dashboard, when `[stats] history_learnable`
    /// asks and it has a history entry to be found by (a queue id; not our own mail,
    /// which Bayes does not judge).
    fn keep_message(
        &self,
        config: &Config,
        envelope: &Envelope,
        verdict: &Verdict,
        now: Timestamp,
        raw: Option<&[u8]>,
    ) {
        let count = config
            .stats
            .history_learnable
            .min(config.stats.history_size);
        if count == 0 {
            let mut kept = self.kept();
            if !kept.is_empty() {
                kept.shrink_to(0);
            }
            return;
        }
        if let (Some(raw), Some(queue_id), false) =
            (raw, envelope.queue_id.as_deref(), verdict.internal)
            && raw.len() <= MAX_KEPT_BYTES
        {
            // Copied before the lock: other scans record meanwhile.
            let raw = Arc::from(raw);
            self.kept().keep(now, queue_id, raw, count);
        }
    }

    /// The message of history entry (`time`, `queue_id`), while it is kept
    /// (`[stats] history_learnable`).
    pub fn kept_message(&self, time: Timestamp, queue_id: &str) -> Option<Arc<[u8]>> {
        self.kept().get(time, queue_id)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, KeptMessages> {
        self.inner.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the counts and history gathered so far; what the store does not take is
    /// lost and logged.
    pub async fn flush(&self) {
        let batch = self.pending().take();
        if !batch.deltas.is_empty() || !batch.history.is_empty() {
            self.inner.write(batch).await;
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    async fn write(&self, batch: Batch) {
        let deltas: Vec<(&str, i64)> = batch.deltas.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let counted = if deltas.is_empty() {
            Ok(())
        } else {
            self.store
                .stats_add_at(batch.hour, &deltas, batch.retention)
                .await
        };
        let written = match counted {
            Ok(()) if batch.history.is_empty() => Ok(()),
            Ok(()) => {
                let bounds = batch.history_bounds;
                let entries = batch.history.store_entries(bounds.retention);
                self.write_history(&entries, bounds).await
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                let lost = self.lost.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    tracing::info!(lost, "store: counting messages again");
                }
                let dropped = self.dropped_history.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    tracing::warn!(
                        dropped,
                        "store: history entries dropped while the store was slow; their counts are kept and mail is not affected"
                    );
                }
            }
            Err(e) => {
                let messages = batch.messages.max(0).unsigned_abs();
                self.lost_some(messages, &e);
            }
        }
    }
    /// Appends a chunk of history and, every [`TRIM_EVERY_SECS`] or so, trims the stream
    /// to the newest `size` entries: a ring, so a search reads at most `size` entries
    /// whatever the mail's rate.
    async fn write_history(
        &self,
        entries: &[Entry],
        bounds: history::Bounds,
    ) -> Result<(), kanmon_store::StoreError> {
        let size = bounds.size;
        self.store.import(entries).await?;
        let now = self.store.clock().now();
        let every = TRIM_EVERY_SECS.saturating_add(
            u64::try_from(size / RING_ENTRIES_PER_EXTRA_TRIM_SEC).unwrap_or(u64::MAX),
        );
        let last = self.last_trim.load(Ordering::Relaxed);
        if self.trims_now()
            && now.saturating_sub(last) >= every
            && self
                .last_trim
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            history::trim(&self.store, bounds).await?;
        }
        Ok(())
    }

    /// False for most writes of a one-message process ([`ONE_MESSAGE_TRIM_ODDS`]); the
    /// clock's nanoseconds are the draw.
    fn trims_now(&self) -> bool {
        !self.one_message
            || std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .is_ok_and(|now| now.subsec_nanos() % ONE_MESSAGE_TRIM_ODDS == 0)
    }

    fn lost_some(&self, messages: u64, error: &kanmon_store::StoreError) {
        let lost = self.lost.fetch_add(messages, Ordering::Relaxed) + messages;
        let now = self.store.clock().now();
        let last = self.last_warning.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY_SECS;
        if due
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = %error,
                lost,
                "store: message counts not recorded; mail is not affected"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckName;
    use crate::symbol::ScoredHit;
    use crate::verdict::{Action, Enforcement};

    use kanmon_store::Clock;

    fn hit(name: &'static str, reason: &str) -> ScoredHit {
        ScoredHit {
            name,
            score: 1.0,
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn lists_count_once_per_message_and_rules_by_name() {
        let config = Config::parse(
            "[[rules]]\nname = \"CHEAP_PILLS\"\non = \"body\"\npattern = \"pills\"\nscore = 2.0\n",
        )
        .expect("valid config");
        let mut listed = verdict();
        listed.hits = vec![
            hit("RCVD_IN_SBL", ""),
            hit("RCVD_IN_XBL", ""),
            hit("RCVD_IN_ZEN_BLOCKED", ""),
            hit("RCVD_IN_BL_SPAMCOP_NET", ""),
            hit("CHEAP_PILLS", ""),
        ];
        let names: Vec<String> = lists_and_rules(&config, &listed)
            .into_iter()
            .map(Name::text)
            .collect();
        assert_eq!(
            names,
            [
                "zone:zen.spamhaus.org",
                "zone:bl.spamcop.net",
                "rule:CHEAP_PILLS"
            ]
        );
    }

    #[test]
    fn table_entries_are_read_from_the_evidence() {
        let evidence = "/etc/postfix/header_checks:12 /^Subject: win/ REJECT: Subject: win; \
                        /etc/postfix/header_checks:3 /^X-Mailer:/ WARN";
        assert_eq!(
            table_entries(evidence, "/etc/postfix/header_checks"),
            [
                "/etc/postfix/header_checks:12",
                "/etc/postfix/header_checks:3"
            ]
        );
        assert!(
            table_entries(
                "/etc/postfix/header_checks:x /a/ WARN",
                "/etc/postfix/header_checks"
            )
            .is_empty()
        );
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(
            client_network("203.0.113.77".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            client_network("::ffff:198.51.100.9".parse().unwrap()),
            "198.51.100.0/24"
        );
        assert_eq!(
            client_network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }

    #[tokio::test]
    async fn tagged_mail_names_its_sender_and_network_and_leaves_history() {
        let store = Store::memory_with_clock(Clock::manual(1_800_000_000));
        let counter = Counter::new(store.clone());
        let config =
            Config::parse("[stats]\ntop_n = 5\nhistory_subjects = true\n").expect("valid config");
        let envelope = Envelope {
            client_ip: Some("203.0.113.7".parse().unwrap()),
            mail_from: Some("bob@spam.example".to_owned()),
            rcpt_to: vec!["alice@ours.example".to_owned()],
            queue_id: Some("4ABC".to_owned()),
            ..Envelope::default()
        };
        for _ in 0..3 {
            counter.record(
                &config,
                &envelope,
                &verdict(),
                Duration::from_millis(12),
                Some("hi".to_owned()),
                None,
            );
        }
        let mut accepted = verdict();
        accepted.action = Action::Accept;
        counter.record(&config, &envelope, &accepted, Duration::ZERO, None, None);
        counter.flush().await;
        let counts = store
            .stats_read(0, u64::MAX - STAT_BUCKET_SECS)
            .await
            .unwrap();
        let value = |name: &str| {
            counts
                .iter()
                .filter(|c| c.name == name)
                .map(|c| c.value)
                .sum::<i64>()
        };
        assert_eq!(value("messages"), 4);
        assert_eq!(value("sender_domain:spam.example"), 3);
        assert_eq!(value("sender_domain:other"), 0);
        assert_eq!(value("client_net:203.0.113.0/24"), 3);
        let found = history::recent(
            &store,
            10,
            &history::Filter {
                queue_id: Some("4ABC".to_owned()),
                from: None,
            },
            history::Bounds {
                retention: config.stats.history_retention,
                size: 100,
            },
        )
        .await
        .unwrap();
        assert_eq!(found.len(), 4);
        assert_eq!(found[0].action, Action::Accept, "newest first");
        assert_eq!(found[1].subject.as_deref(), Some("hi"));
        assert_eq!(found[1].duration_ms, 12);
        assert_eq!(found[1].symbols.len(), 2);
    }

    /// The ring keeps the chunks holding the newest `history_size` entries, their index
    /// with them, whichever process recorded them; searches find what is in it.
    #[tokio::test]
    async fn the_history_ring_keeps_the_newest_entries() {
        const START: u64 = 1_800_000_000;
        let clock = Clock::manual(START);
        let store = Store::memory_with_clock(clock.clone());
        let counter = Counter::new(store.clone());
        let config = Config::parse("[stats]\nhistory_size = 5\n").expect("valid config");
        let sender = |i: u64| format!("s{i}@d{}.example", i % 2);
        let record = |counter: &Counter, i: u64| {
            let envelope = Envelope {
                mail_from: Some(sender(i)),
                queue_id: Some(format!("Q{i}")),
                ..Envelope::default()
            };
            counter.record(&config, &envelope, &verdict(), Duration::ZERO, None, None);
        };
        for i in 0..12u64 {
            record(&counter, i);
            counter.flush().await;
            clock.advance(1_200);
        }
        let stream_times = |stream: &'static str| {
            let store = store.clone();
            async move {
                store
                    .records(stream, 0, u64::MAX - 1)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.at - START) / 1_200)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(stream_times(history::STREAM).await, [7, 8, 9, 10, 11]);
        assert_eq!(stream_times(history::INDEX_STREAM).await, [7, 8, 9, 10, 11]);

        let bounds = history::Bounds {
            retention: config.stats.history_retention,
            size: 5,
        };
        let search = |queue_id: Option<&str>, from: Option<&str>| {
            let filter = history::Filter {
                queue_id: queue_id.map(str::to_owned),
                from: from.map(str::to_owned),
            };
            let store = store.clone();
            async move {
                history::recent(&store, 10, &filter, bounds)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.queue_id.unwrap_or_default())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(search(Some("Q9"), None).await, ["Q9"]);
        assert!(search(Some("Q3"), None).await.is_empty());
        assert_eq!(search(None, Some("@d0.example")).await, ["Q10", "Q8"]);
        assert_eq!(search(None, Some("S7@D1.example")).await, ["Q7"]);

        // Three messages in one flush are one chunk; the ring keeps whole chunks.
        for i in 12..15u64 {
            record(&counter, i);
        }
        counter.flush().await;
        clock.advance(1_200);
        assert_eq!(stream_times(history::STREAM).await, [10, 11, 12]);
        assert_eq!(
            search(None, None).await,
            ["Q14", "Q13", "Q12", "Q11", "Q10"]
        );

        // A process that records one message (`kanmon filter`) trims by the whole ring,
        // not by its own entries.
        let other = Counter::new(store.clone());
        record(&other, 15);
        other.flush().await;
        assert_eq!(stream_times(history::STREAM).await, [11, 12, 13]);
        assert_eq!(stream_times(history::INDEX_STREAM).await, [11, 12, 13]);
        assert_eq!(
            search(None, None).await,
            ["Q15", "Q14", "Q13", "Q12", "Q11"]
        );
    }

    /// Processes that record one message each (`kanmon filter`) trim the ring now and then
    /// between them, never below `history_size`.
    #[tokio::test]
    async fn one_message_processes_trim_the_ring_now_and_then() {
        let clock = Clock::manual(1_800_000_000);
        let store = Store::memory_with_clock(clock.clone());
        let config = Config::parse("[stats]\nhistory_size = 5\n").expect("valid config");
        for i in 0..400 {
            let counter = Counter::one_message(store.clone());
            let envelope = Envelope {
                queue_id: Some(format!("Q{i}")),
                ..Envelope::default()
            };
            counter.record(&config, &envelope, &verdict(), Duration::ZERO, None, None);
            counter.flush().await;
            clock.advance(1);
        }
        let kept = store
            .records(history::STREAM, 0, u64::MAX - 1)
            .await
            .unwrap()
            .len();
        // Left untrimmed, all 400 would stay; a trim keeps the newest 5. The chance that
        // none of 400 runs drew a trim is (15/16)^400, about 6e-12.
        assert!((5..400).contains(&kept), "{kept} chunks kept");
    }

    /// A store too slow to take the history costs entries past the bound, counted (and
    /// said in the log at the next write), never memory.
    #[tokio::test]
    async fn history_past_the_pending_bound_is_counted_as_dropped() {
        let store = Store::memory_with_clock(Clock::manual(1_800_000_000));
        let counter = Counter::new(store.clone());
        let config = Config::default();
        for i in 0..20_100 {
            let envelope = Envelope {
                mail_from: Some("bulk@example.net".to_owned()),
                queue_id: Some(format!("Q{i}")),
                ..Envelope::default()
            };
            counter.record(&config, &envelope, &verdict(), Duration::ZERO, None, None);
        }
        assert_eq!(counter.inner.dropped_history.load(Ordering::Relaxed), 100);
        counter.flush().await;
        assert_eq!(counter.inner.dropped_history.load(Ordering::Relaxed), 0);
        let written = store
            .records(history::STREAM, 0, u64::MAX - 1)
            .await
            .unwrap();
        let lines: usize = written
            .iter()
            .map(|r| {
                r.data
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count()
            })
            .sum();
        assert_eq!(lines, 20_000);
    }

    /// The entry recorded from a message's envelope and verdict is, byte for byte and
    /// key for key, the [`HistoryEntry`] that searches decode.
    #[test]
    fn a_message_is_recorded_as_its_history_entry() {
        let envelope = Envelope {
            client_ip: Some("2001:db8::25".parse().unwrap()),
            client_name: crate::ReverseName::Name("mx.client.test".to_owned()),
            helo: Some("mx.client.test".to_owned()),
            mail_from: Some("\"odd \\\" one\"@Example.NET".to_owned()),
            rcpt_to: vec!["a@ours.test".to_owned(), "b@ours.test".to_owned()],
            queue_id: Some("4QXYZ".to_owned()),
            ..Envelope::default()
        };
        let mut verdict = verdict();
        verdict.reason = Some("score 7.0 \u{2265} 6.0".to_owned());
        verdict.hits[0].reason = "tab\tand \"quotes\"".to_owned();
        let elapsed = Duration::from_millis(41);
        for subject in [None, Some("Gr\u{fc}\u{df}e\n")] {
            let mut recorded = history::Chunk::default();
            recorded.push_message(1_800_000_000, (&envelope, &verdict), elapsed, subject);
            let entry = history::HistoryEntry::new(
                1_800_000_000,
                &envelope,
                &verdict,
                elapsed,
                subject.map(str::to_owned),
            );
            let retention = Duration::from_secs(3_600);
            assert_eq!(
                recorded.store_entries(retention),
                history::Chunk::of([&entry]).store_entries(retention)
            );
        }
    }

    #[tokio::test]
    async fn a_disabled_counter_records_nothing() {
        let store = Store::memory();
        let counter = Counter::disabled(store.clone());
        counter.record(
            &Config::default(),
            &Envelope::default(),
            &verdict(),
            Duration::ZERO,
            None,
            None,
        );
        counter.flush().await;
        assert_eq!(store.summary().await.unwrap().stat_counters, 0);
        assert_eq!(store.summary().await.unwrap().records, 0);
    }

    fn verdict() -> Verdict {
        Verdict {
            action: Action::AddHeader,
            reason: None,
            score: 7.0,
            required: 6.0,
            hits: vec![
                ScoredHit {
                    name: "SPF_FAIL",
                    score: 1.0,
                    reason: String::new(),
                },
                ScoredHit {
                    name: "DMARC_REJECT",
                    score: 6.0,
                    reason: String::new(),
                },
            ],
            enforcements: vec![
                Enforcement {
                    check: CheckName::Spf,
                    action: Action::Reject,
                    reason: "SPF fail".to_owned(),
                    mode: Mode::Tag,
                },
                Enforcement {
                    check: CheckName::Dmarc,
                    action: Action::Reject,
                    reason: "DMARC".to_owned(),
                    mode: Mode::Enforce,
                },
            ],
            auth: Default::default(),
            headers: Vec::new(),
            forged_authentication_results: Vec::new(),
            skipped: Vec::new(),
            internal: false,
            autolearn: Default::default(),
            signing: None,
        }
    }

    #[test]
    fn a_verdict_counts_its_action_symbols_and_what_tag_mode_would_have_done() {
        assert_eq!(
            counter_names(&verdict()),
            [
                "messages",
                "action:add_header",
                "symbol:SPF_FAIL",
                "symbol:DMARC_REJECT",
                "would_enforce:spf"
            ]
        );
    }

    #[tokio::test]
    async fn counts_gather_in_memory_and_land_in_their_hour() {
        let hour = 1_800_000_000 - 1_800_000_000 % STAT_BUCKET_SECS;
        let clock = Clock::manual(hour + 5);
        let store = Store::memory_with_clock(clock.clone());
        let counter = Counter::new(store.clone());
        let count = |verdict: &Verdict| {
            counter.record(
                &Config::default(),
                &Envelope::default(),
                verdict,
                Duration::ZERO,
                None,
                None,
            )
        };
        count(&verdict());
        count(&verdict());
        assert_eq!(store.stats_read(hour, hour).await.unwrap(), vec![]);
        counter.flush().await;
        let counts = store.stats_read(hour, hour).await.unwrap();
        let value = |name: &str| counts.iter().find(|c| c.name == name).map(|c| c.value);
        assert_eq!(value("messages"), Some(2));
        assert_eq!(value("action:add_header"), Some(2));
        assert_eq!(value("symbol:DMARC_REJECT"), Some(2));
        assert_eq!(value("would_enforce:spf"), Some(2));
        assert_eq!(value("would_enforce:dmarc"), None);

        // One more in this hour, then the next hour begins: the first count there sends
        // this hour's to its own bucket.
        count(&verdict());
        clock.advance(STAT_BUCKET_SECS);
        count(&verdict());
        let next = hour + STAT_BUCKET_SECS;
        let mut messages = Vec::new();
        for _ in 0..100 {
            messages = store
                .stats_read(hour, next)
                .await
                .unwrap()
                .into_iter()
                .filter(|c| c.name == "messages")
                .map(|c| (c.bucket, c.value))
                .collect();
            if messages == [(hour, 3)] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(messages, [(hour, 3)]);
        counter.flush().await;
        let last: Vec<i64> = store
            .stats_read(next, next)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.name == "messages")
            .map(|c| c.value)
            .collect();
        assert_eq!(last, [1]);
    }
}
