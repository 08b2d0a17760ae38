#![allow(clippy::unwrap_used)] // a store call that fails fails the test

//! The Redis backend when things go wrong, against a real `redis-server`: a server killed
//! under a working store (calls fail fast, then recover on their own when it is back),
//! and settings that cannot work (errors name `store.url`, never show the password).

use kanmon_testredis as redis_server;

use std::time::{Duration, Instant};

use kanmon_store::{BackendKind, Store, StoreError, StoreSettings};
use redis_server::RedisServer;

const TIMEOUT: Duration = Duration::from_millis(300);

/// How much later than its timeout a failing call may return: scheduling, not waiting.
const SLACK: Duration = Duration::from_millis(250);

/// How long a restarted server may take to be used again.
const RECOVERY: Duration = Duration::from_secs(5);

fn settings(url: &str) -> StoreSettings {
    StoreSettings {
        backend: BackendKind::Redis,
        url: url.to_owned(),
        prefix: "faults".to_owned(),
        timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(500),
        ..Default::default()
    }
}

/// Kill the server under a store that works: every call fails, none outlasts the
/// timeout; start it again on the same address: the same store works again.
async fn survives_a_restart(mut server: RedisServer) {
    let store = Store::open(&settings(&server.url())).await.unwrap();
    store.set("k", b"before", None).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(b"before".to_vec()));

    server.kill();
    for attempt in 0..5 {
        let started = Instant::now();
        let result = store.greylist_touch(b"t", Duration::from_secs(60)).await;
        let took = started.elapsed();
        assert!(
            matches!(
                result,
                Err(StoreError::Unavailable(_) | StoreError::Timeout(_))
            ),
            "attempt {attempt}: {result:?}"
        );
        eprintln!("DEBUG {result:?} {took:?}");
        assert!(took < TIMEOUT + SLACK, "attempt {attempt} took {took:?}");
    }

    server.start();
    let deadline = Instant::now() + RECOVERY;
    loop {
        match store.set("k", b"after", None).await {
            Ok(()) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "not back after {RECOVERY:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.get("k").await.unwrap(), Some(b"after".to_vec()));
    let sighting = store
        .greylist_touch(b"t", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(sighting.count, 1, "the restarted server kept nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_calls_fast_then_they_recover_tcp() {
    survives_a_restart(RedisServer::tcp()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_calls_fast_then_they_recover_unix() {
    survives_a_restart(RedisServer::unix()).await;
}

fn open_error_of(result: Result<Store, StoreError>) -> String {
    match result {
        Ok(_) => panic!("the store opened"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn bad_urls_are_refused_naming_the_key() {
    for url in [
        "http://127.0.0.1:6379",
        "redis://:s3cret@127.0.0.1:6379/x",
        "rediss://:s3cret@127.0.0.1:6379",
        "localhost:6379",
    ] {
        let err = open_error_of(Store::open(&settings(url)).await);
        assert!(err.starts_with("store.url = \""), "{url}: {err}");
        assert!(!err.contains("s3cret"), "{url}: {err}");
    }
    let mut bad_prefix = settings("redis://127.0.0.1:1");
    bad_prefix.prefix = "a{b}".to_owned();
    let err = open_error_of(Store::open(&bad_prefix).await);
    assert!(err.starts_with("store.prefix = "), "{err}");
}

/// Nothing listening, or a listener that never answers: `Store::open` gives up within
/// the connect timeout, naming `store.url` (without the password).
#[tokio::test]
async fn an_unreachable_server_is_an_error_at_open() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("redis://:s3cret@127.0.0.1:{}", redis_server::free_port()),
        format!("redis+unix://{}/none.sock", dir.path().display()),
        format!("redis://:s3cret@127.0.0.1:{silent_port}"),
    ] {
        let settings = settings(&url);
        let started = Instant::now();
        let err = open_error_of(Store::open(&settings).await);
        let took = started.elapsed();
        eprintln!("DEBUG {err}");
        assert!(err.contains("store.url = \""), "{url}: {err}");
        assert!(!err.contains("s3cret"), "{url}: {err}");
        assert!(
            took < settings.connect_timeout + SLACK,
            "{url}: took {took:?}"
        );
    }
    drop(silent);
}

/// With a password the server requires: the right one works and never shows in the
/// summary; a wrong one is an error at open.
#[tokio::test]
async fn passwords_work_and_stay_hidden() {
    let server = RedisServer::tcp_with(&["--requirepass", "s3cret"]);
    let port = match server.address() {
        redis_server::Address::Tcp(port) => *port,
        redis_server::Address::Unix(_) => unreachable!("a TCP server"),
    };
    let store = Store::open(&settings(&format!("redis://:s3cret@127.0.0.1:{port}/2")))
        .await
        .unwrap();
    store.set("k", b"v", None).await.unwrap();
    let summary = store.summary().await.unwrap();
    assert_eq!(summary.location, format!("redis://127.0.0.1:{port}/2"));
    assert_eq!(summary.values, 1);
    assert!(summary.bytes.is_some_and(|b| b > 0));

    let err =
        open_error_of(Store::open(&settings(&format!("redis://:wrong@127.0.0.1:{port}"))).await);
    assert!(err.contains("store.url = \""), "{err}");
    assert!(!err.contains("wrong"), "{err}");
}
