//! Content rules: `[[rules]]` regular expressions and Postfix header_checks/body_checks
//! files, matched against the *decoded* message (base64 and quoted-printable undone,
//! charsets converted to UTF-8, HTML reduced to text, RFC 2047 headers decoded), which is
//! what Postfix's own checks could not see.
//!
//! Data flow: the decoded content ([`crate::content::Content`], derived once) → the inputs
//! each target reads, bounded by `content.max_scan_bytes` → for each target, one pass of its
//! [`PatternSet`] over the inputs joined by newlines → only for the patterns that matched
//! somewhere, each pattern alone on each input, for the evidence (and, for Postfix files,
//! the first-match-wins order per line) → hits on the rules' symbols (or `HEADER_CHECKS`,
//! `BODY_CHECKS` and their `_WARN` companions) and the most severe action asked for.

use std::borrow::Cow;

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{
    ChecksTable, ContentRules, Entry, PatternSet, RuleGroup, TableAction, TableKind, Target,
};
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::{Action, Header};

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "HEADER_CHECKS",
        description: "Postfix header_checks: a REJECT, DEFER, DISCARD or HOLD entry matched a decoded header line",
    },
    Symbol {
        name: "HEADER_CHECKS_WARN",
        description: "Postfix header_checks: a WARN, INFO or PREPEND entry matched a decoded header line",
    },
    Symbol {
        name: "BODY_CHECKS",
        description: "Postfix body_checks: a REJECT, DEFER, DISCARD or HOLD entry matched a line of the decoded text",
    },
    Symbol {
        name: "BODY_CHECKS_WARN",
        description: "Postfix body_checks: a WARN or INFO entry matched a line of the decoded text",
    },
];

/// Most file entries named in the evidence of one `*_CHECKS` hit; the rest are counted.
const MAX_ENTRIES_SHOWN: usize = 5;

/// Longest piece of matched text quoted in evidence: enough to recognise the match, short
/// enough that sender text cannot flood a report.
const MAX_EVIDENCE_CHARS: usize = 60;

pub(crate) struct RulesCheck {
    rules: ContentRules,
}

impl RulesCheck {
    pub(crate) fn new(rules: &ContentRules) -> Self {
        Self {
            rules: rules.clone(),
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        let inputs = Inputs::new(scan, self.rules.max_scan_bytes);
        let reads = |target: Target| self.rules.groups.iter().any(|g| g.target == target);
        let body_read =
            reads(Target::Body) || self.rules.tables.iter().any(|t| t.kind == TableKind::Body);
        let truncated =
            body_read && inputs.body_truncated || reads(Target::RawBody) && inputs.raw_truncated;
        let mut asked: Option<(Action, String)> = None;
        let mut ask = |action: Action, reason: String| {
            if asked.as_ref().is_none_or(|(a, _)| action > *a) {
                asked = Some((action, reason));
            }
        };
        for group in &self.rules.groups {
            let items = inputs.for_target(&group.target);
            for (index, evidence) in group_matches(group, &items) {
                let rule = &group.rules[index];
                outcome.hit(rule.symbol, evidence);
                if let Some(action) = rule.action {
                    ask(action, format!("Content rule: {}", rule.symbol));
                }
            }
        }
        let mut entry_hits = EntryHits::default();
        for table in &self.rules.tables {
            let lines: Vec<&str> = match table.kind {
                TableKind::Header => inputs.headers.iter().map(String::as_str).collect(),
                TableKind::Body => inputs.body.iter().flat_map(|part| part.lines()).collect(),
            };
            for found in table_matches(table, &lines) {
                apply(table, &found, &mut entry_hits, &mut outcome, &mut ask);
            }
        }
        entry_hits.into_hits(&mut outcome);
        if truncated {
            outcome.skip(
                "content",
                format!(
                    "text beyond content.max_scan_bytes ({} bytes) was not scanned",
                    self.rules.max_scan_bytes
                ),
            );
        }
        outcome.enforce = asked;
        outcome
    }
}

/// The texts rules read, each bounded.
struct Inputs<'s> {
    /// `Name: value`, decoded and unfolded.
    headers: Vec<String>,
    /// Decoded text parts, together at most `max_scan_bytes`.
    body: Vec<&'s str>,
    raw_body: Cow<'s, str>,
    uris: Vec<&'s str>,
    fields: &'s [(String, String)],
    /// Whether text parts, or the raw body, went past `max_scan_bytes`.
    body_truncated: bool,
    raw_truncated: bool,
}

impl<'s> Inputs<'s> {
    fn new(scan: &'s Scan<'_>, max_bytes: usize) -> Self {
        let content = scan.content();
        let mut budget = max_bytes;
        let mut truncated = false;
        let mut body = Vec::new();
        for part in &content.text_parts {
            let kept = prefix(part, budget);
            truncated |= kept.len() < part.len();
            budget -= kept.len();
            if !kept.is_empty() {
                body.push(kept);
            }
        }
        let raw = scan.message.as_ref().map_or(&[][..], |m| m.body);
        let raw_truncated = raw.len() > max_bytes;
        let raw = &raw[..raw.len().min(max_bytes)];
        Inputs {
            headers: content
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect(),
            body,
            raw_body: String::from_utf8_lossy(raw),
            uris: content.urls.iter().map(String::as_str).collect(),
            fields: &content.headers,
            body_truncated: truncated,
            raw_truncated,
        }
    }

    fn for_target<'a>(&'a self, target: &Target) -> Vec<&'a str> {
        match target {
            Target::Body => self.body.clone(),
            Target::RawBody => vec![self.raw_body.as_ref()],
            Target::Uri => self.uris.clone(),
            Target::Headers => self.headers.iter().map(String::as_str).collect(),
            Target::Header(name) => self
                .fields
                .iter()
                .filter(|(field, _)| field.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
                .collect(),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The patterns of `set` that may match one of `items` (confirmed later, each alone): one
/// pass of the set over the items joined.
fn candidates(set: &PatternSet, items: &[&str]) -> Vec<usize> {
    match items {
        [] => Vec::new(),
        [one] => set.candidates(one),
        many => set.candidates(&many.join("\n")),
    }
}

/// Each rule of the group that matches an item, with its evidence from the first such item.
fn group_matches(group: &RuleGroup, items: &[&str]) -> Vec<(usize, String)> {
    let on = group.target.as_on();
    candidates(&group.set, items)
        .into_iter()
        .filter_map(|index| {
            let regex = group.set.regex(index);
            items.iter().find_map(|item| regex.find(item)).map(|found| {
                let rule = &group.rules[index];
                (
                    index,
                    format!("{on} matches /{}/: {}", rule.pattern, quote(found.as_str())),
                )
            })
        })
        .collect()
}

/// A rule entry of a table that decided some line, with the text its pattern matched there.
struct TableMatch<'t> {
    line: usize,
    pattern: usize,
    action: &'t TableAction,
    matched: Option<String>,
    /// The action's text with `$1`… substituted from the line.
    text: String,
}

/// Postfix's evaluation: for each line, the first entry that matches decides; each entry is
/// reported once, for the first line it decided.
fn table_matches<'t>(table: &'t ChecksTable, lines: &[&str]) -> Vec<TableMatch<'t>> {
    let candidates = candidates(&table.set, lines);
    let mut found: Vec<TableMatch<'t>> = Vec::new();
    if candidates.is_empty() && !table.has_negation {
        return found;
    }
    for text in lines {
        let on_line: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| table.set.regex(i).is_match(text))
            .collect();
        if on_line.is_empty() && !table.has_negation {
            continue;
        }
        let Some(Entry::Rule {
            line,
            condition,
            action,
        }) = table.first_match(|i| on_line.contains(&i))
        else {
            continue;
        };
        if matches!(action, TableAction::Ignore) || found.iter().any(|f| f.line == *line) {
            continue;
        }
        let regex = table.set.regex(condition.pattern);
        let matched = (!condition.negated)
            .then(|| regex.find(text))
            .flatten()
            .map(|m| quote(m.as_str()));
        let template = match action {
            TableAction::Reject(t)
            | TableAction::Defer(t)
            | TableAction::Warn { text: t, .. }
            | TableAction::Tag { text: t, .. }
            | TableAction::Prepend(t) => t.as_str(),
            TableAction::Ignore => "",
        };
        let expanded = substitute(template, (!condition.negated).then_some(regex), text);
        found.push(TableMatch {
            line: *line,
            pattern: condition.pattern,
            action,
            matched,
            text: expanded,
        });
    }
    found
}

/// Longest action text after substitution: what an SMTP reply line or a header field can
/// carry comfortably (RFC 5321 §4.5.3.1.5 allows 512 octets per reply line).
const MAX_SUBSTITUTED_BYTES: usize = 400;

/// `template` with `$1`, `${1}` and `$$` replaced as Postfix's regexp tables do (in the
/// regex crate's syntax for the same forms), from the pattern's match on `line`; unchanged
/// when it has no `$` or the entry is negated (no match, nothing to take).
fn substitute(template: &str, regex: Option<&regex::Regex>, line: &str) -> String {
    let captures = regex
        .filter(|_| template.contains('$'))
        .and_then(|r| r.captures(line));
    let Some(captures) = captures else {
        return template.to_owned();
    };
    let mut out = String::new();
    captures.expand(template, &mut out);
    let out: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    prefix(&out, MAX_SUBSTITUTED_BYTES).to_owned()
}

/// A table entry's hit, its enforcement request and, for PREPEND, its header field.
fn apply(
    table: &ChecksTable,
    found: &TableMatch<'_>,
    hits: &mut EntryHits,
    outcome: &mut Outcome,
    ask: &mut impl FnMut(Action, String),
) {
    let (symbol, warn_symbol, file_kind) = match table.kind {
        TableKind::Header => ("HEADER_CHECKS", "HEADER_CHECKS_WARN", "header_checks"),
        TableKind::Body => ("BODY_CHECKS", "BODY_CHECKS_WARN", "body_checks"),
    };
    let word = found.action.word();
    let text = &found.text;
    let mut evidence = format!(
        "{}:{} /{}/ {word}",
        table.path, found.line, table.written[found.pattern]
    );
    if !text.is_empty() {
        evidence.push(' ');
        evidence.push_str(text);
    }
    if let Some(matched) = &found.matched {
        evidence.push_str(": ");
        evidence.push_str(matched);
    }
    match found.action {
        TableAction::Reject(_) => {
            hits.add(symbol, evidence);
            ask(Action::Reject, text.clone());
        }
        TableAction::Defer(_) => {
            hits.add(symbol, evidence);
            ask(Action::Tempfail, text.clone());
        }
        TableAction::Tag { .. } => {
            hits.add(symbol, evidence);
            let mut reason = format!("{file_kind} {word}: {}:{}", table.path, found.line);
            if !text.is_empty() {
                reason.push(' ');
                reason.push_str(text);
            }
            ask(Action::AddHeader, reason);
        }
        TableAction::Warn { .. } => hits.add(warn_symbol, evidence),
        TableAction::Prepend(_) => {
            hits.add(warn_symbol, evidence);
            let field = text.split_once(':').filter(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            });
            if let Some((name, value)) = field {
                outcome
                    .headers
                    .push(Header::new(name, value.trim().to_owned()));
            }
        }
        TableAction::Ignore => {}
    }
}

/// Evidence of the file entries that matched, per symbol: a symbol scores once per message
/// however many entries matched, so they share one hit.
#[derive(Default)]
struct EntryHits(Vec<(&'static str, Vec<String>)>);

impl EntryHits {
    fn add(&mut self, symbol: &'static str, evidence: String) {
        match self.0.iter_mut().find(|(s, _)| *s == symbol) {
            Some((_, list)) => list.push(evidence),
            None => self.0.push((symbol, vec![evidence])),
        }
    }

    /// One hit per symbol, naming at most [`MAX_ENTRIES_SHOWN`] entries, then a count.
    fn into_hits(self, outcome: &mut Outcome) {
        for (symbol, list) in self.0 {
            let mut evidence = list[..list.len().min(MAX_ENTRIES_SHOWN)].join("; ");
            if list.len() > MAX_ENTRIES_SHOWN {
                evidence.push_str(&format!("; and {} more", list.len() - MAX_ENTRIES_SHOWN));
            }
            outcome.hit(symbol, evidence);
        }
    }
}

/// Matched text for evidence: quoted, control characters shown as spaces, bounded.
fn quote(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(MAX_EVIDENCE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_EVIDENCE_CHARS).is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

impl Check for RulesCheck {
    fn name(&self) -> CheckName {
        CheckName::Content
    }

    fn needs_message(&self) -> bool {
        true
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(self.examine(scan)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::envelope::Envelope;

    fn run(config: &str, raw: &[u8]) -> Outcome {
        let config = Config::parse(config).unwrap();
        let check = RulesCheck::new(&config.content);
        let envelope = Envelope::default();
        let message = kanmon_auth::message::Message::parse(raw).ok();
        let scan = Scan::new(&envelope, raw, message, false, 0, 10);
        check.examine(&scan)
    }

    #[test]
    fn text_past_the_scan_limit_is_not_scanned_and_says_so() {
        let mut raw = b"Subject: x\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 5_000));
        raw.extend_from_slice(b" needle\r\n");
        let rule =
            "[[rules]]\nname = \"NEEDLE\"\non = \"body\"\npattern = \"needle\"\nscore = 1.0\n";
        let outcome = run(&format!("[content]\nmax_scan_bytes = 4096\n{rule}"), &raw);
        assert!(outcome.hits.is_empty(), "{:?}", outcome.hits);
        // Only rules that read the body make the cut worth a note.
        let header_rule = rule.replace("\"body\"", "\"headers\"");
        let outcome = run(
            &format!("[content]\nmax_scan_bytes = 4096\n{header_rule}"),
            &raw,
        );
        assert!(outcome.skipped.is_empty());
        let outcome = run(&format!("[content]\nmax_scan_bytes = 4096\n{rule}"), &raw);
        assert_eq!(
            outcome.skipped[0].why,
            "text beyond content.max_scan_bytes (4096 bytes) was not scanned"
        );
        let outcome = run(rule, &raw);
        assert_eq!(outcome.hits[0].symbol, "NEEDLE");
        assert_eq!(
            outcome.hits[0].evidence,
            "body matches /needle/: \"needle\""
        );
        assert!(outcome.skipped.is_empty());
    }

    #[test]
    fn the_most_severe_action_wins_and_each_rule_hits_once() {
        let config = "\
[[rules]]\nname = \"TAGGED\"\non = \"header:Received\"\npattern = \"relay\"\naction = \"tag\"\n\
[[rules]]\nname = \"REFUSED\"\non = \"headers\"\npattern = \"^X-Bad: \"\naction = \"tempfail\"\n";
        let raw = b"Received: from relay1\r\nReceived: from relay2\r\nX-Bad: yes\r\n\r\nhi\r\n";
        let outcome = run(config, raw);
        let symbols: Vec<&str> = outcome.hits.iter().map(|h| h.symbol).collect();
        assert_eq!(symbols, ["TAGGED", "REFUSED"]);
        assert_eq!(
            outcome.enforce,
            Some((Action::Tempfail, "Content rule: REFUSED".to_owned()))
        );
    }

    #[test]
    fn entries_of_one_symbol_share_one_hit() {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for i in 0..8 {
            writeln!(file, "/^X-N{i}:/ DEFER slow down {i}").unwrap();
        }
        writeln!(file, "/^X-Bad:/ REJECT go away").unwrap();
        let path = file.path().display().to_string();
        let mut raw = String::from("X-Bad: 1\r\n");
        for i in 0..8 {
            raw.push_str(&format!("X-N{i}: x\r\n"));
        }
        raw.push_str("\r\nbody\r\n");
        let outcome = run(
            &format!("[content]\nheader_checks = [{path:?}]\n"),
            raw.as_bytes(),
        );
        assert_eq!(outcome.hits.len(), 1, "{:?}", outcome.hits);
        let evidence = &outcome.hits[0].evidence;
        assert!(
            evidence.starts_with(&format!(
                "{path}:9 /^X-Bad:/ REJECT go away: \"X-Bad:\"; {path}:1 "
            )),
            "{evidence}"
        );
        assert!(evidence.ends_with("; and 4 more"), "{evidence}");
        // The most severe action asked wins, with its entry's text.
        assert_eq!(
            outcome.enforce,
            Some((Action::Reject, "go away".to_owned()))
        );
    }

    #[test]
    fn dollar_numbers_take_the_matched_groups() {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "/^Subject: .*(viagra|cialis)/ REJECT no $1 here, $$5 either"
        )
        .unwrap();
        writeln!(file, "/^X-Mailer: (\\S+)/ PREPEND X-Mailer-Seen: ${{1}}").unwrap();
        let path = file.path().display().to_string();
        let raw = b"Subject: cheap Cialis\r\nX-Mailer: Blaster/3\r\n\r\nbody\r\n";
        let outcome = run(&format!("[content]\nheader_checks = [{path:?}]\n"), raw);
        assert_eq!(
            outcome.enforce,
            Some((Action::Reject, "no Cialis here, $5 either".to_owned()))
        );
        assert_eq!(
            outcome.headers,
            [Header::new("X-Mailer-Seen", "Blaster/3".to_owned())]
        );
    }
}
