//! Configuration errors that name the key path and the line, so an administrator can go
//! straight to the mistake: `line 12: spf.mode: unknown variant "enforced", expected one of
//! "off", "tag", "enforce"`.

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::RawConfig;

/// One bad key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path, e.g. `dns.nameservers[1]` or `scores.NO_SUCH_SYMBOL`; empty for the
    /// file as a whole.
    pub path: String,
    /// 1-based line of the key in the file, when known.
    pub line: Option<usize>,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
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

    pub(crate) fn into_result(self) -> Result<(), ConfigErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Fills in the line of each error's key from the text it was read from.
    pub(crate) fn located_in(mut self, text: &str) -> Self {
        if let Ok(document) = DeTable::parse(text) {
            for error in &mut self.0 {
                if error.line.is_none() {
                    error.line =
                        locate(document.get_ref(), &error.path).map(|offset| line_of(text, offset));
                }
            }
        }
        self.0.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        self
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

/// TOML text into [`RawConfig`], with the failing key's path and line on error.
pub(crate) fn deserialize(text: &str) -> Result<RawConfig, ConfigErrors> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| toml_error(text, "", &e))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        toml_error(text, &path, e.inner())
    })
}

fn toml_error(text: &str, path: &str, error: &toml::de::Error) -> ConfigErrors {
    let mut message = error.message().trim().to_owned();
    // serde names the unknown key in the message; the path then ends at its table.
    let path = match unknown_field(&message) {
        Some(field) if path.is_empty() => field.to_owned(),
        Some(field) if !path.ends_with(field) => format!("{path}.{field}"),
        _ => path.to_owned(),
    };
    if let Some(stripped) = message.strip_suffix('.') {
        message = stripped.to_owned();
    }
    let line = error.span().map(|span| line_of(text, span.start));
    ConfigErrors::single(ConfigError {
        path,
        line,
        message,
    })
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// The byte offset of the key at `path` (`a.b[2]`, `scores.NAME`) in the parsed document.
fn locate(table: &DeTable<'_>, path: &str) -> Option<usize> {
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    let mut offset = None;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, index)) => (key, index.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let table = match current {
            None => table,
            Some(value) => value.get_ref().as_table()?,
        };
        let (found_key, value) = table.get_key_value(key)?;
        offset = Some(found_key.span().start);
        current = Some(value);
        if let Some(index) = index {
            let item = value.get_ref().as_array()?.get(index)?;
            offset = Some(item.span().start);
            current = Some(item);
        }
    }
    offset
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.bytes().filter(|&b| b == b'\n').count())
        + 1
}
