//! Per-hour counters of what the engine decided, kept in the store, so several MX hosts
//! sharing one Redis see one picture (the report and the dashboard read them back).
//!
//! One message adds, in one batched store call:
//! * `messages`;
//! * `action:<action>` (`action:reject`, `action:add_header`, …);
//! * `symbol:<NAME>` for each symbol that fired;
//! * `would_enforce:<check>` for a check in `tag` mode that would have refused the message,
//!   so an admin can see what enforcing it would do before switching.
//!
//! The names are bounded: actions, declared symbols and checks are fixed lists.
//!
//! Counting never holds up a message and costs the store one write per
//! [`FLUSH_INTERVAL`], not one per message: counts gather in memory and
//! [`Counter::flush`] writes them (the daemon calls it on a timer and at shutdown; a
//! new hour flushes the last one's counts into their own bucket). A store that is down
//! costs those counts and a log line (at most one a minute), nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kanmon_store::{STAT_BUCKET_SECS, Store, Timestamp};

use crate::check::Mode;
use crate::verdict::Verdict;

/// How long hourly counters are kept: a quarter of a year, long enough to compare this
/// month with the last.
pub const RETENTION: Duration = Duration::from_secs(92 * 86_400);

/// How often the daemon writes the counts gathered in memory: fresh enough for a dashboard
/// fed by several MX hosts, and one store write where there were hundreds of messages.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// Shortest time between two warnings about counts the store did not take.
const WARN_EVERY_SECS: u64 = 60;

/// One counter, by its parts: formatted (`action:reject`) only when written, so counting a
/// message allocates nothing per symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Name {
    Messages,
    Action(&'static str),
    Symbol(&'static str),
    WouldEnforce(&'static str),
}

impl Name {
    fn text(self) -> String {
        match self {
            Name::Messages => "messages".to_owned(),
            Name::Action(action) => format!("action:{action}"),
            Name::Symbol(symbol) => format!("symbol:{symbol}"),
            Name::WouldEnforce(check) => format!("would_enforce:{check}"),
        }
    }
}

/// The counters one verdict adds to.
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

/// The counter names one verdict adds to.
pub fn counter_names(verdict: &Verdict) -> Vec<String> {
    counters(verdict).map(Name::text).collect()
}

/// Counts verdicts into a store; clones share the counts not yet written.
#[derive(Clone)]
pub struct Counter {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    pending: Mutex<Pending>,
    lost: AtomicU64,
    last_warning: AtomicU64,
}

/// Counts of one hour not yet written.
#[derive(Default)]
struct Pending {
    hour: Timestamp,
    counts: HashMap<Name, i64>,
}

impl Counter {
    pub fn new(store: Store) -> Counter {
        Counter {
            inner: Arc::new(Inner {
                store,
                pending: Mutex::default(),
                lost: AtomicU64::new(0),
                last_warning: AtomicU64::new(0),
            }),
        }
    }

    /// Adds `verdict` to the counts of the current hour, in memory. The first count of a
    /// new hour sends the last hour's counts to the store on a task of its own (so it needs
    /// a tokio runtime, as every scan has).
    pub fn count(&self, verdict: &Verdict) {
        let now = self.inner.store.clock().now();
        let hour = now - now % STAT_BUCKET_SECS;
        let previous = {
            let mut pending = self.pending();
            let previous = (pending.hour != hour && !pending.counts.is_empty())
                .then(|| std::mem::take(&mut *pending));
            pending.hour = hour;
            for name in counters(verdict) {
                *pending.counts.entry(name).or_insert(0) += 1;
            }
            previous
        };
        if let Some(previous) = previous {
            let inner = Arc::clone(&self.inner);
            tokio::spawn(async move { inner.write(previous).await });
        }
    }

    /// Writes the counts gathered so far; what the store does not take is lost and logged.
    pub async fn flush(&self) {
        let pending = std::mem::take(&mut *self.pending());
        if !pending.counts.is_empty() {
            self.inner.write(pending).await;
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    async fn write(&self, pending: Pending) {
        let names: Vec<(String, i64)> = pending
            .counts
            .iter()
            .map(|(name, value)| (name.text(), *value))
            .collect();
        let deltas: Vec<(&str, i64)> = names.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        match self
            .store
            .stats_add_at(pending.hour, &deltas, RETENTION)
            .await
        {
            Ok(()) => {
                let lost = self.lost.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    tracing::info!(lost, "store: counting messages again");
                }
            }
            Err(e) => {
                let messages = pending.counts.get(&Name::Messages).copied().unwrap_or(0);
                self.lost_some(u64::try_from(messages).unwrap_or(0), &e);
            }
        }
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
        counter.count(&verdict());
        counter.count(&verdict());
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
        counter.count(&verdict());
        clock.advance(STAT_BUCKET_SECS);
        counter.count(&verdict());
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
