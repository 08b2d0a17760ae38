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
