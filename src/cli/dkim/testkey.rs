//! `kanmon dkim testkey`: is the key record in the DNS the public half of the private key?
//!
//! Asks `SELECTOR._domainkey.DOMAIN` through the resolver `[dns]` configures (its
//! nameservers, else the system's), afresh rather than from a cache, and answers with one of
//! the exit statuses below, so a script (or a rotation checklist) can tell "not there yet"
//! from "wrong key" from "broken record".
//!
//! | exit | meaning |
//! |------|---------|
//! | 0  | the record publishes this key |
//! | 10 | no record: NXDOMAIN or no TXT at the name (not published, or not propagated yet) |
//! | 11 | a valid record, for another key (or an algorithm/hash this key cannot sign with) |
//! | 12 | the record has a syntax error; the tag at fault is named |
//! | 13 | the key is revoked (`p=` empty) |
//! | 14 | the DNS lookup failed (timeout, SERVFAIL, ...) |
//!
//! and as every command: 1 when the key cannot be read, 2 for a configuration error.
//!
//! Whether the resolver validated the answer with DNSSEC (the AD bit) is stated as a fact
//! and nothing more: DKIM keys need no DNSSEC, and a valid key is never called insecure for
//! lacking it (opendkim-testkey's "key not secure" confused the seeds' admins).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use kanmon_core::Config;
use kanmon_core::kanmon_auth::dkim::{
    DEFAULT_RSA_BITS, KeyAccess, KeyFileError, PublicHalf, RecordCheck, SigningKey, check_record,
};
use kanmon_core::kanmon_auth::dns::{DnsError, HickoryResolver, TxtAnswer};

use super::dns_name;
use crate::cli::{CliError, current_thread_runtime, load_config};

/// The exit statuses of `testkey`, beyond 1 and 2 which every command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Matches = 0,
    NoRecord = 10,
    Mismatch = 11,
    Syntax = 12,
    Revoked = 13,
    DnsError = 14,
}

#[derive(Debug, Args)]
pub(crate) struct TestkeyArgs {
    /// The signing domain (d=).
    #[arg(long)]
    domain: String,
    /// The selector (s=).
    #[arg(long)]
    selector: String,
    /// The private key file; without it, the [[dkim_keys]] entry for this domain and
    /// selector gives it.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists): its [dns]
    /// nameservers are asked.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: TestkeyArgs) -> Result<ExitCode, CliError> {
    let domain = dns_name("domain", &args.domain)?;
    let selector = dns_name("selector", &args.selector)?;
    let config = load_config(args.config.as_ref())?;
    let name = format!("{selector}._domainkey.{domain}");
    let key_file = match args.key {
        Some(file) => file,
        None => configured_key_file(&config, &domain, &selector).ok_or_else(|| {
            CliError::Failed(format!("no --key given and no [[dkim_keys]] entry for {name}").into())
        })?,
    };
    let access = KeyAccess {
        allow_group_readable: config.signing.allow_group_readable_keys,
        owner: config.server.user.clone(),
    };
    let key = public_half(&key_file, &access)?;
    let resolver = resolver(&config)?;
    let runtime = current_thread_runtime()?;
    let (answer, validated) = runtime.block_on(resolver.txt_with_validation(&name));
    let outcome = report(&name, &key_file, &key, answer, validated);
    Ok(ExitCode::from(outcome as u8))
}

/// The public half of the key in `file`, after the permission check kanmon's signer makes
/// under the same `[signing]` policy. An RSA key aws-lc will not load (under 2,048 bits) is
/// still read, to be compared and reported as one to replace.
fn public_half(file: &Path, access: &KeyAccess) -> Result<PublicHalf, CliError> {
    match SigningKey::load_with(file, access) {
        Ok(key) => Ok(PublicHalf::of(&key)),
        Err(KeyFileError::Unsupported) => std::fs::read(file)
            .ok()
            .and_then(|bytes| PublicHalf::from_rsa_private_key(&bytes))
            .ok_or_else(|| CliError::Failed(Box::new(KeyFileError::Unsupported))),
        Err(error) => Err(CliError::Failed(Box::new(error))),
    }
}

/// The key file of the `[[dkim_keys]]` entry for `domain` and `selector` (both lower case in
/// the validated configuration and here).
fn configured_key_file(config: &Config, domain: &str, selector: &str) -> Option<PathBuf> {
    config
        .signing
        .keys
        .iter()
        .find(|key| key.domain == domain && key.selector == selector)
        .map(|key| key.file.clone())
}

/// The resolver `[dns]` describes, as the engine builds it (`Engine::from_config`).
fn resolver(config: &Config) -> Result<HickoryResolver, CliError> {
    let dns = &config.dns;
    let resolver = if dns.nameservers.is_empty() {
        HickoryResolver::system(dns.timeout)
    } else {
        HickoryResolver::with_nameservers(&dns.nameservers, dns.timeout)
    };
    resolver.map_err(|e| CliError::Failed(Box::new(e)))
}

/// Prints what the answer means for the key and returns the outcome.
fn report(
    name: &str,
    key_file: &Path,
    key: &PublicHalf,
    answer: TxtAnswer,
    validated: bool,
) -> Outcome {
    let records = match answer {
        Ok(records) => records,
        Err(DnsError::NxDomain) => {
            println!("no record: {name} does not exist (NXDOMAIN)");
            println!("The record is not published, or not propagated yet: DNS caches keep the");
            println!("\"no such name\" answer for the zone's negative TTL (SOA minimum).");
            return Outcome::NoRecord;
        }
        Err(error) => {
            println!("DNS error: the lookup of {name} failed: {error}");
            println!("Nothing is known about the record; try again, or check [dns] nameservers.");
            return Outcome::DnsError;
        }
    };
    let Some(record) = records.first() else {
        println!("no record: {name} exists but has no TXT record");
        println!("The record is not published, or not propagated yet.");
        return Outcome::NoRecord;
    };
    let text = String::from_utf8_lossy(record);
    println!("{name} TXT \"{text}\"");
    if records.len() > 1 {
        println!(
            "warning: {} TXT records at {name}; verifiers use one of them (kanmon and OpenDKIM the first the server gives), so publish exactly one. Checking the first.",
            records.len()
        );
    }
    let outcome = match check_record(record, key) {
        RecordCheck::Matches { key_type, testing } => {
            println!(
                "OK: the record publishes the public half of {} ({} key)",
                key_file.display(),
                key_type.as_str()
            );
            if let Some(bits) = key.rsa_bits().filter(|&bits| bits < DEFAULT_RSA_BITS) {
                println!(
                    "warning: this is a {bits}-bit RSA key: verifiers accept it, but kanmon signs only with RSA keys of 2048 bits or more, as RFC 8301 asks; make a new key under a new selector (docs/dkim.md, rotating a key)"
                );
            }
            if testing {
                println!(
                    "note: t=y marks the domain as testing DKIM; verifiers may ignore failed signatures"
                );
            }
            Outcome::Matches
        }
        RecordCheck::Mismatch(why) => {
            println!(
                "does not match: {why} ({}); publish the record genkey printed for this key",
                key_file.display()
            );
            Outcome::Mismatch
        }
        RecordCheck::Revoked => {
            println!(
                "revoked: p= is empty, so the key was withdrawn and no signature with it verifies"
            );
            Outcome::Revoked
        }
        RecordCheck::Syntax { tag, problem } => {
            match tag {
                Some(tag) => println!("syntax error in tag {tag}: {problem}"),
                None => println!("syntax error: {problem}"),
            }
            Outcome::Syntax
        }
    };
    if validated {
        println!("DNSSEC: the resolver validated this answer (AD bit set)");
    } else {
        println!(
            "DNSSEC: the answer is not marked as validated (no AD bit); this is information only, DKIM does not need DNSSEC"
        );
    }
    outcome
}
