//! `kanmon report`: what the counters of a day (or of the last hours or days) say, for a
//! terminal or as JSON: messages, actions, symbols, DNS lists ("102 bl.spamcop.net"),
//! rules, what `tag` mode would have refused, and the busiest sender domains and client
//! networks of tagged or refused mail. Days are UTC days (docs/report.md).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kanmon_core::stats::{Count, Summary, UTC_DAY_SECS, parse_day, parse_since, utc_date};
use kanmon_store::{STAT_BUCKET_SECS, Store, Timestamp};
use serde::Serialize;

use super::{CliError, current_thread_runtime, load_config, store_failed};

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults); its `[store]` names the store.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The UTC day to report, YYYY-MM-DD (default: yesterday).
    #[arg(long, conflicts_with = "since")]
    day: Option<String>,
    /// Report the last hours or days instead, up to now: 12h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Show one table only.
    #[arg(long, value_enum)]
    by: Option<By>,
    /// Sender domains and client networks named (default `[stats] top_n`); the rest are
    /// `other`.
    #[arg(long)]
    top: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// The tables of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum By {
    /// DNS list zones.
    List,
    /// Content rules.
    Rule,
    Symbol,
    Action,
    /// Checks in `tag` mode that would have refused mail.
    Check,
    /// Sender domains of tagged or refused mail.
    Sender,
    /// Client networks of tagged or refused mail.
    Network,
}

impl By {
    const ALL: [By; 7] = [
        By::Action,
        By::Check,
        By::List,
        By::Rule,
        By::Symbol,
        By::Sender,
        By::Network,
    ];

    fn title(self) -> &'static str {
        match self {
            By::Action => "actions",
            By::Check => "would have refused (checks in tag mode)",
            By::List => "DNS lists that listed a message",
            By::Rule => "content rules that matched",
            By::Symbol => "symbols",
            By::Sender => "sender domains of tagged or refused mail",
            By::Network => "client networks of tagged or refused mail",
        }
    }

    fn counts(self, summary: &Summary) -> &[Count] {
        match self {
            By::Action => &summary.actions,
            By::Check => &summary.would_enforce,
            By::List => &summary.lists,
            By::Rule => &summary.rules,
            By::Symbol => &summary.symbols,
            By::Sender => &summary.sender_domains,
            By::Network => &summary.client_networks,
        }
    }
}

/// `--by` as JSON: the period and that one table.
#[derive(Serialize)]
struct OneTable<'a> {
    from: Timestamp,
    until: Timestamp,
    messages: i64,
    by: By,
    counts: &'a [Count],
}

pub(crate) fn run(args: ReportArgs) -> Result<ExitCode, CliError> {
    let config = load_config(args.config.as_ref())?;
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let store = Store::open_or_connect(&config.store)
            .await
            .map_err(store_failed)?;
        let (from, until) = period(&args, store.clock().now())?;
        let counts = store
            .stats_read(from, until - 1)
            .await
            .map_err(store_failed)?;
        let summary =
            Summary::from_counts(&counts, from, until, args.top.unwrap_or(config.stats.top_n));
        let text = match (args.by, args.json) {
            (None, true) => json(&summary)?,
            (Some(by), true) => json(&OneTable {
                from,
                until,
                messages: summary.messages,
                by,
                counts: by.counts(&summary),
            })?,
            (by, false) => render(&summary, by),
        };
        print!("{text}");
        Ok(ExitCode::SUCCESS)
    })
}

fn json(value: &impl Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|e| CliError::Failed(Box::new(e)))
}

/// The hours covered, `[from, until)`: a whole UTC day, or the last `--since` up to the end
/// of the current hour.
fn period(args: &ReportArgs, now: Timestamp) -> Result<(Timestamp, Timestamp), CliError> {
    if let Some(since) = &args.since {
        let secs = parse_since(since).ok_or_else(|| {
            CliError::Usage(format!(
                "--since {since}: give a number of days, hours or minutes: 7d, 12h, 90m"
            ))
        })?;
        let until = now - now % STAT_BUCKET_SECS + STAT_BUCKET_SECS;
        let from = until.saturating_sub(secs);
        return Ok((from - from % STAT_BUCKET_SECS, until));
    }
    let from = match &args.day {
        Some(day) => parse_day(day)
            .ok_or_else(|| CliError::Usage(format!("--day {day}: give a date as YYYY-MM-DD")))?,
        None => (now - now % UTC_DAY_SECS).saturating_sub(UTC_DAY_SECS),
    };
    Ok((from, from + UTC_DAY_SECS))
}

/// The report as aligned text.
fn render(summary: &Summary, by: Option<By>) -> String {
    let mut out = String::new();
    let period = if summary.until - summary.from == UTC_DAY_SECS
        && summary.from.is_multiple_of(UTC_DAY_SECS)
    {
        format!("{} (UTC)", utc_date(summary.from))
    } else {
        format!(
            "{} {:02}:00 to {} {:02}:00 UTC",
            utc_date(summary.from),
            summary.from % UTC_DAY_SECS / 3_600,
            utc_date(summary.until),
            summary.until % UTC_DAY_SECS / 3_600
        )
    };
    let _ = writeln!(out, "kanmon report: {period}");
    let _ = writeln!(out, "messages: {}", summary.messages);
    let tables: Vec<By> = match by {
        Some(by) => vec![by],
        None => By::ALL.to_vec(),
    };
    let width = tables
        .iter()
        .flat_map(|by| by.counts(summary))
        .map(|c| c.value.to_string().len())
        .max()
        .unwrap_or(1);
    for by in tables {
        let counts = by.counts(summary);
        let _ = writeln!(out, "\n{}:", by.title());
        if counts.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for count in counts {
            let _ = writeln!(out, "  {:>width$}  {}", count.value, count.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_report_aligns_counts_and_says_none() {
        let summary = Summary {
            from: 86_400,
            until: 2 * 86_400,
            messages: 120,
            lists: vec![
                Count {
                    name: "bl.spamcop.net".to_owned(),
                    value: 102,
                },
                Count {
                    name: "all.rbl.jp".to_owned(),
                    value: 12,
                },
            ],
            ..Summary::default()
        };
        assert_eq!(
            render(&summary, Some(By::List)),
            "kanmon report: 1970-01-02 (UTC)\nmessages: 120\n\n\
             DNS lists that listed a message:\n  102  bl.spamcop.net\n   12  all.rbl.jp\n"
        );
        assert!(render(&summary, None).contains("symbols:\n  (none)\n"));
    }
}
