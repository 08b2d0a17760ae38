//! `kanmon dkim genkey`: a new signing key, the record to publish for it, and the
//! configuration entry that uses it.
//!
//! Writes `SELECTOR.private` (PKCS#8 PEM, created with mode 0600 so it is never readable by
//! others, not even for a moment) and `SELECTOR.txt` (the record as a BIND zone line, split
//! into quoted strings of at most 255 bytes, RFC 1035 §3.3.14). Prints the record's name and
//! its value on one line with no quotes, which is what web DNS panels want, and the
//! `[[dkim_keys]]` entry. `k=` is always written, so the record says which algorithm it is
//! for (the `opendkim-genkey` record some admins had to repair lacked it).

use std::fmt::Write as _;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kanmon_core::kanmon_auth::dkim::{self, DEFAULT_RSA_BITS, GeneratedKey, KeyGenError};

use super::dns_name;
use crate::cli::CliError;

/// Longest character-string in a TXT record (RFC 1035 §3.3.14: a length byte, then data).
const MAX_TXT_STRING: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyAlgorithm {
    /// RSA (rsa-sha256): every verifier checks it.
    Rsa,
    /// Ed25519 (ed25519-sha256, RFC 8463): short record, fast; not every verifier checks
    /// it yet, so sign with an RSA key as well.
    Ed25519,
}

#[derive(Debug, Args)]
pub(crate) struct GenkeyArgs {
    /// The signing domain (d=), e.g. example.com.
    #[arg(long)]
    domain: String,
    /// The selector (s=), e.g. 2026a; the files are named after it.
    #[arg(long)]
    selector: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "rsa")]
    algorithm: KeyAlgorithm,
    /// RSA key size in bits: 2048 (the default), 3072 or 4096.
    #[arg(long)]
    bits: Option<usize>,
    /// Directory to write the files into (created, mode 0750, if missing).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Replace existing SELECTOR.private and SELECTOR.txt files.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: GenkeyArgs) -> Result<ExitCode, CliError> {
    let domain = dns_name("domain", &args.domain)?;
    let selector = dns_name("selector", &args.selector)?;
    if args.algorithm == KeyAlgorithm::Ed25519 && args.bits.is_some() {
        return Err(CliError::Usage(
            "--bits is for RSA keys; Ed25519 keys have one size".to_owned(),
        ));
    }
    let bits = args.bits.unwrap_or(DEFAULT_RSA_BITS);
    let private_path = args.dir.join(format!("{selector}.private"));
    let record_path = args.dir.join(format!("{selector}.txt"));
    if !args.force {
        for path in [&private_path, &record_path] {
            if path.exists() {
                return Err(failed(format!(
                    "{} exists; use --force to replace it (a published record for the old key then stops matching)",
                    path.display()
                )));
            }
        }
    }
    let generated = match args.algorithm {
        KeyAlgorithm::Rsa => dkim::generate_rsa(bits),
        KeyAlgorithm::Ed25519 => dkim::generate_ed25519(),
    }
    .map_err(|e| match e {
        // A size the command cannot take is a usage error; the message says why.
        KeyGenError::Crypto => CliError::Failed(Box::new(e)),
        refused => CliError::Usage(refused.to_string()),
    })?;
    let record = generated.key.dns_record();
    let name = format!("{selector}._domainkey.{domain}");
    let description = describe(&generated, bits);

    DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&args.dir)
        .map_err(|e| io_failed(&args.dir, e))?;
    write_private_key(&private_path, generated.pem.as_bytes(), args.force)?;
    let zone_line = bind_record(&name, &record, &format!("{description} for {domain}"));
    write_public(&record_path, zone_line.as_bytes(), args.force)?;

    let key_file = std::path::absolute(&private_path).unwrap_or(private_path);
    let record_file = std::path::absolute(&record_path).unwrap_or(record_path);
    print!(
        "{}",
        instructions(
            &domain,
            &selector,
            &name,
            &record,
            &key_file,
            &record_file,
            &description
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// "RSA 2048-bit key" or "Ed25519 key".
fn describe(generated: &GeneratedKey, bits: usize) -> String {
    match generated.key {
        dkim::SigningKey::Rsa(_) => format!("RSA {bits}-bit key"),
        dkim::SigningKey::Ed25519(_) => "Ed25519 key".to_owned(),
    }
}

/// What to do next: the record for web panels and BIND, the test, the configuration.
fn instructions(
    domain: &str,
    selector: &str,
    name: &str,
    record: &str,
    key_file: &Path,
    record_file: &Path,
    description: &str,
) -> String {
    let mut out = String::new();
    let key = key_file.display();
    let _ = writeln!(out, "Wrote {key} ({description}, mode 0600)");
    let _ = writeln!(out, "  and {} (BIND zone record)", record_file.display());
    let _ = writeln!(out);
    let _ = writeln!(out, "Publish this TXT record:");
    let _ = writeln!(out, "  name:  {name}");
    let _ = writeln!(out, "  value: {record}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "A web DNS panel takes the value above as it is: one line, no quotes. Many panels add the"
    );
    let _ = writeln!(
        out,
        "domain themselves and want only \"{selector}._domainkey\" as the name. For BIND, put the"
    );
    let _ = writeln!(out, "line in {} into the zone.", record_file.display());
    let _ = writeln!(out);
    let _ = writeln!(out, "Once it is published, check it:");
    let _ = writeln!(
        out,
        "  kanmon dkim testkey --domain {domain} --selector {selector} --key {key}"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "The daemon reads the key as its service user (server.user, \"kanmon\" by default):"
    );
    let _ = writeln!(out, "  chown kanmon {key}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Then add the key to kanmon.toml and name it in a [[signing_table]] entry:"
    );
    let _ = writeln!(out);
    out.push_str(&dkim_keys_entry(domain, selector, key_file));
    out
}

/// The `[[dkim_keys]]` entry for the key (the format of docs/dkim.md and issue 8's design).
fn dkim_keys_entry(domain: &str, selector: &str, key_file: &Path) -> String {
    format!(
        "[[dkim_keys]]\nname = \"{domain}-{selector}\"\ndomain = \"{domain}\"\nselector = \"{selector}\"\nfile = {}\n",
        toml_string(&key_file.display().to_string())
    )
}

/// A TOML basic string: quotes and backslashes escaped (paths may hold either).
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The record as a BIND zone line: `NAME. IN TXT ( "..." "..." )`, the tags before `p=` in
/// one string and the key in strings of at most [`MAX_TXT_STRING`] bytes. Resolvers join the
/// strings without separator (RFC 6376 §3.6.2.2), so the split points do not matter.
pub(crate) fn bind_record(name: &str, record: &str, comment: &str) -> String {
    let (tags, key) = match record.find("p=") {
        Some(at) => record.split_at(at),
        None => ("", record),
    };
    let mut strings: Vec<&str> = Vec::new();
    if !tags.is_empty() {
        strings.push(tags);
    }
    // The record is ASCII (tags and base64), so byte chunks are whole strings.
    strings.extend(
        key.as_bytes()
            .chunks(MAX_TXT_STRING)
            .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default()),
    );
    let mut out = format!("{name}.\tIN\tTXT\t( ");
    for (i, string) in strings.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\t\t");
        }
        let _ = write!(out, "\"{string}\"");
    }
    let _ = writeln!(out, " )  ; {comment}");
    out
}

/// Writes the private key with mode 0600 from the moment the file exists. Without `force`
/// the file must not exist (checked by the create itself, so nothing is ever overwritten);
/// with it, a new file is written beside the old one and renamed over it, so an existing
/// file's wider mode is not inherited and the key is never half-written.
fn write_private_key(path: &Path, pem: &[u8], force: bool) -> Result<(), CliError> {
    let target = if force {
        path.with_extension(format!("private.new-{}", std::process::id()))
    } else {
        path.to_owned()
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(|e| io_failed(&target, e))?;
    file.write_all(pem)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_failed(&target, e))?;
    if force {
        std::fs::rename(&target, path).map_err(|e| {
            let _ = std::fs::remove_file(&target);
            io_failed(path, e)
        })?;
    }
    Ok(())
}

/// Writes the public record file (mode from the umask: it is public).
fn write_public(path: &Path, text: &[u8], force: bool) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| io_failed(path, e))?;
    file.write_all(text).map_err(|e| io_failed(path, e))
}

fn failed(message: impl Into<String>) -> CliError {
    CliError::Failed(message.into().into())
}

fn io_failed(path: &Path, error: std::io::Error) -> CliError {
    CliError::Failed(format!("cannot write {}: {error}", path.display()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_records_split_the_key_into_strings_of_at_most_255_bytes() {
        let key = "A".repeat(600);
        let record = format!("v=DKIM1; k=rsa; p={key}");
        let line = bind_record("s._domainkey.example.com", &record, "RSA key");
        assert!(line.starts_with("s._domainkey.example.com.\tIN\tTXT\t( \"v=DKIM1; k=rsa; \""));
        assert!(line.ends_with(" )  ; RSA key\n"));
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.concat(), record);
        assert!(strings.iter().all(|s| s.len() <= MAX_TXT_STRING));
        assert_eq!(
            strings.len(),
            4,
            "tags, then 602 bytes of p= in 255-byte pieces"
        );
    }

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
    }
}
