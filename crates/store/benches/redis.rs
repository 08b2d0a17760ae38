//! Redis backend latency against a real `redis-server` this benchmark starts: a message's
//! 2,000 token counters read in one call (the classifier's per-message read), and learning
//! a 2,000-token message (one `relabel` script), over loopback TCP and a Unix socket.
//!
//! `cargo bench -p kanmon-store --bench redis` measures; under `cargo test --benches` it
//! runs a few iterations as a smoke test. Target: a read well under 2 ms at p99.

use kanmon_testredis as redis_server;

use std::time::{Duration, Instant};

use kanmon_store::{BackendKind, Class, Store, StoreSettings, TokenKey};
use redis_server::RedisServer;

/// Tokens per message, as the classifier caps them.
const TOKENS: usize = 2000;

/// Messages learned before measuring, so reads hit a hash of realistic size (with
/// overlap, about 100,000 distinct tokens).
const SEED_MESSAGES: u64 = 60;

struct Plan {
    reads: usize,
    learns: usize,
    seed: u64,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full {
        Plan {
            reads: 2000,
            learns: 300,
            seed: SEED_MESSAGES,
        }
    } else {
        Plan {
            reads: 20,
            learns: 4,
            seed: 2,
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for (name, server) in [("tcp", RedisServer::tcp()), ("unix", RedisServer::unix())] {
        runtime.block_on(run(name, &server, &plan));
    }
}

/// The tokens of message `n`: half shared with every message, half its own.
fn message(n: u64) -> Vec<TokenKey> {
    (0..TOKENS as u64)
        .map(|i| {
            let id = if i % 2 == 0 { i } else { n << 32 | i };
            id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })
        .collect()
}

async fn run(name: &str, server: &RedisServer, plan: &Plan) {
    let store = Store::open(&StoreSettings {
        backend: BackendKind::Redis,
        url: server.url(),
        prefix: "bench".to_owned(),
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .expect("the store opens");
    for n in 0..plan.seed {
        let class = if n % 3 == 0 { Class::Ham } else { Class::Spam };
        store
            .relabel(format!("seed-{n}").as_bytes(), Some(class), &message(n))
            .await
            .expect("seeding");
    }

    let asked = message(plan.seed + 1);
    let mut reads = Vec::with_capacity(plan.reads);
    for _ in 0..plan.reads {
        let started = Instant::now();
        let read = store.token_counts(&asked).await.expect("a read");
        reads.push(started.elapsed());
        assert_eq!(read.counts.len(), TOKENS);
    }
    report(name, "read 2,000 token counters", &mut reads);

    let learned = message(u64::MAX >> 32);
    let mut learns = Vec::with_capacity(plan.learns);
    for i in 0..plan.learns {
        // Alternating classes: every call moves all 2,000 counters.
        let class = if i % 2 == 0 { Class::Spam } else { Class::Ham };
        let started = Instant::now();
        store
            .relabel(b"learned", Some(class), &learned)
            .await
            .expect("a learn");
        learns.push(started.elapsed());
    }
    report(name, "learn a 2,000-token message", &mut learns);

    // Redis's own time per command, to tell server work from client and transport.
    let stats = server.command(&["INFO", "commandstats"]);
    for command in ["hmget", "evalsha"] {
        let prefix = format!("cmdstat_{command}:");
        if let Some(line) = stats.lines().find(|l| l.starts_with(&prefix)) {
            let usec = line
                .split(',')
                .find_map(|f| f.strip_prefix("usec_per_call="))
                .unwrap_or("?");
            println!("redis {name:4} server time per {command}: {usec} µs");
        }
    }
}

fn report(transport: &str, what: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "redis {transport:4} {what:28} n={:5} median {:8.3} ms  p99 {:8.3} ms  max {:8.3} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}
