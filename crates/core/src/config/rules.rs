//! `[content]` and `[[rules]]` validated: each rule's symbol defined, its pattern compiled,
//! the rules grouped by what they match into one [`PatternSet`] per target, and the Postfix
//! header_checks/body_checks files read once at load (a reload takes changed files
//! all-or-nothing, like the rest).

use super::checks_table::{ChecksTable, TableKind, parse_checks_table};
use super::error::ConfigErrors;
use super::pattern_set::{FlaggedPattern, PatternFlags, PatternSet};
use super::raw::{RawContent, RawRule};
use super::symbols::Definitions;
use crate::check::Mode;
use crate::verdict::Action;

/// `content.max_scan_bytes` at least 4 KiB, so a unit slip cannot leave rules blind to all
/// but the first lines; SpamAssassin scans 50,000 bytes of each decoded part by default
/// (`body_part_scan_size`), which kanmon's default of 256 KiB covers for several parts.
pub const MIN_SCAN_BYTES: usize = 4 * 1024;

/// The content rules, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentRules {
    pub mode: Mode,
    pub max_scan_bytes: usize,
    /// `[[rules]]` grouped by target, in order of each target's first rule.
    pub groups: Vec<RuleGroup>,
    /// `header_checks` files, then `body_checks` files, in order.
    pub tables: Vec<ChecksTable>,
}

impl Default for ContentRules {
    fn default() -> Self {
        ContentRules {
            mode: Mode::Tag,
            max_scan_bytes: RawContent::default().max_scan_bytes,
            groups: Vec::new(),
            tables: Vec::new(),
        }
    }
}

impl ContentRules {
    /// Whether there is anything to run.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.tables.is_empty()
    }
}

/// What a rule is matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Each decoded text part (HTML reduced to text).
    Body,
    /// The body as it arrived, undecoded.
    RawBody,
    /// Each URL found in the text and HTML parts.
    Uri,
    /// Each decoded header line, `Name: value`.
    Headers,
    /// The decoded value of each field with this name (compared case-insensitively).
    Header(String),
}

impl Target {
    fn parse(on: &str) -> Result<Target, String> {
        Ok(match on {
            "body" => Target::Body,
            "rawbody" => Target::RawBody,
            "uri" => Target::Uri,
            "headers" => Target::Headers,
            _ => match on.strip_prefix("header:") {
                Some(name)
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':') =>
                {
                    Target::Header(name.to_owned())
                }
                _ => {
                    return Err(format!(
                        "expected \"body\", \"rawbody\", \"uri\", \"headers\" or \"header:Name\" (e.g. \"header:Subject\"), found {on:?}"
                    ));
                }
            },
        })
    }

    /// As written in `on`.
    pub fn as_on(&self) -> String {
        match self {
            Target::Body => "body".to_owned(),
            Target::RawBody => "rawbody".to_owned(),
            Target::Uri => "uri".to_owned(),
            Target::Headers => "headers".to_owned(),
            Target::Header(name) => format!("header:{name}"),
        }
    }
}

/// The rules of one target, compiled together: `rules[i]` is pattern `i` of `set`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    pub target: Target,
    pub set: PatternSet,
    pub rules: Vec<Rule>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The symbol it defined.
    pub symbol: &'static str,
    /// The pattern as written.
    pub pattern: String,
    /// What it asks for on a match (in `enforce` mode); `tag` is `add_header`.
    pub action: Option<Action>,
}

pub(super) fn validate(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    raw: &RawContent,
    rules: &[RawRule],
) -> ContentRules {
    if raw.max_scan_bytes < MIN_SCAN_BYTES {
        errors.push(
            "content.max_scan_bytes",
            format!(
                "must be at least {MIN_SCAN_BYTES} bytes, not {}",
                raw.max_scan_bytes
            ),
        );
    }
    let mut groups: Vec<(Target, Vec<FlaggedPattern>, Vec<Rule>)> = Vec::new();
    for (index, raw_rule) in rules.iter().enumerate() {
        let path = format!("rules[{index}]");
        if let Some((target, pattern, rule)) = rule(errors, definitions, &path, raw_rule) {
            let same = |t: &Target| match (t, &target) {
                (Target::Header(a), Target::Header(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a == b,
            };
            match groups.iter_mut().find(|(t, _, _)| same(t)) {
                Some((_, patterns, rules)) => {
                    patterns.push(pattern);
                    rules.push(rule);
                }
                None => groups.push((target, vec![pattern], vec![rule])),
            }
        }
    }
    let groups = groups
        .into_iter()
        .filter_map(|(target, patterns, rules)| {
            PatternSet::new(patterns)
                .map_err(|e| errors.push("rules", format!("on = {:?}: {e}", target.as_on())))
                .ok()
                .map(|set| RuleGroup { target, set, rules })
        })
        .collect();
    let mut tables = Vec::new();
    for (kind, paths) in [
        (TableKind::Header, &raw.header_checks),
        (TableKind::Body, &raw.body_checks),
    ] {
        for (index, path) in paths.iter().enumerate() {
            let key = format!("{}[{index}]", kind.key());
            match std::fs::read_to_string(path) {
                Ok(text) => match parse_checks_table(path, kind, &text) {
                    Ok(table) => tables.push(table),
                    Err((line, e)) => errors.push(key, format!("{path} line {line}: {e}")),
                },
                Err(e) => errors.push(key, format!("cannot read {path}: {e}")),
            }
        }
    }
    ContentRules {
        mode: raw.mode,
        max_scan_bytes: raw.max_scan_bytes,
        groups,
        tables,
    }
}

fn rule(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    path: &str,
    raw: &RawRule,
) -> Option<(Target, FlaggedPattern, Rule)> {
    let mut ok = true;
    for (key, value) in [
        ("name", &raw.name),
        ("on", &raw.on),
        ("pattern", &raw.pattern),
    ] {
        if value.is_empty() {
            errors.push(
                format!("{path}.{key}"),
                "missing: every rule needs name, on and pattern",
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let target = Target::parse(&raw.on)
        .map_err(|e| errors.push(format!("{path}.on"), e))
        .ok();
    let flags = PatternFlags {
        ignore_case: raw.case_insensitive,
        extended: false,
    };
    let pattern = FlaggedPattern::new(&raw.pattern, flags)
        .map_err(|e| errors.push(format!("{path}.pattern"), e))
        .ok();
    let action = match raw.action.as_deref() {
        None => Some(None),
        Some("reject") => Some(Some(Action::Reject)),
        Some("tempfail") => Some(Some(Action::Tempfail)),
        Some("tag") => Some(Some(Action::AddHeader)),
        Some(other) => {
            errors.push(
                format!("{path}.action"),
                format!("expected one of \"reject\", \"tempfail\", \"tag\", found {other:?}"),
            );
            None
        }
    };
    if raw.score.is_none() && raw.action.is_none() {
        errors.push(
            path,
            "give the rule a score, an action, or both (score = 6.0, action = \"reject\")",
        );
        return None;
    }
    let (target, pattern, action) = (target?, pattern?, action?);
    let description = raw
        .description
        .clone()
        .unwrap_or_else(|| format!("Rule: {} matches /{}/", target.as_on(), raw.pattern));
    let symbol = definitions.define(
        errors,
        &format!("{path}.name"),
        &raw.name,
        raw.score.unwrap_or(0.0),
        description,
    )?;
    Some((
        target,
        pattern,
        Rule {
            symbol,
            pattern: raw.pattern.clone(),
            action,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::Config;
    use super::*;

    #[test]
    fn rules_group_by_target_and_define_symbols() {
        let config = Config::parse(
            r#"
[[rules]]
name = "JP_UNSOLICITED_AD"
on = "body"
pattern = "未承諾広告"
score = 6.0

[[rules]]
name = "SUBJECT_FREE"
on = "header:Subject"
pattern = "free"
case_insensitive = true
action = "tag"

[[rules]]
name = "BODY_CASINO"
on = "body"
pattern = "casino"
score = 2.5
description = "mentions a casino"

[[rules]]
name = "SUBJECT_WIN"
on = "header:subject"
pattern = "win"
action = "reject"
score = 1.0
"#,
        )
        .unwrap();
        let groups = &config.content.groups;
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].target, Target::Body);
        assert_eq!(groups[0].set.len(), 2);
        assert_eq!(groups[1].target, Target::Header("Subject".to_owned()));
        assert_eq!(groups[1].rules[1].action, Some(Action::Reject));
        assert_eq!(groups[1].rules[0].action, Some(Action::AddHeader));
        assert!(groups[1].set.regex(0).is_match("FREE stuff"));
        assert_eq!(config.score("JP_UNSOLICITED_AD"), 6.0);
        assert_eq!(config.score("SUBJECT_FREE"), 0.0);
        let described: Vec<(&str, &str)> = config
            .symbols()
            .filter(|(name, _)| ["JP_UNSOLICITED_AD", "BODY_CASINO"].contains(name))
            .collect();
        assert_eq!(
            described,
            [
                ("JP_UNSOLICITED_AD", "Rule: body matches /未承諾広告/"),
                ("BODY_CASINO", "mentions a casino")
            ]
        );
    }

    #[test]
    fn mistakes_name_their_key_and_line() {
        let errors = Config::parse(
            r#"[content]
max_scan_bytes = 100

[[rules]]
name = "OK_RULE"
on = "body"
pattern = "fine"
score = 1.0

[[rules]]
name = "BAD_PATTERN"
on = "body"
pattern = "(unclosed"
score = 1.0

[[rules]]
name = "BAD_ON"
on = "subject"
pattern = "x"
score = 1.0

[[rules]]
name = "NO_WEIGHT"
on = "body"
pattern = "x"

[[rules]]
name = "OK_RULE"
on = "uri"
pattern = "x"
action = "discard"
"#,
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "line 2: content.max_scan_bytes: must be at least 4096 bytes, not 100",
            "line 13: rules[1].pattern: bad regular expression /(unclosed/",
            "line 18: rules[2].on: expected \"body\", \"rawbody\", \"uri\", \"headers\" or \"header:Name\"",
            "rules[3]: give the rule a score, an action, or both",
            "rules[4].action: expected one of \"reject\", \"tempfail\", \"tag\", found \"discard\"",
        ] {
            assert!(errors.contains(expected), "{expected}\n---\n{errors}");
        }
        let errors = Config::parse(
            "[[rules]]\nname = \"A_RULE\"\non = \"body\"\npattern = \"a\"\nscore = 1.0\n[[rules]]\nname = \"A_RULE\"\non = \"uri\"\npattern = \"b\"\nscore = 1.0\n[[rules]]\non = \"body\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("rules[1].name: A_RULE is already defined by rules[0].name"),
            "{errors}"
        );
        assert!(errors.contains("rules[2].name: missing"), "{errors}");
    }

    #[test]
    fn checks_files_are_read_and_their_errors_name_file_and_line() {
        let mut header = tempfile::NamedTempFile::new().unwrap();
        writeln!(header, "/^Message-ID:.*xxxxx.jp>/ REJECT").unwrap();
        let mut body = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            body,
            "# spam\n/viagra/ DISCARD\n/x/ REDIRECT spam@example.org"
        )
        .unwrap();
        let (header, body) = (
            header.path().display().to_string(),
            body.path().display().to_string(),
        );
        let config = Config::parse(&format!("[content]\nheader_checks = [{header:?}]\n")).unwrap();
        assert_eq!(config.content.tables.len(), 1);
        assert_eq!(config.content.tables[0].path, header);
        let errors = Config::parse(&format!(
            "[content]\nheader_checks = [{header:?}, \"/nonexistent/hc\"]\nbody_checks = [{body:?}]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains(&format!(
                "content.body_checks[0]: {body} line 3: unsupported action REDIRECT: kanmon does not reroute mail; do it in Postfix"
            )),
            "{errors}"
        );
        assert!(
            errors.contains("content.header_checks[1]: cannot read /nonexistent/hc"),
            "{errors}"
        );
    }
}
