//! Postfix `header_checks` and `body_checks` files (header_checks(5), regexp_table(5)) read
//! as kanmon rules, so an administrator can point kanmon at the files Postfix used.
//!
//! The format: `/pattern/flags ACTION text`, `!/pattern/flags ACTION text` (the line does
//! *not* match), `if /pattern/flags` … `endif` blocks (nested), `#` comments, blank lines,
//! and continuation lines starting with white space. Flags: `i` toggles case-insensitivity,
//! which Postfix's regexp tables turn *on* by default; `x` extended syntax; `m` is accepted
//! and has no effect, since kanmon matches each line on its own and `^`/`$` always anchor
//! at its ends. As in Postfix, the first entry that matches a line decides for that line.
//!
//! Actions are mapped onto kanmon's, which never lose or reroute mail:
//!
//! | Postfix                  | kanmon                                                     |
//! |--------------------------|------------------------------------------------------------|
//! | `REJECT text`            | reject with the text (`550 5.7.1 text`), in `enforce` mode |
//! | `DEFER`, `DEFER_IF_PERMIT` | tempfail with the text, in `enforce` mode                |
//! | `WARN text`, `INFO text` | a 0-score hit with the text, logged                        |
//! | `DISCARD`, `HOLD`        | the spam tag (at least `add_header`), in `enforce` mode: kanmon never drops mail silently, and a held message is one an admin looks at, which the spam folder is |
//! | `IGNORE`, `OK`, `DUNNO`  | the line matches nothing further (later entries do not see it); IGNORE's deletion of the line is not done |
//! | `PREPEND Name: value`    | (header_checks) the header field is added, plus a 0-score hit |
//! | anything else            | a load-time error naming the file and line                 |
//!
//! `$1`, `${1}` and `$$` in the text are substituted when the entry matches
//! (by the rules check, `checks/rules.rs`, which has the line).

use super::pattern_set::{FlaggedPattern, PatternFlags, PatternSet};
use super::regexp_table::{logical_lines, split_entry};

/// What Postfix's cleanup(8) says when `REJECT` has no text of its own.
pub const DEFAULT_REJECT_TEXT: &str = "Message content rejected";
/// The text for `DEFER` without one (kanmon's wording; Postfix sends a generic one).
pub const DEFAULT_DEFER_TEXT: &str = "Message content deferred";

/// Which file list a table came from: the lines it is matched against differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Each decoded `Name: value` header line.
    Header,
    /// Each line of each decoded text part.
    Body,
}

impl TableKind {
    /// The configuration key listing such files.
    pub fn key(self) -> &'static str {
        match self {
            TableKind::Header => "content.header_checks",
            TableKind::Body => "content.body_checks",
        }
    }
}

/// One file, read and compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecksTable {
    /// The file as configured, for evidence (`/etc/postfix/header_checks:12`).
    pub path: String,
    pub kind: TableKind,
    /// Every pattern of the file (rules and `if` conditions), one set.
    pub set: PatternSet,
    /// Each pattern as written between its delimiters, by set index.
    pub written: Vec<String>,
    pub entries: Vec<Entry>,
    /// Whether some entry is negated: then a line can match without any pattern matching.
    pub has_negation: bool,
}

/// A pattern of the set, possibly negated (`!/pattern/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub pattern: usize,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// `if /pattern/`: when the condition fails, evaluation resumes at entry `end` (just
    /// past the matching `endif`).
    If {
        condition: Condition,
        end: usize,
    },
    Endif,
    Rule {
        /// 1-based line where the entry starts.
        line: usize,
        condition: Condition,
        action: TableAction,
    },
}

/// A Postfix action, mapped (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableAction {
    Reject(String),
    Defer(String),
    /// `WARN` or `INFO`: noted, no effect.
    Warn {
        word: &'static str,
        text: String,
    },
    /// `DISCARD` or `HOLD`: the spam tag.
    Tag {
        word: &'static str,
        text: String,
    },
    /// `IGNORE`, `OK`, `DUNNO`.
    Ignore,
    /// The header field `Name: value` to add.
    Prepend(String),
}

impl TableAction {
    /// The action's word as written in Postfix's terms, for evidence.
    pub fn word(&self) -> &'static str {
        match self {
            TableAction::Reject(_) => "REJECT",
            TableAction::Defer(_) => "DEFER",
            TableAction::Warn { word, .. } | TableAction::Tag { word, .. } => word,
            TableAction::Ignore => "IGNORE",
            TableAction::Prepend(_) => "PREPEND",
        }
    }
}

impl ChecksTable {
    /// The first rule entry matching a line, given which patterns match that line; `None`
    /// when no rule does. Postfix's evaluation order: entries in file order, an `if` block
    /// skipped whole when its condition fails.
    pub fn first_match(&self, matches: impl Fn(usize) -> bool) -> Option<&Entry> {
        let holds = |c: &Condition| matches(c.pattern) != c.negated;
        let mut at = 0;
        while let Some(entry) = self.entries.get(at) {
            match entry {
                Entry::If { condition, end } => {
                    at = if holds(condition) { at + 1 } else { *end };
                }
                Entry::Endif => at += 1,
                Entry::Rule { condition, .. } if holds(condition) => return Some(entry),
                Entry::Rule { .. } => at += 1,
            }
        }
        None
    }
}

/// Reads one file's text; errors carry the 1-based line.
pub fn parse_checks_table(
    path: &str,
    kind: TableKind,
    text: &str,
) -> Result<ChecksTable, (usize, String)> {
    let mut patterns = Vec::new();
    let mut written = Vec::new();
    let mut entries = Vec::new();
    let mut open_ifs: Vec<(usize, usize)> = Vec::new();
    for (line, logical) in logical_lines(text) {
        let first = logical.split_whitespace().next().unwrap_or_default();
        if first.eq_ignore_ascii_case("endif") {
            if logical.trim() != first {
                return Err((line, "endif takes nothing after it".to_owned()));
            }
            let (if_index, _) = open_ifs
                .pop()
                .ok_or((line, "endif without a matching if".to_owned()))?;
            entries.push(Entry::Endif);
            let end = entries.len();
            if let Some(Entry::If { end: slot, .. }) = entries.get_mut(if_index) {
                *slot = end;
            }
            continue;
        }
        let is_if = first.eq_ignore_ascii_case("if");
        let rest = if is_if {
            logical[first.len()..].trim_start()
        } else {
            logical.as_str()
        };
        let (negated, rest) = match rest.strip_prefix('!') {
            Some(after) => (true, after.trim_start()),
            None => (false, rest),
        };
        let entry = split_entry(rest).map_err(|e| (line, e))?;
        let flags = PatternFlags {
            ignore_case: entry.flags.ignore_case,
            extended: entry.flags.extended,
        };
        patterns.push(FlaggedPattern::new(entry.pattern, flags).map_err(|e| (line, e))?);
        written.push(entry.pattern.to_owned());
        let condition = Condition {
            pattern: patterns.len() - 1,
            negated,
        };
        if is_if {
            if !entry.result.is_empty() {
                return Err((
                    line,
                    format!(
                        "if /pattern/ takes no action (found {:?}); the entries up to endif are what it guards",
                        entry.result
                    ),
                ));
            }
            open_ifs.push((entries.len(), line));
            entries.push(Entry::If { condition, end: 0 });
        } else {
            let action = parse_action(kind, entry.result).map_err(|e| (line, e))?;
            entries.push(Entry::Rule {
                line,
                condition,
                action,
            });
        }
    }
    if let Some((_, line)) = open_ifs.pop() {
        return Err((line, "if without a matching endif".to_owned()));
    }
    let has_negation = entries.iter().any(|e| match e {
        Entry::If { condition, .. } | Entry::Rule { condition, .. } => condition.negated,
        Entry::Endif => false,
    });
    let set = PatternSet::new(patterns).map_err(|e| (1, e))?;
    Ok(ChecksTable {
        path: path.to_owned(),
        kind,
        set,
        written,
        entries,
        has_negation,
    })
}

fn parse_action(kind: TableKind, result: &str) -> Result<TableAction, String> {
    let word_end = result.find(char::is_whitespace).unwrap_or(result.len());
    let (word, text) = (&result[..word_end], result[word_end..].trim());
    let text = text.to_owned();
    let or_default = |text: String, default: &str| {
        if text.is_empty() {
            default.to_owned()
        } else {
            text
        }
    };
    Ok(match word.to_ascii_uppercase().as_str() {
        "" => return Err("no action after the pattern (e.g. REJECT, WARN)".to_owned()),
        "REJECT" => TableAction::Reject(or_default(text, DEFAULT_REJECT_TEXT)),
        "DEFER" | "DEFER_IF_PERMIT" => TableAction::Defer(or_default(text, DEFAULT_DEFER_TEXT)),
        "WARN" => TableAction::Warn { word: "WARN", text },
        "INFO" => TableAction::Warn { word: "INFO", text },
        "DISCARD" => TableAction::Tag {
            word: "DISCARD",
            text,
        },
        "HOLD" => TableAction::Tag { word: "HOLD", text },
        "IGNORE" | "OK" | "DUNNO" => TableAction::Ignore,
        "PREPEND" if kind == TableKind::Body => {
            return Err(
                "unsupported action PREPEND in body_checks: it inserts a body line, and kanmon does not change bodies"
                    .to_owned(),
            );
        }
        "PREPEND" => TableAction::Prepend(header_field(&text)?),
        "REDIRECT" | "FILTER" | "BCC" => {
            return Err(format!(
                "unsupported action {word}: kanmon does not reroute mail; do it in Postfix"
            ));
        }
        "REPLACE" | "STRIP" => {
            return Err(format!(
                "unsupported action {word}: kanmon does not change the message's content; do it in Postfix"
            ));
        }
        _ => {
            return Err(format!(
                "unsupported action {word}: expected REJECT, DEFER, WARN, INFO, DISCARD, HOLD, IGNORE, OK, DUNNO or PREPEND"
            ));
        }
    })
}

/// `Name: value` for PREPEND: a field name of printable ASCII without a colon (RFC 5322
/// §2.2), so the field kanmon adds is well formed.
fn header_field(text: &str) -> Result<String, String> {
    let well_formed = text.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    });
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "PREPEND needs a header field, Name: value (found {text:?})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kind: TableKind, text: &str) -> ChecksTable {
        parse_checks_table("t", kind, text).unwrap()
    }

    /// The rule line that decides `line` (matching each pattern alone, as the check does).
    fn decide(table: &ChecksTable, line: &str) -> Option<(usize, &'static str)> {
        table
            .first_match(|i| table.set.regex(i).is_match(line))
            .map(|entry| match entry {
                Entry::Rule { line, action, .. } => (*line, action.word()),
                _ => unreachable!("first_match returns rules"),
            })
    }

    #[test]
    fn seeds_header_checks_line() {
        let t = table(
            TableKind::Header,
            "# from the seeds' main.cf\n/^Message-ID:.*xxxxx.jp>/ REJECT\n",
        );
        assert_eq!(
            decide(&t, "Message-ID: <20260101.abc@xxxxx.jp>"),
            Some((2, "REJECT"))
        );
        // Case-insensitive by default, as in Postfix.
        assert_eq!(decide(&t, "message-id: <a@XXXXX.JP>"), Some((2, "REJECT")));
        assert_eq!(decide(&t, "Message-ID: <a@example.jp>"), None);
        let Entry::Rule { action, .. } = &t.entries[0] else {
            panic!()
        };
        assert_eq!(action, &TableAction::Reject(DEFAULT_REJECT_TEXT.to_owned()));
    }

    #[test]
    fn if_blocks_negation_and_ignore_follow_postfix_order() {
        let text = "\
if /^Subject:/
/^Subject: .*(viagra|cialis)/ REJECT no pills
!/^Subject: .*\\S/ WARN empty subject
endif
/^X-Mailer: good/ IGNORE
/^X-Mailer:/
  DISCARD bulk mailer
/unsubscribe/i WARN case-sensitive now
";
        let t = table(TableKind::Header, text);
        assert_eq!(decide(&t, "Subject: cheap Viagra"), Some((2, "REJECT")));
        assert_eq!(decide(&t, "Subject: "), Some((3, "WARN")));
        assert_eq!(decide(&t, "Subject: hello"), None);
        // Outside the if block the conditions inside are not evaluated.
        assert_eq!(decide(&t, "X-Subject: viagra"), None);
        // IGNORE decides the line (to do nothing), shielding it from the entries after it.
        assert_eq!(decide(&t, "X-Mailer: good one"), Some((5, "IGNORE")));
        assert_eq!(decide(&t, "X-Mailer: bulk"), Some((6, "DISCARD")));
        // The i flag turns case-insensitivity off.
        assert_eq!(decide(&t, "List-Unsubscribe: x"), None);
        assert_eq!(decide(&t, "List: unsubscribe"), Some((8, "WARN")));
        assert!(t.has_negation);
    }

    #[test]
    fn nested_ifs() {
        let text = "if /a/\nif /b/\n/c/ REJECT\nendif\n/d/ WARN\nendif\n/e/ HOLD\n";
        let t = table(TableKind::Body, text);
        assert_eq!(decide(&t, "abc"), Some((3, "REJECT")));
        assert_eq!(decide(&t, "ac"), None);
        assert_eq!(decide(&t, "acd"), Some((5, "WARN")));
        assert_eq!(decide(&t, "cde"), Some((7, "HOLD")));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "/x/ REDIRECT a@example.org\n",
                1,
                "unsupported action REDIRECT: kanmon does not reroute mail; do it in Postfix",
            ),
            (
                "# c\n/x/ REJECT\n/y/ STRIP\n",
                3,
                "unsupported action STRIP",
            ),
            ("/x/ FROB\n", 1, "unsupported action FROB"),
            ("/x/\n", 1, "no action after the pattern"),
            ("/(x/ REJECT\n", 1, "bad regular expression /(x/"),
            ("if /x/\n/y/ WARN\n", 1, "if without a matching endif"),
            ("/y/ WARN\nendif\n", 2, "endif without a matching if"),
            ("if /x/ REJECT\nendif\n", 1, "if /pattern/ takes no action"),
            ("/x/ PREPEND no colon\n", 1, "PREPEND needs a header field"),
        ];
        for (text, line, message) in cases {
            let (at, error) = parse_checks_table("t", TableKind::Header, text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {error}");
            assert!(error.contains(message), "{text:?}: {error}");
        }
        let (_, error) =
            parse_checks_table("t", TableKind::Body, "/x/ PREPEND X-A: b\n").unwrap_err();
        assert!(error.contains("does not change bodies"), "{error}");
    }
}
