//! Reading the committed interop fixtures: the repository root, the test zone
//! (`testdata/dkim/zone.txt`) and the manifests (TSV with a header line).

use std::path::{Path, PathBuf};

use kanmon_auth::dns::StaticResolver;

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `testdata/dkim/zone.txt`: `<name> <TXT value>` lines, `#` comments, blank lines.
pub(crate) fn zone() -> StaticResolver {
    let text = std::fs::read_to_string(repo().join("testdata/dkim/zone.txt")).expect("zone.txt");
    let mut zone = StaticResolver::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(char::is_whitespace)
            .expect("name and value");
        zone = zone.with_txt(name, value.trim_start());
    }
    zone
}

/// Rows of a TSV file with a header line, comments skipped, as (column, value) pairs.
pub(crate) fn rows(path: &Path) -> Vec<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let header: Vec<String> = lines
        .next()
        .expect("header line")
        .split('\t')
        .map(str::to_owned)
        .collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

pub(crate) fn column<'r>(row: &'r [(String, String)], name: &str) -> &'r str {
    row.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {name}"))
}
