//! `kanmon check`: scan one message and explain the verdict, for people (`report.rs`) or
//! programs (`--json`, schema in docs/check-json.md).

use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kanmon_core::report::Report;
use kanmon_core::{Engine, Envelope, ReverseName};

use super::scan_store;
use super::{CliError, current_thread_runtime, load_config, report};

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The SMTP client's IP address.
    #[arg(long)]
    ip: Option<IpAddr>,
    /// The HELO/EHLO name the client gave.
    #[arg(long)]
    helo: Option<String>,
    /// The client's verified reverse DNS name, as Postfix logs it: "unknown" when it has
    /// none (S25R and the rDNS checks count that as evidence; without this flag they skip).
    #[arg(long)]
    client_name: Option<String>,
    /// The client's PTR name, not verified (Postfix's `reverse_client_name`): "unknown" when
    /// the address has no PTR record.
    #[arg(long)]
    client_ptr: Option<String>,
    /// The MAIL FROM address; "" or "<>" is the null sender of a bounce.
    #[arg(long)]
    from: Option<String>,
    /// A RCPT TO address (repeat for several).
    #[arg(long)]
    rcpt: Vec<String>,
    /// The SASL login of an authenticated client (its mail counts as outbound).
    #[arg(long)]
    sasl_user: Option<String>,
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else built-in defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print one JSON object instead of the readable report.
    #[arg(long)]
    json: bool,
    /// The message file; "-" or nothing reads standard input.
    file: Option<PathBuf>,
}

pub(crate) fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    super::init_logging("warn");
    let config = load_config(args.config.as_ref())?;
    let (name, raw) = read_message(args.file.as_ref(), config.limits.max_message_bytes)?;
    let envelope = Envelope {
        client_ip: args.ip,
        client_name: ReverseName::from_postfix(args.client_name.as_deref()),
        client_ptr: ReverseName::from_postfix(args.client_ptr.as_deref()),
        helo: args.helo,
        mail_from: args.from.map(|from| strip_brackets(&from).to_owned()),
        rcpt_to: args
            .rcpt
            .iter()
            .map(|r| strip_brackets(r).to_owned())
            .collect(),
        sasl_user: args.sasl_user,
        queue_id: None,
    };
    let runtime = current_thread_runtime()?;
    let store = runtime
        .block_on(scan_store::open(&config))
        .map_err(|e| CliError::Failed(Box::new(e)))?;
    let engine = Engine::from_config(config)
        .map_err(|e| CliError::Failed(Box::new(e)))?
        .with_store(store)
        .without_learning();
    let verdict = runtime.block_on(engine.scan_message(&envelope, &raw));
    if args.json {
        let json = serde_json::to_string_pretty(&Report::new(&verdict))
            .map_err(|e| CliError::Failed(Box::new(e)))?;
        println!("{json}");
    } else {
        print!("{}", report::render(&name, &envelope, &verdict));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads at most one byte more than the scan limit, so an oversized message is recognised
/// as such without holding all of it in memory.
fn read_message(file: Option<&PathBuf>, limit: usize) -> Result<(String, Vec<u8>), CliError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut raw = Vec::new();
    match file.filter(|path| path.as_os_str() != "-") {
        None => {
            std::io::stdin()
                .lock()
                .take(cap)
                .read_to_end(&mut raw)
                .map_err(|source| CliError::Input {
                    path: "standard input".to_owned(),
                    source,
                })?;
            Ok(("standard input".to_owned(), raw))
        }
        Some(path) => {
            let name = path.display().to_string();
            let input_error = |source| CliError::Input {
                path: name.clone(),
                source,
            };
            let file = std::fs::File::open(path).map_err(input_error)?;
            if file.metadata().map_err(input_error)?.is_dir() {
                return Err(input_error(std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory, not a message file",
                )));
            }
            file.take(cap).read_to_end(&mut raw).map_err(input_error)?;
            Ok((name, raw))
        }
    }
}

fn strip_brackets(address: &str) -> &str {
    let address = address.trim();
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
}
