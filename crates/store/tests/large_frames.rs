#![allow(clippy::unwrap_used)] // a store call that fails fails the test

//! Windows, exports and imports far bigger than one frame of the daemon's socket (16 MiB)
//! cross it whole and in order: the embedded store served on a real unix socket, reached
//! as the command-line tools reach it.

use std::time::Duration;

use kanmon_store::{BackendKind, Clock, Entry, Record, Store, StoreSettings};

const START: u64 = 1_700_000_000;
const STREAM: &str = "history";
const TTL: Duration = Duration::from_secs(86_400);
/// Generous: a debug build reads and encodes tens of MiB per call.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A served embedded store (the daemon's handle) and a tool's handle on it through the
/// socket, on one manual clock.
struct Served {
    daemon: Store,
    tool: Store,
    clock: Clock,
    _dir: tempfile::TempDir,
}

async fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let settings = StoreSettings {
        backend: BackendKind::Embedded,
        path: dir.path().join("kanmon.redb"),
        timeout: TIMEOUT,
        ..StoreSettings::default()
    };
    let daemon = Store::open_with_clock(&settings, clock.clone())
        .await
        .unwrap();
    let socket = settings.socket_path();
    let listener = kanmon_store::remote::bind(&socket).await.unwrap();
    tokio::spawn(kanmon_store::remote::serve(daemon.clone(), listener));
    let tool = Store::connect_with_clock(&socket, TIMEOUT, clock.clone())
        .await
        .unwrap();
    Served {
        daemon,
        tool,
        clock,
        _dir: dir,
    }
}

/// `len` bytes that say which record they are, so a reordering or a mix-up shows.
fn data(index: usize, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 7 + index) as u8).collect();
    bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
    bytes
}

/// 40 records over ten seconds, four in each second: 39 of 600 KiB and, in the middle, one
/// of 6 MiB (8 MiB in base64: a frame of its own), about 39 MiB in base64 in all; what was
/// appended, in order.
async fn fill(served: &Served) -> Vec<Record> {
    let mut written = Vec::new();
    for index in 0..40 {
        if index > 0 && index % 4 == 0 {
            served.clock.advance(1);
        }
        let len = if index == 21 { 6 << 20 } else { 600 << 10 };
        let bytes = data(index, len);
        served
            .tool
            .append_record(STREAM, &bytes, TTL)
            .await
            .unwrap();
        written.push(Record {
            at: served.clock.now(),
            data: bytes,
        });
    }
    written
}

fn same(got: &[Record], want: &[Record]) {
    assert_eq!(got.len(), want.len());
    for (index, (got, want)) in got.iter().zip(want).enumerate() {
        assert_eq!(got.at, want.at, "record {index}");
        assert!(got.data == want.data, "record {index} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_window_over_a_frame_reads_back_whole_and_in_order() {
    let served = served().await;
    let written = fill(&served).await;
    let end = served.clock.now();
    let all = served.tool.records(STREAM, START, end).await.unwrap();
    same(&all, &written);
    // One second's four records, and a window inside the range.
    let second = served
        .tool
        .records(STREAM, START + 5, START + 5)
        .await
        .unwrap();
    same(&second, &written[20..24]);
    let middle = served
        .tool
        .records(STREAM, START + 2, START + 7)
        .await
        .unwrap();
    same(&middle, &written[8..32]);
}

/// A record too big for any frame is an error that says so, and the connection pool is
/// still good for the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_record_over_a_frame_is_an_error_that_says_so() {
    let served = served().await;
    served
        .tool
        .append_record(STREAM, b"small", TTL)
        .await
        .unwrap();
    served.clock.advance(1);
    // Written by the daemon itself: the request to append it would not fit a frame either.
    served
        .daemon
        .append_record(STREAM, &data(1, 13 << 20), TTL)
        .await
        .unwrap();
    let error = served
        .tool
        .records(STREAM, START, START + 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("over the socket's"), "{error}");
    let small = served.tool.records(STREAM, START, START).await.unwrap();
    assert_eq!(small.len(), 1);
    assert_eq!(small[0].data, b"small");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_and_an_import_over_a_frame_cross_whole() {
    let source = served().await;
    let written = fill(&source).await;
    let mut exported = Vec::new();
    source
        .tool
        .export(&mut |entry| {
            exported.push(entry);
            Ok(())
        })
        .await
        .unwrap();
    let records = exported
        .iter()
        .filter(|e| matches!(e, Entry::Record { .. }))
        .count();
    assert_eq!(records, written.len());

    // All of it in one import call: the client sends it in several requests.
    let target = served().await;
    target.tool.import(&exported).await.unwrap();
    let end = source.clock.now();
    let copied = target.tool.records(STREAM, START, end).await.unwrap();
    same(&copied, &written);
}
