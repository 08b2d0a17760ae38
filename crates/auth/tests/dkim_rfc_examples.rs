//! RFC 6376 Appendix A: the example message (A.1), the signed message (A.2) and the public
//! key record (A.3), as published, and what it takes to make them verify.
//!
//! The appendix does not verify as printed, for two reasons that are RFC Editor errata
//! material (both are checked below, not taken on trust):
//!
//! * A.3 publishes the key under `$ORIGIN _domainkey.example.org.`, but the signature says
//!   `d=example.com`, so a verifier asks `brisbane._domainkey.example.com` and finds nothing.
//! * The figures print the body with two spaces after "game." (RFC 8463 Appendix A.3 reuses
//!   the message the same way), while A.2's `bh=` is the simple-canonicalisation hash of the
//!   body with one space. Relaxed canonicalisation folds the two spaces into one, which is
//!   why RFC 8463's relaxed signatures of the two-space body carry the same `bh=`.
//!
//! With both corrected the A.2 signature verifies with the A.3 key: the RSA signature itself
//! is good. (Checked independently of kanmon with Python's `cryptography` over the simple
//! header canonicalisation of the A.2 fields exactly as laid out below: six-space folding
//! and two spaces before `[192.0.2.1]` in Received; it verifies with that layout only.)
//! The A.3 key is the public half of the private key in Appendix C; kanmon cannot sign with
//! it (aws-lc loads RSA signing keys of 2,048 bits or more), so there is no signing test.
//!
//! The §3.4.5 canonicalisation examples are unit tests of `dkim/canon.rs`.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic is a test failure

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kanmon_auth::dkim::{
    Algorithm, BodyHasher, Canonicalization, DkimOutput, DkimResult, HashAlgorithm, VerifyOptions,
    verify,
};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

/// RFC 6376 Appendix A.2: the header section as printed (the DKIM-Signature, then the
/// submission server's Received, then A.1's fields), up to and including the empty line.
const A2_HEADER: &str = concat!(
    "DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n",
    "      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n",
    "      h=Received : From : To : Subject : Date : Message-ID;\r\n",
    "      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    "      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n",
    "        4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n",
    "        KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n",
    "        4bmp/YzhwvcubU4=;\r\n",
    "Received: from client1.football.example.com  [192.0.2.1]\r\n",
    "      by submitserver.example.com with SUBMISSION;\r\n",
    "      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n",
    "From: Joe SixPack <joe@football.example.com>\r\n",
    "To: Suzie Q <suzie@shopping.example.net>\r\n",
    "Subject: Is dinner ready?\r\n",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
    "\r\n",
);

/// A.1's body as the figures print it: two spaces after "game.".
const BODY_AS_PRINTED: &str = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

/// The body A.2's `bh=` was computed over: one space after "game.".
const BODY_AS_SIGNED: &str = "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n";

/// A.2's `bh=`.
const BODY_HASH: &str = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

/// RFC 6376 Appendix A.3: the `p=` of the `brisbane` key record.
const A3_KEY: &str = concat!(
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOC",
    "KG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGj",
    "aNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB",
);

fn a3_record() -> String {
    format!("v=DKIM1; p={A3_KEY}")
}

/// A.3 as published: the record under `example.org`.
fn zone_as_published() -> StaticResolver {
    StaticResolver::new().with_txt("brisbane._domainkey.example.org", a3_record())
}

/// A.3 with its `$ORIGIN` corrected to the signature's `d=example.com`.
fn zone_corrected() -> StaticResolver {
    zone_as_published().with_txt("brisbane._domainkey.example.com", a3_record())
}

/// The signature has no t= or x=, so the time does not matter.
const NOW: u64 = 1_700_000_000;

fn check(zone: &StaticResolver, body: &str) -> DkimOutput {
    let raw = format!("{A2_HEADER}{body}");
    let message = Message::parse(raw.as_bytes()).unwrap();
    let mut outputs = run(verify(zone, &message, &VerifyOptions::default(), NOW));
    assert_eq!(outputs.len(), 1);
    outputs.remove(0)
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn body_hash(canon: Canonicalization, body: &str) -> String {
    let mut hasher = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
    hasher.update(body.as_bytes());
    STANDARD.encode(hasher.finish().digest.as_ref())
}

#[test]
fn a2_signature_fields_are_read() {
    let output = check(&zone_corrected(), BODY_AS_SIGNED);
    assert_eq!(output.domain, "example.com");
    assert_eq!(output.selector, "brisbane");
    assert_eq!(output.identity.as_deref(), Some("joe@football.example.com"));
    assert_eq!(output.algorithm, Some(Algorithm::RsaSha256));
    assert_eq!(output.body_length, None);
    assert_eq!(output.header_b, "AuUoFEfDxTDk");
}

#[test]
fn a2_bh_is_the_simple_hash_of_the_one_space_body() {
    use Canonicalization::*;
    assert_eq!(body_hash(Simple, BODY_AS_SIGNED), BODY_HASH);
    assert_ne!(body_hash(Simple, BODY_AS_PRINTED), BODY_HASH);
    // Relaxed folds the two spaces: RFC 8463's relaxed signatures of the printed body carry
    // the same bh=.
    assert_eq!(body_hash(Relaxed, BODY_AS_PRINTED), BODY_HASH);
}

#[test]
fn as_published_the_key_is_not_where_the_signature_points() {
    let output = check(&zone_as_published(), BODY_AS_SIGNED);
    assert_eq!(output.result, DkimResult::PermError);
    assert_eq!(
        output.reason(),
        "no key record at brisbane._domainkey.example.com"
    );
}

#[test]
fn as_printed_the_body_does_not_match_bh() {
    let output = check(&zone_corrected(), BODY_AS_PRINTED);
    assert_eq!(output.result, DkimResult::Fail);
    assert_eq!(output.reason(), "body hash did not verify");
}

#[test]
fn with_both_corrections_a2_verifies_with_the_a3_key() {
    let output = check(&zone_corrected(), BODY_AS_SIGNED);
    assert_eq!(output.result, DkimResult::Pass, "{}", output.reason());
    // A.3's key: RSA, 1,024 bits, RFC 8301's floor, so accepted.
    assert_eq!(output.key_bits, Some(1024));
}

#[test]
fn the_corrected_pass_depends_on_the_signed_fields() {
    // A change to a signed field (Subject) must break it, or the pass above would prove
    // nothing; so must removing the Received field, which h= lists first.
    let zone = zone_corrected();
    let raw = format!("{A2_HEADER}{BODY_AS_SIGNED}");
    let tampered = raw.replace("Is dinner ready?", "Is dinner ready!");
    let message = Message::parse(tampered.as_bytes()).unwrap();
    let outputs = run(verify(&zone, &message, &VerifyOptions::default(), NOW));
    assert_eq!(outputs[0].result, DkimResult::Fail);
    assert_eq!(outputs[0].reason(), "signature did not verify");

    let start = raw.find("Received:").unwrap();
    let end = raw.find("From:").unwrap();
    let unreceived = format!("{}{}", &raw[..start], &raw[end..]);
    let message = Message::parse(unreceived.as_bytes()).unwrap();
    let outputs = run(verify(&zone, &message, &VerifyOptions::default(), NOW));
    assert_eq!(outputs[0].result, DkimResult::Fail);
}
