//! Symbols: the named pieces of evidence checks report.
//!
//! A check declares every symbol it can emit, with a description an administrator reads in
//! `kanmon check` and the dashboard; configuration gives each one its score (`[scores]`,
//! defaults in [`crate::config::DEFAULT_SCORES`]). Names follow SpamAssassin's where the
//! meaning matches (`SPF_PASS`, `DKIM_VALID_AU`, `DMARC_REJECT`), so users' procmail and
//! sieve rules on `tests=` keep working.

use serde::Serialize;

/// A symbol a check may emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Symbol {
    /// UPPER_SNAKE name, unique across all checks.
    pub name: &'static str,
    /// What it means when it fires, in one line.
    pub description: &'static str,
}

/// One symbol that fired for a message, with the evidence for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The symbol's name; always one the emitting check declared.
    pub symbol: &'static str,
    /// Why it fired, e.g. "203.0.113.5 is not permitted by spoofed.test (-all)".
    pub evidence: String,
}

impl Hit {
    pub fn new(symbol: &'static str, evidence: impl Into<String>) -> Self {
        Self {
            symbol,
            evidence: evidence.into(),
        }
    }
}

/// A hit with the score configuration gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredHit {
    /// The symbol's name.
    pub name: &'static str,
    /// Its configured score.
    pub score: f64,
    /// The evidence.
    pub reason: String,
}

/// A symbol the configuration defines rather than a check (`[[dnsbl]]` return codes,
/// `[[rules]]`, `[[sender_rules]]`), with its score from the entry that defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinedSymbol {
    /// Interned ([`intern`]): hits name it like a declared symbol.
    pub name: &'static str,
    /// What it means, written from the entry ("zen.spamhaus.org lists the client: 127.0.0.2").
    pub description: String,
    /// Its score before `[scores]`, which may override it.
    pub score: f64,
}

/// The `&'static str` for a symbol name the configuration defines. Hits, scores and counts
/// carry names as `&'static str` so a message costs no allocation per symbol; names from
/// the file are kept once, and a reload that defines the same names again reuses them, so
/// memory grows only with names never configured before (bounded by the files' sizes).
pub fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};

    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Mutex::default);
    // A panic elsewhere cannot leave the set half-updated: insertion is one call.
    let mut names = names
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_a_name_twice_gives_the_same_str() {
        let first = intern("RCVD_IN_TEST_INTERN");
        let second = intern(&String::from("RCVD_IN_TEST_INTERN"));
        assert!(std::ptr::eq(first, second));
        assert_eq!(first, "RCVD_IN_TEST_INTERN");
    }
}
