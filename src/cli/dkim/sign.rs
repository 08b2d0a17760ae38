//! `kanmon dkim sign --domain D --selector S --key FILE < in.eml > out.eml`: one message
//! signed with one key, without a configuration file: for testing a key and a DNS record
//! before turning signing on, and for scripts.
//!
//! The key file is checked as the daemon checks it (only its owner may read it, unless
//! `--allow-group-readable-key`). The signature uses the message's own line ending, so the
//! output is the input with one field on top. Nothing is written on failure (no From field,
//! an unusable key): the exit status is 1 and standard error says why.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use kanmon_core::config::{parse_canonicalization, parse_expire};
use kanmon_core::kanmon_auth::dkim::{DEFAULT_SIGNED_HEADERS, KeyAccess, Signer, SigningKey};
use kanmon_core::kanmon_auth::message::Message;

use crate::cli::CliError;

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The signing domain (d=).
    #[arg(long)]
    domain: String,
    /// The selector (s=): the key record is at SELECTOR._domainkey.DOMAIN.
    #[arg(long)]
    selector: String,
    /// The private key file (PEM or DER; RSA or Ed25519).
    #[arg(long)]
    key: PathBuf,
    /// Header/body canonicalisation, each simple or relaxed.
    #[arg(long, default_value = "relaxed/relaxed")]
    canonicalization: String,
    /// Header fields to sign, comma-separated (default: those of [signing] headers).
    #[arg(long, value_delimiter = ',')]
    headers: Vec<String>,
    /// Header fields signed once more than they occur, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "from")]
    oversign: Vec<String>,
    /// Write x= this long after t= ("30d").
    #[arg(long)]
    expire: Option<String>,
    /// The signature time t= in Unix seconds (default: now), for reproducible output.
    #[arg(long)]
    now: Option<u64>,
    /// Accept a key file its group may read.
    #[arg(long)]
    allow_group_readable_key: bool,
}

pub(crate) fn run(args: SignArgs) -> Result<ExitCode, CliError> {
    let failed = |why: String| CliError::Failed(why.into());
    let (header_canon, body_canon) =
        parse_canonicalization(&args.canonicalization).ok_or_else(|| {
            failed(format!(
                "--canonicalization {:?}: write header/body, each simple or relaxed",
                args.canonicalization
            ))
        })?;
    let expire_after = match &args.expire {
        Some(text) => Some(
            parse_expire(text)
                .ok_or_else(|| failed(format!("--expire {text:?}: write a time such as 30d")))?
                .as_secs(),
        ),
        None => None,
    };
    let access = KeyAccess {
        allow_group_readable: args.allow_group_readable_key,
        owner: None,
    };
    let key = SigningKey::load_with(&args.key, &access).map_err(|e| CliError::Failed(e.into()))?;
    let mut raw = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut raw)
        .map_err(|source| CliError::Input {
            path: "standard input".to_owned(),
            source,
        })?;
    let message = Message::parse(&raw)
        .map_err(|e| failed(format!("standard input is not a message: {e}")))?;
    let mut signer = Signer::new(
        key,
        &args.domain.to_ascii_lowercase(),
        &args.selector.to_ascii_lowercase(),
    );
    signer.headers = if args.headers.is_empty() {
        DEFAULT_SIGNED_HEADERS
            .iter()
            .map(|&h| h.to_owned())
            .collect()
    } else {
        args.headers
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect()
    };
    signer.oversign_headers = args
        .oversign
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    signer.header_canon = header_canon;
    signer.body_canon = body_canon;
    signer.expire_after = expire_after;
    let now = args.now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let field = signer
        .sign(&message, now)
        .map_err(|e| failed(format!("cannot sign: {e}")))?;
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(field.as_bytes())
        .and_then(|()| stdout.write_all(&raw))
        .and_then(|()| stdout.flush())
        .map_err(|e| failed(format!("cannot write standard output: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
