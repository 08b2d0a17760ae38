//! TOML text into [`RawConfig`], with every error naming its key path and line.
//!
//! Three passes, each reporting in the administrator's terms rather than serde's:
//! 1. the TOML syntax (`line 3, column 7: invalid TOML: …`);
//! 2. the keys, against the tree of every key [`RawConfig`] has: *all* unknown keys and
//!    misplaced sections at once, each with a suggestion, since serde stops at the first;
//! 3. the values, through serde: a wrong type or word, with serde's wording translated
//!    (`expected u64` → `expected a whole number of 0 or more`).

use serde_path_to_error::Segment;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigErrors, column_of, join, line_of, push_key};
use super::raw::RawConfig;
use super::suggest::closest;

/// Tables whose keys are names chosen by the file (symbols), checked by validation.
const OPEN_TABLES: &[&str] = &["scores"];

pub(super) fn deserialize(text: &str) -> Result<RawConfig, ConfigErrors> {
    let document = DeTable::parse(text).map_err(|e| syntax_error(text, &e))?;
    let schema = schema();
    let mut errors = ConfigErrors::default();
    check_keys(text, document.get_ref(), &schema, &schema, "", &mut errors);
    errors.into_result()?;
    serde_path_to_error::deserialize(toml::Deserializer::from(document))
        .map_err(|e| value_error(text, &e))
}

/// Every key a file may have, as a tree of tables.
pub(super) fn schema() -> toml::Table {
    toml::Table::try_from(RawConfig::with_every_key())
        .expect("invariant: the raw configuration types serialize to a TOML table")
}

fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigErrors {
    let message = format!(
        "invalid TOML: {}",
        error.message().trim().trim_end_matches('.')
    );
    let mut error_out = ConfigError::new("", message);
    if let Some(span) = error.span() {
        error_out.line = Some(line_of(text, span.start));
        error_out.column = Some(column_of(text, span.start));
    }
    ConfigErrors::single(error_out)
}

/// Reports each key of `table` that `schema` does not have, and each value that should be
/// a table but is not. `root` is the whole schema, to say where a misplaced key belongs.
fn check_keys(
    text: &str,
    table: &DeTable<'_>,
    schema: &toml::Table,
    root: &toml::Table,
    prefix: &str,
    errors: &mut ConfigErrors,
) {
    for (key, value) in table {
        let name: &str = key.get_ref();
        let path = join(prefix, name);
        let line = line_of(text, key.span().start);
        match schema.get(name) {
            None => errors.0.push(
                ConfigError::new(&path, unknown_key(name, schema, root, prefix)).at_line(line),
            ),
            Some(toml::Value::Table(_)) if OPEN_TABLES.contains(&path.as_str()) => {}
            Some(toml::Value::Table(section)) => match value.get_ref() {
                DeValue::Table(inner) => check_keys(text, inner, section, root, &path, errors),
                other => errors.0.push(
                    ConfigError::new(
                        &path,
                        format!("expected a table ([{path}]), found {}", kind(other)),
                    )
                    .at_line(line),
                ),
            },
            Some(toml::Value::Array(items)) => {
                // An array of tables ([[dnsbl]]): the schema holds one entry with every key.
                let Some(toml::Value::Table(entry)) = items.first() else {
                    continue;
                };
                let DeValue::Array(values) = value.get_ref() else {
                    errors.0.push(
                        ConfigError::new(
                            &path,
                            format!(
                                "expected tables ([[{path}]]), found {}",
                                kind(value.get_ref())
                            ),
                        )
                        .at_line(line),
                    );
                    continue;
                };
                for (index, item) in values.iter().enumerate() {
                    let item_path = format!("{path}[{index}]");
                    match item.get_ref() {
                        DeValue::Table(inner) => {
                            check_keys(text, inner, entry, root, &item_path, errors);
                        }
                        other => errors.0.push(
                            ConfigError::new(
                                &item_path,
                                format!("expected a table ([[{path}]]), found {}", kind(other)),
                            )
                            .at_line(line_of(text, item.span().start)),
                        ),
                    }
                }
            }
            Some(_) => {}
        }
    }
}

/// Why a key is unknown, and what was probably meant. The classic TOML slip is a top-level
/// key written after a `[section]` header, which puts it in that section; so a key that
/// exists elsewhere says where it belongs.
fn unknown_key(name: &str, schema: &toml::Table, root: &toml::Table, prefix: &str) -> String {
    let sections: Vec<String> = paths_of(root, "")
        .into_iter()
        .filter(|(_, key)| key == name)
        .map(|(path, _)| {
            path.rsplit_once('.')
                .map(|(section, _)| section.to_owned())
                .unwrap_or_default()
        })
        .collect();
    match sections.as_slice() {
        [top] if top.is_empty() => {
            return format!(
                "unknown key here; {name} is a top-level key, so it must come before the first [section] header"
            );
        }
        [section] => return format!("unknown key here; {name} belongs in {}", place(section)),
        [_, ..] => {
            let list: Vec<String> = sections.iter().map(|s| place(s)).collect();
            return format!("unknown key here; {name} belongs in {}", list.join(" or "));
        }
        [] => {}
    }
    if crate::checks::declared(name).is_some() {
        return format!("unknown key here; {name} is a symbol, and its score belongs in [scores]");
    }
    match closest(name, schema.keys().map(String::as_str)) {
        Some(candidate) => format!("unknown key; did you mean {candidate}?"),
        None => {
            let keys: Vec<&str> = schema.keys().map(String::as_str).collect();
            format!("unknown key; {} has {}", place(prefix), keys.join(", "))
        }
    }
}

/// `[dns]`, `[[dnsbl]]` for an entry of an array of tables (a path ending in `[]`), or
/// `the top level` for the root table.
fn place(section: &str) -> String {
    if section.is_empty() {
        "the top level".to_owned()
    } else if let Some(array) = section.strip_suffix("[]") {
        format!("[[{array}]]")
    } else {
        format!("[{section}]")
    }
}

/// Every key path of the schema with its last key, except inside open tables.
fn paths_of(table: &toml::Table, prefix: &str) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for (key, value) in table {
        let path = join(prefix, key);
        match value {
            toml::Value::Table(inner) if !OPEN_TABLES.contains(&path.as_str()) => {
                paths.extend(paths_of(inner, &path));
            }
            toml::Value::Array(items) => {
                if let Some(toml::Value::Table(entry)) = items.first() {
                    paths.extend(paths_of(entry, &format!("{path}[]")));
                }
            }
            _ => {}
        }
        paths.push((path, key.clone()));
    }
    paths
}

fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A value serde refused: its path from serde_path_to_error, its line from toml's span.
fn value_error(text: &str, error: &serde_path_to_error::Error<toml::de::Error>) -> ConfigErrors {
    let mut path = String::new();
    for segment in error.path().iter() {
        match segment {
            Segment::Map { key } => push_key(&mut path, key),
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let inner = error.inner();
    let mut config_error = ConfigError::new(path, plain(inner.message()));
    config_error.line = inner.span().map(|span| line_of(text, span.start));
    ConfigErrors::single(config_error)
}

/// serde's `invalid type: string "yes", expected a boolean` as
/// `expected true or false, found "yes"`: what to write first, in TOML's words.
pub(super) fn plain(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let parsed = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    match parsed {
        Some((found, expected)) => format!(
            "expected {}, found {}",
            expected_words(expected),
            found_words(found)
        ),
        None => message.to_owned(),
    }
}

fn expected_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

fn found_words(found: &str) -> String {
    for prefix in [
        "integer ",
        "unsigned integer ",
        "floating point ",
        "boolean ",
        "string ",
        "character ",
    ] {
        if let Some(value) = found.strip_prefix(prefix) {
            return value.trim_matches('`').to_owned();
        }
    }
    match found {
        "sequence" => "an array".to_owned(),
        "map" => "a table".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_becomes_toml_wording() {
        assert_eq!(
            plain("invalid type: string \"yes\", expected a boolean"),
            "expected true or false, found \"yes\""
        );
        assert_eq!(
            plain("invalid value: integer `-5`, expected u64"),
            "expected a whole number of 0 or more, found -5"
        );
        assert_eq!(
            plain("invalid type: floating point `1.5`, expected usize"),
            "expected a whole number of 0 or more, found 1.5"
        );
        assert_eq!(
            plain("invalid type: string \"x\", expected f64"),
            "expected a number, found \"x\""
        );
        assert_eq!(
            plain("invalid type: string \"a\", expected a sequence"),
            "expected an array, found \"a\""
        );
        assert_eq!(
            plain("invalid type: integer `3`, expected struct RawSpf"),
            "expected a table, found 3"
        );
        assert_eq!(plain("something else."), "something else");
    }
}
