//! `kanmon serve` and its store: the embedded file is opened at start, in a directory made
//! for the daemon's user when it is started as root.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use kanmon_milter::Reply;
use kanmon_store::{BackendKind, Store, StoreSettings};
use kanmon_testredis::RedisServer;

use super::{Daemon, dns, open_temp_dir, transaction};

/// The uid of `name` in /etc/passwd.
fn uid_of(name: &str) -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name)).then(|| fields[2].parse().expect("uid"))
        })
        .unwrap_or_else(|| panic!("no user {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_is_opened_as_the_daemons_user() {
    let dns = dns().await;
    let state = open_temp_dir();
    let path = state.path().join("var").join("kanmon.redb");
    let daemon = Daemon::start(
        dns.addr,
        &format!("[store]\npath = \"{}\"\n", path.display()),
    )
    .await;
    daemon.wait_log("store opened").await;
    let file = std::fs::metadata(&path).expect("the store's file exists");
    assert_eq!(file.mode() & 0o077, 0, "private to the daemon's user");
    let started_as_root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
    if started_as_root {
        let nobody = uid_of("nobody");
        assert_eq!(file.uid(), nobody, "the file belongs to server.user");
        let dir = std::fs::metadata(path.parent().expect("dir")).expect("dir");
        assert_eq!(
            dir.uid(),
            nobody,
            "the directory root made belongs to server.user"
        );
    }
}

const MESSAGE: &str = "From: alice@pass.test\nSubject: counted\n\nbody\n";

/// `[store]` for a Redis server, under `prefix`. A generous call timeout: the daemon's first
/// calls at start meet a machine busy with the other tests, and a dead server is refused at
/// once anyway (connection refused), not after the timeout.
fn redis_store(redis: &RedisServer, prefix: &str) -> String {
    format!(
        "[store]\nbackend = \"redis\"\nurl = \"{}\"\nprefix = \"{prefix}\"\ntimeout_ms = 2000\n",
        redis.url()
    )
}

/// The test's own handle on the same Redis keys the daemons use.
async fn reader(redis: &RedisServer, prefix: &str) -> Store {
    let settings = StoreSettings {
        backend: BackendKind::Redis,
        url: redis.url(),
        prefix: prefix.to_owned(),
        ..StoreSettings::default()
    };
    Store::open(&settings).await.expect("open the test's store")
}

/// The `messages` counter over the last two hours, once it reaches `want` (counting runs
/// after the reply, on its own task), or what it was after five seconds.
async fn messages_counted(store: &Store, want: i64) -> i64 {
    let mut total = 0;
    for _ in 0..100 {
        let now = store.clock().now();
        total = store
            .stats_read(now - 3600, now)
            .await
            .expect("read counters")
            .iter()
            .filter(|c| c.name == "messages")
            .map(|c| c.value)
            .sum();
        if total >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    total
}

/// Two MX hosts, one Redis: what each counts, both see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_count_into_one_redis() {
    let dns = dns().await;
    // TCP on loopback: the daemons run as `nobody`, who cannot reach a socket in our
    // private temporary directory.
    let redis = RedisServer::tcp();
    let host_a = Daemon::start(dns.addr, &redis_store(&redis, "mx")).await;
    let host_b = Daemon::start(dns.addr, &redis_store(&redis, "mx")).await;
    for (host, id) in [(&host_a, "A1"), (&host_b, "B1"), (&host_b, "B2")] {
        let outcome = host
            .milter_client()
            .await
            .transaction(&transaction(id, "alice@pass.test", MESSAGE))
            .await
            .expect("transaction");
        assert_eq!(outcome.step, "eom", "{outcome:?}");
    }
    let store = reader(&redis, "mx").await;
    assert_eq!(messages_counted(&store, 3).await, 3);
    let other = reader(&redis, "elsewhere").await;
    assert_eq!(
        messages_counted(&other, 0).await,
        0,
        "another prefix sees nothing"
    );
}

/// Redis dies: messages are still answered at once, only their counts are lost (and said
/// so in the log); Redis returns: counting resumes, with the same daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_costs_counts_not_mail() {
    let dns = dns().await;
    let mut redis = RedisServer::tcp();
    let daemon = Daemon::start(dns.addr, &redis_store(&redis, "mx")).await;
    redis.kill();
    for id in ["D1", "D2"] {
        let started = Instant::now();
        let outcome = daemon
            .milter_client()
            .await
            .transaction(&transaction(id, "alice@pass.test", MESSAGE))
            .await
            .expect("transaction");
        assert_eq!(outcome.step, "eom", "{outcome:?}");
        assert!(
            matches!(outcome.reply, Reply::Continue | Reply::Accept),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "not held up");
    }
    daemon.wait_log("message counts not recorded").await;

    redis.start();
    let store = reader(&redis, "mx").await;
    // A message a second until counts arrive: the first write after the restart may still
    // meet the old connection's error (and lose that batch), later ones reconnect.
    let mut counted = 0;
    for i in 0..10 {
        daemon
            .milter_client()
            .await
            .transaction(&transaction(&format!("U{i}"), "alice@pass.test", MESSAGE))
            .await
            .expect("transaction");
        tokio::time::sleep(Duration::from_secs(1)).await;
        counted = messages_counted(&store, 1).await;
        if counted > 0 {
            break;
        }
    }
    assert!(counted > 0, "counting never resumed:\n{}", daemon.log());
    daemon.wait_log("counting messages again").await;
}

const GREYLIST: &str = "[greylist]\nmode = \"enforce\"\ndelay_s = 1\n";

/// Greylisting with a dead store never delays mail: the recipient is accepted, the verdict
/// says GREYLIST_UNAVAILABLE, and the log warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_never_greylists() {
    let dns = dns().await;
    let mut redis = RedisServer::tcp();
    let daemon = Daemon::start(
        dns.addr,
        &format!("{}{GREYLIST}", redis_store(&redis, "gl")),
    )
    .await;
    redis.kill();
    let outcome = daemon
        .milter_client()
        .await
        .transaction(&transaction("N1", "alice@pass.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(
        (outcome.step, &outcome.reply),
        ("eom", &Reply::Continue),
        "{outcome:?}"
    );
    daemon.wait_log("queue_id=\"N1\"").await;
    let log = daemon.log();
    assert!(log.contains("greylist: store unavailable"), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("queue_id=\"N1\"") && l.contains("scanned"))
        .expect("the message's line");
    assert!(
        line.contains("GREYLIST_UNAVAILABLE(0)") && line.contains("action=accept"),
        "{line}"
    );
}

/// Two MX hosts sharing one Redis share greylisting: deferred by one, the retry after the
/// delay passes at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_redis_share_greylisting() {
    let dns = dns().await;
    let redis = RedisServer::tcp();
    let config = format!("{}{GREYLIST}", redis_store(&redis, "mx"));
    let first = Daemon::start(dns.addr, &config).await;
    let second = Daemon::start(dns.addr, &config).await;
    let outcome = first
        .milter_client()
        .await
        .transaction(&transaction("S1", "alice@pass.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "rcpt", "{outcome:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let outcome = second
        .milter_client()
        .await
        .transaction(&transaction("S2", "alice@pass.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(
        (outcome.step, &outcome.reply),
        ("eom", &Reply::Continue),
        "{outcome:?}"
    );
    second.wait_log("GREYLIST_PASSED").await;
}

/// `kanmon store …` run as a separate process while the daemon holds the embedded file.
fn store_command(daemon: &Daemon, args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .arg("store")
        .arg(args[0])
        .arg("--config")
        .arg(daemon.config_path())
        .args(&args[1..])
        .output()
        .expect("run kanmon store");
    assert!(
        output.status.success(),
        "kanmon store {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The embedded file admits one process: while `kanmon serve` holds it, `kanmon store`
/// reaches the same store through the daemon's socket beside the file, reads what the
/// daemon counted, and writes what the daemon then sees; the socket goes when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_reach_the_embedded_store_through_the_running_daemon() {
    let dns = dns().await;
    let state = open_temp_dir();
    let path = state.path().join("var").join("kanmon.redb");
    let daemon = Daemon::start(
        dns.addr,
        &format!("[store]\npath = \"{}\"\n", path.display()),
    )
    .await;
    daemon.wait_log("store served to kanmon's tools").await;
    let socket = path.with_extension("sock");
    let mode = std::fs::metadata(&socket)
        .expect("the socket exists")
        .mode();
    assert_eq!(mode & 0o777, 0o660, "{mode:o}");

    let outcome = daemon
        .milter_client()
        .await
        .transaction(&transaction("S1", "alice@pass.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));

    // The tool's value lands in the daemon's store, and the daemon's counts reach the tool
    // (flushed every 2 s).
    let backup =
        "{\"kind\":\"value\",\"key\":\"from-the-tool\",\"value\":\"dg==\",\"expires\":null}\n";
    let import_file = state.path().join("backup.jsonl");
    std::fs::write(&import_file, backup).expect("write backup");
    store_command(&daemon, &["import", import_file.to_str().expect("utf-8")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let exported = loop {
        let out = store_command(&daemon, &["export"]);
        let text = String::from_utf8(out.stdout).expect("utf-8");
        if text.contains("\"name\":\"messages\"") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(exported.contains("\"key\":\"from-the-tool\""), "{exported}");
    assert!(
        exported.contains("\"name\":\"messages\",\"value\":1"),
        "{exported}"
    );
    let stats = store_command(&daemon, &["stats"]);
    let stats = String::from_utf8(stats.stdout).expect("utf-8");
    assert!(stats.contains("through the daemon"), "{stats}");
    // The tool's value; the message's history entry and its index record.
    assert!(
        exported.contains("\"stream\":\"history_index\""),
        "{exported}"
    );
    assert!(stats.contains("values      1"), "{stats}");
    assert!(stats.contains("records     2"), "{stats}");

    daemon.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while socket.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !socket.exists(),
        "the daemon removes its socket when it stops"
    );
}

/// The message's log line once the daemon has logged it.
async fn scanned_line(daemon: &Daemon, queue_id: &str) -> String {
    let marker = format!("queue_id=\"{queue_id}\"");
    daemon.wait_log(&marker).await;
    daemon
        .log()
        .lines()
        .find(|l| l.contains(&marker) && l.contains("scanned"))
        .expect("the message's line")
        .to_owned()
}

/// Bayes reads the daemon's store: counts another client learned into Redis give the next
/// message a band; with Redis dead the scan goes on, with the 0-score BAYES_UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bayes_reads_the_daemons_redis_and_survives_its_death() {
    use kanmon_core::bayes::{TokenizerOptions, learn_tokens};
    use kanmon_store::Class;

    let dns = dns().await;
    let mut redis = RedisServer::tcp();
    let config = format!(
        "{}[bayes]\nmin_spam = 1\nmin_ham = 1\n",
        redis_store(&redis, "by")
    );
    let daemon = Daemon::start(dns.addr, &config).await;
    let send = |id: &'static str| {
        let daemon = &daemon;
        async move {
            daemon
                .milter_client()
                .await
                .transaction(&transaction(id, "alice@pass.test", MESSAGE))
                .await
                .expect("transaction")
        }
    };
    send("B1").await;
    let cold = scanned_line(&daemon, "B1").await;
    assert!(!cold.contains("BAYES_"), "nothing learned yet: {cold}");

    let store = reader(&redis, "by").await;
    let ham = "From: bob@ham.example\nSubject: minutes\n\nthe agenda for monday\n";
    for (raw, class) in [(MESSAGE, Class::Spam), (ham, Class::Ham)] {
        let learnable = learn_tokens(raw.as_bytes(), &TokenizerOptions::default());
        store
            .relabel(&learnable.digest, Some(class), &learnable.keys)
            .await
            .expect("learn");
    }
    send("B2").await;
    let learned = scanned_line(&daemon, "B2").await;
    assert!(
        [
            "BAYES_60(",
            "BAYES_80(",
            "BAYES_95(",
            "BAYES_99(",
            "BAYES_999("
        ]
        .iter()
        .any(|band| learned.contains(band)),
        "{learned}"
    );

    redis.kill();
    let outcome = send("B3").await;
    assert_eq!(outcome.step, "eom", "{outcome:?}");
    let dead = scanned_line(&daemon, "B3").await;
    assert!(
        dead.contains("BAYES_UNAVAILABLE(0)") && dead.contains("action=accept"),
        "{dead}"
    );
}

/// `kanmon store import` and `export` through the daemon's socket with far more than one
/// of its 16 MiB frames: 41 records over eleven seconds, four in a second, 40 of 600 KiB
/// and one of 6 MiB (about 39 MiB as base64), come back whole and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_move_more_than_a_frame_through_the_daemon() {
    let dns = dns().await;
    let state = open_temp_dir();
    let path = state.path().join("var").join("kanmon.redb");
    let daemon = Daemon::start(
        dns.addr,
        // Room for a debug build on a busy machine: each call moves about 4 MiB.
        &format!(
            "[store]\npath = \"{}\"\ntimeout_ms = 5000\n",
            path.display()
        ),
    )
    .await;
    daemon.wait_log("store served to kanmon's tools").await;

    let at = 1_700_000_000u64;
    let far = 4_000_000_000u64;
    let records: Vec<kanmon_store::Entry> = (0..41usize)
        .map(|index| {
            let len = if index == 21 { 6 << 20 } else { 600 << 10 };
            let mut data: Vec<u8> = (0..len).map(|i| (i * 7 + index) as u8).collect();
            data[..8].copy_from_slice(&(index as u64).to_be_bytes());
            kanmon_store::Entry::Record {
                stream: "bulk".to_owned(),
                at: at + (index / 4) as u64,
                data,
                expires: far,
            }
        })
        .collect();
    let mut backup = String::new();
    for entry in &records {
        backup.push_str(&entry.to_line());
        backup.push('\n');
    }
    assert!(backup.len() > 32 << 20, "{} bytes", backup.len());
    let import_file = state.path().join("backup.jsonl");
    std::fs::write(&import_file, &backup).expect("write backup");
    store_command(&daemon, &["import", import_file.to_str().expect("utf-8")]);

    let out = store_command(&daemon, &["export"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let exported: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("\"stream\":\"bulk\""))
        .collect();
    let want: Vec<&str> = backup.lines().collect();
    assert_eq!(exported.len(), want.len());
    assert!(exported == want, "the same records, in the stream's order");
}
