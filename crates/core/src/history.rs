//! History: one entry per message kanmon decided about, in the store's `history` stream,
//! so `kanmon history` and the dashboard can answer "what happened to the mail from X?"
//! on any MX host sharing the store.
//!
//! Entries are written by the [`crate::stats::Counter`], batched with the counters (never
//! while a message waits). The stream is a ring: each write trims it to the newest
//! `[stats] history_size` entries (`Store::trim_records`), and an entry also expires after
//! `[stats] history_retention_days`. Searches read backwards from now in windows that
//! double, so a search for the latest few reads little and none reads more than the ring.

use std::net::IpAddr;
use std::time::Duration;

use kanmon_store::{Store, StoreError, Timestamp};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::verdict::{Action, Verdict};

/// The store stream the entries are appended to.
pub const STREAM: &str = "history";

/// The first window a search reads back from now; each next one is twice as long.
const FIRST_WINDOW_SECS: u64 = 3_600;

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
