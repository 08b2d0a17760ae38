//! The DKIM interop matrix (`testdata/dkim/`, made by `scripts/dkim-interop/`):
//!
//! * every message signed by dkimpy and by OpenDKIM verifies in kanmon with the result the
//!   manifest expects (intact `pass`, tampered `fail`, rsa-sha1 `policy` unless allowed);
//! * every message signed by kanmon, as recorded in `kanmon-signed-results.tsv`, still
//!   verifies in kanmon as expected, and the record shows dkimpy and OpenDKIM agreeing.

#[path = "support/fixtures.rs"]
mod fixtures;

use fixtures::{column, repo, rows, zone};
use kanmon_auth::dkim::{VerifyOptions, verify};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

/// After every fixture's `t=`, before any `x=` (the peers' fixtures carry none).
const NOW: u64 = 1_900_000_000;

/// kanmon's result for the first signature of the file, and its reason.
async fn kanmon_verdict(
    zone: &StaticResolver,
    path: &str,
    options: &VerifyOptions,
) -> (String, String) {
    let raw = std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let message = Message::parse(&raw).unwrap_or_else(|e| panic!("{path}: {e}"));
    let outputs = verify(zone, &message, options, NOW).await;
    let first = outputs.first().expect("one output at least");
    (first.result.as_str().to_owned(), first.reason())
}

#[tokio::test]
async fn peer_signed_fixtures_verify_as_expected() {
    let zone = zone();
    let strict = VerifyOptions::default();
    let allow_sha1 = VerifyOptions {
        allow_sha1: true,
        ..VerifyOptions::default()
    };
    let manifest = rows(&repo().join("testdata/dkim/manifest.tsv"));
    assert!(
        manifest.len() >= 170,
        "manifest has {} rows",
        manifest.len()
    );
    let mut wrong = Vec::new();
    for row in &manifest {
        let path = column(row, "path");
        for (options, expected) in [
            (&strict, column(row, "expected_kanmon")),
            (&allow_sha1, column(row, "expected_kanmon_allow_sha1")),
        ] {
            let (got, reason) = kanmon_verdict(&zone, path, options).await;
            if got != expected {
                wrong.push(format!(
                    "{path} (allow_sha1={}): expected {expected}, got {got}: {reason}",
                    options.allow_sha1
                ));
            }
        }
        // The peers agreed with each other when the fixture was made.
        let peers = (column(row, "dkimpy"), column(row, "opendkim"));
        assert_eq!(peers.0, peers.1, "{path}: peers disagree");
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn kanmon_signed_fixtures_verified_everywhere() {
    let zone = zone();
    let results = rows(&repo().join("testdata/dkim/kanmon-signed-results.tsv"));
    let kanmon_signed: Vec<_> = results
        .iter()
        .filter(|row| column(row, "signer").starts_with("kanmon"))
        .collect();
    // 2 algorithms × 4 canonicalisations × 4 messages × 3 variants, plus oversigned and
    // PKCS#1-key signatures with their tampered copies.
    assert!(
        kanmon_signed.len() >= 140,
        "{} kanmon-signed rows",
        kanmon_signed.len()
    );
    let mut wrong = Vec::new();
    for row in kanmon_signed {
        let path = column(row, "path");
        let expected = column(row, "expected");
        for peer in ["kanmon", "dkimpy", "opendkim"] {
            if column(row, peer) != expected {
                wrong.push(format!(
                    "{path}: {peer} said {} when made",
                    column(row, peer)
                ));
            }
        }
        let (got, reason) = kanmon_verdict(&zone, path, &VerifyOptions::default()).await;
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
