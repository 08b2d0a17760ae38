#![allow(clippy::unwrap_used)] // a failed call fails the test

//! An acknowledged write survives the process being killed.
//!
//! The test (a `harness = false` binary) re-runs itself as a child ([`crash_writer`],
//! selected by [`PATH_VAR`]) that writes a burst of relabels, greylist sightings and stats adds to a
//! store file from several tasks at once, printing a line for each call that returned
//! `Ok`. The parent kills the child with SIGKILL after some number of those lines, reopens
//! the file, and checks that it opens and that everything acknowledged is in it.
//!
//! SIGKILL loses what the process held in memory but not what it handed the kernel, so
//! this holds the store to "committed before acknowledged" (a commit only kept in redb's
//! memory, as with `Durability::None`, fails it); it cannot test the fsync that protects
//! against power loss.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kanmon_store::{BackendKind, Class, Clock, Store, StoreSettings};

/// Set (to the store file) in the child's environment.
const PATH_VAR: &str = "KANMON_CRASH_STORE";

/// Concurrent writing tasks in the child, so batches hold several callers' writes.
const TASKS: u64 = 4;

/// The child's fixed clock: all stats go to one bucket, no greylist entry expires.
const NOW: u64 = 1_800_000_000;

const TTL: Duration = Duration::from_secs(86_400);

/// A token every relabel carries, so its count must equal the spam total.
const SHARED_TOKEN: u64 = 7;

fn settings(path: &Path) -> StoreSettings {
    StoreSettings {
        backend: BackendKind::Embedded,
        path: path.to_path_buf(),
        // Generous: a slow disk makes a call late, not lost, and the child would only stop
        // acknowledging.
        timeout: Duration::from_secs(10),
        ..StoreSettings::default()
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match std::env::var_os(PATH_VAR) {
        Some(path) => runtime.block_on(crash_writer(Path::new(&path))),
        None => {
            runtime.block_on(acknowledged_writes_survive_sigkill());
            println!("acknowledged_writes_survive_sigkill ... ok");
        }
    }
}

/// The child: writes until killed. Lines: `relabel <task> <i>`, `grey <task> <count>`,
/// `stat <task> <i>` (the i-th add of that task's counter, from 1).
async fn crash_writer(path: &Path) {
    let store = Store::open_with_clock(&settings(path), Clock::manual(NOW))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 1u64.. {
                    let digest = format!("m{task}-{i}");
                    store
                        .relabel(
                            digest.as_bytes(),
                            Some(Class::Spam),
                            &[SHARED_TOKEN, 1_000_000 + task * 1_000_000 + i],
                        )
                        .await
                        .unwrap();
                    println!("relabel {task} {i}");
                    let grey = format!("g{task}");
                    let seen = store.greylist_touch(grey.as_bytes(), TTL).await.unwrap();
                    println!("grey {task} {}", seen.count);
                    let name = format!("n{task}");
                    store.stats_add(&[(name.as_str(), 1)], TTL).await.unwrap();
                    println!("stat {task} {i}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// What the child acknowledged: per task, the last relabel, sighting count and stat add.
#[derive(Debug, Default)]
struct Acked {
    relabel: BTreeMap<u64, u64>,
    grey: BTreeMap<u64, u64>,
    stat: BTreeMap<u64, u64>,
}

impl Acked {
    fn record(&mut self, line: &str) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [kind, task, n] = fields[..] else { return };
        let (Ok(task), Ok(n)) = (task.parse::<u64>(), n.parse::<u64>()) else {
            return;
        };
        let map = match kind {
            "relabel" => &mut self.relabel,
            "grey" => &mut self.grey,
            "stat" => &mut self.stat,
            _ => return,
        };
        let last = map.entry(task).or_default();
        *last = (*last).max(n);
    }
}

/// Runs the child, kills it after `acks` acknowledged calls, and returns all it
/// acknowledged before it died (lines still in the pipe included).
fn run_and_kill(path: &Path, acks: usize) -> Acked {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(PATH_VAR, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Acked::default();
    let mut seen = 0;
    while seen < acks {
        let line = lines
            .next()
            .expect("the child stopped before it was killed")
            .unwrap();
        if !line.is_empty() {
            seen += 1;
        }
        acked.record(&line);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for line in lines {
        acked.record(&line.unwrap());
    }
    acked
}

async fn check(path: &Path, acked: &Acked) {
    let store = Store::open_with_clock(&settings(path), Clock::manual(NOW))
        .await
        .expect("the store opens after the kill");
    let read = store.token_counts(&[SHARED_TOKEN]).await.unwrap();
    let acked_relabels: u64 = acked.relabel.values().sum();
    // Each task has at most one call in flight when killed, which may or may not be in.
    assert!(
        (acked_relabels..=acked_relabels + TASKS).contains(&read.totals.spam),
        "{} relabels acknowledged, {} learned",
        acked_relabels,
        read.totals.spam
    );
    // A relabel is one transaction: the total, the counters and the label move together.
    assert_eq!(read.counts[0].spam, read.totals.spam);
    assert_eq!(store.summary().await.unwrap().digests, read.totals.spam);
    for (task, last) in &acked.relabel {
        for i in 1..=*last {
            let digest = format!("m{task}-{i}");
            assert_eq!(
                store.label(digest.as_bytes()).await.unwrap(),
                Some(Class::Spam),
                "acknowledged relabel {digest} lost"
            );
        }
    }
    for (task, count) in &acked.grey {
        let seen = store
            .greylist_get(format!("g{task}").as_bytes())
            .await
            .unwrap()
            .expect("an acknowledged sighting is there");
        assert!(
            (*count..=count + 1).contains(&seen.count),
            "task {task}: sighting {count} acknowledged, {} stored",
            seen.count
        );
    }
    let stats = store.stats_read(NOW, NOW).await.unwrap();
    for (task, adds) in &acked.stat {
        let name = format!("n{task}");
        let value = stats.iter().find(|s| s.name == name).map_or(0, |s| s.value);
        assert!(
            (*adds..=adds + 1).contains(&u64::try_from(value).unwrap()),
            "{name}: {adds} adds acknowledged, {value} stored"
        );
    }
}

async fn acknowledged_writes_survive_sigkill() {
    // Early (the file barely made), mid-burst, and later with more in the file; a fresh
    // file each time, so what was acknowledged is all that the file may hold.
    let dir = tempfile::tempdir().unwrap();
    for acks in [3, 60, 400, 150] {
        let path = dir.path().join(format!("after-{acks}.redb"));
        let acked = run_and_kill(&path, acks);
        assert!(!acked.relabel.is_empty(), "{acked:?}");
        check(&path, &acked).await;
    }
}
