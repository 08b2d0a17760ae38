//! `kanmon dkim`: DKIM chores from the command line.

mod sign;

use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum DkimCommand {
    /// Sign one message (standard input to standard output) with one key, as the milter
    /// would: the DKIM-Signature field on top, the message unchanged below it.
    Sign(sign::SignArgs),
}

pub(crate) fn run(command: DkimCommand) -> Result<ExitCode, CliError> {
    match command {
        DkimCommand::Sign(args) => sign::run(args),
    }
}
