//! `kanmon serve`: the milter and policy daemon, in the foreground (systemd or a terminal).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, load_config};
use crate::daemon;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults). SIGHUP re-reads it.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    super::init_logging("info");
    let config = load_config(args.config.as_ref())?;
    let path = args.config;
    let reload: daemon::Reload = Box::new(move || {
        load_config(path.as_ref()).map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    });
    daemon::run(config, reload).map_err(|e| CliError::Failed(Box::new(e)))?;
    Ok(ExitCode::SUCCESS)
}
