//! `kanmon http hash-password`: the `[http] password_hash` value for a password read from
//! the terminal (not echoed, asked twice) or from standard input (one line) — never from
//! the command line, where `ps` and the shell's history would show it.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Subcommand;
use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};

use super::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum HttpCommand {
    /// Print the Argon2 PHC string of a password for `[http] password_hash`.
    HashPassword,
}

/// Longest password read: far beyond any passphrase, small enough to bound the hashing.
const MAX_PASSWORD_BYTES: usize = 1024;

pub(crate) fn run(command: HttpCommand) -> Result<ExitCode, CliError> {
    let HttpCommand::HashPassword = command;
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt("Password: ")?;
        let again = prompt("Again: ")?;
        if first != again {
            return Err(CliError::Usage("the two passwords differ".to_owned()));
        }
        first
    } else {
        read_line(&mut stdin.lock())?
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".to_owned()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CliError::Usage(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let hash = kanmon_web::hash_password(&password).map_err(|e| CliError::Failed(e.into()))?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

/// One line from the terminal with echo off (restored even when the read fails).
fn prompt(text: &str) -> Result<String, CliError> {
    let failed = |e: std::io::Error| CliError::Failed(Box::new(e));
    eprint!("{text}");
    std::io::stderr().flush().map_err(failed)?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).map_err(|e| failed(e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| failed(e.into()))?;
    let line = read_line(&mut stdin.lock());
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    line
}

fn read_line(input: &mut impl BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    Read::take(&mut *input, MAX_PASSWORD_BYTES as u64 + 2)
        .read_line(&mut line)
        .map_err(|source| CliError::Input {
            path: "standard input".to_owned(),
            source,
        })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
