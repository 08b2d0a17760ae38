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
//! Counting never holds up a message: the store call runs on its own task, and a store that
//! is down costs a log line (at most one a minute) and the lost counts, nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kanmon_store::Store;

use crate::check::Mode;
use crate::verdict::Verdict;

/// How long hourly counters are kept: a quarter of a year, long enough to compare this
/// month with the last.
pub const RETENTION: Duration = Duration::from_secs(92 * 86_400);

/// Shortest time between two warnings about counts the store did not take.
const WARN_EVERY_SECS: u64 = 60;

/// The counter names one verdict adds to.
pub fn counter_names(verdict: &Verdict) -> Vec<String> {
    let mut names = Vec::with_capacity(2 + verdict.hits.len() + verdict.enforcements.len());
    names.push("messages".to_owned());
    names.push(format!("action:{}", verdict.action.as_str()));
    names.extend(
        verdict
            .hits
            .iter()
            .map(|hit| format!("symbol:{}", hit.name)),
    );
    names.extend(
        verdict
            .enforcements
            .iter()
            .filter(|e| e.mode == Mode::Tag)
            .map(|e| format!("would_enforce:{}", e.check.as_str())),
    );
    names
}

/// Counts verdicts into a store; cheap to clone (clones share the warning state).
#[derive(Clone)]
pub struct Counter {
    store: Store,
    health: Arc<Health>,
}

/// Counts the store did not take since the last warning, and when that was.
#[derive(Default)]
struct Health {
    lost: AtomicU64,
    last_warning: AtomicU64,
}

impl Counter {
    pub fn new(store: Store) -> Counter {
        Counter {
            store,
            health: Arc::default(),
        }
    }

    /// Adds `verdict` to the counters of the current hour, on a task of its own. Needs a
    /// tokio runtime (every scan runs on one).
    pub fn count(&self, verdict: &Verdict) {
        let names = counter_names(verdict);
        let store = self.store.clone();
        let health = Arc::clone(&self.health);
        tokio::spawn(async move {
            let deltas: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 1)).collect();
            match store.stats_add(&deltas, RETENTION).await {
                Ok(()) => {
                    let lost = health.lost.swap(0, Ordering::Relaxed);
                    if lost > 0 {
                        tracing::info!(lost, "store: counting messages again");
                    }
                }
                Err(e) => health.lost_one(&store, &e),
            }
        });
    }
}

impl Health {
    fn lost_one(&self, store: &Store, error: &kanmon_store::StoreError) {
        let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        let now = store.clock().now();
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
    use kanmon_store::{Clock, STAT_BUCKET_SECS};

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
    async fn counts_land_in_the_current_hour() {
        let at = 1_800_000_000 - 1_800_000_000 % STAT_BUCKET_SECS;
        let store = Store::memory_with_clock(Clock::manual(at + 5));
        let counter = Counter::new(store.clone());
        counter.count(&verdict());
        counter.count(&verdict());
        let mut counts = Vec::new();
        for _ in 0..100 {
            counts = store.stats_read(at, at).await.unwrap();
            if counts.iter().any(|c| c.name == "messages" && c.value == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let value = |name: &str| counts.iter().find(|c| c.name == name).map(|c| c.value);
        assert_eq!(value("messages"), Some(2));
        assert_eq!(value("action:add_header"), Some(2));
        assert_eq!(value("symbol:DMARC_REJECT"), Some(2));
        assert_eq!(value("would_enforce:spf"), Some(2));
        assert_eq!(value("would_enforce:dmarc"), None);
    }
}
