//! Symbols the configuration defines: list return codes, rules, sender rules. Each entry
//! that names a symbol goes through [`Definitions::define`], which holds every name to the
//! rules the checks' own symbols follow and keeps names unique across the whole file.

use super::error::ConfigErrors;
use crate::checks;
use crate::symbol::{DefinedSymbol, intern};

/// Longest symbol name the file may define: SpamAssassin's longest stock names are about
/// 30 characters, and every name is repeated in `X-Spam-Status` and the log line.
pub const MAX_SYMBOL_LEN: usize = 64;

/// The symbols defined so far, in file order, and where each was defined.
#[derive(Default)]
pub(super) struct Definitions {
    symbols: Vec<(DefinedSymbol, String)>,
}

impl Definitions {
    /// Defines `name` (from the key at `path`) with its score and description; `None`, with
    /// the reason in `errors`, when the name is malformed, a built-in symbol's, or taken.
    pub(super) fn define(
        &mut self,
        errors: &mut ConfigErrors,
        path: &str,
        name: &str,
        score: f64,
        description: String,
    ) -> Option<&'static str> {
        let well_formed = name.len() <= MAX_SYMBOL_LEN
            && name.starts_with(|c: char| c.is_ascii_uppercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            errors.push(
                path,
                format!(
                    "{name:?} is not a symbol name: A-Z, 0-9 and _, starting with a letter, at most {MAX_SYMBOL_LEN} characters (RCVD_IN_SPAMCOP)"
                ),
            );
            return None;
        }
        if checks::declared(name).is_some() {
            errors.push(
                path,
                format!("{name} is a built-in symbol; give this entry a name of its own, or set {name}'s score in [scores]"),
            );
            return None;
        }
        if let Some((_, first)) = self.symbols.iter().find(|(s, _)| s.name == name) {
            errors.push(path, format!("{name} is already defined by {first}"));
            return None;
        }
        if !score.is_finite() {
            errors.push(path, "the score must be a finite number");
            return None;
        }
        let name = intern(name);
        self.symbols.push((
            DefinedSymbol {
                name,
                description,
                score,
            },
            path.to_owned(),
        ));
        Some(name)
    }

    pub(super) fn into_symbols(self) -> Vec<DefinedSymbol> {
        self.symbols.into_iter().map(|(symbol, _)| symbol).collect()
    }
}
