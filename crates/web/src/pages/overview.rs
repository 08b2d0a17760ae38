//! `/`: what the filter did over the last day and week, from the store's hourly counters
//! (`kanmon_core::stats`): messages per hour and per day, actions, the symbols that fired
//! most, and what checks in `tag` mode would have refused — the numbers to read before
//! switching a check to `enforce`.
//!
//! Windows: "24 h" is the current hour and the 23 before it; "7 d" is today (UTC) and the
//! six days before, the days the daily chart shows.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use kanmon_core::kanmon_auth::dkim::format_utc;
use kanmon_core::kanmon_auth::dns::Resolver;
use kanmon_store::{STAT_BUCKET_SECS, StatCount, Timestamp};

use crate::Web;
use crate::auth::PageContext;
use crate::chart::{Bar, bars};
use crate::html::{counted, escape, table};

const DAY: u64 = 86_400;
/// Days the overview covers.
const DAYS: u64 = 7;
/// Symbols listed, most frequent first.
const TOP_SYMBOLS: usize = 20;

/// The counters of the overview's two windows.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Overview {
    /// Messages per hour, the oldest of the 24 first: (hour start, count).
    pub(crate) hours: Vec<(Timestamp, i64)>,
    /// Messages per UTC day, the oldest of the 7 first: (day start, count).
    pub(crate) days: Vec<(Timestamp, i64)>,
    /// Every counter summed over the last 24 hours and over the 7 days.
    pub(crate) last_day: HashMap<String, i64>,
    pub(crate) week: HashMap<String, i64>,
}

impl Overview {
    /// The first second the overview reads, for `now`.
    pub(crate) fn since(now: Timestamp) -> Timestamp {
        (now - now % DAY).saturating_sub((DAYS - 1) * DAY)
    }

    /// Sums `counts` (as `Store::stats_read` returns them) into the windows ending at `now`.
    pub(crate) fn from_counts(counts: &[StatCount], now: Timestamp) -> Overview {
        let hour = now - now % STAT_BUCKET_SECS;
        let first_hour = hour.saturating_sub(23 * STAT_BUCKET_SECS);
        let first_day = Overview::since(now);
        let mut overview = Overview {
            hours: (0..24)
                .map(|i| (first_hour + i * STAT_BUCKET_SECS, 0))
                .collect(),
            days: (0..DAYS).map(|i| (first_day + i * DAY, 0)).collect(),
            ..Overview::default()
        };
        for count in counts {
            if count.bucket < first_day || count.bucket > hour {
                continue;
            }
            *overview.week.entry(count.name.clone()).or_insert(0) += count.value;
            if count.bucket >= first_hour {
                *overview.last_day.entry(count.name.clone()).or_insert(0) += count.value;
            }
            if count.name == "messages" {
                let day = usize::try_from((count.bucket - first_day) / DAY).unwrap_or(0);
                if let Some(slot) = overview.days.get_mut(day) {
                    slot.1 += count.value;
                }
                if count.bucket >= first_hour {
                    let at = usize::try_from((count.bucket - first_hour) / STAT_BUCKET_SECS)
                        .unwrap_or(0);
                    if let Some(slot) = overview.hours.get_mut(at) {
                        slot.1 += count.value;
                    }
                }
            }
        }
        overview
    }

    /// (name without prefix, 24 h, 7 d) of the counters named `prefix:...`, the largest
    /// weekly count first, then by name.
    pub(crate) fn group(&self, prefix: &str) -> Vec<(String, i64, i64)> {
        let mut rows: Vec<_> = self
            .week
            .iter()
            .filter_map(|(name, week)| {
                let short = name.strip_prefix(prefix)?.strip_prefix(':')?;
                Some((
                    short.to_owned(),
                    self.last_day.get(name).copied().unwrap_or(0),
                    *week,
                ))
            })
            .collect();
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        rows
    }
}

/// `GET /`.
pub(crate) async fn page_for<R: Resolver + Clone + 'static>(web: &Web<R>) -> String {
    let now = web.store.clock().now();
    let counts = match web.store.stats_read(Overview::since(now), now).await {
        Ok(counts) => counts,
        Err(e) => return super::store_unavailable("the counters", &e),
    };
    let overview = Overview::from_counts(&counts, now);
    render(&overview, now)
}

pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Html<String> {
    let body = page_for(&web).await;
    crate::html::page("Overview", "/", &context, &body)
}

fn render(overview: &Overview, now: Timestamp) -> String {
    let total = |window: &HashMap<String, i64>| window.get("messages").copied().unwrap_or(0);
    let mut out = String::new();
    let _ = write!(
        out,
        "<p class=\"summary\">{} messages in the last 24 hours, {} in the last 7 days \
         (as of {}).</p>",
        counted("messages", "24h", total(&overview.last_day)),
        counted("messages", "7d", total(&overview.week)),
        escape(&format_utc(now)),
    );
    let hours: Vec<Bar> = overview
        .hours
        .iter()
        .map(|&(at, value)| {
            let time = format_utc(at);
            Bar {
                label: time[11..13].to_owned(),
                title: format!("{} {} UTC", &time[..10], &time[11..16]),
                value,
            }
        })
        .collect();
    let days: Vec<Bar> = overview
        .days
        .iter()
        .map(|&(at, value)| {
            let date = format_utc(at)[..10].to_owned();
            Bar {
                label: date[5..].to_owned(),
                title: date,
                value,
            }
        })
        .collect();
    out.push_str("<section class=\"charts\"><h2>Throughput</h2>");
    out.push_str(&bars(
        "hourly",
        "Messages per hour, last 24 hours (UTC)",
        &hours,
        3,
    ));
    out.push_str(&bars(
        "daily",
        "Messages per day, last 7 days (UTC)",
        &days,
        1,
    ));
    out.push_str("</section>");

    let rows = |prefix: &str| -> Vec<Vec<String>> {
        overview
            .group(prefix)
            .into_iter()
            .map(|(name, day, week)| {
                let counter = format!("{prefix}:{name}");
                vec![
                    escape(&name),
                    counted(&counter, "24h", day),
                    counted(&counter, "7d", week),
                ]
            })
            .collect()
    };
    out.push_str("<section><h2>Actions</h2>");
    out.push_str(&table(
        "actions",
        &["Action", "24 h", "7 d"],
        &rows("action"),
    ));
    out.push_str(
        "</section><section><h2>Would have refused (checks in tag mode)</h2>\
        <p class=\"note\">Messages a check in <code>tag</code> mode would have refused in \
        <code>enforce</code> mode. Read this before switching a check to enforce.</p>",
    );
    out.push_str(&table(
        "would-enforce",
        &["Check", "24 h", "7 d"],
        &rows("would_enforce"),
    ));
    out.push_str("</section><section><h2>Top symbols</h2>");
    let mut symbols = rows("symbol");
    symbols.truncate(TOP_SYMBOLS);
    out.push_str(&table("symbols", &["Symbol", "24 h", "7 d"], &symbols));
    out.push_str("</section>");
    // The seeds' daily grep of the maillog, per list and rule, and who sends the mail that is
    // tagged or refused (bounded per hour by `[stats] top_n`; the rest is `other`).
    for (id, title, heading, prefix) in [
        ("lists", "DNS lists (messages listed)", "Zone", "zone"),
        ("rules", "Content rules", "Rule", "rule"),
        (
            "senders",
            "Sender domains of tagged or refused mail",
            "Domain",
            "sender_domain",
        ),
        (
            "networks",
            "Client networks of tagged or refused mail",
            "Network",
            "client_net",
        ),
    ] {
        let mut group = rows(prefix);
        if group.is_empty() {
            continue;
        }
        group.truncate(TOP_SYMBOLS);
        let _ = write!(out, "<section><h2>{title}</h2>");
        out.push_str(&table(id, &[heading, "24 h", "7 d"], &group));
        out.push_str("</section>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(bucket: Timestamp, name: &str, value: i64) -> StatCount {
        StatCount {
            bucket,
            name: name.to_owned(),
            value,
        }
    }

    #[test]
    fn counters_fall_into_their_windows() {
        let now = 1_795_000_000; // 2026-11-18T11:06:40Z
        let hour = now - now % 3600;
        let today = now - now % DAY;
        let counts = [
            count(hour, "messages", 3),
            count(hour, "action:reject", 1),
            count(hour - 23 * 3600, "messages", 2),
            count(hour - 24 * 3600, "messages", 5),
            count(today - 6 * DAY, "messages", 7),
            count(today - 7 * DAY, "messages", 100),
        ];
        let overview = Overview::from_counts(&counts, now);
        assert_eq!(overview.last_day["messages"], 5);
        assert_eq!(overview.week["messages"], 17);
        assert_eq!(overview.hours[23], (hour, 3));
        assert_eq!(overview.hours[0], (hour - 23 * 3600, 2));
        // 11:00 today; yesterday 12:00 and 11:00 fall on the day before.
        assert_eq!(overview.days[6].1, 3);
        assert_eq!(overview.days[5].1, 7);
        assert_eq!(overview.days[0], (today - 6 * DAY, 7));
        assert_eq!(overview.group("action"), vec![("reject".to_owned(), 1, 1)]);
    }
}
