//! Outbound DKIM signing throughput, per core (one thread), on a ~20 KB message: the path the
//! engine takes for each outbound message ([`SigningKeys::sign`]: the From address read, the
//! signing table looked up, the body canonicalised and hashed, the header fields selected and
//! hashed, the private-key operation, the field folded), for RSA-2048, Ed25519 and the two
//! together (dual signing), relaxed/relaxed and simple/simple; beside it the crypto library's
//! raw signing speed (aws-lc-rs `RsaKeyPair::sign` with RSA_PKCS1_SHA256 on the ~700 bytes of
//! header data DKIM signs, `Ed25519KeyPair::sign` on a SHA-256 digest) and the body hash
//! alone.
//!
//! Targets (issue 8): Ed25519 ≥ 20,000 signatures/s per core; RSA-2048 within 1.5× of the
//! raw signing speed. Run with `cargo bench --bench dkim_sign`; the numbers are in
//! docs/dkim.md "Signing".

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanmon_core::Config;
use kanmon_core::kanmon_auth::dkim::{BodyHasher, Canonicalization, HashAlgorithm, SigningKey};
use kanmon_core::kanmon_auth::message::Message;
use kanmon_core::signing::SigningKeys;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dkim/keys");
const NOW: u64 = 1_795_000_000;

/// A ~20 KB plain-text newsletter from example.com, some lines with runs of whitespace for
/// relaxed canonicalisation to fold.
fn message() -> Vec<u8> {
    let mut raw = String::from(concat!(
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

/// The test keys copied where only their owner may read them, and a configuration whose
/// signing table signs `*@example.com` with `keys`.
fn configured(dir: &Path, canon: &str, keys: &[&str]) -> (Config, SigningKeys) {
    let mut text = format!("[signing]\ncanonicalization = \"{canon}\"\n");
    for (name, file) in [
        ("rsa", "rsa2048.TEST-ONLY.pkcs8.pem"),
        ("ed", "ed25519.TEST-ONLY.pkcs8.pem"),
    ] {
        let path = dir.join(file);
        std::fs::copy(Path::new(KEYS).join(file), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        text.push_str(&format!(
            "[[dkim_keys]]\nname = \"{name}\"\ndomain = \"example.com\"\nselector = \"{name}\"\nfile = \"{}\"\n",
            path.display()
        ));
    }
    let list: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    text.push_str(&format!(
        "[[signing_table]]\nfrom = \"*@example.com\"\nkeys = [{}]\n",
        list.join(", ")
    ));
    let config = Config::parse(&text).unwrap();
    let signers = SigningKeys::load(&config.signing, None).unwrap();
    (config, signers)
}

fn benches(c: &mut Criterion) {
    let raw = message();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("dkim-sign-20k");
    group.throughput(Throughput::Elements(1));
    for canon in ["relaxed/relaxed", "simple/simple"] {
        for (name, keys) in [
            ("rsa2048", &["rsa"][..]),
            ("ed25519", &["ed"][..]),
            ("dual", &["rsa", "ed"][..]),
        ] {
            let (config, signers) = configured(dir.path(), canon, keys);
            let check = signers.sign(&config.signing, &Message::parse(&raw).unwrap(), NOW);
            assert_eq!(check.signatures.len(), keys.len(), "{check}");
            group.bench_function(format!("{name}/{canon}"), |b| {
                b.iter(|| {
                    let message = Message::parse(black_box(&raw)).unwrap();
                    black_box(signers.sign(&config.signing, &message, NOW))
                })
            });
        }
    }
    group.finish();

    let mut raw_group = c.benchmark_group("dkim-sign-parts");
    raw_group.throughput(Throughput::Elements(1));
    let body = Message::parse(&raw).unwrap().body;
    for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
        raw_group.bench_function(format!("body-hash-{}-20k", canon.as_str()), |b| {
            b.iter(|| {
                let mut hasher = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
                hasher.update(black_box(body));
                black_box(hasher.finish())
            })
        });
    }
    // What DKIM's RSA signs: the selected header fields and the signature field, ~700 bytes.
    let header_data = vec![b'h'; 700];
    let pem = std::fs::read(Path::new(KEYS).join("rsa2048.TEST-ONLY.pkcs8.pem")).unwrap();
    let SigningKey::Rsa(rsa) = SigningKey::from_pem(&pem).unwrap() else {
        panic!("not an RSA key")
    };
    let random = aws_lc_rs::rand::SystemRandom::new();
    let mut signature = vec![0; rsa.public_modulus_len()];
    raw_group.bench_function("aws-lc-rs-rsa2048-sign-raw", |b| {
        b.iter(|| {
            rsa.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &random,
                black_box(&header_data),
                &mut signature,
            )
            .unwrap();
            black_box(&signature);
        })
    });
    let pem = std::fs::read(Path::new(KEYS).join("ed25519.TEST-ONLY.pkcs8.pem")).unwrap();
    let SigningKey::Ed25519(ed) = SigningKey::from_pem(&pem).unwrap() else {
        panic!("not an Ed25519 key")
    };
    raw_group.bench_function("aws-lc-rs-ed25519-sign-raw", |b| {
        b.iter(|| black_box(ed.sign(black_box(&[7u8; 32]))))
    });
    raw_group.finish();
}

criterion_group!(dkim_sign, benches);
criterion_main!(dkim_sign);
