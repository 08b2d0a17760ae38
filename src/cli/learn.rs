//! `kanmon learn --spam|--ham|--forget PATH...`: teach the Bayesian classifier from mail
//! the user has sorted, as `sa-learn` does.
//!
//! Data flow: the paths' messages ([`super::message_sources`]) → digest and token keys on
//! the blocking pool (CPU) → `Store::relabel` with many calls in flight, so the embedded
//! store commits them in groups (one fsync for many messages) → counts per outcome, a
//! progress line on a terminal, a summary, and the first few reasons any message was
//! skipped. The store is opened directly, or reached through a running `kanmon serve`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use kanmon_core::Config;
use kanmon_core::bayes::{claim_version, learn_tokens};
use kanmon_store::{Class, Store, StoreError};
use tokio::task::JoinSet;

use super::message_sources::{Found, for_each_message};
use super::{CliError, load_config, store_failed as failed};

/// Relabels in flight at once: enough for the embedded store's writer to commit many in one
/// group, few enough that memory stays small.
const IN_FLIGHT: usize = 128;

/// Skip reasons printed at the end; the rest are counted.
const REASONS_SHOWN: usize = 5;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("class").required(true).args(["spam", "ham", "forget"])))]
pub(crate) struct LearnArgs {
    /// The messages are spam.
    #[arg(long)]
    spam: bool,
    /// The messages are ham (wanted mail).
    #[arg(long)]
    ham: bool,
    /// Undo an earlier learn of these messages.
    #[arg(long)]
    forget: bool,
    /// Message files, Maildir folders (their cur/ and new/), directories of messages, mbox
    /// files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults); its `[store]` and `[bayes]` are used.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

/// What happened to the messages of one run.
#[derive(Debug, Default)]
struct Tally {
    learned: u64,
    already: u64,
    moved: u64,
    forgotten: u64,
    not_learned: u64,
    skipped: u64,
    reasons: Vec<String>,
}

impl Tally {
    fn done(&self) -> u64 {
        self.learned + self.already + self.moved + self.forgotten + self.not_learned
    }

    fn skip(&mut self, origin: &str, why: &str) {
        self.skipped += 1;
        if self.reasons.len() < REASONS_SHOWN {
            self.reasons.push(format!("{origin}: {why}"));
        }
    }

    fn count(&mut self, class: Option<Class>, old: Option<Class>) {
        match (class, old) {
            (Some(_), None) => self.learned += 1,
            (Some(new), Some(old)) if new == old => self.already += 1,
            (Some(_), Some(_)) => self.moved += 1,
            (None, Some(_)) => self.forgotten += 1,
            (None, None) => self.not_learned += 1,
        }
    }
}

pub(crate) fn run(args: LearnArgs) -> Result<ExitCode, CliError> {
    let config = load_config(args.config.as_ref())?;
    let class = match (args.spam, args.ham) {
        (true, _) => Some(Class::Spam),
        (_, true) => Some(Class::Ham),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(Box::new(e)))?;
    runtime.block_on(learn(config, class, args.paths))
}

async fn learn(
    config: Config,
    class: Option<Class>,
    paths: Vec<PathBuf>,
) -> Result<ExitCode, CliError> {
    let store = Store::open_or_connect(&config.store)
        .await
        .map_err(failed)?;
    if class.is_some() {
        claim_version(&store)
            .await
            .map_err(failed)?
            .map_err(|e| CliError::Failed(e.into()))?;
    }
    let options = Arc::new(config.bayes.tokenizer.clone());
    let max_bytes = config.limits.max_message_bytes;
    let started = Instant::now();
    let progress = Progress::new();

    // Reading the paths is blocking file I/O: a thread sends what it finds, in order.
    let (sender, mut found) = tokio::sync::mpsc::channel::<Found>(IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || {
        for_each_message(&paths, max_bytes, &mut |item| {
            // The receiver only goes when learning stopped on a store error.
            let _ = sender.blocking_send(item);
        });
    });

    let mut tally = Tally::default();
    let mut in_flight: JoinSet<(String, Result<Option<Class>, StoreError>)> = JoinSet::new();
    let mut store_error = None;
    while let Some(item) = found.recv().await {
        let bytes = match item.message {
            Ok(bytes) => bytes,
            Err(why) => {
                tally.skip(&item.origin, &why);
                continue;
            }
        };
        while in_flight.len() >= IN_FLIGHT {
            if let Some(joined) = in_flight.join_next().await {
                settle(joined, class, &mut tally, &mut store_error);
            }
        }
        if store_error.is_some() {
            break;
        }
        let (store, options, origin) = (store.clone(), Arc::clone(&options), item.origin);
        in_flight.spawn(async move {
            let learnable =
                match tokio::task::spawn_blocking(move || learn_tokens(&bytes, &options)).await {
                    Ok(learnable) => learnable,
                    Err(e) => return (origin, Err(StoreError::Unavailable(e.to_string()))),
                };
            let result = store
                .relabel(&learnable.digest, class, &learnable.keys)
                .await;
            (origin, result)
        });
        progress.show(tally.done(), started);
    }
    while let Some(joined) = in_flight.join_next().await {
        settle(joined, class, &mut tally, &mut store_error);
    }
    drop(found);
    let _ = reader.await;
    progress.clear();
    summarise(&tally, class, started.elapsed());
    match store_error {
        Some(error) => Err(failed(error)),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn settle(
    joined: Result<(String, Result<Option<Class>, StoreError>), tokio::task::JoinError>,
    class: Option<Class>,
    tally: &mut Tally,
    store_error: &mut Option<StoreError>,
) {
    match joined {
        Ok((_, Ok(old))) => tally.count(class, old),
        Ok((origin, Err(error))) => {
            tally.skip(&origin, &error.to_string());
            store_error.get_or_insert(error);
        }
        Err(panic) => tally.skip("(learning task)", &panic.to_string()),
    }
}

fn summarise(tally: &Tally, class: Option<Class>, elapsed: Duration) {
    let done = tally.done();
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let what = match class {
        Some(class) => format!("learned as {}", class.as_str()),
        None => "forgotten".to_owned(),
    };
    eprintln!(
        "{done} messages {what} in {:.1} s ({rate:.0}/s): {}",
        elapsed.as_secs_f64(),
        match class {
            Some(_) => format!(
                "{} new, {} already learned, {} moved from the other class",
                tally.learned, tally.already, tally.moved
            ),
            None => format!(
                "{} forgotten, {} were not learned",
                tally.forgotten, tally.not_learned
            ),
        }
    );
    if done == 0 && tally.skipped == 0 {
        eprintln!("no messages found in the paths given");
    }
    if tally.skipped > 0 {
        eprintln!("{} skipped:", tally.skipped);
        for reason in &tally.reasons {
            eprintln!("  {reason}");
        }
        if tally.skipped > tally.reasons.len() as u64 {
            eprintln!(
                "  … and {} more",
                tally.skipped - tally.reasons.len() as u64
            );
        }
    }
}

/// A progress line on a terminal, at most a few times a second; nothing otherwise (cron
/// mail stays short).
struct Progress {
    on: bool,
    last: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            last: std::cell::Cell::new(None),
        }
    }

    fn show(&self, done: u64, started: Instant) {
        if !self.on
            || self
                .last
                .get()
                .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last.set(Some(Instant::now()));
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprint!("\r{done} messages, {rate:.0}/s ");
    }

    fn clear(&self) {
        if self.on && self.last.get().is_some() {
            eprint!("\r\x1b[K");
        }
    }
}
