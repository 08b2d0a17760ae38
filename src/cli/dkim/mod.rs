//! `kanmon dkim ...`: the DKIM chores. `genkey` makes a key and the record to publish,
//! `testkey` checks what the DNS serves against the key on disk, `sign` signs one message
//! with one key as the milter would.

mod genkey;
mod sign;
mod testkey;

use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;
pub(crate) use genkey::toml_string;

#[derive(Debug, Subcommand)]
pub(crate) enum DkimCommand {
    /// Make a signing key: SELECTOR.private (mode 0600) and SELECTOR.txt (the BIND record),
    /// and print the record to publish and the [[dkim_keys]] entry to add.
    Genkey(genkey::GenkeyArgs),
    /// Look up SELECTOR._domainkey.DOMAIN and say whether it publishes the private key.
    Testkey(testkey::TestkeyArgs),
    /// Sign one message (standard input to standard output) with one key, as the milter
    /// would: the DKIM-Signature field on top, the message unchanged below it.
    Sign(sign::SignArgs),
}

pub(crate) fn run(command: DkimCommand) -> Result<ExitCode, CliError> {
    match command {
        DkimCommand::Genkey(args) => genkey::run(args),
        DkimCommand::Testkey(args) => testkey::run(args),
        DkimCommand::Sign(args) => sign::run(args),
    }
}

/// Checks a domain or selector the way the DNS will see it: dot-separated labels of letters,
/// digits and hyphens (RFC 6376 §3.1 `selector`, RFC 5321 `sub-domain`), lower-cased, without
/// a trailing dot. Also keeps file names made from a selector inside their directory.
pub(crate) fn dns_name(what: &str, name: &str) -> Result<String, CliError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let valid = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(trimmed.to_ascii_lowercase())
    } else {
        Err(CliError::Usage(format!(
            "{what} {name:?} is not a DNS name (letters, digits and hyphens in dot-separated labels; an internationalised domain in its xn-- form)"
        )))
    }
}
