//! The checks, one per file, and the catalogue of every symbol they declare.
//!
//! Some checks emit symbols the configuration defines rather than declares (`rbl`: each DNS
//! list entry names its own); those are in `Config::defined`, not in [`catalogue`].

mod arc;
mod bayes;
mod dkim;
mod dmarc;
mod greylist;
mod helo;
mod rbl;
mod rules;
mod s25r;
mod senders;
mod spf;

use kanmon_auth::dns::Resolver;
use kanmon_store::Store;

use crate::check::{Check, Mode};
use crate::config::Config;
use crate::symbol::Symbol;

pub(crate) use arc::ArcCheck;
pub(crate) use bayes::BayesCheck;
pub(crate) use dkim::DkimCheck;
pub(crate) use dmarc::DmarcCheck;
pub(crate) use greylist::Greylister;
pub use greylist::Greylisting;
pub(crate) use helo::HeloCheck;
pub(crate) use rbl::RblCheck;
pub(crate) use rules::RulesCheck;
pub(crate) use s25r::S25rCheck;
pub(crate) use senders::SenderRulesCheck;
pub(crate) use spf::SpfCheck;

/// Symbols the engine itself emits, about the message rather than any one check.
pub const ENGINE_SYMBOLS: &[Symbol] = &[Symbol {
    name: "HEADER_UNREADABLE",
    description: "Message: the header section could not be read (malformed or over a limit); message checks were skipped",
}];

/// Every declared symbol, per check, in the order the checks run.
pub fn catalogue() -> impl Iterator<Item = &'static Symbol> {
    [
        spf::SYMBOLS,
        dkim::SYMBOLS,
        dmarc::SYMBOLS,
        arc::SYMBOLS,
        s25r::SYMBOLS,
        helo::SYMBOLS,
        greylist::SYMBOLS,
        rules::SYMBOLS,
        bayes::SYMBOLS,
        ENGINE_SYMBOLS,
    ]
    .into_iter()
    .flatten()
}

/// The declared symbol called `name`, if any.
pub fn declared(name: &str) -> Option<&'static Symbol> {
    catalogue().find(|symbol| symbol.name == name)
}

/// The checks the configuration turns on, in pipeline order. Those that ask the DNS get a
/// clone of `resolver` (sharing its cache). Greylisting, which keeps state in the store, is
/// not among them: it is asked per recipient ([`crate::Engine::greylist`]). Bayes reads
/// its counts from `store`.
pub(crate) fn enabled<R: Resolver + Clone + 'static>(
    config: &Config,
    resolver: &R,
    store: &Store,
) -> Vec<Box<dyn Check>> {
    let mut checks: Vec<Box<dyn Check>> = Vec::new();
    if config.spf.mode != Mode::Off {
        checks.push(Box::new(SpfCheck::new(&config.spf)));
    }
    if config.dkim.mode != Mode::Off {
        checks.push(Box::new(DkimCheck::new(&config.dkim)));
    }
    if config.dmarc.mode != Mode::Off {
        checks.push(Box::new(DmarcCheck::new(&config.dmarc)));
    }
    if config.arc.mode != Mode::Off {
        checks.push(Box::new(ArcCheck));
    }
    if config.s25r.mode != Mode::Off {
        // rgrey: with greylisting enforced, S25R's suspects are greylisted instead of
        // refused until whitelisted, so S25R asks for nothing itself.
        let greylisted = config.greylist.mode == Mode::Enforce;
        checks.push(Box::new(S25rCheck::new(&config.s25r, greylisted)));
    }
    if config.helo.mode != Mode::Off {
        checks.push(Box::new(HeloCheck));
    }
    if config.senders.mode != Mode::Off && !config.senders.rules.is_empty() {
        checks.push(Box::new(SenderRulesCheck::new(&config.senders)));
    }
    if config.rbl.mode != Mode::Off {
        checks.push(Box::new(RblCheck::new(&config.rbl, resolver.clone())));
    }
    if config.content.mode != Mode::Off && !config.content.is_empty() {
        checks.push(Box::new(RulesCheck::new(&config.content)));
    }
    if config.bayes.mode != Mode::Off {
        checks.push(Box::new(BayesCheck::new(&config.bayes, store)));
    }
    checks
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::config::DEFAULT_SCORES;

    #[test]
    fn every_symbol_is_unique_described_and_has_a_default_score() {
        let mut names = HashSet::new();
        for symbol in catalogue() {
            assert!(names.insert(symbol.name), "{} declared twice", symbol.name);
            assert!(
                !symbol.description.is_empty(),
                "{} has no description",
                symbol.name
            );
            assert!(
                symbol
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{} is not UPPER_SNAKE",
                symbol.name
            );
        }
        let scored: HashSet<&str> = DEFAULT_SCORES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, scored, "declared symbols and default scores differ");
        assert_eq!(
            scored.len(),
            DEFAULT_SCORES.len(),
            "a default score is listed twice"
        );
    }
}
