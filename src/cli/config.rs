//! `kanmon config check|default|symbols`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use kanmon_core::config::DEFAULT_TOML;
use kanmon_core::signing::SigningKeys;

use super::{CliError, load_config};

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration file; every error names its key and line (exit 2 on error).
    /// The DKIM signing keys are read too, as the user running the command (exit 1 on error).
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
            let loaded = load_config(config.as_ref())?;
            SigningKeys::load(&loaded.signing, loaded.server.user.as_deref())
                .map_err(|e| CliError::Failed(e))?;
            let shown = config.map_or_else(
                || "configuration".to_owned(),
                |path| path.display().to_string(),
            );
            match loaded.signing.keys.len() {
                0 => println!("{shown}: ok"),
                keys => println!("{shown}: ok ({keys} DKIM signing keys read)"),
            }
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
