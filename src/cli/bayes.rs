//! `kanmon bayes stats` (what the classifier has learned, and whether it is ready) and
//! `kanmon bayes reset` (forget all of it, as `sa-learn --clear`): both open the store
//! directly, or reach it through a running `kanmon serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use kanmon_core::bayes::{self, learned_version, readiness};
use kanmon_store::{ClassTotals, Store};

use super::{CliError, current_thread_runtime, load_config, store_failed as failed};

#[derive(Debug, Subcommand)]
pub(crate) enum BayesCommand {
    /// Learned counts, token count, and whether the classifier is ready.
    Stats {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Forget everything learned (token counts, learned messages, tokenizer version);
    /// greylist, statistics and history stay. Says what it would remove unless --yes.
    Reset {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Really remove it.
        #[arg(long)]
        yes: bool,
    },
}

pub(crate) fn run(command: BayesCommand) -> Result<ExitCode, CliError> {
    let config = match &command {
        BayesCommand::Stats { config, .. } | BayesCommand::Reset { config, .. } => {
            load_config(config.as_ref())?
        }
    };
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let store = Store::open_or_connect(&config.store)
            .await
            .map_err(failed)?;
        let learned = Learned::read(&store).await?;
        match command {
            BayesCommand::Stats { json, .. } => {
                stats(&learned, &config, json);
                Ok(ExitCode::SUCCESS)
            }
            BayesCommand::Reset { yes, .. } => reset(&store, &learned, &config, yes).await,
        }
    })
}

/// What the store holds for the classifier.
struct Learned {
    totals: ClassTotals,
    tokens: u64,
    version: Option<String>,
    backend: &'static str,
    location: String,
}

impl Learned {
    async fn read(store: &Store) -> Result<Learned, CliError> {
        let summary = store.summary().await.map_err(failed)?;
        let version = learned_version(store).await.map_err(failed)?;
        Ok(Learned {
            totals: summary.learned,
            tokens: summary.tokens,
            version,
            backend: summary.backend,
            location: summary.location,
        })
    }

    /// Nothing to forget: no counts, and no version marker but perhaps this kanmon's own.
    fn is_empty(&self) -> bool {
        self.totals == ClassTotals::default()
            && self.tokens == 0
            && self
                .version
                .as_deref()
                .is_none_or(|v| v == bayes::TOKENIZER_VERSION)
    }
}

fn stats(learned: &Learned, config: &kanmon_core::Config, json: bool) {
    let params = &config.bayes.params;
    let readiness = readiness(
        learned.totals.spam,
        learned.totals.ham,
        params.min_spam,
        params.min_ham,
        learned.version.as_deref(),
    );
    if json {
        let object = serde_json::json!({
            "spam": learned.totals.spam,
            "ham": learned.totals.ham,
            "tokens": learned.tokens,
            "min_spam": params.min_spam,
            "min_ham": params.min_ham,
            "tokenizer": learned.version,
            "ready": readiness.is_ok(),
            "why_not": readiness.as_ref().err(),
            "store": learned.location,
        });
        println!("{object}");
        return;
    }
    println!(
        "learned     {} spam, {} ham",
        learned.totals.spam, learned.totals.ham
    );
    println!("tokens      {}", learned.tokens);
    println!(
        "tokenizer   {}",
        learned
            .version
            .as_deref()
            .unwrap_or("(nothing learned yet)")
    );
    match &readiness {
        Ok(()) => println!("ready       yes"),
        Err(why) => println!("ready       no: {why}"),
    }
    println!("store       {} {}", learned.backend, learned.location);
}

/// Without `yes`, says what would go and exits 2, so a mistyped command removes nothing.
async fn reset(
    store: &Store,
    learned: &Learned,
    config: &kanmon_core::Config,
    yes: bool,
) -> Result<ExitCode, CliError> {
    let what = format!(
        "{} spam and {} ham learned, {} tokens, tokenizer {}, in the {} store {}",
        learned.totals.spam,
        learned.totals.ham,
        learned.tokens,
        learned.version.as_deref().unwrap_or("(none)"),
        learned.backend,
        learned.location
    );
    if learned.is_empty() {
        println!(
            "nothing learned in the {} store {}",
            learned.backend, learned.location
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        return Err(CliError::Usage(format!(
            "this would forget {what}; run again with --yes to do it \
             (`kanmon store export > FILE` first keeps a copy that `kanmon store import` restores)"
        )));
    }
    bayes::reset(store).await.map_err(failed)?;
    let params = &config.bayes.params;
    println!(
        "forgot what the store had: {what}\n\
         Bayes abstains until {} spam and {} ham are learned again (autolearn, if on, counts too)",
        params.min_spam, params.min_ham
    );
    Ok(ExitCode::SUCCESS)
}
