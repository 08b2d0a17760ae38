//! Many regular expressions of one kind compiled into one automaton ([`RegexSet`]), so a
//! text is scanned once however many rules there are, plus each expression on its own to
//! find the evidence (what matched, where) for the few that did.
//!
//! Flags travel inside each source as an inline group (`(?i)`, `(?m)`), since a set has one
//! builder for all its members and rules differ in their flags.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::regexp_table::{MAX_PATTERN_BYTES, regex_error};

/// Bound on the compiled automaton of one set: 1,000 word-and-class rules compile to a few
/// megabytes (see benches/rules.rs); the bound stops a file of pathological patterns from
/// taking the daemon's memory, and is far above what real rule sets need.
pub const MAX_SET_BYTES: usize = 256 << 20;

/// Bound on the lazy DFA's cache of one set, per thread using it: generous, since a set of
/// a thousand patterns that keeps refilling a small cache falls back to slow NFA search.
const SET_DFA_BYTES: usize = 64 << 20;

/// How a pattern is matched, beyond its own inline flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatternFlags {
    pub ignore_case: bool,
    /// `x`: white space and `#` comments in the pattern are ignored.
    pub extended: bool,
}

/// One pattern compiled alone, with the text it was written as.
#[derive(Debug, Clone)]
pub struct FlaggedPattern {
    /// The source with its flags as an inline group, as the set compiles it.
    source: String,
    regex: Regex,
}

impl FlaggedPattern {
    /// Compiles `text` under `flags`. `^` and `$` always match at line boundaries (CRLF
    /// aware), since rules see whole parts and joined header lines; `.` never crosses a line.
    pub fn new(text: &str, flags: PatternFlags) -> Result<FlaggedPattern, String> {
        let mut inline = String::from("(?mR");
        if flags.ignore_case {
            inline.push('i');
        }
        if flags.extended {
            inline.push('x');
        }
        let source = format!("{inline}){text}");
        let regex = RegexBuilder::new(&source)
            .size_limit(MAX_PATTERN_BYTES)
            .build()
            .map_err(|e| regex_error(text, e))?;
        Ok(FlaggedPattern { source, regex })
    }
}

/// Patterns compiled together and alone; index `i` of the set is pattern `i`.
#[derive(Debug, Clone)]
pub struct PatternSet {
    set: RegexSet,
    regexes: Vec<Regex>,
}

impl PartialEq for PatternSet {
    fn eq(&self, other: &Self) -> bool {
        self.set.patterns() == other.set.patterns()
    }
}

impl Default for PatternSet {
    fn default() -> Self {
        PatternSet {
            set: RegexSet::empty(),
            regexes: Vec::new(),
        }
    }
}

impl PatternSet {
    /// The set of `patterns`, in order; `Err` only when together they exceed
    /// [`MAX_SET_BYTES`].
    pub fn new(patterns: Vec<FlaggedPattern>) -> Result<PatternSet, String> {
        let set = RegexSetBuilder::new(patterns.iter().map(|p| p.source.as_str()))
            .size_limit(MAX_SET_BYTES)
            .dfa_size_limit(SET_DFA_BYTES)
            .build()
            .map_err(|e| {
                format!(
                    "the {} patterns together exceed the {} MiB limit on one compiled set: {e}",
                    patterns.len(),
                    MAX_SET_BYTES >> 20
                )
            })?;
        Ok(PatternSet {
            set,
            regexes: patterns.into_iter().map(|p| p.regex).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    /// Indexes of the patterns that match somewhere in `text`, ascending: one pass over the
    /// text for the whole set.
    pub fn matching(&self, text: &str) -> Vec<usize> {
        if self.regexes.is_empty() || text.is_empty() {
            return Vec::new();
        }
        self.set.matches(text).into_iter().collect()
    }

    /// Pattern `index` alone.
    pub fn regex(&self, index: usize) -> &Regex {
        &self.regexes[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[(&str, PatternFlags)]) -> PatternSet {
        PatternSet::new(
            patterns
                .iter()
                .map(|(p, f)| FlaggedPattern::new(p, *f).unwrap())
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn flags_differ_per_pattern_and_lines_anchor() {
        let i = PatternFlags {
            ignore_case: true,
            ..PatternFlags::default()
        };
        let set = set(&[
            ("viagra", i),
            ("Viagra", PatternFlags::default()),
            ("^buy now$", PatternFlags::default()),
            ("未承諾広告", PatternFlags::default()),
        ]);
        assert_eq!(set.matching("VIAGRA\r\nbuy now\r\nthe end"), [0, 2]);
        assert_eq!(set.matching("※未承諾広告※ Viagra"), [0, 1, 3]);
        assert_eq!(set.matching("do not buy now"), Vec::<usize>::new());
        assert!(set.regex(2).is_match("x\nbuy now\n"));
    }

    #[test]
    fn extended_patterns_ignore_space_and_comments() {
        let x = PatternFlags {
            extended: true,
            ..PatternFlags::default()
        };
        let set = set(&[("free \\s+ money  # the classic", x)]);
        assert_eq!(set.matching("get free   money"), [0]);
    }

    #[test]
    fn bad_patterns_name_themselves() {
        let error = FlaggedPattern::new("(unclosed", PatternFlags::default()).unwrap_err();
        assert!(
            error.starts_with("bad regular expression /(unclosed/:"),
            "{error}"
        );
    }
}
