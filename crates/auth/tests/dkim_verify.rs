//! DKIM verification and signing end to end: the RFC 8463 Appendix A vectors, messages signed
//! by dkimpy (`testdata/dkim-rfc/`), and kanmon's own signatures under tampering, expiry,
//! revoked keys, key flags and DNS failures.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic is a test failure

use kanmon_auth::dkim::{
    Canonicalization, DkimOutput, DkimResult, DkimVerifier, Signer, SigningKey, VerifyOptions,
    verify,
};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dkim-rfc");

/// RFC 8463 Appendix A.3: the example message signed by football.example.com with Ed25519
/// (selector `brisbane`) and with RSA (selector `test`), as published.
const RFC8463_SIGNED: &str = concat!(
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n",
    " subject : date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n",
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n",
    " date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n",
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n",
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n",
    "From: Joe SixPack <joe@football.example.com>\r\n",
    "To: Suzie Q <suzie@shopping.example.net>\r\n",
    "Subject: Is dinner ready?\r\n",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
    "\r\n",
    "Hi.\r\n",
    "\r\n",
    "We lost the game.  Are you hungry yet?\r\n",
    "\r\n",
    "Joe.\r\n",
);

/// RFC 8463 Appendix A.2: the RSA key record, its strings joined.
fn rfc8463_rsa_record() -> &'static str {
    concat!(
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR",
        "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC",
        "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3",
        "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
    )
}

/// RFC 8463 Appendix A.2: the key records.
fn rfc8463_zone() -> StaticResolver {
    StaticResolver::new()
        .with_txt(
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        )
        .with_txt("test._domainkey.football.example.com", rfc8463_rsa_record())
}

const SIGNED_AT: u64 = 1_528_637_909;

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn check(zone: &StaticResolver, raw: &[u8], options: &VerifyOptions, now: u64) -> Vec<DkimOutput> {
    let message = Message::parse(raw).unwrap();
    run(verify(zone, &message, options, now))
}

fn check_default(zone: &StaticResolver, raw: &[u8]) -> Vec<DkimOutput> {
    check(zone, raw, &VerifyOptions::default(), SIGNED_AT + 60)
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{TESTDATA}/{name}")).unwrap()
}

/// The zone file format of the `dkim` example: `<name> <TXT value>` per line.
fn zone_file(name: &str) -> StaticResolver {
    let text = String::from_utf8(testdata(name)).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .fold(StaticResolver::new(), |zone, line| {
            let (name, value) = line.split_once(char::is_whitespace).unwrap();
            zone.with_txt(name, value.trim())
        })
}

fn rsa_key() -> SigningKey {
    SigningKey::from_pem(&testdata("rsa2048.pem")).unwrap()
}

fn ed25519_key() -> SigningKey {
    SigningKey::from_pem(&testdata("ed25519.pem")).unwrap()
}

const MESSAGE: &str = concat!(
    "From: Alice <alice@example.com>\r\n",
    "To: Bob <bob@example.net>\r\n",
    "Subject: Lunch  \t on Friday?\r\n",
    " (folded)\r\n",
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n",
    "Message-ID: <lunch@example.com>\r\n",
    "\r\n",
    "Hello Bob,\r\n",
    "\r\n",
    "  shall we   meet at noon?\t\r\n",
    "\r\n",
    "\r\n",
);

/// Signs `raw` and returns the signed message and a zone with the key.
fn sign(signer: &Signer, raw: &[u8], now: u64) -> (Vec<u8>, StaticResolver) {
    let field = signer.sign(&Message::parse(raw).unwrap(), now).unwrap();
    let zone = StaticResolver::new().with_txt(
        &format!("{}._domainkey.{}", signer.selector, signer.domain),
        signer.key().dns_record(),
    );
    ([field.as_bytes(), raw].concat(), zone)
}

fn signer(key: SigningKey) -> Signer {
    Signer::new(key, "example.com", "sel")
}

#[test]
fn the_key_cache_changes_no_result() {
    // DkimVerifier keeps parsed keys between messages: the second message is verified with
    // the cached (already parsed) keys, and must come out exactly as `verify` says.
    let verifier = DkimVerifier::new(rfc8463_zone());
    let tampered = RFC8463_SIGNED.replace("Is dinner ready?", "Is dinner ready!");
    for raw in [RFC8463_SIGNED, &tampered, RFC8463_SIGNED, &tampered] {
        let message = Message::parse(raw.as_bytes()).unwrap();
        let cached = run(verifier.verify(&message, &VerifyOptions::default(), SIGNED_AT));
        assert_eq!(cached, check_default(&rfc8463_zone(), raw.as_bytes()));
    }
    let message = Message::parse(tampered.as_bytes()).unwrap();
    let outputs = run(verifier.verify(&message, &VerifyOptions::default(), SIGNED_AT));
    assert!(outputs.iter().all(|o| o.result == DkimResult::Fail));
}

#[test]
fn rfc8463_appendix_a_both_signatures_pass() {
    let outputs = check_default(&rfc8463_zone(), RFC8463_SIGNED.as_bytes());
    assert_eq!(outputs.len(), 2);
    let results: Vec<_> = outputs
        .iter()
        .map(|o| {
            (
                o.result,
                o.selector.as_str(),
                o.algorithm.map(|a| a.as_str()),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (DkimResult::Pass, "brisbane", Some("ed25519-sha256")),
            (DkimResult::Pass, "test", Some("rsa-sha256")),
        ]
    );
    let ed = &outputs[0];
    assert_eq!(ed.domain, "football.example.com");
    assert_eq!(ed.identity.as_deref(), Some("@football.example.com"));
    assert_eq!(ed.header_b, "/gCrinpcQOoI");
    assert_eq!(ed.reason(), "signature verified");
    assert_eq!(outputs[1].key_bits, Some(1024));
}

#[test]
fn rfc8463_appendix_a_with_bare_lf_line_endings() {
    let lf = RFC8463_SIGNED.replace("\r\n", "\n");
    let outputs = check_default(&rfc8463_zone(), lf.as_bytes());
    assert!(
        outputs.iter().all(|o| o.result == DkimResult::Pass),
        "{outputs:?}"
    );
}

#[test]
fn rfc8463_appendix_a_tampered() {
    let zone = rfc8463_zone();
    let body = RFC8463_SIGNED.replace("hungry", "thirsty");
    for output in check_default(&zone, body.as_bytes()) {
        assert_eq!(output.result, DkimResult::Fail);
        assert_eq!(output.reason(), "body hash did not verify");
    }
    let header = RFC8463_SIGNED.replace("Subject: Is dinner", "Subject: Is lunch");
    for output in check_default(&zone, header.as_bytes()) {
        assert_eq!(output.result, DkimResult::Fail);
        assert_eq!(output.reason(), "signature did not verify");
    }
    // An added Subject above the signed one: h= names subject once more than the message
    // had, so the extra instance is covered and the signature breaks.
    let added = RFC8463_SIGNED.replace("From: Joe", "Subject: Free money\r\nFrom: Joe");
    assert!(
        check_default(&zone, added.as_bytes())
            .iter()
            .all(|o| o.result == DkimResult::Fail)
    );
    // A Received field added in transit is not signed and changes nothing.
    let received = format!("Received: from mx.example.net\r\n{RFC8463_SIGNED}");
    assert!(
        check_default(&zone, received.as_bytes())
            .iter()
            .all(|o| o.result == DkimResult::Pass)
    );
}

#[test]
fn dkimpy_rsa_1024_passes_and_512_is_refused_by_policy() {
    let zone = zone_file("dkimpy.zone");
    let outputs = check_default(&zone, &testdata("signed-rsa1024.eml"));
    assert_eq!(
        outputs[0].result,
        DkimResult::Pass,
        "{}",
        outputs[0].reason()
    );

    let outputs = check_default(&zone, &testdata("signed-rsa512.eml"));
    assert_eq!(outputs[0].result, DkimResult::Policy);
    assert_eq!(outputs[0].key_bits, Some(512));
    assert_eq!(
        outputs[0].reason(),
        "512-bit RSA key refused by policy (minimum 1024)"
    );
    // Even a configured minimum below RFC 8301's floor does not let it through.
    let lax = VerifyOptions {
        min_rsa_bits: 512,
        ..VerifyOptions::default()
    };
    assert_eq!(
        check(&zone, &testdata("signed-rsa512.eml"), &lax, SIGNED_AT)[0].result,
        DkimResult::Policy
    );
    // And a stricter one refuses 1024.
    let strict = VerifyOptions {
        min_rsa_bits: 2048,
        ..VerifyOptions::default()
    };
    assert_eq!(
        check(&zone, &testdata("signed-rsa1024.eml"), &strict, SIGNED_AT)[0].result,
        DkimResult::Policy
    );
}

#[test]
fn rsa_sha1_is_refused_unless_allowed() {
    let zone = zone_file("dkimpy.zone");
    let raw = testdata("signed-sha1.eml");
    let outputs = check_default(&zone, &raw);
    assert_eq!(outputs[0].result, DkimResult::Policy);
    assert_eq!(outputs[0].reason(), "rsa-sha1 refused by policy");
    let allow = VerifyOptions {
        allow_sha1: true,
        ..VerifyOptions::default()
    };
    assert_eq!(
        check(&zone, &raw, &allow, SIGNED_AT)[0].result,
        DkimResult::Pass
    );
}

#[test]
fn round_trip_every_algorithm_and_canonicalisation() {
    use Canonicalization::{Relaxed, Simple};
    for rsa in [true, false] {
        for (header, body) in [
            (Simple, Simple),
            (Simple, Relaxed),
            (Relaxed, Simple),
            (Relaxed, Relaxed),
        ] {
            for raw in [MESSAGE.to_owned(), MESSAGE.replace("\r\n", "\n")] {
                let mut signer = signer(if rsa { rsa_key() } else { ed25519_key() });
                signer.header_canon = header;
                signer.body_canon = body;
                let (signed, zone) = sign(&signer, raw.as_bytes(), SIGNED_AT);
                let what = format!("rsa={rsa} {header:?}/{body:?} lf={}", !raw.contains('\r'));
                let outputs = check_default(&zone, &signed);
                assert_eq!(outputs.len(), 1, "{what}");
                assert_eq!(
                    outputs[0].result,
                    DkimResult::Pass,
                    "{what}: {}",
                    outputs[0].reason()
                );

                let tampered = String::from_utf8(signed.clone())
                    .unwrap()
                    .replace("noon", "one");
                let outputs = check_default(&zone, tampered.as_bytes());
                assert_eq!(outputs[0].reason(), "body hash did not verify", "{what}");

                let tampered = String::from_utf8(signed)
                    .unwrap()
                    .replace("To: Bob", "To: Eve");
                let outputs = check_default(&zone, tampered.as_bytes());
                assert_eq!(outputs[0].reason(), "signature did not verify", "{what}");
            }
        }
    }
}

#[test]
fn relaxed_body_survives_trailing_whitespace_lines_simple_does_not() {
    for (canon, expected) in [
        (Canonicalization::Relaxed, DkimResult::Pass),
        (Canonicalization::Simple, DkimResult::Fail),
    ] {
        let mut signer = signer(ed25519_key());
        signer.body_canon = canon;
        let (signed, zone) = sign(&signer, MESSAGE.as_bytes(), SIGNED_AT);
        let padded = [signed.as_slice(), b" \t \r\n\r\n  \r\n"].concat();
        assert_eq!(
            check_default(&zone, &padded)[0].result,
            expected,
            "{canon:?}"
        );
    }
}

#[test]
fn body_length_limit_passes_with_appended_text_and_is_reported() {
    let mut signer = signer(ed25519_key());
    signer.body_length = true;
    let (signed, zone) = sign(&signer, MESSAGE.as_bytes(), SIGNED_AT);
    let output = &check_default(&zone, &signed)[0];
    assert_eq!(output.result, DkimResult::Pass);
    let l = output.body_length.unwrap();
    assert_eq!(output.unsigned_body_bytes, Some(0));

    // MESSAGE ends in two empty lines; followed by text they count: 4 + 33 bytes.
    let appended = [signed.as_slice(), b"Click here: http://bad.example/\r\n"].concat();
    let output = &check_default(&zone, &appended)[0];
    assert_eq!(output.result, DkimResult::Pass);
    assert_eq!(output.body_length, Some(l));
    assert_eq!(output.unsigned_body_bytes, Some(37));
    assert_eq!(
        output.reason(),
        format!("signature verified (l={l}: 37 body bytes after the signed part)")
    );
}

#[test]
fn expired_signatures_are_permerror() {
    let mut signer = signer(ed25519_key());
    signer.expire_after = Some(3600);
    let (signed, zone) = sign(&signer, MESSAGE.as_bytes(), SIGNED_AT);
    let options = VerifyOptions::default();
    assert_eq!(
        check(&zone, &signed, &options, SIGNED_AT + 3600)[0].result,
        DkimResult::Pass
    );
    let output = &check(&zone, &signed, &options, SIGNED_AT + 3601)[0];
    assert_eq!(output.result, DkimResult::PermError);
    assert_eq!(output.reason(), "signature expired at 2018-06-10T14:38:29Z");
}

#[test]
fn key_record_problems() {
    let (signed, _) = sign(&signer(ed25519_key()), MESSAGE.as_bytes(), SIGNED_AT);
    let name = "sel._domainkey.example.com";
    let public = signer(ed25519_key()).key().dns_record();
    let cases = [
        (StaticResolver::new(), DkimResult::PermError, "no key record at sel._domainkey.example.com".to_owned()),
        (
            StaticResolver::new().with_txt(name, "v=DKIM1; k=ed25519; p="),
            DkimResult::PermError,
            "key sel._domainkey.example.com has been revoked".to_owned(),
        ),
        (
            StaticResolver::new().with_failure(name),
            DkimResult::TempError,
            "key lookup for sel._domainkey.example.com failed: dns lookup failed: SERVFAIL".to_owned(),
        ),
        (
            StaticResolver::new().with_txt(name, rfc8463_rsa_record()),
            DkimResult::PermError,
            "key type rsa does not match a=ed25519-sha256".to_owned(),
        ),
        (
            StaticResolver::new().with_txt(name, "v=DKIM1; k=ed25519; p=AAAA"),
            DkimResult::PermError,
            "malformed key record at sel._domainkey.example.com: p= is not a valid ed25519 public key".to_owned(),
        ),
        (
            StaticResolver::new().with_txt(name, format!("{public}; h=sha1")),
            DkimResult::PermError,
            "key record does not allow sha256".to_owned(),
        ),
        (
            StaticResolver::new().with_txt(name, public.replace("v=DKIM1; ", "s=tls; ")),
            DkimResult::PermError,
            "malformed key record at sel._domainkey.example.com: key is not for email (s=tls)".to_owned(),
        ),
    ];
    for (zone, result, reason) in cases {
        let output = &check_default(&zone, &signed)[0];
        assert_eq!((output.result, output.reason()), (result, reason));
        assert_eq!(output.domain, "example.com");
        assert_eq!(output.selector, "sel");
    }
}

#[test]
fn testing_and_strict_key_flags() {
    let mut signer = signer(ed25519_key());
    signer.identity = Some("alice@mail.example.com".into());
    let (signed, _) = sign(&signer, MESSAGE.as_bytes(), SIGNED_AT);
    let record = signer.key().dns_record();
    let name = "sel._domainkey.example.com";

    let zone = StaticResolver::new().with_txt(name, format!("{record}; t=y"));
    let output = &check_default(&zone, &signed)[0];
    assert_eq!(output.result, DkimResult::Pass);
    assert!(output.testing);
    assert_eq!(output.identity.as_deref(), Some("alice@mail.example.com"));
    assert_eq!(
        output.reason(),
        "signature verified (key in testing mode, t=y)"
    );

    let zone = StaticResolver::new().with_txt(name, format!("{record}; t=s"));
    let output = &check_default(&zone, &signed)[0];
    assert_eq!(output.result, DkimResult::PermError);
    assert_eq!(
        output.reason(),
        "key requires i= in example.com exactly (t=s), not mail.example.com"
    );
}

#[test]
fn malformed_signatures_are_permerror() {
    let zone = rfc8463_zone();
    let cases = [
        (
            "DKIM-Signature: v=1; a=rsa-sha256; d=football.example.com; s=test; h=to; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
            "h= does not include From",
        ),
        (
            "DKIM-Signature: v=1; a=rsa-sha256; d=football.example.com; s=test; h=from; b=AAAA",
            "signature lacks the required bh= tag",
        ),
        (
            "DKIM-Signature: v=1; a=rsa-sha256; d=football.example.com; d=x.example; s=test",
            "malformed signature: duplicate tag d",
        ),
        (
            "DKIM-Signature: v=1; a=rsa-sha512; d=football.example.com; s=test; h=from; bh=AAAA; b=AAAA",
            "unknown signing algorithm a=rsa-sha512",
        ),
        (
            "DKIM-Signature: garbage",
            "malformed signature: \"=\" expected at offset 8",
        ),
        (
            "DKIM-Signature: v=1; a=rsa-sha256; d=football.example.com; s=test; h=from; i=joe@example.org; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
            "i= domain example.org is not football.example.com or a subdomain of it",
        ),
    ];
    for (field, reason) in cases {
        let raw = format!("{field}\r\nFrom: joe@football.example.com\r\n\r\nHi.\r\n");
        let output = &check_default(&zone, raw.as_bytes())[0];
        assert_eq!(output.result, DkimResult::PermError, "{field}");
        assert_eq!(output.reason(), reason);
    }
}

#[test]
fn unsigned_message_is_none() {
    let outputs = check_default(&rfc8463_zone(), MESSAGE.as_bytes());
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].result, DkimResult::None);
    assert_eq!(outputs[0].reason(), "message has no DKIM signature");
}

#[test]
fn signatures_beyond_the_limit_are_neutral() {
    let signer = signer(ed25519_key());
    let (mut signed, zone) = sign(&signer, MESSAGE.as_bytes(), SIGNED_AT);
    for _ in 0..11 {
        let field = signer
            .sign(&Message::parse(&signed).unwrap(), SIGNED_AT)
            .unwrap();
        signed = [field.as_bytes(), &signed].concat();
    }
    let outputs = check_default(&zone, &signed);
    assert_eq!(outputs.len(), 12);
    assert!(outputs[..10].iter().all(|o| o.result == DkimResult::Pass));
    assert!(outputs[10..].iter().all(|o| o.result == DkimResult::Neutral
        && o.reason() == "not verified: more than 10 signatures"
        && o.domain == "example.com"));
}

#[test]
fn oversigned_from_blocks_a_second_from() {
    let (signed, zone) = sign(&signer(ed25519_key()), MESSAGE.as_bytes(), SIGNED_AT);
    let text = String::from_utf8(signed).unwrap();
    let spoofed = text.replacen(
        "From: Alice",
        "From: Mallory <m@example.org>\r\nFrom: Alice",
        1,
    );
    assert_eq!(
        check_default(&zone, spoofed.as_bytes())[0].result,
        DkimResult::Fail
    );
}

/// Damaged input never panics: the RFC 8463 message with bytes overwritten, removed or
/// duplicated at pseudo-random places is still split, verified and reported.
#[test]
fn damaged_messages_never_panic() {
    let zone = rfc8463_zone();
    let original = RFC8463_SIGNED.as_bytes();
    const NOISE: &[u8] = b"=;:@ \t\r\n\x00\xffab0-/.";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut results = std::collections::HashSet::new();
    for _ in 0..3_000 {
        let mut raw = original.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = next() % raw.len();
            match next() % 3 {
                0 => raw[at] = NOISE[next() % NOISE.len()],
                1 => {
                    raw.remove(at);
                }
                _ => raw.insert(at, raw[at]),
            }
        }
        if let Ok(message) = Message::parse(&raw) {
            for output in run(verify(
                &zone,
                &message,
                &VerifyOptions::default(),
                SIGNED_AT,
            )) {
                assert!(!output.reason().is_empty());
                results.insert(output.result);
            }
        }
    }
    // The damage reaches every stage: some signatures survive, some break.
    assert!(results.contains(&DkimResult::Pass));
    assert!(results.contains(&DkimResult::Fail));
    assert!(results.contains(&DkimResult::PermError));
}

/// Every private-key encoding the signer accepts gives the same key.
#[test]
fn private_key_formats() {
    let rsa = rsa_key().dns_record();
    assert!(rsa.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
    for file in ["rsa2048-pkcs8.pem", "rsa2048-pkcs8.der"] {
        assert_eq!(
            SigningKey::from_bytes(&testdata(file))
                .unwrap()
                .dns_record(),
            rsa,
            "{file}"
        );
    }
    let ed = ed25519_key().dns_record();
    assert_eq!(
        SigningKey::from_bytes(&testdata("ed25519.der"))
            .unwrap()
            .dns_record(),
        ed
    );
    // aws-lc loads RSA keys of 2,048 bits and more only.
    assert!(SigningKey::from_bytes(&testdata("rsa1024.pem")).is_err());
    // The published record matches what OpenSSL derives for dkimpy's zone.
    let zone = String::from_utf8(testdata("dkimpy.zone")).unwrap();
    assert!(zone.contains(&format!("sha1._domainkey.football.example.com {rsa}")));
}
