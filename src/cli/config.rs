//! `kanmon config check|default|symbols`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use kanmon_core::config::DEFAULT_TOML;

use super::{CliError, load_config};

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration file; every error names its key and line (exit 2 on error).
    Check {
        /// The file to check (default /etc/kanmon/kanmon.toml, or the built-in defaults).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the fully commented default configuration.
    Default,
    /// List every symbol with its score and description.
    Symbols {
        /// The configuration whose scores to show.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

pub(crate) fn run(command: ConfigCommand) -> Result<ExitCode, CliError> {
    match command {
        ConfigCommand::Check { config } => {
            load_config(config.as_ref())?;
            let shown = config.map_or_else(
                || "configuration".to_owned(),
                |path| path.display().to_string(),
            );
            println!("{shown}: ok");
        }
        ConfigCommand::Default => print!("{DEFAULT_TOML}"),
        ConfigCommand::Symbols { config } => {
            let config = load_config(config.as_ref())?;
            for (name, description) in config.symbols() {
                println!("{name:<20} {:>6.2}  {description}", config.score(name));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
