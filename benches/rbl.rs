//! One message's DNS wait under the DNS lists: one round of concurrent lookups, not a sum.
//!
//! Ten lists (four `[[dnsbl]]`, three `[[rhsbl]]`, three `[[uribl]]`) and a message naming
//! 20 URL domains give 4 + 3 + 60 = 67 distinct questions. A `kanmon_testdns::DnsServer`
//! on loopback answers every question 50 ms after it arrives (each on its own, as a distant
//! server does), and sends an SOA with its negative answers so "not listed" is cached as
//! real lists' answers are. The other checks are off, so the scan's wait is the lists'
//! alone (the authentication stage asks its own questions in two rounds before the checks).
//!
//! Reported:
//! - cold: a fresh engine (empty cache) per scan: the wall time of the whole scan, whose
//!   floor is one 50 ms round; asking one question after another would take 67 × 50 ms;
//! - warm: the same scan again on a warm cache, with the server's delay raised to 5 s, so a
//!   question that missed the cache would show.
//!
//! Run with `cargo bench --bench rbl` (a few seconds). It stops with an error when a cold
//! scan takes three rounds or more, or when the scan does not find what the zone lists.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use kanmon_core::{Config, Engine, Envelope, Verdict};
use kanmon_testdns::{DnsServer, parse_zone};

/// The server's delay per answer.
const DELAY: Duration = Duration::from_millis(50);
/// URL domains in the message, each asked of every `[[uribl]]` list.
const URL_DOMAINS: usize = 20;
/// Cold scans measured (each with a fresh engine).
const COLD_RUNS: usize = 15;
/// Warm scans measured.
const WARM_RUNS: usize = 2_000;

fn config(nameserver: std::net::SocketAddr) -> String {
    let mut text = format!(
        "authserv_id = \"mx.example.org\"\n\
         [dns]\nnameservers = [\"{nameserver}\"]\n\
         [spf]\nmode = \"off\"\n[dkim]\nmode = \"off\"\n[dmarc]\nmode = \"off\"\n\
         [arc]\nmode = \"off\"\n[s25r]\nmode = \"off\"\n[helo]\nmode = \"off\"\n\
         [rbl]\nmax_uri_domains = {URL_DOMAINS}\n"
    );
    for i in 0..4 {
        let _ = write!(
            text,
            "[[dnsbl]]\nzone = \"ip{i}.bl.test\"\nsymbol = \"RCVD_IN_BENCH_{i}\"\nscore = 1.0\n"
        );
    }
    for i in 0..3 {
        let _ = write!(
            text,
            "[[rhsbl]]\nzone = \"rhs{i}.bl.test\"\nsymbol = \"RHS_BENCH_{i}\"\nscore = 1.0\n"
        );
    }
    for i in 0..3 {
        let _ = write!(
            text,
            "[[uribl]]\nzone = \"uri{i}.bl.test\"\nsymbol = \"URI_BENCH_{i}\"\nscore = 1.0\n"
        );
    }
    text
}

/// One listing per kind of list; everything else is NXDOMAIN.
const ZONE: &str = "\
40.2.0.192.ip0.bl.test          A  127.0.0.2
example.com.rhs1.bl.test        A  127.0.0.2
domain7.test.uri2.bl.test       A  127.0.0.2
";

fn message() -> Vec<u8> {
    let mut text = String::from(
        "From: News <news@example.com>\r\nTo: bob@example.org\r\nSubject: links\r\n\r\n",
    );
    for i in 0..URL_DOMAINS {
        let _ = write!(text, "Item {i}: https://www.domain{i}.test/item?id={i}\r\n");
    }
    text.into_bytes()
}

fn envelope() -> Envelope {
    Envelope {
        client_ip: Some("192.0.2.40".parse().unwrap()),
        helo: Some("mta1.example.com".to_owned()),
        mail_from: Some("bounce@example.com".to_owned()),
        rcpt_to: vec!["bob@example.org".to_owned()],
        ..Envelope::default()
    }
}

fn assert_found(verdict: &Verdict) {
    let symbols: Vec<&str> = verdict.hits.iter().map(|h| h.name).collect();
    assert_eq!(
        symbols,
        ["RCVD_IN_BENCH_0", "RHS_BENCH_1", "URI_BENCH_2"],
        "{verdict:#?}"
    );
    assert!(verdict.skipped.is_empty(), "{:?}", verdict.skipped);
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // The server on a runtime of its own, so its delayed answers never wait for the scan's.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_runtime.block_on(DnsServer::start());
    server.set_zone(parse_zone(ZONE).unwrap());
    server.set_delay(DELAY);
    server.set_negative_ttl(Some(300));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config::parse(&config(server.addr)).unwrap();
    let (envelope, message) = (envelope(), message());
    let engine = || {
        let _context = runtime.enter();
        Engine::from_config(config.clone()).unwrap()
    };

    let mut cold = Vec::new();
    for _ in 0..COLD_RUNS {
        let engine = engine();
        let started = Instant::now();
        let verdict = runtime.block_on(engine.scan_message(&envelope, &message));
        cold.push(started.elapsed());
        assert_found(&verdict);
    }
    let cold_median = median(cold.clone());
    let cold_max = cold.iter().max().copied().unwrap_or_default();

    let engine = engine();
    assert_found(&runtime.block_on(engine.scan_message(&envelope, &message)));
    server.set_delay(Duration::from_secs(5));
    let mut warm = Vec::with_capacity(WARM_RUNS);
    for _ in 0..WARM_RUNS {
        let started = Instant::now();
        let verdict = runtime.block_on(engine.scan_message(&envelope, &message));
        warm.push(started.elapsed());
        assert_found(&verdict);
    }
    let warm_median = median(warm);

    let questions = 4 + 3 + 3 * URL_DOMAINS;
    println!(
        "rbl: 10 lists, {URL_DOMAINS} URL domains, {questions} questions, server delay {} ms",
        DELAY.as_millis()
    );
    println!(
        "  cold scan (fresh cache): median {:.1} ms, max {:.1} ms over {COLD_RUNS} runs \
         (one question after another: {} ms)",
        cold_median.as_secs_f64() * 1e3,
        cold_max.as_secs_f64() * 1e3,
        questions as u128 * DELAY.as_millis()
    );
    println!(
        "  warm scan (all answers cached): median {:.1} µs over {WARM_RUNS} runs",
        warm_median.as_secs_f64() * 1e6
    );
    assert!(
        cold_median < DELAY * 3,
        "a cold scan took {cold_median:?}: the questions were not asked in one round"
    );
}
