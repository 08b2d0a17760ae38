//! `contrib/kanmon.toml` is the commented default: it parses to exactly the built-in
//! defaults, names every key, and lists every symbol with its default score and description.

use std::collections::BTreeSet;

use super::super::de::{deserialize, schema};
use super::super::*;
use crate::checks;

/// Every key path in a TOML table, `a.b.c`, tables included.
fn key_paths(table: &toml::Table, prefix: &str, paths: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => key_paths(inner, &path, paths),
            // Arrays of tables ([[dnsbl]]): the keys of every entry, as `dnsbl[].zone`.
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(inner) = item {
                        key_paths(inner, &format!("{path}[]"), paths);
                    }
                }
            }
            _ => {}
        }
        paths.insert(path);
    }
}

fn paths_of(table: &toml::Table) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    key_paths(table, "", &mut paths);
    paths
}

/// What the file should read as: the defaults, with every symbol's default score listed.
fn defaults_with_every_symbol() -> RawConfig {
    RawConfig {
        scores: RawConfig::with_every_key().scores,
        ..RawConfig::default()
    }
}

fn file_table() -> toml::Table {
    DEFAULT_TOML.parse().expect("contrib/kanmon.toml is TOML")
}

#[test]
fn contrib_file_parses_to_the_defaults() {
    let parsed = Config::parse(DEFAULT_TOML).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed, Config::default());
}

#[test]
fn contrib_file_repeats_every_raw_default() {
    let raw = deserialize(DEFAULT_TOML).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(raw, defaults_with_every_symbol());
}

/// Every key `RawConfig` has is written in the file; a key without a default value
/// (`actions.rewrite_subject`) is there as a commented-out example in its section.
#[test]
fn contrib_file_names_every_key() {
    let written = paths_of(&file_table());
    let every = paths_of(&schema());
    let with_defaults = paths_of(&toml::Table::try_from(defaults_with_every_symbol()).unwrap());
    let defaults = toml::Table::try_from(defaults_with_every_symbol()).unwrap();
    for path in &every {
        // An array of tables empty by default ([[sender_rules]]): shown commented out.
        if let Some(toml::Value::Array(items)) = defaults.get(path.as_str())
            && items.is_empty()
        {
            assert!(
                DEFAULT_TOML.contains(&format!("\n# [[{path}]]\n")),
                "contrib/kanmon.toml lacks a commented-out [[{path}]] example"
            );
            continue;
        }
        if with_defaults.contains(path) {
            assert!(written.contains(path), "contrib/kanmon.toml lacks {path}");
            continue;
        }
        // An array of tables empty by default: a commented-out `# [[rules]]` entry shows it.
        if DEFAULT_TOML.contains(&format!("\n# [[{path}]]\n")) {
            continue;
        }
        let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
        // A key of an entry's inline tables (`dnsbl[].codes[].mask`) shows in a commented
        // line of its top-level array's entries.
        if let Some((array, _)) = section.split_once("[].") {
            let written = format!("{key} = ");
            let shown = DEFAULT_TOML
                .split(&format!("[[{array}]]\n"))
                .skip(1)
                .map(|body| body.split("\n[").next().unwrap_or(body))
                .any(|body| {
                    body.lines()
                        .any(|line| line.trim_start().starts_with('#') && line.contains(&written))
                });
            assert!(
                shown,
                "contrib/kanmon.toml lacks an example of {key} in a [[{array}]] entry"
            );
            continue;
        }
        if let Some(array) = section.strip_suffix("[]") {
            // An entry key no default entry uses: a commented-out `# [[array]]` example
            // (or a real entry's section) shows it.
            let example = format!("\n# {key} = ");
            let shown = DEFAULT_TOML
                .split(&format!("[[{array}]]\n"))
                .skip(1)
                .map(|body| body.split("\n[").next().unwrap_or(body))
                .map(|body| body.split("\n# [").next().unwrap_or(body))
                .any(|body| body.contains(&example) || body.starts_with(&example[1..]));
            assert!(
                shown,
                "contrib/kanmon.toml lacks a commented-out example of {key} in [[{array}]]"
            );
            continue;
        }
        let header = format!("[{section}]\n");
        let start = DEFAULT_TOML
            .find(&header)
            .unwrap_or_else(|| panic!("contrib/kanmon.toml lacks [{section}]"));
        let body = &DEFAULT_TOML[start + header.len()..];
        let body = body.split("\n[").next().unwrap_or(body);
        assert!(
            body.contains(&format!("\n# {key} = ")),
            "contrib/kanmon.toml lacks a commented-out example of {path} in [{section}]"
        );
    }
}

/// `[scores]` lists each declared symbol with its default score, under a comment that is
/// the symbol's description, so `kanmon config default` documents every symbol.
#[test]
fn contrib_file_lists_every_symbol_with_its_score_and_description() {
    let file = file_table();
    let scores = file
        .get("scores")
        .and_then(toml::Value::as_table)
        .expect("[scores] is a table");
    let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
    for &(name, default) in DEFAULT_SCORES {
        let written = scores.get(name).and_then(|value| {
            value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
        });
        assert_eq!(
            written,
            Some(default),
            "contrib/kanmon.toml: [scores] should have {name} = {default:?}"
        );
        let description = checks::declared(name)
            .expect("DEFAULT_SCORES names declared symbols")
            .description;
        let at = lines
            .iter()
            .position(|line| line.starts_with(&format!("{name} = ")))
            .expect("the symbol's line");
        assert_eq!(
            at.checked_sub(1).map(|i| lines[i]),
            Some(format!("# {description}").as_str()),
            "contrib/kanmon.toml: the line above {name} should be its description"
        );
    }
    assert_eq!(scores.len(), DEFAULT_SCORES.len());
}

#[test]
fn no_file_and_an_empty_file_are_the_defaults() {
    assert_eq!(Config::parse("").unwrap(), Config::default());
    assert_eq!(
        Config::parse("# only a comment\n").unwrap(),
        Config::default()
    );
}
