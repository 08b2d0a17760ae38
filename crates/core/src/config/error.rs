//! Configuration errors that name the key path and the line, so an administrator can go
//! straight to the mistake:
//!
//! ```text
//! line 12: spf.mode: expected one of "off", "tag", "enforce", found "enforced"
//! ```
//!
//! Messages are lowercase without a trailing period, the path first (STYLE.md point 7).
//! Errors found while reading the text carry their line from the parser's spans; errors
//! found by validation are located afterwards by looking their path up in the document
//! ([`ConfigErrors::located_in`]).

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One bad key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path, e.g. `dns.nameservers[1]` or `scores.NO_SUCH_SYMBOL`; keys that are
    /// not bare TOML keys are quoted (`scores."SPF FAIL"`); empty for the file as a whole.
    pub path: String,
    /// 1-based line of the key in the file, when known.
    pub line: Option<usize>,
    /// 1-based column, for TOML syntax errors only (a key's line is enough to find it).
    pub column: Option<usize>,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
    /// Keys whose line to report instead of `path`'s, first found first: a value checked
    /// against others may be wrong because of any of them, and only some are written.
    located_by: Vec<String>,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            located_by: Vec::new(),
        }
    }

    pub(crate) fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every bad key found in one pass, in file order when lines are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn single(error: ConfigError) -> Self {
        Self(vec![error])
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }

    /// An error on `path` that other keys take part in: it gets the line of the first of
    /// `located_by` written in the file (list `path` among them to prefer it).
    pub(crate) fn push_located(
        &mut self,
        path: impl Into<String>,
        located_by: &[&str],
        message: impl Into<String>,
    ) {
        let mut error = ConfigError::new(path, message);
        error.located_by = located_by.iter().map(|&p| p.to_owned()).collect();
        self.0.push(error);
    }

    /// `Err` with every error, in file order, when there is any.
    pub(crate) fn into_result(mut self) -> Result<(), ConfigErrors> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.sort();
        Err(self)
    }

    /// Fills in the line of each error's key from the text it was read from. A key that is
    /// not in the file (its default was refused together with a value that is) gets the line
    /// of a key it was checked against, else of its nearest enclosing table.
    pub(crate) fn located_in(mut self, text: &str) -> Self {
        if let Ok(document) = DeTable::parse(text) {
            let document = document.get_ref();
            for error in self.0.iter_mut().filter(|e| e.line.is_none()) {
                let own = [error.path.clone()];
                let candidates = if error.located_by.is_empty() {
                    &own[..]
                } else {
                    &error.located_by[..]
                };
                let exact = candidates.iter().find_map(|p| locate(document, p));
                let near = || {
                    candidates
                        .iter()
                        .find_map(|p| locate_enclosing(document, p))
                };
                error.line = exact.or_else(near).map(|offset| line_of(text, offset));
            }
        }
        self.sort();
        self
    }

    /// File order; errors without a line last, in the order they were found.
    fn sort(&mut self) {
        self.0
            .sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.column.unwrap_or(0)));
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Appends `key` to a dotted path, quoted when it is not a bare TOML key (`scores."A B"`).
pub(crate) fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        path.push_str(key);
    } else {
        path.push('"');
        for c in key.chars() {
            if c == '"' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push('"');
    }
}

/// `parent.key`, with `key` quoted as [`push_key`] does.
pub(crate) fn join(parent: &str, key: &str) -> String {
    let mut path = parent.to_owned();
    push_key(&mut path, key);
    path
}

/// The steps of a path written by [`push_key`] and `[index]`; `None` if it is malformed.
pub(crate) fn steps(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '.' => {
                chars.next();
            }
            '[' => {
                chars.next();
                let digits: String = chars.by_ref().take_while(|&c| c != ']').collect();
                steps.push(Step::Index(digits.parse().ok()?));
            }
            '"' => {
                chars.next();
                let mut key = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => key.push(chars.next()?),
                        c => key.push(c),
                    }
                }
                steps.push(Step::Key(key));
            }
            _ => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                steps.push(Step::Key(key));
            }
        }
    }
    Some(steps)
}

/// The byte offset of the key or array item at `path` in the parsed document.
fn locate(table: &DeTable<'_>, path: &str) -> Option<usize> {
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    let mut offset = None;
    for step in steps(path)? {
        match step {
            Step::Key(key) => {
                let table = match current {
                    None => table,
                    Some(value) => value.get_ref().as_table()?,
                };
                let (found, value) = table.get_key_value(key.as_str())?;
                offset = Some(found.span().start);
                current = Some(value);
            }
            Step::Index(index) => {
                let item = current?.get_ref().as_array()?.get(index)?;
                offset = Some(item.span().start);
                current = Some(item);
            }
        }
    }
    offset
}

/// The offset of the nearest enclosing key of `path` that is in the document.
fn locate_enclosing(table: &DeTable<'_>, path: &str) -> Option<usize> {
    let mut steps = steps(path)?;
    while steps.pop().is_some() && !steps.is_empty() {
        let mut prefix = String::new();
        for step in &steps {
            match step {
                Step::Key(key) => push_key(&mut prefix, key),
                Step::Index(index) => prefix.push_str(&format!("[{index}]")),
            }
        }
        if let Some(offset) = locate(table, &prefix) {
            return Some(offset);
        }
    }
    None
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.bytes().filter(|&b| b == b'\n').count())
        + 1
}

/// The 1-based column (in characters) of a byte offset.
pub(crate) fn column_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |before| {
        before
            .rsplit_once('\n')
            .map_or(before, |(_, line)| line)
            .chars()
            .count()
    }) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_keys_that_are_not_bare_and_split_back() {
        let mut path = String::new();
        push_key(&mut path, "scores");
        push_key(&mut path, "SPF FAIL");
        assert_eq!(path, r#"scores."SPF FAIL""#);
        assert_eq!(join("a", r#"b"c"#), r#"a."b\"c""#);
        assert_eq!(
            steps(r#"dns.nameservers[1]"#),
            Some(vec![
                Step::Key("dns".into()),
                Step::Key("nameservers".into()),
                Step::Index(1)
            ])
        );
        assert_eq!(
            steps(r#"scores."SPF FAIL""#),
            Some(vec![
                Step::Key("scores".into()),
                Step::Key("SPF FAIL".into())
            ])
        );
        assert_eq!(steps(r#"a."b\"c""#).unwrap()[1], Step::Key(r#"b"c"#.into()));
        assert_eq!(steps("a[x]"), None);
    }

    #[test]
    fn lines_and_columns_count_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(column_of(text, 6), 1);
        assert_eq!(column_of(text, 10), 4);
    }
}
