#![allow(clippy::unwrap_used)] // a store call that fails fails the case

//! The store contract (`suite.rs`) run against every backend: each case on a fresh store.
//! Backends: memory and embedded always; Redis against a real `redis-server` that
//! `redis_server.rs` starts in a temporary directory.

use kanmon_testredis as redis_server;
mod suite;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use suite::Subject;

/// One `#[tokio::test]` per case of the suite for the backend whose fresh subjects
/// `$subject` (an async fn) makes.
macro_rules! conformance {
    ($backend:ident, $subject:path) => {
        mod $backend {
            use super::*;

            conformance!(@cases $subject;
                unknown_tokens_read_as_zero,
                learning_twice_counts_once,
                relabelling_moves_and_forgetting_removes,
                clearing_learned_keeps_everything_else,
                a_batch_of_two_thousand_tokens,
                concurrent_learning_loses_nothing,
                greylist_sightings,
                greylist_entries_expire,
                concurrent_sightings_all_count,
                stats_are_bucketed_by_hour,
                stats_for_an_earlier_hour,
                concurrent_stat_adds_sum,
                stats_expire,
                records_in_order,
                records_expire,
                records_trimmed_before_a_time,
                records_trimmed_before_a_far_time,
                values_with_and_without_ttl,
                an_expired_import_deletes,
                expire_and_summary,
            );

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn export_then_import_is_identity() {
                suite::export_then_import_is_identity($subject().await, $subject().await).await;
            }
        }
    };
    (@cases $subject:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                suite::$case($subject().await).await;
            }
        )*
    };
}

async fn memory() -> Subject {
    let clock = kanmon_store::Clock::manual(suite::START);
    Subject {
        store: kanmon_store::Store::memory_with_clock(clock.clone()),
        clock,
        real_expiry: false,
    }
}

conformance!(memory, memory);

/// One server for the whole binary (it goes when the process exits); each case gets its
/// own key prefix on it, so cases run side by side.
async fn redis() -> Subject {
    static SERVER: OnceLock<redis_server::RedisServer> = OnceLock::new();
    redis_subject(SERVER.get_or_init(redis_server::RedisServer::unix).url()).await
}

/// The same on a three-node Redis Cluster: each case's prefix is its own hash tag, so the
/// cases land on different nodes.
async fn redis_cluster() -> Subject {
    static CLUSTER: OnceLock<redis_server::RedisCluster> = OnceLock::new();
    redis_subject(
        CLUSTER
            .get_or_init(|| redis_server::RedisCluster::start(3))
            .url(),
    )
    .await
}

async fn redis_subject(url: String) -> Subject {
    static CASE: AtomicU64 = AtomicU64::new(0);
    let settings = kanmon_store::StoreSettings {
        backend: kanmon_store::BackendKind::Redis,
        url,
        prefix: format!("case{}", CASE.fetch_add(1, Ordering::SeqCst)),
        // Cases run in parallel and some send 2,000 tokens: room for a loaded machine.
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let clock = kanmon_store::Clock::manual(suite::START);
    Subject {
        store: kanmon_store::Store::open_with_clock(&settings, clock.clone())
            .await
            .unwrap(),
        clock,
        real_expiry: true,
    }
}

conformance!(redis, redis);
conformance!(redis_cluster, redis_cluster);

/// The bound of a trim by time (`TRIM_RECORDS_MAX` records a call) where ten thousand
/// records are cheap. One embedded write removing them takes about half a second in a
/// debug build (20 ms in release), too near the default 500 ms timeout: the embedded
/// backend (and so `remote`, which carries its calls) holds the bound in its unit tests,
/// with a longer timeout.
mod bounded_trims {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory() {
        suite::records_trimmed_before_in_bounded_calls(super::memory().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis() {
        suite::records_trimmed_before_in_bounded_calls(super::redis().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis_cluster() {
        suite::records_trimmed_before_in_bounded_calls(super::redis_cluster().await).await;
    }
}

/// A fresh file in its own temporary directory (in a subdirectory the store creates).
async fn embedded() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let clock = kanmon_store::Clock::manual(suite::START);
    let settings = kanmon_store::StoreSettings {
        backend: kanmon_store::BackendKind::Embedded,
        path: dir.path().join("store").join("kanmon.redb"),
        ..kanmon_store::StoreSettings::default()
    };
    let store = kanmon_store::Store::open_with_clock(&settings, clock.clone())
        .await
        .unwrap();
    // The directory goes now; the store keeps the file open, and the file is freed when the
    // case drops the store. Nothing in the case needs the path again.
    drop(dir);
    Subject {
        store,
        clock,
        real_expiry: false,
    }
}

conformance!(embedded, embedded);

/// The embedded store as the command-line tools reach it while `kanmon serve` holds the
/// file: served on a unix socket, every call over the wire. The sockets live in one
/// temporary directory for the whole binary.
async fn remote() -> Subject {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static CASE: AtomicU64 = AtomicU64::new(0);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let case = CASE.fetch_add(1, Ordering::SeqCst);
    let clock = kanmon_store::Clock::manual(suite::START);
    let settings = kanmon_store::StoreSettings {
        backend: kanmon_store::BackendKind::Embedded,
        path: dir.join(format!("case{case}.redb")),
        ..kanmon_store::StoreSettings::default()
    };
    let served = kanmon_store::Store::open_with_clock(&settings, clock.clone())
        .await
        .unwrap();
    let socket = settings.socket_path();
    let listener = kanmon_store::remote::bind(&socket).await.unwrap();
    tokio::spawn(kanmon_store::remote::serve(served, listener));
    // What a tool does: the file is held, so `open_or_connect` goes through the socket.
    let tool = kanmon_store::Store::open_or_connect(&settings)
        .await
        .unwrap();
    let location = tool.summary().await.unwrap().location;
    assert!(location.contains("through the daemon"), "{location}");
    Subject {
        store: kanmon_store::Store::connect_with_clock(
            &socket,
            Duration::from_secs(5),
            clock.clone(),
        )
        .await
        .unwrap(),
        clock,
        real_expiry: false,
    }
}

conformance!(remote, remote);
