//! Regular expressions from the configuration, and Postfix regexp tables
//! (regexp_table(5)) such as S25R's published `white-list.txt`, read into them.
//!
//! S25R's whitelist is written for `check_client_access regexp:/etc/postfix/white-list.txt`:
//! one `/pattern/ OK` per line, `#` comments, patterns matched against the client's host
//! name and against its address (`/^192\.0\.2\.1$/ OK`), case-insensitively (Postfix's
//! regexp tables ignore case unless the `i` flag turns that off). kanmon reads the same file
//! so an administrator can keep downloading it (S25R asks: at most once a day) and point
//! `s25r.whitelist_file` at it.

use regex::{Regex, RegexBuilder};

/// A compiled regular expression that compares by its source text, so the validated
/// configuration can still be compared as a whole (reload tests, the default-file test).
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Pattern {
    /// A pattern from the configuration: case-insensitive, as host names are.
    pub(crate) fn new(text: &str) -> Result<Pattern, String> {
        compile(text, true, false, false)
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Bound on one compiled pattern, against a pathological one from a downloaded file; the
/// S25R rules and whitelist lines compile to a few kilobytes each.
pub(super) const MAX_PATTERN_BYTES: usize = 1 << 20;

pub(super) fn compile(
    text: &str,
    ignore_case: bool,
    extended: bool,
    multi: bool,
) -> Result<Pattern, String> {
    RegexBuilder::new(text)
        .case_insensitive(ignore_case)
        .ignore_whitespace(extended)
        .multi_line(multi)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map(Pattern)
        .map_err(|e| regex_error(text, e))
}

/// A regex crate error in one line, naming the pattern as written.
pub(super) fn regex_error(text: &str, error: regex::Error) -> String {
    match error {
        regex::Error::Syntax(detail) => {
            // The parser's message spans lines (pattern, caret, error); keep the last.
            let last = detail.lines().last().unwrap_or_default().trim().to_owned();
            format!("bad regular expression /{text}/: {last}")
        }
        other => format!("bad regular expression /{text}/: {other}"),
    }
}

/// One `/pattern/flags OK` entry of a regexp table, with its line.
#[derive(Debug, Clone, PartialEq)]
pub struct TableEntry {
    /// 1-based line where the entry starts.
    pub line: usize,
    pub pattern: Pattern,
}

/// Reads a regexp table whose every entry says `OK`, as a whitelist does. Errors carry the
/// 1-based line. Supported: `#` comments, blank lines, continuation lines (starting with
/// white space, regexp_table(5)), any delimiter (`/` in practice), the flags `i`, `x` and
/// `m`. Refused, since a whitelist cannot use them: `!/pattern/` (matches what it does not
/// say), `if`/`endif` blocks, and results other than `OK`.
pub fn parse_ok_table(text: &str) -> Result<Vec<TableEntry>, (usize, String)> {
    let mut entries = Vec::new();
    for (line, logical) in logical_lines(text) {
        entries.push(TableEntry {
            line,
            pattern: parse_entry(&logical).map_err(|e| (line, e))?,
        });
    }
    Ok(entries)
}

/// Logical lines with their first line number: comments and blank lines dropped, a line
/// starting with white space joined to the one before.
pub(super) fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match lines.last_mut() {
            Some((_, logical)) if line.starts_with(char::is_whitespace) => {
                logical.push(' ');
                logical.push_str(trimmed);
            }
            _ => lines.push((index + 1, trimmed.to_owned())),
        }
    }
    lines
}

fn parse_entry(line: &str) -> Result<Pattern, String> {
    let word = line.split_whitespace().next().unwrap_or_default();
    if matches!(word.to_ascii_lowercase().as_str(), "if" | "endif") || line.starts_with('!') {
        return Err(format!(
            "{word:?}: only plain /pattern/ OK entries can whitelist (no negation or if/endif)"
        ));
    }
    let entry = split_entry(line)?;
    if !entry.result.eq_ignore_ascii_case("OK") {
        return Err(format!(
            "the result is {:?}; a whitelist entry says OK",
            entry.result
        ));
    }
    compile(
        entry.pattern,
        entry.flags.ignore_case,
        entry.flags.extended,
        entry.flags.multi,
    )
}

/// The flags after a pattern (regexp_table(5)): `i` toggles case-insensitivity, which is
/// on by default; `x` extended syntax; `m` multi-line mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flags {
    pub(super) ignore_case: bool,
    pub(super) extended: bool,
    pub(super) multi: bool,
}

/// `/pattern/flags result` taken apart, the result trimmed (possibly empty).
pub(super) struct SplitEntry<'a> {
    pub(super) pattern: &'a str,
    pub(super) flags: Flags,
    pub(super) result: &'a str,
}

/// Splits `/pattern/flags result`, with any non-alphanumeric delimiter.
pub(super) fn split_entry(line: &str) -> Result<SplitEntry<'_>, String> {
    let mut chars = line.chars();
    let delimiter = chars
        .next()
        .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
        .ok_or_else(|| format!("expected /pattern/ OK, found {line:?}"))?;
    let rest = chars.as_str();
    // dict_regexp.c: the pattern ends at the first delimiter not escaped by a backslash.
    let mut end = None;
    let mut escaped = false;
    for (at, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == delimiter => {
                end = Some(at);
                break;
            }
            _ => {}
        }
    }
    let end = end.ok_or_else(|| format!("the pattern has no closing {delimiter}"))?;
    let pattern = &rest[..end];
    let after = &rest[end + delimiter.len_utf8()..];
    let flags_end = after.find(char::is_whitespace).unwrap_or(after.len());
    let (written, result) = (&after[..flags_end], after[flags_end..].trim());
    let mut flags = Flags {
        ignore_case: true,
        extended: false,
        multi: false,
    };
    for flag in written.chars() {
        match flag {
            'i' => flags.ignore_case = !flags.ignore_case,
            'x' => flags.extended = !flags.extended,
            'm' => flags.multi = !flags.multi,
            other => return Err(format!("unknown flag {other:?} after the pattern")),
        }
    }
    Ok(SplitEntry {
        pattern,
        flags,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the forms S25R's white-list.txt uses (http://gabacho-net.jp/en/anti-spam/
    /// white-list.html, and the forms s25r-whiteconv.sh converts: a domain suffix, a single
    /// address, address ranges as alternations and classes).
    const WHITE_LIST: &str = "\
# White list for the S25R anti-spam system
# comment lines and blank lines are skipped

/\\.example\\.jp$/\t\t\t\tOK
/^192\\.0\\.2\\.1$/\t\t\t\tOK
/^192\\.0\\.2\\.1(6[1-9]|7[0-4])$/\tOK
/^mail[0-9]+\\.example\\.com$/ ok
/^MX\\.Example\\.NET$/i OK
/^(smtp|mx)\\.example\\.org$/
  OK
";

    #[test]
    fn reads_the_white_list_format() {
        let entries = parse_ok_table(WHITE_LIST).unwrap();
        let lines: Vec<usize> = entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6, 7, 8, 9]);
        let matches = |i: usize, text: &str| entries[i].pattern.is_match(text);
        assert!(matches(0, "smtp.mail.example.jp"));
        assert!(!matches(0, "example.jp.attacker.test"));
        assert!(matches(1, "192.0.2.1"));
        assert!(!matches(1, "192.0.2.10"));
        assert!(matches(2, "192.0.2.165"));
        assert!(!matches(2, "192.0.2.175"));
        // Case-insensitive by default, as Postfix's regexp tables are.
        assert!(matches(3, "MAIL12.example.com"));
        // The `i` flag turns that off.
        assert!(matches(4, "MX.Example.NET"));
        assert!(!matches(4, "mx.example.net"));
        // A continuation line completes the entry.
        assert!(matches(5, "mx.example.org"));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let cases = [
            (
                "/^ok\\.example$/ OK\n/^(unclosed$/ OK\n",
                2,
                "bad regular expression",
            ),
            ("# c\n\n/no-end OK\n", 3, "no closing /"),
            ("/^x$/ REJECT\n", 1, "a whitelist entry says OK"),
            ("/^x$/\n", 1, "a whitelist entry says OK"),
            ("!/^x$/ OK\n", 1, "no negation"),
            ("if /x/\n/y/ OK\nendif\n", 1, "if/endif"),
            ("/^x$/q OK\n", 1, "unknown flag 'q'"),
            ("mail.example.com OK\n", 1, "expected /pattern/ OK"),
            // Back-references are POSIX but not in Rust's regex: refused, not misread.
            ("/^(a)\\1$/ OK\n", 1, "bad regular expression"),
        ];
        for (text, line, message) in cases {
            let (at, error) = parse_ok_table(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {error}");
            assert!(error.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn other_delimiters_and_escaped_slashes() {
        let entries = parse_ok_table("|^a/b$| OK\n/^c\\/d$/ OK\n").unwrap();
        assert!(entries[0].pattern.is_match("a/b"));
        assert!(entries[1].pattern.is_match("c/d"));
    }
}
