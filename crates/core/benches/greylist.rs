#![allow(clippy::unwrap_used)] // a benchmark whose store fails has nothing to report

//! Greylisting's cost per recipient through the whole engine call ([`Engine::greylist`]) on
//! the embedded store (redb, every write durable before it returns), the production
//! default:
//!
//! 1. first attempts of new triplets: three reads and one write each;
//! 2. known triplets passing again: two reads and a write (the triplet's refresh), plus the
//!    client network's hourly count;
//!
//! each from one task (latency: median and p99) and from 8 concurrent tasks (throughput,
//! the writes group-committed). `cargo bench -p kanmon-core --bench greylist` runs it in
//! full; without `--bench` (as under `cargo test --benches`) it runs briefly, as a smoke test.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kanmon_auth::dns::StaticResolver;
use kanmon_core::{Config, Engine, Envelope};
use kanmon_store::{BackendKind, Store, StoreSettings};

const TASKS: usize = 8;

fn envelope(i: usize) -> Envelope {
    let [a, b] = (i as u16).to_be_bytes();
    Envelope {
        client_ip: Some(IpAddr::V4(Ipv4Addr::new(198, 18, a, b))),
        mail_from: Some(format!("sender{}@example.org", i % 97)),
        ..Envelope::default()
    }
}

/// Runs `count` greylist calls from one task; returns the sorted latencies.
async fn serial(engine: &Engine<StaticResolver>, count: usize, offset: usize) -> Vec<Duration> {
    let mut took = Vec::with_capacity(count);
    for i in 0..count {
        let envelope = envelope(offset + i);
        let started = Instant::now();
        let outcome = engine
            .greylist(&envelope, &format!("rcpt{i}@example.net"), None)
            .await;
        took.push(started.elapsed());
        assert!(outcome.hit.is_some());
    }
    took.sort();
    took
}

/// Calls per second from [`TASKS`] concurrent tasks, `per_task` calls each.
async fn concurrent(engine: &Arc<Engine<StaticResolver>>, per_task: usize, offset: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let engine = Arc::clone(engine);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let n = offset + t * per_task + i;
                engine
                    .greylist(&envelope(n), &format!("rcpt{i}@example.net"), None)
                    .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (TASKS * per_task) as f64 / started.elapsed().as_secs_f64()
}

fn report(what: &str, took: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.3} ms, p99 {:.3} ms over {} calls",
        ms(took[took.len() / 2]),
        ms(took[took.len() * 99 / 100]),
        took.len()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let count = if full { 2_000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            backend: BackendKind::Embedded,
            path: dir.path().join("kanmon.redb"),
            timeout: Duration::from_secs(30),
            ..StoreSettings::default()
        };
        let store = Store::open(&settings).await.unwrap();
        let config = Config::parse("[greylist]\nmode = \"enforce\"\ndelay_s = 1\n").unwrap();
        let engine = Arc::new(Engine::new(config, StaticResolver::new()).with_store(store));

        report("first attempt, 1 task", &serial(&engine, count, 0).await);
        let rate = concurrent(&engine, count, 100_000).await;
        println!("first attempt, {TASKS} tasks: {rate:.0} recipients/s");

        // Let the delay pass, so the same triplets now pass and are remembered.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        serial(&engine, count, 0).await;
        report("known triplet, 1 task", &serial(&engine, count, 0).await);
        concurrent(&engine, count, 100_000).await;
        let rate = concurrent(&engine, count, 100_000).await;
        println!("known triplet, {TASKS} tasks: {rate:.0} recipients/s");
    });
}
