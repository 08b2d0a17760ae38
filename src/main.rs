//! kanmon: sender authentication and anti-spam for Postfix, one daemon and CLI.
//!
//! `main` parses the command line, runs the subcommand, prints an error chain once and
//! turns the outcome into the documented exit status (DESIGN.md "Contracts"): 0 done,
//! 2 usage or configuration error, 3 unreadable input.

mod cli;
mod daemon;
mod frontend;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kanmon: {}", cli::error_chain(&error));
            error.exit_code()
        }
    }
}
