//! `[stats]` validated: how long counters and history are kept, how much history, and how
//! many sender domains and client networks each hour names.

use std::time::Duration;

use super::error::ConfigErrors;
use super::raw::RawStats;

/// Longest any statistics may be kept: two years, past which nobody reads hourly counts.
pub const MAX_RETENTION_DAYS: u64 = 731;

/// Most history entries kept: enough for weeks of a busy site, few enough that a search
/// reads them in seconds.
pub const MAX_HISTORY_SIZE: usize = 1_000_000;

/// Most sender domains (and client networks) named per hour; past it the counters, shared
/// by every MX host, would grow with the spam's variety rather than with what an admin reads.
pub const MAX_TOP_N: usize = 1_000;

/// Most messages kept for learning from the dashboard's history.
pub const MAX_HISTORY_LEARNABLE: usize = 1_000;

/// What is recorded about the mail, for `kanmon report`, `kanmon history` and the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// How long an hour's counters are kept after it ends.
    pub retention: Duration,
    /// How long a history entry is kept.
    pub history_retention: Duration,
    /// History is a ring of the newest this many entries; 0 records no history.
    pub history_size: usize,
    /// Whether history entries keep the message's Subject.
    pub history_subjects: bool,
    /// The latest this many messages are kept, whole, in the daemon's memory (never on
    /// disk), so the dashboard's history can learn them as spam or ham; 0 keeps none.
    pub history_learnable: usize,
    /// Sender domains and client networks named per hour by each host; the rest are `other`.
    pub top_n: usize,
}

impl Default for Stats {
    fn default() -> Self {
        validate(&mut ConfigErrors::default(), &RawStats::default())
    }
}

const DAY: u64 = 86_400;

pub(super) fn validate(errors: &mut ConfigErrors, raw: &RawStats) -> Stats {
    for (key, days) in [
        ("stats.retention_days", raw.retention_days),
        ("stats.history_retention_days", raw.history_retention_days),
    ] {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            errors.push(
                key,
                format!("must be from 1 to {MAX_RETENTION_DAYS} days, not {days}"),
            );
        }
    }
    if raw.history_size > MAX_HISTORY_SIZE {
        errors.push(
            "stats.history_size",
            format!(
                "must be at most {MAX_HISTORY_SIZE}, not {}",
                raw.history_size
            ),
        );
    }
    if raw.history_learnable > MAX_HISTORY_LEARNABLE {
        errors.push(
            "stats.history_learnable",
            format!(
                "must be at most {MAX_HISTORY_LEARNABLE}, not {}",
                raw.history_learnable
            ),
        );
    }
    if raw.top_n > MAX_TOP_N {
        errors.push(
            "stats.top_n",
            format!("must be at most {MAX_TOP_N}, not {}", raw.top_n),
        );
    }
    Stats {
        retention: Duration::from_secs(raw.retention_days.clamp(1, MAX_RETENTION_DAYS) * DAY),
        history_retention: Duration::from_secs(
            raw.history_retention_days.clamp(1, MAX_RETENTION_DAYS) * DAY,
        ),
        history_size: raw.history_size.min(MAX_HISTORY_SIZE),
        history_subjects: raw.history_subjects,
        history_learnable: raw.history_learnable.min(MAX_HISTORY_LEARNABLE),
        top_n: raw.top_n.min(MAX_TOP_N),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_name_their_key() {
        let raw = RawStats {
            retention_days: 0,
            history_retention_days: 5_000,
            history_size: MAX_HISTORY_SIZE + 1,
            history_subjects: false,
            history_learnable: MAX_HISTORY_LEARNABLE + 1,
            top_n: MAX_TOP_N + 1,
        };
        let mut errors = ConfigErrors::default();
        validate(&mut errors, &raw);
        let text = errors.to_string();
        for key in [
            "stats.retention_days",
            "stats.history_retention_days",
            "stats.history_size",
            "stats.history_learnable",
            "stats.top_n",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
    }

    #[test]
    fn defaults_keep_a_quarter_of_counters_and_a_week_of_history() {
        let stats = Stats::default();
        assert_eq!(stats.retention, Duration::from_secs(92 * DAY));
        assert_eq!(stats.history_retention, Duration::from_secs(7 * DAY));
        assert_eq!(stats.history_size, 10_000);
        assert!(!stats.history_subjects);
        assert_eq!(stats.history_learnable, 0);
        assert_eq!(stats.top_n, 20);
    }
}
