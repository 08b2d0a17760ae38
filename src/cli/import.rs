//! `kanmon import opendkim`: print the kanmon configuration equivalent to OpenDKIM's
//! KeyTable, SigningTable and TrustedHosts / InternalHosts (the conversion is
//! `opendkim_tables.rs`). Nothing is written: the TOML goes to standard output for the
//! administrator to read and paste, and a one-line tally to standard error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use super::opendkim_tables::{self, Source, TableKind};

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// Convert OpenDKIM's tables into kanmon.toml entries (printed, nothing written).
    Opendkim(OpendkimArgs),
}

#[derive(Debug, Args)]
pub(crate) struct OpendkimArgs {
    /// The KeyTable (as in opendkim.conf: PATH, file:PATH or refile:PATH).
    #[arg(long)]
    keytable: String,
    /// The SigningTable: refile:PATH for wildcard patterns, file:PATH for literal ones; a
    /// bare PATH is read as refile: when it holds a "*", else as file:.
    #[arg(long)]
    signingtable: String,
    /// TrustedHosts (ExternalIgnoreList / InternalHosts file): hosts whose mail is signed.
    #[arg(long)]
    trustedhosts: Option<String>,
    /// InternalHosts, when it is a different file from TrustedHosts.
    #[arg(long)]
    internalhosts: Option<String>,
}

pub(crate) fn run(command: ImportCommand) -> Result<ExitCode, CliError> {
    match command {
        ImportCommand::Opendkim(args) => opendkim(args),
    }
}

/// A dataset as opendkim.conf names it: its kind (if given) and path.
fn dataset(spec: &str) -> Result<(Option<TableKind>, PathBuf), CliError> {
    if let Some(path) = spec.strip_prefix("refile:") {
        return Ok((Some(TableKind::Refile), PathBuf::from(path)));
    }
    if let Some(path) = spec.strip_prefix("file:") {
        return Ok((Some(TableKind::Plain), PathBuf::from(path)));
    }
    if let Some((kind, _)) = spec.split_once(':')
        && matches!(
            kind,
            "csl"
                | "db"
                | "dsn"
                | "ldap"
                | "ldapi"
                | "ldaps"
                | "lua"
                | "memcache"
                | "mdb"
                | "mysql"
                | "pgsql"
                | "sqlite3"
                | "erlang"
                | "redis"
        )
    {
        return Err(CliError::Failed(
            format!("{spec}: only file: and refile: datasets can be read; export the table to a file first").into(),
        ));
    }
    Ok((None, PathBuf::from(spec)))
}

fn read(path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Input {
        path: path.display().to_string(),
        source,
    })
}

fn opendkim(args: OpendkimArgs) -> Result<ExitCode, CliError> {
    let (_, key_path) = dataset(&args.keytable)?;
    let (kind, signing_path) = dataset(&args.signingtable)?;
    let key_text = read(&key_path)?;
    let signing_text = read(&signing_path)?;
    let kind = kind.unwrap_or(if signing_text.contains('*') {
        TableKind::Refile
    } else {
        TableKind::Plain
    });
    let mut host_specs = Vec::new();
    for (label, spec) in [
        ("TrustedHosts", &args.trustedhosts),
        ("InternalHosts", &args.internalhosts),
    ] {
        let Some(spec) = spec else { continue };
        let (_, path) = dataset(spec)?;
        host_specs.push((label, spec.clone(), read(&path)?));
    }
    let hosts: Vec<Source<'_>> = host_specs
        .iter()
        .map(|(_, name, text)| Source { name, text })
        .collect();
    let signing_name = match kind {
        TableKind::Refile if !args.signingtable.starts_with("refile:") => {
            format!("{} (read as refile:)", args.signingtable)
        }
        TableKind::Plain if !args.signingtable.starts_with("file:") => {
            format!("{} (read as file:)", args.signingtable)
        }
        _ => args.signingtable.clone(),
    };
    let converted = opendkim_tables::convert(
        Source {
            name: &args.keytable,
            text: &key_text,
        },
        Source {
            name: &args.signingtable,
            text: &signing_text,
        },
        kind,
        &hosts,
    );
    let mut sources = vec![
        format!("KeyTable {}", args.keytable),
        format!("SigningTable {signing_name}"),
    ];
    sources.extend(
        host_specs
            .iter()
            .map(|(label, name, _)| format!("{label} {name}")),
    );
    print!("{}", opendkim_tables::render(&converted, &sources));
    let skipped = converted.hosts_skipped.len()
        + converted.keys_skipped.len()
        + converted.entries_skipped.len();
    eprintln!(
        "kanmon: {} keys, {} signing_table entries, {} internal_hosts; {skipped} not carried over (see the comments)",
        converted.keys.len(),
        converted.entries.len(),
        converted.internal_hosts.len()
    );
    Ok(ExitCode::SUCCESS)
}
