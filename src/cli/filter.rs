//! `kanmon filter`: one message on standard input, the same message on standard output with
//! kanmon's header fields on top (`marking.rs`), for procmail (`:0fw | kanmon filter`) and
//! any other pipe filter.
//!
//! The message is never lost or truncated: whatever goes wrong after it is read, the
//! original bytes are written back and the exit status is [`EX_TEMPFAIL`], which procmail's
//! `w` flag takes as a failed filter (it then keeps its own copy). The exit statuses:
//! * 0: the message was scanned and marked, or was over `limits.max_message_bytes` and
//!   passed through unchanged and unscanned, as `spamc` passes a message over its `-s`;
//! * 75 ([`EX_TEMPFAIL`]): passed through unchanged because kanmon could not scan it (the
//!   configuration does not load, the scan failed); one line on standard error says why;
//! * 74 (EX_IOERR): standard input or output failed, so the message could not be passed on.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use kanmon_core::stats::Counter;
use kanmon_core::{Config, Engine, Envelope, Verdict};

use super::envelope::EnvelopeArgs;
use super::marking::{Marking, Parts};
use super::scan_store;
use super::{CliError, error_chain, load_config};
use crate::frontend::{ScanEngine, guarded};

/// sysexits.h: a temporary failure; the caller keeps the message and may retry.
pub(crate) const EX_TEMPFAIL: u8 = 75;
/// sysexits.h: an input/output error.
const EX_IOERR: u8 = 74;

#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else built-in defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: FilterArgs) -> Result<ExitCode, CliError> {
    super::init_logging("warn");
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let config = match load_config(args.config.as_ref()) {
        Ok(config) => config,
        Err(error) => {
            // Nothing read yet: the whole input streams through, however large.
            eprintln!(
                "kanmon filter: message passed unchanged: {}",
                error_chain(&error)
            );
            return Ok(finish(
                io::copy(&mut stdin, &mut stdout).map(|_| ()),
                EX_TEMPFAIL,
            ));
        }
    };
    let raw = match read_bounded(&mut stdin, config.limits.max_message_bytes) {
        Ok(raw) => raw,
        Err((partial, error)) => {
            eprintln!("kanmon filter: cannot read standard input: {error}");
            let _ = stdout.write_all(&partial);
            return Ok(ExitCode::from(EX_IOERR));
        }
    };
    if raw.len() > config.limits.max_message_bytes {
        let passed = stdout
            .write_all(&raw)
            .and_then(|()| io::copy(&mut stdin, &mut stdout).map(|_| ()));
        return Ok(finish(passed, 0));
    }
    let envelope = args.envelope.envelope(|name| std::env::var(name).ok());
    match scan(config, &envelope, &raw) {
        Ok((engine, verdict)) => {
            let marked = Marking {
                config: engine.config(),
                verdict: &verdict,
                with_auth: envelope.client_ip.is_some(),
            }
            .apply(&raw);
            Ok(finish(stdout.write_all(&marked), 0))
        }
        Err(why) => {
            eprintln!("kanmon filter: message passed unchanged: {why}");
            Ok(finish(stdout.write_all(&raw), EX_TEMPFAIL))
        }
    }
}

/// The exit status once the message is written: `code`, or EX_IOERR if writing failed.
fn finish(written: io::Result<()>, code: u8) -> ExitCode {
    match written.and_then(|()| io::stdout().flush()) {
        Ok(()) => ExitCode::from(code),
        Err(error) => {
            eprintln!("kanmon filter: cannot write standard output: {error}");
            ExitCode::from(EX_IOERR)
        }
    }
}

/// Reads at most one byte more than `limit`, so an oversized message is recognised without
/// holding all of it; on an error, what was read so far comes with it.
pub(crate) fn read_bounded(
    input: &mut impl Read,
    limit: usize,
) -> Result<Vec<u8>, (Vec<u8>, io::Error)> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut raw = Vec::new();
    match input.take(cap).read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        Err(error) => Err((raw, error)),
    }
}

/// Why a one-message scan gave no verdict.
#[derive(Debug)]
pub(crate) enum ScanFailure {
    /// The store the Bayes check reads could not be opened: a temporary condition.
    Store(String),
    /// The scan itself could not run or failed.
    Scan(String),
}

impl std::fmt::Display for ScanFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanFailure::Store(why) => write!(f, "cannot open the store: {why}"),
            ScanFailure::Scan(why) => f.write_str(why),
        }
    }
}

/// One guarded scan of the message (without an mbox `From ` line) with the learned store
/// (`scan_store.rs`): the engine (for its configuration) and its verdict, or why there is
/// none. Autolearning the scan started is finished before it returns.
pub(crate) fn scan(
    config: Config,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<(Arc<ScanEngine>, Verdict), ScanFailure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ScanFailure::Scan(format!("cannot start the runtime: {e}")))?;
    let store = runtime
        .block_on(scan_store::open(&config))
        .map_err(|e| ScanFailure::Store(error_chain(&e)))?;
    // Mail going through: counted and kept in history like the daemon's.
    let counter = Counter::one_message(store.clone());
    let engine = Engine::from_config(config)
        .map_err(|e| ScanFailure::Scan(error_chain(&e)))?
        .with_store(store)
        .with_counter(counter.clone());
    let engine = Arc::new(engine);
    let message = Parts::split(raw).message(raw).to_vec();
    let envelope = envelope.clone();
    let scanning = Arc::clone(&engine);
    let verdict = runtime
        .block_on(guarded(&engine, async move {
            scanning.scan_message(&envelope, &message).await
        }))
        .map_err(|failed| ScanFailure::Scan(format!("scan failed: {failed}")))?;
    runtime.block_on(engine.finish_learning());
    runtime.block_on(counter.flush());
    Ok((engine, verdict))
}
