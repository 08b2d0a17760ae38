//! The ARC interop fixtures (`testdata/arc/`, made by `scripts/arc-interop/make-fixtures`):
//!
//! * every chain sealed by dkimpy `arc_sign` (one and two hops, intact and tampered)
//!   validates in kanmon with the expected result, which dkimpy's `arc_verify` also gave;
//! * every chain sealed by kanmon, or by kanmon and dkimpy in turn, still validates in kanmon
//!   as recorded in `kanmon-sealed-results.tsv`, and the record shows dkimpy agreeing.

#[path = "support/fixtures.rs"]
mod fixtures;

use fixtures::{column, repo, rows, zone};
use kanmon_auth::arc::validate;
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

/// After hop 2's `t=1700000100`, as the fixtures were verified.
const NOW: u64 = 1_700_000_200;

async fn kanmon_verdict(zone: &StaticResolver, path: &str) -> (String, String) {
    let raw = std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let message = Message::parse(&raw).unwrap_or_else(|e| panic!("{path}: {e}"));
    let output = validate(zone, &message, NOW).await;
    (output.result.as_str().to_owned(), output.reason())
}

#[tokio::test]
async fn dkimpy_sealed_chains_validate_as_expected() {
    let zone = zone();
    let manifest = rows(&repo().join("testdata/arc/dkimpy-manifest.tsv"));
    assert_eq!(manifest.len(), 40, "manifest rows");
    let mut wrong = Vec::new();
    for row in &manifest {
        let path = column(row, "path");
        let expected = column(row, "expected");
        assert_eq!(column(row, "dkimpy"), expected, "{path}: dkimpy disagreed");
        let (got, reason) = kanmon_verdict(&zone, path).await;
        if got != expected {
            wrong.push(format!("{path}: expected {expected}, got {got}: {reason}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn kanmon_sealed_chains_validate_as_recorded() {
    let zone = zone();
    let results = rows(&repo().join("testdata/arc/kanmon-sealed-results.tsv"));
    assert_eq!(results.len(), 88, "result rows");
    let mut wrong = Vec::new();
    for row in &results {
        let path = column(row, "path");
        let expected = column(row, "expected");
        assert_eq!(column(row, "ok"), "yes", "{path}: recorded as a mismatch");
        assert_eq!(column(row, "dkimpy"), expected, "{path}: dkimpy disagreed");
        assert_eq!(
            column(row, "kanmon"),
            expected,
            "{path}: recorded kanmon verdict"
        );
        let (got, reason) = kanmon_verdict(&zone, path).await;
        if got != expected {
            wrong.push(format!("{path}: expected {expected}, got {got}: {reason}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
