//! ARC end to end with kanmon on both sides: seal one and two hops and validate, then break
//! the chain in each way RFC 8617 §5.2 checks (body, headers, a removed or duplicated
//! field, a gap, a wrong `cv=`, expiry, DNS failures) and see it fail with the right reason.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic is a test failure

use kanmon_auth::arc::{
    ArcOutput, ArcResult, ChainStatus, MAX_INSTANCE, SealError, Sealer, validate,
};
use kanmon_auth::dkim::{DkimResult, LINE_LIMIT, SigningKey};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/dkim/keys/rsa2048.TEST-ONLY.pkcs8.pem"
);
const T1: u64 = 1_700_000_000;
const T2: u64 = 1_700_000_100;
const NOW: u64 = 1_700_000_200;

const MESSAGE: &str = concat!(
    "Received: from mail.example.com by mx.example.net\r\n",
    "From: Alice Example <alice@example.com>\r\n",
    "To: list@example.net\r\n",
    "Subject: Plain  text\r\n",
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
    "Message-ID: <plain.1700000000@example.com>\r\n",
    "\r\n",
    "Hello list,\r\n",
    "\r\n",
    "this message travels through two forwarders.\r\n",
);

fn key() -> SigningKey {
    SigningKey::from_pem(&std::fs::read(KEY).unwrap()).unwrap()
}

fn sealer(domain: &str) -> Sealer {
    Sealer::new(key(), domain, "arc").unwrap()
}

fn zone() -> StaticResolver {
    let record = key().dns_record();
    StaticResolver::new()
        .with_txt("arc._domainkey.example.net", record.as_str())
        .with_txt("arc._domainkey.example.org", record.as_str())
}

async fn check(zone: &StaticResolver, raw: &str) -> ArcOutput {
    validate(zone, &Message::parse(raw.as_bytes()).unwrap(), NOW).await
}

/// Seals `raw` as `domain` would after validating it, returning the sealed message.
async fn hop(zone: &StaticResolver, raw: &str, domain: &str, now: u64) -> String {
    let chain = check(zone, raw).await;
    let results = format!(
        "mx.{domain}; spf=pass smtp.mailfrom=alice@example.com smtp.remote-ip=192.0.2.{}",
        chain.highest_instance + 1
    );
    let set = sealer(domain)
        .seal(
            &Message::parse(raw.as_bytes()).unwrap(),
            &chain,
            &results,
            now,
        )
        .unwrap();
    format!("{}{raw}", set.header_block())
}

async fn two_hops(zone: &StaticResolver) -> String {
    let one = hop(zone, MESSAGE, "example.net", T1).await;
    hop(zone, &one, "example.org", T2).await
}

fn assert_fails(output: &ArcOutput, reason: &str) {
    assert_eq!(output.result, ArcResult::Fail, "{}", output.reason());
    assert!(
        output.reason().contains(reason),
        "expected {reason:?} in {:?}",
        output.reason()
    );
}

#[tokio::test]
async fn no_chain_is_none() {
    let output = check(&zone(), MESSAGE).await;
    assert_eq!(output.result, ArcResult::None);
    assert_eq!(output.cv(), Some(ChainStatus::None));
}

#[tokio::test]
async fn one_and_two_hops_pass() {
    let zone = zone();
    let one = hop(&zone, MESSAGE, "example.net", T1).await;
    let output = check(&zone, &one).await;
    assert_eq!(output.result, ArcResult::Pass, "{}", output.reason());
    assert_eq!(
        output.reason(),
        "chain of 1 ARC set verified (oldest-pass=0)"
    );
    assert!(one.starts_with("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.net; s=arc;"));

    let two = hop(&zone, &one, "example.org", T2).await;
    let output = check(&zone, &two).await;
    assert_eq!(output.result, ArcResult::Pass, "{}", output.reason());
    assert_eq!(output.set_count(), 2);
    assert_eq!(output.highest_instance, 2);
    assert_eq!(output.oldest_pass, Some(0));
    let first = output.set(1).unwrap();
    assert_eq!(first.cv, Some(ChainStatus::None));
    assert_eq!(first.seal.result, DkimResult::Pass);
    assert_eq!(first.seal.domain, "example.net");
    assert_eq!(first.message_signature.result, DkimResult::Pass);
    assert_eq!(first.remote_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        first.authentication_results,
        "mx.example.net; spf=pass smtp.mailfrom=alice@example.com smtp.remote-ip=192.0.2.1; arc=none"
    );
    let second = output.set(2).unwrap();
    assert_eq!(second.cv, Some(ChainStatus::Pass));
    assert!(second.authentication_results.ends_with("; arc=pass"));
    assert_eq!(second.remote_ip.as_deref(), Some("192.0.2.2"));
    for line in two.lines().take_while(|l| !l.is_empty()) {
        assert!(line.len() <= LINE_LIMIT, "{line:?}");
    }
}

#[tokio::test]
async fn lf_messages_seal_and_pass() {
    let zone = zone();
    let lf = MESSAGE.replace("\r\n", "\n");
    let one = hop(&zone, &lf, "example.net", T1).await;
    assert!(!one.contains('\r'));
    let two = hop(&zone, &one, "example.org", T2).await;
    assert_eq!(check(&zone, &two).await.result, ArcResult::Pass);
    // Relaxed canonicalisation everywhere: converting to CRLF keeps the chain intact.
    let crlf = two.replace('\n', "\r\n");
    assert_eq!(check(&zone, &crlf).await.result, ArcResult::Pass);
}

#[tokio::test]
async fn tampered_body_fails_the_newest_ams() {
    let zone = zone();
    let two = two_hops(&zone).await;
    let tampered = two.replace("two forwarders", "three forwarders");
    let output = check(&zone, &tampered).await;
    assert_fails(
        &output,
        "ARC-Message-Signature i=2 did not verify: body hash did not verify",
    );
    assert_eq!(
        output.set(2).unwrap().message_signature.result,
        DkimResult::Fail
    );
    assert_eq!(output.set(1).unwrap().seal.result, DkimResult::Neutral);
}

#[tokio::test]
async fn modified_before_the_second_hop_gives_oldest_pass() {
    let zone = zone();
    let one = hop(&zone, MESSAGE, "example.net", T1).await;
    // A mailing list validates the chain as received, changes the subject, then seals:
    // the first AMS breaks, the chain holds.
    let received = check(&zone, &one).await;
    assert_eq!(received.result, ArcResult::Pass);
    let listed = one.replace("Subject: Plain  text", "Subject: [list] Plain text");
    let set = sealer("example.org")
        .seal(
            &Message::parse(listed.as_bytes()).unwrap(),
            &received,
            "lists.example.org; arc=pass",
            T2,
        )
        .unwrap();
    let two = format!("{}{listed}", set.header_block());
    let output = check(&zone, &two).await;
    assert_eq!(output.result, ArcResult::Pass, "{}", output.reason());
    assert_eq!(output.oldest_pass, Some(2));
    assert_eq!(
        output.set(1).unwrap().message_signature.result,
        DkimResult::Fail
    );
}

#[tokio::test]
async fn tampered_arc_fields_fail() {
    let zone = zone();
    let two = two_hops(&zone).await;
    // The first hop's results, changed after sealing: only the seals cover them.
    let forged = two.replace("smtp.remote-ip=192.0.2.1", "smtp.remote-ip=192.0.2.9");
    assert_fails(
        &check(&zone, &forged).await,
        "ARC-Seal i=2 did not verify: signature did not verify",
    );
    // A seal's timestamp changed.
    let forged = two.replacen("t=1700000000;", "t=1700000001;", 1);
    assert_ne!(forged, two);
    assert_fails(&check(&zone, &forged).await, "did not verify");
}

#[tokio::test]
async fn removed_or_doubled_fields_fail() {
    let zone = zone();
    let two = two_hops(&zone).await;
    let message = Message::parse(two.as_bytes()).unwrap();
    let field = |name: &str, instance: &str| {
        let field = message
            .fields(name)
            .find(|f| String::from_utf8_lossy(f.value()).contains(&format!("i={instance};")))
            .unwrap();
        let mut text = String::from_utf8(field.raw.to_vec()).unwrap();
        text.push_str("\r\n");
        text
    };
    let removed = two.replace(&field("ARC-Message-Signature", "1"), "");
    assert_fails(
        &check(&zone, &removed).await,
        "ARC set i=1 does not have exactly one each",
    );
    let doubled = format!("{}{two}", field("ARC-Authentication-Results", "2"));
    assert_fails(
        &check(&zone, &doubled).await,
        "ARC set i=2 does not have exactly one each",
    );
    // A whole set removed leaves a gap.
    let gap = [
        "ARC-Seal",
        "ARC-Message-Signature",
        "ARC-Authentication-Results",
    ]
    .iter()
    .fold(two.clone(), |text, name| {
        text.replace(&field(name, "1"), "")
    });
    assert_fails(&check(&zone, &gap).await, "ARC set i=1 is missing");
}

#[tokio::test]
async fn wrong_cv_fails() {
    let zone = zone();
    let two = two_hops(&zone).await;
    let wrong = two.replacen("cv=pass;", "cv=none;", 1);
    assert_fails(
        &check(&zone, &wrong).await,
        "ARC-Seal i=2 has cv=none, expected cv=pass",
    );
    let wrong = two.replacen("cv=none;", "cv=pass;", 1);
    assert_fails(
        &check(&zone, &wrong).await,
        "ARC-Seal i=1 has cv=pass, expected cv=none",
    );
    let ended = two.replacen("cv=pass;", "cv=fail;", 1);
    let output = check(&zone, &ended).await;
    assert_fails(&output, "ARC-Seal i=2 says the chain had already failed");
    assert!(output.ended());
    // RFC 8617 §5.1 step 1: nothing more is added to an ended chain.
    let error = sealer("example.com")
        .seal(
            &Message::parse(ended.as_bytes()).unwrap(),
            &output,
            "mx.example.com",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error, SealError::ChainEnded(2));
}

#[tokio::test]
async fn a_broken_chain_is_sealed_with_cv_fail() {
    let zone = zone();
    let two = two_hops(&zone).await;
    let broken = two.replace("two forwarders", "three forwarders");
    let chain = check(&zone, &broken).await;
    assert_eq!(chain.result, ArcResult::Fail);
    let set = sealer("example.net")
        .seal(
            &Message::parse(broken.as_bytes()).unwrap(),
            &chain,
            "mx.example.net; dkim=none",
            NOW,
        )
        .unwrap();
    assert_eq!((set.instance, set.cv), (3, ChainStatus::Fail));
    assert!(set.seal.contains("cv=fail;"), "{}", set.seal);
    assert!(set.authentication_results.contains("arc=fail"));
    let three = format!("{}{broken}", set.header_block());
    let output = check(&zone, &three).await;
    assert_fails(&output, "ARC-Seal i=3 says the chain had already failed");
}

#[tokio::test]
async fn expired_seals_and_missing_keys_fail() {
    let zone = zone();
    let one = hop(&zone, MESSAGE, "example.net", T1).await;
    let expiring = one.replacen("ARC-Seal: i=1;", "ARC-Seal: i=1; x=1700000001;", 1);
    let output = check(&zone, &expiring).await;
    assert_fails(&output, "signature expired at 2023-11-14T22:13:21Z");
    let output = check(&StaticResolver::new(), &one).await;
    assert_fails(&output, "no key record at arc._domainkey.example.net");
    assert_eq!(
        output.set(1).unwrap().message_signature.result,
        DkimResult::PermError
    );
}

#[tokio::test]
async fn dns_failures_are_temperror_and_block_sealing() {
    let zone = zone();
    let one = hop(&zone, MESSAGE, "example.net", T1).await;
    let broken = StaticResolver::new().with_failure("arc._domainkey.example.net");
    let output = check(&broken, &one).await;
    assert_eq!(output.result, ArcResult::TempError, "{}", output.reason());
    assert_eq!(output.cv(), None);
    let error = sealer("example.org")
        .seal(
            &Message::parse(one.as_bytes()).unwrap(),
            &output,
            "mx.example.org",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error, SealError::ChainUnknown);
}

#[tokio::test]
async fn limits_on_instances() {
    let zone = zone();
    let one = hop(&zone, MESSAGE, "example.net", T1).await;
    let beyond = one.replace("i=1;", "i=51;");
    assert_fails(&check(&zone, &beyond).await, "i=51, outside 1 to 50");
    let unreadable = one.replacen("ARC-Seal: i=1;", "ARC-Seal: j=1;", 1);
    assert_fails(
        &check(&zone, &unreadable).await,
        "ARC-Seal field without a readable i= tag",
    );
    // A chain at the limit takes no further set.
    let mut full = check(&zone, &one).await;
    full.highest_instance = MAX_INSTANCE;
    if let Some(set) = full.sets.last_mut() {
        set.instance = MAX_INSTANCE;
        set.cv = Some(ChainStatus::Pass);
    }
    let error = sealer("example.org")
        .seal(
            &Message::parse(one.as_bytes()).unwrap(),
            &full,
            "mx.example.org",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error, SealError::TooManySets(50));
}

#[tokio::test]
async fn ams_never_signs_arc_or_dkim_fields() {
    let mut sealer = sealer("example.net");
    sealer.headers.push("DKIM-Signature".into());
    let error = sealer
        .seal(
            &Message::parse(MESSAGE.as_bytes()).unwrap(),
            &ArcOutput::none(),
            "mx",
            T1,
        )
        .unwrap_err();
    assert_eq!(error, SealError::UnsignableHeader("dkim-signature".into()));
}

#[tokio::test]
async fn damaged_arc_fields_never_panic() {
    let zone = zone();
    let two = two_hops(&zone).await;
    // Cut the header block at every byte of its ARC fields and validate what is left.
    let end = two.find("Received:").unwrap();
    for cut in (0..end).step_by(7) {
        let damaged = format!("{}{}", &two[..cut], &two[end..]);
        if let Ok(message) = Message::parse(damaged.as_bytes()) {
            let output = validate(&zone, &message, NOW).await;
            assert_ne!(output.result, ArcResult::Pass, "cut at {cut}");
            let _ = output.reason();
        }
    }
}
