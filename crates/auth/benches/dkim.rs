//! DKIM throughput on ~20 KB messages: verify and sign, RSA-2048 and Ed25519, relaxed/relaxed.
//!
//! Two messages: a plain-text one where most lines need relaxed rewriting (double spaces,
//! tabs, trailing and leading whitespace: the costly case), and a MIME one (quoted-printable,
//! indented HTML, base64) like most real mail, where most lines are already canonical.
//!
//! The zone is a warm `StaticResolver`, so the numbers are CPU cost only: parsing, body and
//! header canonicalisation and hashing, key-record parsing and the public-key operation.
//! `verify` parses the key every time; `verify-cached` goes through a `DkimVerifier`, whose
//! key cache is warm after the first message, as in a daemon. Run with
//! `cargo bench -p kanmon-auth --bench dkim`.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanmon_auth::dkim::{
    BodyHasher, Canonicalization, DkimResult, DkimVerifier, HashAlgorithm, Signer, SigningKey,
    VerifyOptions, verify,
};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dkim-rfc");
const NOW: u64 = 1_795_000_000;

/// A plain-text newsletter of about 20 KB: header fields typical of list mail and a body of
/// prose lines, some with runs of whitespace for relaxed canonicalisation to fold.
fn message() -> Vec<u8> {
    let mut raw = String::from(concat!(
        "Received: from mx.example.net (mx.example.net [192.0.2.1])\r\n",
        "\tby mail.example.org (Postfix) with ESMTPS id 4Xyz\r\n",
        "\tfor <bob@example.org>; Mon, 23 Nov 2026 10:00:00 +0000 (UTC)\r\n",
        "From: News <news@example.com>\r\n",
        "To: Bob <bob@example.org>\r\n",
        "Subject: This week at Example: twenty kilobytes of news\r\n",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n",
        "Message-ID: <weekly-2026-47@example.com>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: 8bit\r\n",
        "List-Id: Example news <news.example.com>\r\n",
        "List-Unsubscribe: <https://example.com/unsubscribe?u=bob>\r\n",
        "\r\n",
    ));
    let lines = [
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n",
        "incididunt ut labore et dolore magna aliqua.  Ut enim ad minim veniam, quis\r\n",
        "nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. \r\n",
        "\r\n",
        "    Duis aute irure dolor in reprehenderit in voluptate velit esse cillum\t\r\n",
    ];
    let mut i = 0;
    while raw.len() < 20 * 1024 {
        raw.push_str(lines[i % lines.len()]);
        i += 1;
    }
    raw.into_bytes()
}

/// A ~20 KB MIME message as mailing software sends it: a quoted-printable text part, an
/// indented HTML part and a base64 attachment (76-column lines).
fn mime_message() -> Vec<u8> {
    let mut raw = String::from(concat!(
        "From: News <news@example.com>\r\n",
        "To: Bob <bob@example.org>\r\n",
        "Subject: This week at Example\r\n",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n",
        "Message-ID: <weekly-2026-47-mime@example.com>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
        "\r\n",
        "--b1\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "\r\n",
    ));
    for i in 0..40 {
        raw.push_str(&format!(
            "Item {i}: the quick brown fox jumps over the lazy dog, caf=C3=A9 and cr=C3=\r\n\
             =A8me br=C3=BBl=C3=A9e for everyone.\r\n"
        ));
    }
    raw.push_str(
        "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html>\r\n  <body>\r\n",
    );
    for i in 0..60 {
        raw.push_str(&format!(
            "    <p class=\"item\">Item {i}: the quick brown fox jumps over the lazy dog.</p>\r\n"
        ));
    }
    raw.push_str("  </body>\r\n</html>\r\n\r\n--b1\r\nContent-Type: image/png\r\n");
    raw.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let line =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAA\r\n";
    while raw.len() < 20 * 1024 {
        raw.push_str(&line[4..]);
    }
    raw.push_str("\r\n--b1--\r\n");
    raw.into_bytes()
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pem(&std::fs::read(format!("{TESTDATA}/{name}")).unwrap()).unwrap()
}

fn signed(signer: &Signer, raw: &[u8]) -> (Vec<u8>, StaticResolver) {
    let field = signer.sign(&Message::parse(raw).unwrap(), NOW).unwrap();
    let zone =
        StaticResolver::new().with_txt("sel._domainkey.example.com", signer.key().dns_record());
    ([field.as_bytes(), raw].concat(), zone)
}

fn benches(c: &mut Criterion) {
    let raw = message();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let options = VerifyOptions::default();
    let mut group = c.benchmark_group("dkim-20k");
    group.throughput(Throughput::Elements(1));

    for (name, file) in [("rsa2048", "rsa2048.pem"), ("ed25519", "ed25519.pem")] {
        let signer = Signer::new(key(file), "example.com", "sel");
        let (message, zone) = signed(&signer, &raw);
        let check = runtime.block_on(verify(
            &zone,
            &Message::parse(&message).unwrap(),
            &options,
            NOW,
        ));
        assert_eq!(check[0].result, DkimResult::Pass, "{}", check[0].reason());

        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| {
                let parsed = Message::parse(black_box(&message)).unwrap();
                let outputs = runtime.block_on(verify(&zone, &parsed, &options, NOW));
                black_box(outputs)
            })
        });
        let verifier = DkimVerifier::new(&zone);
        group.bench_function(format!("verify-cached/{name}"), |b| {
            b.iter(|| {
                let parsed = Message::parse(black_box(&message)).unwrap();
                let outputs = runtime.block_on(verifier.verify(&parsed, &options, NOW));
                black_box(outputs)
            })
        });
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| {
                let parsed = Message::parse(black_box(&raw)).unwrap();
                black_box(signer.sign(&parsed, NOW).unwrap())
            })
        });
    }
    // The same on a MIME message, where most lines are already canonical.
    let mime = mime_message();
    for (name, file) in [("rsa2048", "rsa2048.pem"), ("ed25519", "ed25519.pem")] {
        let signer = Signer::new(key(file), "example.com", "sel");
        let (message, zone) = signed(&signer, &mime);
        group.bench_function(format!("verify-mime/{name}"), |b| {
            b.iter(|| {
                let parsed = Message::parse(black_box(&message)).unwrap();
                let outputs = runtime.block_on(verify(&zone, &parsed, &options, NOW));
                assert_eq!(outputs[0].result, DkimResult::Pass);
                black_box(outputs)
            })
        });
        let verifier = DkimVerifier::new(&zone);
        group.bench_function(format!("verify-mime-cached/{name}"), |b| {
            b.iter(|| {
                let parsed = Message::parse(black_box(&message)).unwrap();
                let outputs = runtime.block_on(verifier.verify(&parsed, &options, NOW));
                assert_eq!(outputs[0].result, DkimResult::Pass);
                black_box(outputs)
            })
        });
        if name == "ed25519" {
            group.bench_function(format!("sign-mime/{name}"), |b| {
                b.iter(|| {
                    let parsed = Message::parse(black_box(&mime)).unwrap();
                    black_box(signer.sign(&parsed, NOW).unwrap())
                })
            });
        }
    }
    group.finish();

    // Where the time goes: the parts of a verification on their own.
    let mut parts = c.benchmark_group("dkim-parts");
    let body = Message::parse(&raw).unwrap().body;
    parts.bench_function("sha256-20k", |b| {
        b.iter(|| {
            black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                black_box(body),
            ))
        })
    });
    for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
        parts.bench_function(format!("body-hash-{}-20k", canon.as_str()), |b| {
            b.iter(|| {
                let mut hasher = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
                hasher.update(black_box(body));
                black_box(hasher.finish())
            })
        });
    }
    // The public-key operations alone, on a 32-byte message (what Ed25519 signs in DKIM).
    let ed = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
    let ed_sig = ed.sign(b"0123456789abcdef0123456789abcdef");
    let ed_public = aws_lc_rs::signature::KeyPair::public_key(&ed)
        .as_ref()
        .to_vec();
    parts.bench_function("ed25519-sign-raw", |b| {
        b.iter(|| black_box(ed.sign(black_box(b"0123456789abcdef0123456789abcdef"))))
    });
    parts.bench_function("ed25519-verify-raw", |b| {
        b.iter(|| {
            aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &ed_public)
                .verify(b"0123456789abcdef0123456789abcdef", ed_sig.as_ref())
                .unwrap()
        })
    });
    let rsa =
        SigningKey::from_pem(&std::fs::read(format!("{TESTDATA}/rsa2048.pem")).unwrap()).unwrap();
    let SigningKey::Rsa(rsa) = rsa else {
        panic!("rsa2048.pem is not an RSA key")
    };
    let rsa_public = aws_lc_rs::signature::KeyPair::public_key(&rsa)
        .as_ref()
        .to_vec();
    let mut rsa_sig = vec![0; rsa.public_modulus_len()];
    rsa.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        b"header data",
        &mut rsa_sig,
    )
    .unwrap();
    parts.bench_function("rsa2048-verify-raw", |b| {
        b.iter(|| {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                &rsa_public,
            )
            .verify(b"header data", &rsa_sig)
            .unwrap()
        })
    });
    let parsed_rsa = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        &rsa_public,
    )
    .unwrap();
    parts.bench_function("rsa2048-verify-preparsed", |b| {
        b.iter(|| parsed_rsa.verify_sig(b"header data", &rsa_sig).unwrap())
    });
    parts.bench_function("parse-message-20k", |b| {
        b.iter(|| black_box(Message::parse(black_box(&raw)).unwrap().headers.len()))
    });
    parts.finish();
}

criterion_group!(dkim, benches);
criterion_main!(dkim);
