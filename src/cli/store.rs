//! `kanmon store`: look after the state store — what it holds, a portable copy of it
//! (JSON lines, for backups and for moving from the embedded store to Redis), and expiry.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use kanmon_store::{Entry, Store, StoreError, Summary};

use super::{CliError, current_thread_runtime, load_config, store_failed as failed};

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// What the store holds: sizes and counts.
    Stats {
        #[command(flatten)]
        common: Common,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write every live entry as JSON lines (stdout, or --output).
    Export {
        #[command(flatten)]
        common: Common,
        /// File to write instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read JSON lines written by `export` (a file, or `-` for stdin) into the store.
    /// Every line is checked before anything is written.
    Import {
        #[command(flatten)]
        common: Common,
        input: PathBuf,
    },
    /// Remove expired entries now (`kanmon serve` does it in the background).
    Expire {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults); its `[store]` names the store.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

/// Entries written per import call: large enough for few round trips, small enough that
/// one batch stays a short transaction.
const IMPORT_BATCH: usize = 5_000;

/// Bytes (as [`Entry::size_hint`] counts them) per import call, for batches of large
/// records or values: a short transaction still, and one frame through the daemon's socket.
const IMPORT_BATCH_BYTES: usize = 4 * 1024 * 1024;

pub(crate) fn run(command: StoreCommand) -> Result<ExitCode, CliError> {
    let runtime = current_thread_runtime()?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: StoreCommand) -> Result<ExitCode, CliError> {
    match command {
        StoreCommand::Stats { common, json } => {
            let store = open(&common).await?;
            let summary = store.summary().await.map_err(failed)?;
            if json {
                let text = serde_json::to_string_pretty(&summary)
                    .map_err(|e| CliError::Failed(Box::new(e)))?;
                println!("{text}");
            } else {
                print!("{}", summary_text(&summary));
            }
        }
        StoreCommand::Export { common, output } => {
            let store = open(&common).await?;
            let out: Box<dyn Write + Send> = match &output {
                Some(path) => Box::new(File::create(path).map_err(|e| {
                    CliError::Failed(format!("cannot create {}: {e}", path.display()).into())
                })?),
                None => Box::new(io::stdout()),
            };
            let mut out = BufWriter::new(out);
            let mut count = 0u64;
            store
                .export(&mut |entry: Entry| {
                    writeln!(out, "{}", entry.to_line())?;
                    count += 1;
                    Ok(())
                })
                .await
                .map_err(failed)?;
            out.flush().map_err(|e| failed(e.into()))?;
            eprintln!("exported {count} entries");
        }
        StoreCommand::Import { common, input } => {
            let entries = read_entries(&input)?;
            let store = open(&common).await?;
            for batch in import_batches(&entries) {
                store.import(batch).await.map_err(failed)?;
            }
            eprintln!("imported {} entries", entries.len());
        }
        StoreCommand::Expire { common } => {
            let store = open(&common).await?;
            let removed = store.expire().await.map_err(failed)?;
            eprintln!("removed {removed} expired entries");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `entries` in consecutive batches of at most [`IMPORT_BATCH`] entries and about
/// [`IMPORT_BATCH_BYTES`] (an entry bigger than that alone).
fn import_batches(entries: &[Entry]) -> Vec<&[Entry]> {
    Entry::batches(entries, IMPORT_BATCH, IMPORT_BATCH_BYTES)
}

async fn open(common: &Common) -> Result<Store, CliError> {
    let config = load_config(common.config.as_ref())?;
    Store::open_or_connect(&config.store).await.map_err(failed)
}

/// Every entry of the file, or the first bad line's error: an import writes all or nothing
/// of a file that is not what `export` wrote.
fn read_entries(input: &PathBuf) -> Result<Vec<Entry>, CliError> {
    let name = input.display().to_string();
    let reader: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(input).map_err(|source| CliError::Input {
            path: name.clone(),
            source,
        })?)
    };
    let mut entries = Vec::new();
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|source| CliError::Input {
            path: name.clone(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = Entry::from_line(&line).map_err(|reason| {
            failed(StoreError::BadEntry {
                line: index as u64 + 1,
                reason,
            })
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The summary as aligned lines for a terminal.
fn summary_text(s: &Summary) -> String {
    let lines = [
        ("store", format!("{} {}", s.backend, s.location)),
        (
            "size",
            match s.bytes {
                None => "-".to_owned(),
                // Redis reports the memory of the whole server, not of this prefix.
                Some(bytes) if s.backend == "redis" => {
                    format!("{} (the whole Redis server)", human_bytes(bytes))
                }
                Some(bytes) => human_bytes(bytes),
            },
        ),
        ("tokens", s.tokens.to_string()),
        (
            "learned",
            format!(
                "{} spam, {} ham ({} message digests)",
                s.learned.spam, s.learned.ham, s.digests
            ),
        ),
        ("greylist", format!("{} entries", s.greylist)),
        ("statistics", format!("{} counters", s.stat_counters)),
        ("records", s.records.to_string()),
        ("values", s.values.to_string()),
    ];
    lines
        .into_iter()
        .map(|(name, value)| format!("{name:<11} {value}\n"))
        .collect()
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 * 1024 * 1024), "64.0 MiB");
    }

    /// Small entries go by count, large ones by bytes; nothing is lost or reordered.
    #[test]
    fn import_batches_are_bounded_by_count_and_bytes() {
        let value = |i: usize, len: usize| Entry::Value {
            key: format!("k{i}"),
            value: vec![0; len],
            expires: None,
        };
        let small: Vec<Entry> = (0..12_001).map(|i| value(i, 8)).collect();
        let lengths: Vec<usize> = import_batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(lengths, [5_000, 5_000, 2_001]);

        let mut large: Vec<Entry> = (0..20).map(|i| value(i, 600 * 1024)).collect();
        large.insert(3, value(99, 6 * 1024 * 1024));
        let batches = import_batches(&large);
        for batch in &batches {
            let bytes: usize = batch.iter().map(Entry::size_hint).sum();
            assert!(batch.len() == 1 || bytes <= IMPORT_BATCH_BYTES, "{bytes}");
        }
        assert!(batches.iter().any(|b| b.len() == 1 && b[0] == large[3]));
        assert_eq!(batches.concat(), large);
    }
}
