//! The counters of a period added up, for `kanmon report` and the dashboard: both show the
//! same numbers because both build this.
//!
//! Days are UTC days: the hour buckets are UTC hours, every MX host sharing a store agrees
//! on them, and a day's total is the same whoever asks.

use std::collections::HashMap;

use kanmon_store::{StatCount, Timestamp};
use serde::Serialize;

/// Seconds in a day.
pub const UTC_DAY_SECS: u64 = 86_400;

/// One named total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub value: i64,
}

/// What the counters of the hours from `from` to `until` say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// First second covered (the start of an hour).
    pub from: Timestamp,
    /// First second no longer covered.
    pub until: Timestamp,
    /// Messages decided about.
    pub messages: i64,
    /// Per action (`accept`, `add_header`, `reject`, …), most first.
    pub actions: Vec<Count>,
    /// Per symbol that fired.
    pub symbols: Vec<Count>,
    /// Per DNS list zone that listed something of a message.
    pub lists: Vec<Count>,
    /// Per content rule (`[[rules]]` name, or `file:line` of a Postfix table entry).
    pub rules: Vec<Count>,
    /// Per check in `tag` mode: messages it would have refused in `enforce` mode.
    pub would_enforce: Vec<Count>,
    /// Sender domains of tagged or refused mail, the busiest `top` and `other`.
    pub sender_domains: Vec<Count>,
    /// Client networks (/24, /64) of tagged or refused mail, the busiest `top` and `other`.
    pub client_networks: Vec<Count>,
}

impl Summary {
    /// Adds up `counts` (read for the hours from `from` to `until`), naming at most `top`
    /// sender domains and client networks; the rest join `other`.
    pub fn from_counts(
        counts: &[StatCount],
        from: Timestamp,
        until: Timestamp,
        top: usize,
    ) -> Summary {
        let mut totals: HashMap<&str, i64> = HashMap::new();
        for count in counts
            .iter()
            .filter(|c| c.bucket >= from && c.bucket < until)
        {
            *totals.entry(count.name.as_str()).or_insert(0) += count.value;
        }
        let group = |prefix: &str| -> Vec<Count> {
            let mut group: Vec<Count> = totals
                .iter()
                .filter_map(|(name, value)| {
                    let name = name.strip_prefix(prefix)?;
                    (*value != 0).then(|| Count {
                        name: name.to_owned(),
                        value: *value,
                    })
                })
                .collect();
            sort(&mut group);
            group
        };
        Summary {
            from,
            until,
            messages: totals.get("messages").copied().unwrap_or(0),
            actions: group("action:"),
            symbols: group("symbol:"),
            lists: group("zone:"),
            rules: group("rule:"),
            would_enforce: group("would_enforce:"),
            sender_domains: fold_other(group("sender_domain:"), top),
            client_networks: fold_other(group("client_net:"), top),
        }
    }

    /// The total of `name` in `group` (0 when absent).
    pub fn value(group: &[Count], name: &str) -> i64 {
        group
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value)
            .unwrap_or(0)
    }
}

/// Most first, then by name.
fn sort(group: &mut [Count]) {
    group.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
}

/// The `top` biggest names, then `other` with the rest (and what was `other` already).
fn fold_other(group: Vec<Count>, top: usize) -> Vec<Count> {
    let mut named = Vec::new();
    let mut other = 0;
    for count in group {
        if count.name == "other" || named.len() >= top {
            other += count.value;
        } else {
            named.push(count);
        }
    }
    if other != 0 {
        named.push(Count {
            name: "other".to_owned(),
            value: other,
        });
    }
    named
}

/// The start of the UTC day `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<Timestamp> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if text.len() != 10 || !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    u64::try_from(days).ok().map(|d| d * UTC_DAY_SECS)
}

/// A duration such as `7d`, `12h` or `90m`, in seconds.
pub fn parse_since(text: &str) -> Option<u64> {
    let unit = match text.chars().last()? {
        'd' => UTC_DAY_SECS,
        'h' => 3_600,
        'm' => 60,
        _ => return None,
    };
    let amount: u64 = text[..text.len() - 1].parse().ok()?;
    amount.checked_mul(unit).filter(|secs| *secs > 0)
}

/// `YYYY-MM-DD` of the UTC day containing `at`.
pub fn utc_date(at: Timestamp) -> String {
    let days = i64::try_from(at / UTC_DAY_SECS).unwrap_or(i64::MAX);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day number (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    fn hours_and_hosts_add_up_and_small_names_fold_into_other() {
        let day = parse_day("2026-12-06").expect("a date");
        let counts = [
            count(day, "messages", 10),
            count(day + 3_600, "messages", 5),
            count(day + UTC_DAY_SECS, "messages", 99),
            count(day, "zone:bl.spamcop.net", 3),
            count(day + 3_600, "zone:bl.spamcop.net", 2),
            count(day, "zone:all.rbl.jp", 1),
            count(day, "action:reject", 4),
            count(day, "sender_domain:a.example", 3),
            count(day, "sender_domain:b.example", 2),
            count(day, "sender_domain:c.example", 1),
            count(day, "sender_domain:other", 4),
        ];
        let summary = Summary::from_counts(&counts, day, day + UTC_DAY_SECS, 2);
        assert_eq!(summary.messages, 15);
        assert_eq!(
            summary.lists,
            [
                Count {
                    name: "bl.spamcop.net".to_owned(),
                    value: 5
                },
                Count {
                    name: "all.rbl.jp".to_owned(),
                    value: 1
                },
            ]
        );
        assert_eq!(Summary::value(&summary.actions, "reject"), 4);
        let senders: Vec<(&str, i64)> = summary
            .sender_domains
            .iter()
            .map(|c| (c.name.as_str(), c.value))
            .collect();
        assert_eq!(senders, [("a.example", 3), ("b.example", 2), ("other", 5)]);
    }

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(951_868_800));
        for at in [0, 951_868_800, 1_796_601_599, 4_102_444_800] {
            let date = utc_date(at);
            assert_eq!(parse_day(&date), Some(at - at % UTC_DAY_SECS), "{date}");
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "yesterday",
            "2024-02-30",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(
            parse_day("2024-02-29").map(utc_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_since("7d"), Some(7 * UTC_DAY_SECS));
        assert_eq!(parse_since("12h"), Some(43_200));
        assert_eq!(parse_since("0d"), None);
        assert_eq!(parse_since("7"), None);
    }
}
