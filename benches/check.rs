//! The whole check path, as the milter and `kanmon check` run it: `Engine::scan_message`
//! (split the message, SPF for MAIL FROM and HELO, DKIM, ARC, DMARC, the checks, scores,
//! `decide`, the header fields) on one core (a current-thread runtime), with the production
//! `HickoryResolver` pointed at a `kanmon_testdns::DnsServer` on loopback and its cache
//! warmed by a first scan, so the numbers are the per-message CPU cost once a sender's
//! records are known.
//!
//! Groups:
//! - `check`: the ~20 KB DKIM-signed newsletter of `testdata/messages/` (target: ≥ 5,000
//!   messages/s on one core), and the same scan followed by MIME content derivation;
//! - `check-size`: the newsletter grown or shrunk to 5, 20, 80 and 320 KB and re-signed, to
//!   show the cost is linear in the message size (`Throughput::Bytes`).
//!
//! Content derivation: `Scan::content()` is lazy and no check calls it yet, and a `Scan` can
//! only be made inside the engine, so the `+content` variant runs what the lazy cell runs,
//! `Content::derive`, on the same message after the scan.
//!
//! Run with `cargo bench --bench check`.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanmon_core::content::Content;
use kanmon_core::kanmon_auth::dkim::{Signer, SigningKey};
use kanmon_core::kanmon_auth::message::Message;
use kanmon_core::kanmon_auth::spf::SpfResult;
use kanmon_core::{Config, Engine, Envelope, Verdict};
use kanmon_testdns::{DnsServer, Zone, parse_zone};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
/// The newsletter's boundary (see `testdata/messages/make-messages`).
const BOUNDARY: &str = "--=_weekly_2026_02";
/// When the sized variants are signed (the newsletter's own `t=`).
const SIGNED_AT: u64 = 1_768_300_800;

fn read(path: &str) -> Vec<u8> {
    let path = Path::new(TESTDATA).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The newsletter's envelope from `testdata/messages/README.md`.
fn envelope() -> Envelope {
    Envelope {
        client_ip: Some("192.0.2.40".parse().unwrap()),
        client_name: kanmon_core::ReverseName::Name("mta1.news.example.com".to_owned()),
        client_ptr: kanmon_core::ReverseName::Name("mta1.news.example.com".to_owned()),
        helo: Some("mta1.news.example.com".to_owned()),
        mail_from: Some("bounce+8f14e45f@bounces.news.example.com".to_owned()),
        rcpt_to: vec!["bob@example.org".to_owned()],
        sasl_user: None,
        queue_id: Some("4dQmH12bXkz9sWt".to_owned()),
    }
}

/// Every check passes: the scan did the whole path, nothing was cut short or skipped.
fn assert_passes(verdict: &Verdict, what: &str) {
    let symbols: Vec<&str> = verdict.hits.iter().map(|h| h.name).collect();
    assert_eq!(
        symbols,
        [
            "SPF_PASS",
            "SPF_HELO_PASS",
            "DKIM_SIGNED",
            "DKIM_VALID",
            "DKIM_VALID_AU",
            "DKIM_VALID_EF",
            "DMARC_PASS"
        ],
        "{what}: {:#?}",
        verdict.hits
    );
    assert!(verdict.skipped.is_empty(), "{what}: {:?}", verdict.skipped);
    assert_eq!(
        verdict.auth.spf.as_ref().map(|s| s.result),
        Some(SpfResult::Pass)
    );
}

/// The newsletter without its signature, with its text and HTML parts cut or repeated line
/// by line to make a message of about `size` bytes once signed again.
fn newsletter_of_size(unsigned: &[u8], size: usize, signer: &Signer) -> Vec<u8> {
    let text = std::str::from_utf8(unsigned).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let parts: Vec<&str> = body.split(BOUNDARY).collect();
    // "", text part, HTML part, "--\r\n"
    assert_eq!(parts.len(), 4, "unexpected newsletter layout");
    let split = |part: &str| -> (String, Vec<String>) {
        let (headers, content) = part.split_once("\r\n\r\n").unwrap();
        let lines = content.split_inclusive("\r\n").map(str::to_owned).collect();
        (format!("{headers}\r\n\r\n"), lines)
    };
    let (text_headers, text_lines) = split(parts[1]);
    let (html_headers, html_lines) = split(parts[2]);
    let text_len: usize = text_lines.iter().map(String::len).sum();
    let html_len: usize = html_lines.iter().map(String::len).sum();
    let overhead = head.len() + 4 + 3 * BOUNDARY.len() + text_headers.len() + html_headers.len();
    let signature = 520; // about what an RSA-2048 signature field takes
    let room = size.saturating_sub(overhead + signature);
    // Take lines cyclically until each part has its share, ending on a line that is not
    // a quoted-printable soft break.
    let fill = |lines: &[String], share: usize| -> String {
        let mut out = String::new();
        for line in lines.iter().cycle() {
            if out.len() >= share && !out.ends_with("=\r\n") {
                break;
            }
            out.push_str(line);
        }
        out
    };
    let text_share = room * text_len / (text_len + html_len);
    let body = format!(
        "{BOUNDARY}{text_headers}{}{BOUNDARY}{html_headers}{}{BOUNDARY}--\r\n",
        fill(&text_lines, text_share),
        fill(&html_lines, room - text_share)
    );
    let message = format!("{head}\r\n\r\n{body}").into_bytes();
    let field = signer
        .sign(&Message::parse(&message).unwrap(), SIGNED_AT)
        .unwrap();
    [field.as_bytes(), &message].concat()
}

/// The newsletter as it came, without its DKIM-Signature field (the first one, folded).
fn without_signature(signed: &[u8]) -> Vec<u8> {
    assert!(signed.starts_with(b"DKIM-Signature:"));
    let mut pos = 0;
    loop {
        let end = pos + signed[pos..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        pos = end;
        if !matches!(signed[pos], b' ' | b'\t') {
            return signed[pos..].to_vec();
        }
    }
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let zone_text = String::from_utf8(read("messages/zone.txt")).unwrap();
    let server = runtime.block_on(DnsServer::start());
    server.set_zone(parse_zone(&zone_text).unwrap());
    // The DNS lists' "not listed" (NXDOMAIN) is cached as real zones' SOA allows.
    server.set_negative_ttl(Some(300));
    let config = Config::parse(&format!(
        "authserv_id = \"mx.example.org\"\n[dns]\nnameservers = [\"{}\"]\n",
        server.addr
    ))
    .unwrap();
    let max_mime_parts = config.limits.max_mime_parts;
    let engine = {
        let _context = runtime.enter();
        Engine::from_config(config).unwrap()
    };
    let envelope = envelope();
    let newsletter = read("messages/newsletter-dkim.eml");

    // Warm the cache, then prove it is warm: with the server answering nothing, the scan
    // still passes. The zone comes back so that an answer expiring during a long run is
    // fetched again rather than turned into a failure.
    assert_passes(
        &runtime.block_on(engine.scan_message(&envelope, &newsletter)),
        "warm-up",
    );
    server.set_zone(Zone::new());
    assert_passes(
        &runtime.block_on(engine.scan_message(&envelope, &newsletter)),
        "from the cache",
    );
    server.set_zone(parse_zone(&zone_text).unwrap());

    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(1));
    group.bench_function("newsletter-20k", |b| {
        b.iter(|| {
            runtime.block_on(engine.scan_message(black_box(&envelope), black_box(&newsletter)))
        })
    });
    let content = Content::derive(&newsletter, &envelope, max_mime_parts);
    assert_eq!(content.text_parts.len(), 1, "{content:#?}");
    assert_eq!(content.urls.len(), 16, "{:#?}", content.urls);
    group.bench_function("newsletter-20k+content", |b| {
        b.iter(|| {
            let verdict =
                runtime.block_on(engine.scan_message(black_box(&envelope), black_box(&newsletter)));
            let content = Content::derive(black_box(&newsletter), &envelope, max_mime_parts);
            (verdict, content)
        })
    });
    group.finish();

    let key = SigningKey::from_pem(&read("dkim/keys/rsa2048.TEST-ONLY.pkcs8.pem")).unwrap();
    let signer = Signer::new(key, "news.example.com", "rsa2048");
    let unsigned = without_signature(&newsletter);
    let mut group = c.benchmark_group("check-size");
    for kb in [5, 20, 80, 320] {
        let message = newsletter_of_size(&unsigned, kb * 1024, &signer);
        let verdict = runtime.block_on(engine.scan_message(&envelope, &message));
        assert_passes(&verdict, &format!("{kb} KB"));
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_function(format!("{kb}k"), |b| {
            b.iter(|| {
                runtime.block_on(engine.scan_message(black_box(&envelope), black_box(&message)))
            })
        });
        group.bench_function(format!("{kb}k+content"), |b| {
            b.iter(|| {
                let verdict = runtime
                    .block_on(engine.scan_message(black_box(&envelope), black_box(&message)));
                let content = Content::derive(black_box(&message), &envelope, max_mime_parts);
                (verdict, content)
            })
        });
    }
    group.finish();
}

criterion_group!(check, benches);
criterion_main!(check);
