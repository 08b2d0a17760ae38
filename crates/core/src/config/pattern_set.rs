//! Many regular expressions of one kind compiled into one automaton, so a text is scanned
//! once however many rules there are, plus each expression on its own to find the evidence
//! (what matched, where) for the few that did.
//!
//! The set is a *prefilter*: it may report a pattern that does not match, never miss one
//! that does, and every pattern it reports is confirmed alone. That freedom is used for
//! Unicode word boundaries (`\b`, `\B`): the lazy DFA, which makes a set of a thousand
//! patterns fast, cannot evaluate them on non-ASCII text and the search falls back to an
//! NFA simulation about a hundred times slower (measured: 0.3 MB/s against 50 MB/s with
//! 1,000 rules); so the set is built from each pattern's syntax tree with those assertions
//! removed, which only lets it match more.
//!
//! Flags travel inside each source as an inline group (`(?i)`, `(?m)`), since rules differ
//! in their flags.

use regex::{Regex, RegexBuilder};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::{Input, MatchKind, meta};
use regex_syntax::hir::{Capture, Hir, HirKind, Look, Repetition};

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

/// One pattern compiled alone, and its loosened syntax tree for the set.
#[derive(Debug, Clone)]
pub struct FlaggedPattern {
    /// The source with its flags as an inline group.
    source: String,
    regex: Regex,
    loose: Hir,
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
        let tree = regex_syntax::ParserBuilder::new()
            .build()
            .parse(&source)
            .map_err(|e| format!("bad regular expression /{text}/: {e}"))?;
        Ok(FlaggedPattern {
            loose: without_unicode_word_boundaries(&tree),
            source,
            regex,
        })
    }
}

/// `tree` with every Unicode word-boundary assertion replaced by the empty match.
fn without_unicode_word_boundaries(tree: &Hir) -> Hir {
    match tree.kind() {
        HirKind::Look(
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode,
        ) => Hir::empty(),
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            sub: Box::new(without_unicode_word_boundaries(&repetition.sub)),
            ..repetition.clone()
        }),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(without_unicode_word_boundaries(&capture.sub)),
            ..capture.clone()
        }),
        HirKind::Concat(subs) => {
            Hir::concat(subs.iter().map(without_unicode_word_boundaries).collect())
        }
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(without_unicode_word_boundaries).collect())
        }
        _ => tree.clone(),
    }
}

/// Patterns compiled together and alone; index `i` of the set is pattern `i`.
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    /// `None` when empty.
    set: Option<meta::Regex>,
    sources: Vec<String>,
    regexes: Vec<Regex>,
}

impl PartialEq for PatternSet {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

impl PatternSet {
    /// The set of `patterns`, in order; `Err` only when together they exceed
    /// [`MAX_SET_BYTES`].
    pub fn new(patterns: Vec<FlaggedPattern>) -> Result<PatternSet, String> {
        if patterns.is_empty() {
            return Ok(PatternSet::default());
        }
        let trees: Vec<&Hir> = patterns.iter().map(|p| &p.loose).collect();
        let config = meta::Config::new()
            .match_kind(MatchKind::All)
            .utf8_empty(true)
            .which_captures(WhichCaptures::None)
            .nfa_size_limit(Some(MAX_SET_BYTES))
            .hybrid_cache_capacity(SET_DFA_BYTES);
        let set = meta::Builder::new()
            .configure(config)
            .build_many_from_hir(&trees)
            .map_err(|e| {
                format!(
                    "the {} patterns together exceed the {} MiB limit on one compiled set: {e}",
                    patterns.len(),
                    MAX_SET_BYTES >> 20
                )
            })?;
        let (sources, regexes) = patterns.into_iter().map(|p| (p.source, p.regex)).unzip();
        Ok(PatternSet {
            set: Some(set),
            sources,
            regexes,
        })
    }

    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    /// Indexes of the patterns that may match somewhere in `text`, ascending: one pass over
    /// the text for the whole set. A superset of those that do (see the module
    /// documentation); confirm each with [`PatternSet::regex`].
    pub fn candidates(&self, text: &str) -> Vec<usize> {
        let Some(set) = &self.set else {
            return Vec::new();
        };
        if text.is_empty() {
            return Vec::new();
        }
        let mut found = regex_automata::PatternSet::new(set.pattern_len());
        set.which_overlapping_matches(&Input::new(text), &mut found);
        found.iter().map(|id| id.as_usize()).collect()
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
        assert_eq!(set.candidates("VIAGRA\r\nbuy now\r\nthe end"), [0, 2]);
        assert_eq!(set.candidates("※未承諾広告※ Viagra"), [0, 1, 3]);
        assert_eq!(set.candidates("do not buy now"), Vec::<usize>::new());
        assert!(set.regex(2).is_match("x\nbuy now\n"));
    }

    #[test]
    fn extended_patterns_ignore_space_and_comments() {
        let x = PatternFlags {
            extended: true,
            ..PatternFlags::default()
        };
        let set = set(&[("free \\s+ money  # the classic", x)]);
        assert_eq!(set.candidates("get free   money"), [0]);
    }

    /// The set drops Unicode word boundaries (a superset, confirmed by each pattern alone);
    /// everything else it decides exactly.
    #[test]
    fn word_boundaries_are_loosened_in_the_set_only() {
        let set = set(&[
            ("\\bcasino\\b", PatternFlags::default()),
            ("\\Bino", PatternFlags::default()),
            ("(?-u:\\b)free\\b", PatternFlags::default()),
        ]);
        let text = "カジノcasinos, freely ünfree";
        assert_eq!(set.candidates(text), [0, 1, 2]);
        assert!(!set.regex(0).is_match(text));
        assert!(set.regex(1).is_match(text));
        assert!(!set.regex(2).is_match(text));
        assert_eq!(set.candidates("a casino"), [0, 1]);
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
