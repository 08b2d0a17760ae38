//! The command line: one file per subcommand. Each builds what it needs from the
//! configuration, calls the engine, and prints; no check logic lives here.

mod bayes;
mod check;
mod config;
mod deliver;
mod dkim;
mod envelope;
mod filter;
mod history;
mod http;
mod import;
mod learn;
mod maildir;
mod marking;
mod message_sources;
mod opendkim_tables;
mod postfix;
mod report;
mod scan_store;
mod serve;
mod stats_report;
mod store;

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kanmon_core::Config;
use kanmon_core::config::{ConfigErrors, DEFAULT_PATH};

/// Sender authentication and anti-spam for Postfix.
#[derive(Debug, Parser)]
#[command(name = "kanmon", version, about)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan one message and explain the verdict.
    Check(check::CheckArgs),
    /// Validate or print the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Run the milter and policy server for Postfix (in the foreground).
    Serve(serve::ServeArgs),
    /// Print the Postfix main.cf lines that connect Postfix to `kanmon serve`.
    Postfix(postfix::PostfixArgs),
    /// Teach the Bayesian classifier: messages (files, Maildir folders, mbox) are spam or
    /// ham, or forget them.
    Learn(learn::LearnArgs),
    /// The Bayesian classifier: what it has learned and whether it is ready, or forget it all.
    #[command(subcommand)]
    Bayes(bayes::BayesCommand),
    /// Look after the state store: stats, export, import, expire.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Mark one message with kanmon's header fields (stdin to stdout), for procmail.
    Filter(filter::FilterArgs),
    /// Scan one message and file it into a Maildir, spam into .Spam (Postfix pipe transport).
    Deliver(deliver::DeliverArgs),
    /// DKIM: make a key (genkey), check its DNS record (testkey), sign a message (sign).
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
    /// Convert another program's configuration into kanmon.toml entries (printed).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// The web server: make the `[http] password_hash` value.
    #[command(subcommand)]
    Http(http::HttpCommand),
    /// What the counters of a day say: messages, actions, DNS lists, rules, symbols,
    /// would-have-refused in tag mode, busiest senders and networks.
    Report(stats_report::ReportArgs),
    /// The latest messages decided about, or those of one queue id or sender.
    History(history::HistoryArgs),
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    match args.command {
        Command::Check(args) => check::run(args),
        Command::Config(command) => config::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Postfix(args) => postfix::run(args),
        Command::Store(command) => store::run(command),
        Command::Learn(args) => learn::run(args),
        Command::Bayes(command) => bayes::run(command),
        Command::Filter(args) => filter::run(args),
        Command::Deliver(args) => deliver::run(args),
        Command::Dkim(command) => dkim::run(command),
        Command::Import(command) => import::run(command),
        Command::Http(command) => http::run(command),
        Command::Report(args) => stats_report::run(args),
        Command::History(args) => history::run(args),
    }
}

/// Why a command failed, each with its exit status.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The configuration is invalid (exit 2).
    Config { path: String, errors: ConfigErrors },
    /// The input could not be read (exit 3).
    Input {
        path: String,
        source: std::io::Error,
    },
    /// Something else went wrong while working (exit 1).
    Failed(Box<dyn Error + Send + Sync>),
    /// An argument clap accepted but the command cannot take, with the reason (exit 2, as
    /// clap's own usage errors).
    Usage(String),
}

/// The one-thread runtime a command runs its async part on.
pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(Box::new(e)))
}

/// A store call that failed, as the command's error (exit 1).
pub(crate) fn store_failed(error: kanmon_store::StoreError) -> CliError {
    CliError::Failed(Box::new(error))
}

impl CliError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config { .. } => ExitCode::from(2),
            CliError::Input { .. } => ExitCode::from(3),
            CliError::Failed(_) => ExitCode::from(1),
            CliError::Usage(_) => ExitCode::from(2),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A file that cannot be read is one error that names the file itself.
            CliError::Config { errors, .. }
                if errors.0.len() == 1
                    && errors.0[0].path.is_empty()
                    && errors.0[0].line.is_none() =>
            {
                write!(f, "{}", errors.0[0])
            }
            CliError::Config { path, errors } => {
                let count = errors.0.len();
                let plural = if count == 1 { "" } else { "s" };
                write!(f, "{path}: {count} configuration error{plural}")
            }
            CliError::Input { path, .. } => write!(f, "cannot read {path}"),
            CliError::Failed(_) => f.write_str("the command failed"),
            CliError::Usage(reason) => f.write_str(reason),
        }
    }
}

impl Error for CliError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CliError::Config { errors, .. }
                if errors.0.len() == 1
                    && errors.0[0].path.is_empty()
                    && errors.0[0].line.is_none() =>
            {
                None
            }
            CliError::Config { errors, .. } => Some(errors),
            CliError::Input { source, .. } => Some(source),
            CliError::Failed(source) => Some(source.as_ref()),
            CliError::Usage(_) => None,
        }
    }
}

/// The error and its causes, one layer each: `a: b: c`; a multi-line cause (the list of
/// configuration errors) goes on its own indented lines.
pub(crate) fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if cause_text.contains('\n') {
            for line in cause_text.lines() {
                text.push_str("\n  ");
                text.push_str(line);
            }
        } else {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The configuration from `--config`, else the default path if it exists, else the
/// built-in defaults.
pub(crate) fn load_config(path: Option<&PathBuf>) -> Result<Config, CliError> {
    let (path, explicit) = match path {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from(DEFAULT_PATH), false),
    };
    if !explicit && !path.exists() {
        return Ok(Config::default());
    }
    Config::load(&path).map_err(|errors| CliError::Config {
        path: path.display().to_string(),
        errors,
    })
}

/// Log lines go to standard error; `KANMON_LOG` (e.g. `info`, `kanmon_core=debug`) sets
/// what is shown, `default` when it is not set.
pub(crate) fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KANMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
