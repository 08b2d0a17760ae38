//! What recording costs a scan: the counters and the history entry of every message
//! ([`kanmon_core::stats::Counter`]) against the same scan unrecorded. Target: under 2 %
//! of scan throughput.
//!
//! The engine and message are `check`'s (benches/check.rs): the ~20 KB DKIM-signed
//! newsletter, one core, DNS answers cached. Recording writes to an embedded store file
//! (the default backend) the way the daemon does: in memory per message, and one store
//! write ([`Counter::flush`]) per [`FLUSH_INTERVAL`] of scanning, whose time is counted
//! here because on a busy host it takes the same core. Times are the process's CPU time
//! (`record-in-memory` excepted: wall time of one call): on a machine shared with other
//! work, wall time moves with the neighbours' load.
//!
//! Run with `cargo bench --bench stats`.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanmon_core::history::{self, Bounds, Filter};
use kanmon_core::kanmon_auth::dns::HickoryResolver;
use kanmon_core::stats::{Counter, FLUSH_INTERVAL};
use kanmon_core::{Config, Engine, Envelope};
use kanmon_store::{Store, StoreSettings};
use kanmon_testdns::{DnsServer, parse_zone};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn read(path: &str) -> Vec<u8> {
    let path = Path::new(TESTDATA).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The newsletter's envelope from `testdata/messages/README.md`, as `n`-th of a stream of
/// mail: its own queue id and VERP bounce address, as real mail has (the domain, and so SPF
/// and the DNS cache, stay the same).
fn nth_envelope(n: usize) -> Envelope {
    Envelope {
        queue_id: Some(format!("4dQmH{n:010}")),
        mail_from: Some(format!("bounce+{n:08x}@bounces.news.example.com")),
        ..envelope()
    }
}

/// The next `count` envelopes of the stream (made before a timing starts).
fn fresh(next: &std::cell::Cell<usize>, count: u64) -> Vec<Envelope> {
    let first = next.get();
    let count = usize::try_from(count).unwrap();
    next.set(first + count);
    (first..first + count).map(nth_envelope).collect()
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

/// CPU time the whole process has used: what recording costs in work, whatever else the
/// machine runs meanwhile (wall time on a shared machine moves with the neighbours' load).
fn cpu_time() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).unwrap();
    Duration::new(
        u64::try_from(now.tv_sec()).unwrap(),
        u32::try_from(now.tv_nsec()).unwrap(),
    )
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let zone_text = String::from_utf8(read("messages/zone.txt")).unwrap();
    let server = runtime.block_on(DnsServer::start());
    server.set_zone(parse_zone(&zone_text).unwrap());
    server.set_negative_ttl(Some(300));
    let config_text = format!(
        "authserv_id = \"mx.example.org\"\n[dns]\nnameservers = [\"{}\"]\n",
        server.addr
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        path: dir.path().join("kanmon.redb"),
        // The microbenchmarks write far more history than mail would: room for its trims.
        timeout: Duration::from_secs(30),
        ..StoreSettings::default()
    };
    let store = runtime.block_on(Store::open(&settings)).unwrap();
    let counter = Counter::new(store.clone());
    let (plain, recording, unrecorded) = {
        let _context = runtime.enter();
        let engine = |config: &str| {
            Engine::from_config(Config::parse(config).unwrap())
                .unwrap()
                .with_store(store.clone())
        };
        (
            engine(&config_text),
            engine(&config_text).with_counter(counter.clone()),
            engine(&config_text),
        )
    };
    let envelope = envelope();
    let next = std::cell::Cell::new(0);
    let newsletter = read("messages/newsletter-dkim.eml");
    // Warm the DNS cache of both.
    runtime.block_on(plain.scan_message(&envelope, &newsletter));
    runtime.block_on(recording.scan_message(&envelope, &newsletter));
    runtime.block_on(unrecorded.scan_message(&envelope, &newsletter));

    let mut group = c.benchmark_group("stats");
    group.throughput(Throughput::Elements(1));
    group.bench_function("scan", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let started = cpu_time();
            for envelope in &envelopes {
                runtime.block_on(plain.scan_message(black_box(envelope), black_box(&newsletter)));
            }
            cpu_time() - started
        })
    });
    group.bench_function("scan+record", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let started = cpu_time();
            let mut flushed = Instant::now();
            for envelope in &envelopes {
                runtime
                    .block_on(recording.scan_message(black_box(envelope), black_box(&newsletter)));
                if flushed.elapsed() >= FLUSH_INTERVAL {
                    runtime.block_on(counter.flush());
                    flushed = Instant::now();
                }
            }
            runtime.block_on(counter.flush());
            cpu_time() - started
        })
    });
    // Recording alone, on the verdict of this scan: what the scan path pays per message
    // (the counts, the history entry serialized) plus the flushes' share. Short and so
    // steadier than the difference of two whole-scan timings on a busy machine.
    let verdict = runtime.block_on(plain.scan_message(&envelope, &newsletter));
    let config = Config::parse(&config_text).unwrap();
    let counts_only = Config::parse(&format!("{config_text}[stats]\nhistory_size = 0\n")).unwrap();
    group.bench_function("record-counts", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let started = cpu_time();
            record_all(
                &runtime,
                &counter,
                &counts_only,
                &envelopes,
                &verdict,
                (false, None),
            );
            cpu_time() - started
        })
    });
    group.bench_function("record-in-memory", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let mut spent = Duration::ZERO;
            let _context = runtime.enter();
            for (i, envelope) in envelopes.iter().enumerate() {
                let started = Instant::now();
                counter.record(
                    &config,
                    black_box(envelope),
                    black_box(&verdict),
                    Duration::from_millis(3),
                    None,
                    None,
                );
                spent += started.elapsed();
                if i % 1_000 == 999 {
                    // Keep the pending history small; the flush is not counted here.
                    runtime.block_on(counter.flush());
                }
            }
            runtime.block_on(counter.flush());
            spent
        })
    });
    // Recording with its flushes (the store's share counted).
    group.bench_function("record", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let started = cpu_time();
            record_all(
                &runtime,
                &counter,
                &config,
                &envelopes,
                &verdict,
                (true, None),
            );
            cpu_time() - started
        })
    });
    // With `[stats] history_learnable`: each message also copied into memory.
    let learnable =
        Config::parse(&format!("{config_text}[stats]\nhistory_learnable = 1000\n")).unwrap();
    group.bench_function("record-learnable", |b| {
        b.iter_custom(|iterations| {
            let envelopes = fresh(&next, iterations);
            let started = cpu_time();
            let with_raw = (true, Some(&newsletter[..]));
            record_all(
                &runtime, &counter, &learnable, &envelopes, &verdict, with_raw,
            );
            cpu_time() - started
        })
    });
    group.finish();
    interleaved(
        &runtime,
        (&plain, &recording, &counter),
        || fresh(&next, SCANS as u64),
        "recording",
        &newsletter,
    );
    // The same comparison between two engines that both record nothing: how far apart
    // two equal variants measure on this machine (the floor under the numbers above).
    interleaved(
        &runtime,
        (&plain, &unrecorded, &counter),
        || fresh(&next, SCANS as u64),
        "noise floor: neither records",
        &newsletter,
    );

    // The recording variant recorded: counters and history are in the file.
    let now = store.clock().now();
    let messages: i64 = runtime
        .block_on(store.stats_read(now - 3 * 3_600, now))
        .unwrap()
        .iter()
        .filter(|c| c.name == "messages")
        .map(|c| c.value)
        .sum();
    assert!(messages > 1, "{messages} messages counted");
    let bounds = Bounds {
        retention: Duration::from_secs(86_400),
        size: 10,
    };
    // The microbenchmarks record far faster than mail comes: trim the ring as the next
    // flushes would before reading it.
    runtime.block_on(history::trim(&store, bounds)).unwrap();
    let entries = runtime
        .block_on(history::recent(&store, 5, &Filter::default(), bounds))
        .unwrap();
    assert_eq!(entries.len(), 5);
}

/// What one [`FLUSH_INTERVAL`] gathers at 500 messages a second, about what Postfix
/// passes on this machine. Recording alone runs far faster than mail comes: flushing
/// by the clock there would write batches no daemon writes, or hit the bound on pending
/// history and measure dropping entries.
const MESSAGES_PER_FLUSH: usize = 1_000;

/// Records `verdict` for each envelope as the daemon does (flushing every
/// [`MESSAGES_PER_FLUSH`] when `flushes`, keeping `raw` as each message when given), then
/// writes what is left.
fn record_all(
    runtime: &tokio::runtime::Runtime,
    counter: &Counter,
    config: &Config,
    envelopes: &[Envelope],
    verdict: &kanmon_core::Verdict,
    (flushes, raw): (bool, Option<&[u8]>),
) {
    let _context = runtime.enter();
    for (n, envelope) in envelopes.iter().enumerate() {
        counter.record(
            config,
            black_box(envelope),
            black_box(verdict),
            Duration::from_millis(3),
            None,
            raw,
        );
        if flushes && n % MESSAGES_PER_FLUSH == MESSAGES_PER_FLUSH - 1 {
            runtime.block_on(counter.flush());
        }
    }
    runtime.block_on(counter.flush());
}

/// Rounds and scans per round of [`interleaved`].
const ROUNDS: usize = 40;
const SCANS: usize = 200;

/// Both variants in alternating rounds over the same envelopes (`round` makes each
/// round's), so a load that changes during the run (other builds on the machine) weighs
/// on both alike; prints the median cost per round, and the fastest rounds compared (the
/// neighbours' load only ever slows a round down).
fn interleaved(
    runtime: &tokio::runtime::Runtime,
    (plain, recording, counter): (&Engine<HickoryResolver>, &Engine<HickoryResolver>, &Counter),
    round: impl Fn() -> Vec<Envelope>,
    what: &str,
    message: &[u8],
) {
    let mut costs = Vec::new();
    let (mut all_without, mut all_with) = (Duration::ZERO, Duration::ZERO);
    let (mut fastest_without, mut fastest_with) = (Duration::MAX, Duration::MAX);
    let mut flushed = Instant::now();
    for n in 0..ROUNDS {
        let envelopes = round();
        let plain_round = || {
            let started = cpu_time();
            for envelope in &envelopes {
                runtime.block_on(plain.scan_message(black_box(envelope), black_box(message)));
            }
            cpu_time() - started
        };
        let mut recording_round = || {
            let started = cpu_time();
            for envelope in &envelopes {
                runtime.block_on(recording.scan_message(black_box(envelope), black_box(message)));
                if flushed.elapsed() >= FLUSH_INTERVAL {
                    runtime.block_on(counter.flush());
                    flushed = Instant::now();
                }
            }
            cpu_time() - started
        };
        // Each goes first every other round, so neither always finds the caches warm.
        let (without, with) = if n % 2 == 0 {
            let without = plain_round();
            (without, recording_round())
        } else {
            let with = recording_round();
            (plain_round(), with)
        };
        all_without += without;
        all_with += with;
        fastest_without = fastest_without.min(without);
        fastest_with = fastest_with.min(with);
        costs.push(with.as_secs_f64() / without.as_secs_f64() - 1.0);
    }
    costs.sort_by(f64::total_cmp);
    println!(
        "stats/interleaved ({what}): the second engine costs {:+.2} % more scan time (median of {ROUNDS} rounds of {SCANS}; quartiles {:+.2} %, {:+.2} %; all rounds together {:+.2} %; fastest round of each {:+.2} %)",
        100.0 * costs[ROUNDS / 2],
        100.0 * costs[ROUNDS / 4],
        100.0 * costs[3 * ROUNDS / 4],
        100.0 * (all_with.as_secs_f64() / all_without.as_secs_f64() - 1.0),
        100.0 * (fastest_with.as_secs_f64() / fastest_without.as_secs_f64() - 1.0)
    );
}

criterion_group!(stats, benches);
criterion_main!(stats);
