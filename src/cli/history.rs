//! `kanmon history`: the latest messages kanmon decided about, newest first, or those of
//! one queue id or sender: when, who, what was done and why.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kanmon_core::history::{self, Bounds, Filter, HistoryEntry};
use kanmon_core::stats::utc_date;
use kanmon_store::Store;

use super::{CliError, current_thread_runtime, load_config};

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults); its `[store]` names the store.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Show at most this many messages.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Only the message with this MTA queue id.
    #[arg(long)]
    queue_id: Option<String>,
    /// Only messages with this MAIL FROM address, or with `@domain` from that domain.
    #[arg(long)]
    from: Option<String>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: HistoryArgs) -> Result<ExitCode, CliError> {
    let config = load_config(args.config.as_ref())?;
    let runtime = current_thread_runtime()?;
    let filter = Filter {
        queue_id: args.queue_id,
        from: args.from,
    };
    let bounds = Bounds {
        retention: config.stats.history_retention,
        size: config.stats.history_size,
    };
    let entries = runtime.block_on(async {
        let store = Store::open_or_connect(&config.store).await?;
        history::recent(&store, args.limit, &filter, bounds).await
    });
    let entries = entries.map_err(|e| CliError::Failed(Box::new(e)))?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&entries).map_err(|e| CliError::Failed(Box::new(e)))?;
        println!("{text}");
    } else {
        print!("{}", render(&entries));
    }
    Ok(ExitCode::SUCCESS)
}

/// One block per message: a line with time, queue id, action and score, then the envelope,
/// the reason and the symbols.
fn render(entries: &[HistoryEntry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("no messages found\n");
    }
    for entry in entries {
        let secs = entry.time % 86_400;
        let _ = writeln!(
            out,
            "{} {:02}:{:02}:{:02} UTC  {}  {}  {:.1}/{:.1}{}",
            utc_date(entry.time),
            secs / 3_600,
            secs / 60 % 60,
            secs % 60,
            entry.queue_id.as_deref().unwrap_or("-"),
            entry.action,
            entry.score,
            entry.required,
            if entry.internal { "  (internal)" } else { "" }
        );
        let client = match (&entry.client_ip, &entry.client_name) {
            (Some(ip), Some(name)) => format!("{name} [{ip}]"),
            (Some(ip), None) => format!("[{ip}]"),
            _ => "-".to_owned(),
        };
        let from = match entry.mail_from.as_deref() {
            Some("") => "<>".to_owned(),
            Some(from) => format!("<{from}>"),
            None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "  client {client}  helo {}  from {from}  to {}",
            entry.helo.as_deref().unwrap_or("-"),
            entry.rcpts.join(", ")
        );
        if let Some(subject) = &entry.subject {
            let _ = writeln!(out, "  subject {subject}");
        }
        if let Some(reason) = &entry.reason {
            let _ = writeln!(out, "  reason {reason}");
        }
        if !entry.symbols.is_empty() {
            let symbols: Vec<String> = entry
                .symbols
                .iter()
                .map(|s| format!("{}({})", s.name, s.score))
                .collect();
            let _ = writeln!(out, "  symbols {}", symbols.join(" "));
        }
        let _ = writeln!(out, "  took {} ms", entry.duration_ms);
    }
    out
}
