//! RFC 8617 Appendix B: the example message that has passed through three ARC-sealing
//! intermediaries (lists.example.org, gmail.example, clochette.example.org).
//!
//! What can be checked, and is: the chain's structure (three complete sets, instances 1 to
//! 3, `cv=none` then `cv=pass`), the tags of every seal and message signature, the AAR
//! payloads, the body hashes, and the validator's verdict on the chain as published.
//!
//! What cannot: the signatures. The RFC publishes no key records for `dk-lists`,
//! `20120806`, `clochette` or `origin2015`, so a validator finds no key for the newest
//! ARC-Message-Signature and the chain fails there (RFC 8617 §5.2 step 4), after the
//! structural steps 1 to 3 have passed. The 512-bit keys in the draft authors' repository
//! (kurta/arc-docs, `appendix-keys-b512/`, not part of the RFC) do not help either: checked
//! offline with Python's `cryptography` and a relaxed-canonicalisation script (one that does
//! verify dkimpy's seals and message signatures in `testdata/arc/`, and dkimpy's rsa-sha1 and
//! 512-bit signatures in `testdata/dkim-rfc/`), none of the three seals, none of the three
//! message signatures and not the DKIM-Signature verify with any of the four keys; and RFC
//! 8301 §3.2 would refuse 512-bit keys anyway. The example is illustrative rather than a vector: its i=3
//! AAR says `ams.1.lists.example.org=fail (message has been altered)` while all three AMSs
//! sign the same header fields and carry the same `bh=`, and the i=2 AAR says it passed.
//!
//! The message is the RFC's text, with CRLF line endings. (The drafts before the RFC
//! differ only in Received fields, which nothing here signs, and in the folding of two AARs,
//! which relaxed canonicalisation removes.)

#![allow(clippy::unwrap_used)] // helpers of tests: a panic is a test failure

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kanmon_auth::arc::{ArcOutput, ArcResult, ChainStatus, validate};
use kanmon_auth::dkim::{
    BodyHasher, Canonicalization, DkimResult, HashAlgorithm, VerifyOptions, verify,
};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

/// RFC 8617 Appendix B.
const MESSAGE: &str = concat!(
    "Return-Path: <jqd@d1.example>\r\n",
    "Received: from example.org (example.org [208.69.40.157])\r\n",
    "    by gmail.example with ESMTP id d200mr22663000ykb.93.1421363207\r\n",
    "    for <fmartin@example.com>; Thu, 14 Jan 2015 15:02:40 -0800 (PST)\r\n",
    "Received: from segv.d1.example (segv.d1.example [72.52.75.15])\r\n",
    "    by lists.example.org (8.14.5/8.14.5) with ESMTP id t0EKaNU9010123\r\n",
    "    for <arc@example.org>; Thu, 14 Jan 2015 15:01:30 -0800 (PST)\r\n",
    "    (envelope-from jqd@d1.example)\r\n",
    "Received: from [2001:DB8::1A] (w-x-y-z.dsl.static.isp.example [w.x.y.z])\r\n",
    "    (authenticated bits=0)\r\n",
    "    by segv.d1.example with ESMTP id t0FN4a8O084569;\r\n",
    "    Thu, 14 Jan 2015 15:00:01 -0800 (PST)\r\n",
    "    (envelope-from jqd@d1.example)\r\n",
    "Received: from mail-ob0-f188.google.example\r\n",
    "    (mail-ob0-f188.google.example [208.69.40.157]) by\r\n",
    "    clochette.example.org with ESMTP id d200mr22663000ykb.93.1421363268\r\n",
    "    for <fmartin@example.org>; Thu, 14 Jan 2015 15:03:15 -0800 (PST)\r\n",
    "ARC-Seal: i=3; a=rsa-sha256; cv=pass; d=clochette.example.org; s=\r\n",
    "        clochette; t=12345; b=CU87XzXlNlk5X/yW4l73UvPUcP9ivwYWxyBWcVrRs7\r\n",
    "        +HPx3K05nJhny2fvymbReAmOA9GTH/y+k9kEc59hAKVg==\r\n",
    "ARC-Message-Signature: i=3; a=rsa-sha256; c=relaxed/relaxed; d=\r\n",
    "        clochette.example.org; h=message-id:date:from:to:subject; s=\r\n",
    "        clochette; t=12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZY\r\n",
    "        LQ=; b=o71vwyLsK+Wm4cOSlirXoRwzEvi0vqIjd/2/GkYFYlSd/GGfKzkAgPqxf\r\n",
    "        K7ccBMP7Zjb/mpeggswHjEMS8x5NQ==\r\n",
    "ARC-Authentication-Results: i=3; clochette.example.org; spf=fail\r\n",
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n",
    "    header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass,\r\n",
    "    ams.2.gmail.example=pass, as.1.lists.example.org=pass,\r\n",
    "    ams.1.lists.example.org=fail (message has been altered))\r\n",
    "Authentication-Results: clochette.example.org; spf=fail\r\n",
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n",
    "    header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass,\r\n",
    "    ams.2.gmail.example=pass, as.1.lists.example.org=pass,\r\n",
    "    ams.1.lists.example.org=fail (message has been altered))\r\n",
    "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=gmail.example; s=20120806; t=\r\n",
    "        12345; b=Zpukh/kJL4Q7Kv391FKwTepgS56dgHIcdhhJZjsalhqkFIQQAJ4T9BE\r\n",
    "        8jjLXWpRNuh81yqnT1/jHn086RwezGw==\r\n",
    "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed; d=\r\n",
    "        gmail.example; h=message-id:date:from:to:subject; s=20120806; t=\r\n",
    "        12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=CVoG44\r\n",
    "        cVZvoSs2mMig2wwqPaJ4OZS5XGMCegWqQs1wvRZJS894tJM0xO1RJLgCPsBOxdA5\r\n",
    "        9WSqI9s9DfyKDfWg==\r\n",
    "ARC-Authentication-Results: i=2; gmail.example; spf=fail\r\n",
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n",
    "    header.i=@example.org; dmarc=fail; arc=pass\r\n",
    "    (as.1.lists.example.org=pass, ams.1.lists.example.org=pass)\r\n",
    "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=lists.example.org; s=dk-lists;\r\n",
    "         t=12345; b=TlCCKzgk3TrAa+G77gYYO8Fxk4q/Ml0biqduZJeOYh6+0zhwQ8u/\r\n",
    "        lHxLi21pxu347isLSuNtvIagIvAQna9a5A==\r\n",
    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=\r\n",
    "        lists.example.org; h=message-id:date:from:to:subject; s=\r\n",
    "        dk-lists; t=12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYL\r\n",
    "        Q=; b=DsoD3n3hiwlrN1ma8IZQFgZx8EDO7Wah3hUjIEsYKuShRKYB4LwGUiKD5Y\r\n",
    "        yHgcIwGHhSc/4+ewYqHMWDnuFxiQ==\r\n",
    "ARC-Authentication-Results: i=1; lists.example.org; spf=pass\r\n",
    "    smtp.mfrom=jqd@d1.example; dkim=pass (512-bit key)\r\n",
    "    header.i=@d1.example; dmarc=pass\r\n",
    "DKIM-Signature: v=1; a=rsa-sha1; c=relaxed/relaxed; d=d1.example; h=\r\n",
    "        message-id:date:from:to:subject; s=origin2015; bh=bIxxaeIQvmOBdT\r\n",
    "        AitYfSNFgzPP4=; b=qKjd5fYibKXWWIcMKCgRYuo1vJ2fD+IAQPjX+uamXIGY2Q\r\n",
    "        0HjQ+Lq3/yHzG3JHJp6780/nKQPOWt2UDJQrJkEA==\r\n",
    "Message-ID: <54B84785.1060301@d1.example>\r\n",
    "Date: Thu, 14 Jan 2015 15:00:01 -0800\r\n",
    "From: John Q Doe <jqd@d1.example>\r\n",
    "To: arc@dmarc.example\r\n",
    "Subject: [List 2] Example 1\r\n",
    "\r\n",
    "Hey gang,\r\n",
    "This is a test message.\r\n",
    "--J.\r\n",
);

/// The seals say t=12345 and have no x=: any time will do.
const NOW: u64 = 1_700_000_000;

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// The zone the RFC gives: none.
fn validate_as_published() -> ArcOutput {
    let message = Message::parse(MESSAGE.as_bytes()).unwrap();
    run(validate(&StaticResolver::new(), &message, NOW))
}

fn body_hash(hash: HashAlgorithm) -> String {
    let message = Message::parse(MESSAGE.as_bytes()).unwrap();
    let mut hasher = BodyHasher::new(Canonicalization::Relaxed, hash, None);
    hasher.update(message.body);
    STANDARD.encode(hasher.finish().digest.as_ref())
}

#[test]
fn three_complete_sets_numbered_1_to_3() {
    let output = validate_as_published();
    assert_eq!(output.set_count(), 3);
    assert_eq!(output.highest_instance, 3);
    let instances: Vec<u32> = output.sets.iter().map(|set| set.instance).collect();
    assert_eq!(instances, [1, 2, 3]);
    // §4.1.3: the first sealer found no chain, the later ones a passing one.
    let cvs: Vec<Option<ChainStatus>> = output.sets.iter().map(|set| set.cv).collect();
    assert_eq!(
        cvs,
        [
            Some(ChainStatus::None),
            Some(ChainStatus::Pass),
            Some(ChainStatus::Pass)
        ]
    );
    assert!(!output.ended());
}

#[test]
fn each_set_names_its_sealer() {
    let output = validate_as_published();
    let names: Vec<[&str; 4]> = output
        .sets
        .iter()
        .map(|set| {
            [
                set.seal.domain.as_str(),
                set.seal.selector.as_str(),
                set.message_signature.domain.as_str(),
                set.message_signature.selector.as_str(),
            ]
        })
        .collect();
    assert_eq!(
        names,
        [
            [
                "lists.example.org",
                "dk-lists",
                "lists.example.org",
                "dk-lists"
            ],
            ["gmail.example", "20120806", "gmail.example", "20120806"],
            [
                "clochette.example.org",
                "clochette",
                "clochette.example.org",
                "clochette"
            ],
        ]
    );
}

#[test]
fn the_aar_payloads_are_read_unfolded() {
    let output = validate_as_published();
    let payload = |i| output.set(i).unwrap().authentication_results.as_str();
    assert_eq!(
        payload(1),
        "lists.example.org; spf=pass smtp.mfrom=jqd@d1.example; dkim=pass (512-bit key) \
         header.i=@d1.example; dmarc=pass"
    );
    assert_eq!(
        payload(2),
        "gmail.example; spf=fail smtp.from=jqd@d1.example; dkim=fail (512-bit key) \
         header.i=@example.org; dmarc=fail; arc=pass (as.1.lists.example.org=pass, \
         ams.1.lists.example.org=pass)"
    );
    assert_eq!(
        payload(3),
        "clochette.example.org; spf=fail smtp.from=jqd@d1.example; dkim=fail (512-bit key) \
         header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass, \
         ams.2.gmail.example=pass, as.1.lists.example.org=pass, \
         ams.1.lists.example.org=fail (message has been altered))"
    );
    assert!(output.sets.iter().all(|set| set.remote_ip.is_none()));
}

#[test]
fn the_body_hashes_match_the_body() {
    // Every AMS (relaxed, SHA-256) and the original DKIM-Signature (relaxed, SHA-1).
    assert_eq!(
        body_hash(HashAlgorithm::Sha256),
        "KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ="
    );
    assert_eq!(
        body_hash(HashAlgorithm::Sha1),
        "bIxxaeIQvmOBdTAitYfSNFgzPP4="
    );
}

#[test]
fn without_published_keys_the_chain_fails_at_the_newest_message_signature() {
    let output = validate_as_published();
    assert_eq!(output.result, ArcResult::Fail);
    // Steps 1 to 3 passed; step 4 got past the body hash (else the reason would say so)
    // to the key lookup.
    assert_eq!(
        output.reason(),
        "ARC-Message-Signature i=3 did not verify: \
         no key record at clochette._domainkey.clochette.example.org"
    );
    let newest = &output.set(3).unwrap().message_signature;
    assert_eq!(newest.result, DkimResult::PermError);
    // §5.2 stops at the first failure: nothing older, and no seal, was checked.
    for set in &output.sets {
        assert_eq!(
            set.seal.result,
            DkimResult::Neutral,
            "seal i={}",
            set.instance
        );
        if set.instance < 3 {
            assert_eq!(set.message_signature.result, DkimResult::Neutral);
        }
    }
    assert_eq!(output.oldest_pass, None);
    // A sealer adding a fourth set would have to say cv=fail.
    assert_eq!(output.cv(), Some(ChainStatus::Fail));
}

#[test]
fn the_original_dkim_signature_is_refused_by_policy() {
    // a=rsa-sha1 (RFC 8301 §3.1), before any key is looked for.
    let message = Message::parse(MESSAGE.as_bytes()).unwrap();
    let outputs = run(verify(
        &StaticResolver::new(),
        &message,
        &VerifyOptions::default(),
        NOW,
    ));
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].result, DkimResult::Policy);
    assert_eq!(outputs[0].domain, "d1.example");
    assert_eq!(outputs[0].selector, "origin2015");
}
