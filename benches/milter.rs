//! Milter throughput of `kanmon serve` as Postfix sees it: the release binary as a separate
//! process, driven over loopback by `kanmon_milter::Client` (the MTA side), with the ~20 KB
//! DKIM-signed newsletter of `testdata/messages/` and its envelope (SPF, DKIM and DMARC pass;
//! the records from `testdata/messages/zone.txt` on a `kanmon_testdns::DnsServer`, the
//! daemon's cache warmed by a first message).
//!
//! For each listener kind (`inet:` with the server's TCP_NODELAY and TCP_QUICKACK, and
//! `unix:`) one daemon is started, and then, for a fixed time each:
//! - `1 conn`: one connection sending messages back to back (latency-bound);
//! - `64 conn`: 64 connections at once, each sending messages back to back;
//! - `64 conn, new per message`: 64 at once, each message on a new connection (negotiate,
//!   CONNECT, HELO, the message, QUIT), as Postfix does when every SMTP session is new.
//!
//! Messages on a kept connection are what Postfix sends for several messages in one SMTP
//! session: MAIL to end of message, CONNECT and HELO once. Every answer is checked (end of
//! message, continue, Authentication-Results with spf, dkim and dmarc pass); one that is not
//! stops the benchmark.
//!
//! Reported per row: messages/s (the client and the daemon share the machine's cores), the
//! daemon's CPU time per message (utime + stime of `/proc/<pid>/stat` before and after,
//! all its threads) and the kernel's share of it (stime), the messages/s one daemon core
//! would give at that cost, and the daemon's peak RSS so far (`VmHWM`). The daemon logs one
//! line per message at `info`, as in production, to a file.
//!
//! Run with `cargo bench --bench milter` (about 30 s; `KANMON_BENCH_SECS` sets the seconds
//! per row, default 4). Under `cargo test --benches` it runs each row for a moment, as a
//! smoke test.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kanmon_milter::{
    Address, Client, Connect, Modification, Negotiation, Reply, Stage, Transaction,
    TransactionOutcome,
};
use kanmon_testdns::{DnsServer, parse_zone};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/messages");

/// The newsletter's envelope (`testdata/messages/README.md`): SPF passes for MAIL FROM
/// (`ip4:192.0.2.32/27`) and HELO (`a`), DMARC aligns by SPF and DKIM.
const CLIENT_IP: &str = "192.0.2.40";
const CLIENT_NAME: &str = "mta1.news.example.com";
const MAIL_FROM: &str = "bounce+8f14e45f@bounces.news.example.com";
const RCPT_TO: &str = "bob@example.org";

/// Concurrent connections in the parallel rows.
const PARALLEL: usize = 64;

/// Where the daemon listens.
#[derive(Clone)]
enum Listen {
    Inet(SocketAddr),
    Unix(PathBuf),
}

impl Listen {
    fn config(&self) -> String {
        match self {
            Listen::Inet(addr) => format!("inet:{addr}"),
            Listen::Unix(path) => format!("unix:{}", path.display()),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Listen::Inet(_) => "inet",
            Listen::Unix(_) => "unix",
        }
    }
}

/// A running `kanmon serve`.
struct Daemon {
    child: Child,
    listen: Listen,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start(dns: SocketAddr, unix: bool) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        // `nobody` (the daemon's user when started as root) must reach the unix socket.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let listen = if unix {
            Listen::Unix(dir.path().join("milter.sock"))
        } else {
            Listen::Inet(
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .and_then(|l| l.local_addr())
                    .unwrap(),
            )
        };
        let config = dir.path().join("kanmon.toml");
        std::fs::write(
            &config,
            format!(
                "authserv_id = \"mx.example.org\"\n\
                 [dns]\nnameservers = [\"{dns}\"]\n\
                 [milter]\nlisten = \"{}\"\n[policy]\nlisten = \"\"\n\
                 [server]\nuser = \"nobody\"\n[store]\nbackend = \"memory\"\n",
                listen.config()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("kanmon.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("KANMON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Daemon { child, listen, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kanmon.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("kanmon serve exited with {status}:\n{}", self.log());
            }
            let up = match &self.listen {
                Listen::Inet(addr) => TcpStream::connect(addr).await.is_ok(),
                Listen::Unix(path) => UnixStream::connect(path).await.is_ok(),
            };
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kanmon serve did not listen:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// utime and stime of all the daemon's threads, in clock ticks.
    fn cpu_ticks(&self) -> (u64, u64) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        // utime and stime are fields 14 and 15 of proc(5); `rest` starts at field 3.
        (fields[11].parse().unwrap(), fields[12].parse().unwrap())
    }

    /// Peak resident set size so far, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stream to the daemon of either kind.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

async fn connect(listen: &Listen) -> Client<Box<dyn Stream>> {
    let stream: Box<dyn Stream> = match listen {
        Listen::Inet(addr) => Box::new(TcpStream::connect(addr).await.unwrap()),
        Listen::Unix(path) => Box::new(UnixStream::connect(path).await.unwrap()),
    };
    Client::connect(stream, Negotiation::mta_default())
        .await
        .unwrap()
}

/// The newsletter as Postfix hands it to a milter: header fields (values with their leading
/// space, folded lines joined by LF, as Postfix sends them) and the CRLF body; the first
/// message of a connection with CONNECT and HELO, the next ones without.
fn transaction(first: bool) -> Transaction {
    let raw = std::fs::read(Path::new(TESTDATA).join("newsletter-dkim.eml")).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let mut macros = vec![
        (Stage::Mail, pairs(&[("i", "4dQmH12bXkz9sWt")])),
        (Stage::EndOfMessage, pairs(&[("i", "4dQmH12bXkz9sWt")])),
    ];
    if first {
        macros.push((
            Stage::Connect,
            pairs(&[("j", "mx.example.org"), ("{client_name}", CLIENT_NAME)]),
        ));
    }
    Transaction {
        macros,
        connect: first.then(|| Connect {
            hostname: CLIENT_NAME.to_owned(),
            address: Address::Inet {
                ip: CLIENT_IP.parse().unwrap(),
                port: 40000,
            },
        }),
        helo: first.then(|| CLIENT_NAME.to_owned()),
        mail: vec![format!("<{MAIL_FROM}>")],
        rcpts: vec![vec![format!("<{RCPT_TO}>")]],
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// The answer every message must get: continue, with Authentication-Results saying spf,
/// dkim and dmarc pass.
fn check(outcome: &TransactionOutcome) {
    assert_eq!(
        (outcome.step, &outcome.reply),
        ("eom", &Reply::Continue),
        "{outcome:?}"
    );
    let results = outcome
        .modifications
        .iter()
        .find_map(|m| match m {
            Modification::InsertHeader { name, value, .. } if name == "Authentication-Results" => {
                Some(value)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Authentication-Results: {outcome:?}"));
    for part in [
        "spf=pass",
        "dkim=pass",
        "header.d=news.example.com",
        "dmarc=pass",
    ] {
        assert!(results.contains(part), "{part} missing: {results}");
    }
}

/// The messages in the shared state a row's connections fill.
struct Run {
    messages: AtomicU64,
    stop: AtomicBool,
}

/// One connection sending messages back to back until told to stop.
async fn kept_connection(listen: Listen, run: Arc<Run>) {
    let (first, next) = (transaction(true), transaction(false));
    let mut client = connect(&listen).await;
    check(&client.transaction(&first).await.unwrap());
    run.messages.fetch_add(1, Ordering::Relaxed);
    while !run.stop.load(Ordering::Relaxed) {
        check(&client.transaction(&next).await.unwrap());
        run.messages.fetch_add(1, Ordering::Relaxed);
    }
    client.quit(false).await.unwrap();
}

/// One connection per message: negotiate, CONNECT, HELO, the message, QUIT.
async fn new_connections(listen: Listen, run: Arc<Run>) {
    let first = transaction(true);
    while !run.stop.load(Ordering::Relaxed) {
        let mut client = connect(&listen).await;
        check(&client.transaction(&first).await.unwrap());
        client.quit(false).await.unwrap();
        run.messages.fetch_add(1, Ordering::Relaxed);
    }
}

struct Row {
    name: String,
    messages: u64,
    elapsed: Duration,
    user_ticks: u64,
    system_ticks: u64,
    peak_rss_kib: u64,
}

async fn row(
    daemon: &Daemon,
    connections: usize,
    new_per_message: bool,
    duration: Duration,
) -> Row {
    let run = Arc::new(Run {
        messages: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut tasks = tokio::task::JoinSet::new();
    let (cpu_before, start) = (daemon.cpu_ticks(), Instant::now());
    for _ in 0..connections {
        let (listen, run) = (daemon.listen.clone(), Arc::clone(&run));
        if new_per_message {
            tasks.spawn(new_connections(listen, run));
        } else {
            tasks.spawn(kept_connection(listen, run));
        }
    }
    tokio::time::sleep(duration).await;
    run.stop.store(true, Ordering::Relaxed);
    tasks.join_all().await;
    let elapsed = start.elapsed();
    let cpu_after = daemon.cpu_ticks();
    Row {
        name: format!(
            "{} {connections:>2} conn{}",
            daemon.listen.kind(),
            if new_per_message {
                ", new per message"
            } else {
                ""
            }
        ),
        messages: run.messages.load(Ordering::Relaxed),
        elapsed,
        user_ticks: cpu_after.0 - cpu_before.0,
        system_ticks: cpu_after.1 - cpu_before.1,
        peak_rss_kib: daemon.peak_rss_kib(),
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`CLK_TCK`, 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a short smoke run.
    let benching = std::env::args().any(|a| a == "--bench");
    let seconds: f64 = match std::env::var("KANMON_BENCH_SECS") {
        Ok(s) => s.parse().expect("KANMON_BENCH_SECS is a number of seconds"),
        Err(_) if benching => 4.0,
        Err(_) => 0.2,
    };
    let duration = Duration::from_secs_f64(seconds);
    let ticks = clock_ticks_per_second();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(async {
        let dns = DnsServer::start().await;
        let zone = std::fs::read_to_string(Path::new(TESTDATA).join("zone.txt")).unwrap();
        dns.set_zone(parse_zone(&zone).unwrap());
        // The DNS lists' "not listed" (NXDOMAIN) is cached as real zones' SOA allows.
        dns.set_negative_ttl(Some(300));
        let mut rows = Vec::new();
        for unix in [false, true] {
            let mut daemon = Daemon::start(dns.addr, unix);
            daemon.wait_ready().await;
            // Warm-up: the first message fills the DNS cache, then a moment at full load.
            let mut client = connect(&daemon.listen).await;
            check(&client.transaction(&transaction(true)).await.unwrap());
            row(
                &daemon,
                PARALLEL,
                false,
                duration.min(Duration::from_secs(1)),
            )
            .await;
            rows.push(row(&daemon, 1, false, duration).await);
            rows.push(row(&daemon, PARALLEL, false, duration).await);
            rows.push(row(&daemon, PARALLEL, true, duration).await);
            drop(client);
        }
        rows
    });

    println!(
        "\nkanmon serve milter, newsletter-dkim.eml ({} bytes), {} CPUs, {seconds} s per row",
        std::fs::metadata(Path::new(TESTDATA).join("newsletter-dkim.eml"))
            .unwrap()
            .len(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "{:<30} {:>9} {:>8} {:>11} {:>9} {:>11} {:>10}",
        "", "messages", "msgs/s", "daemon CPU", "of which", "msgs/s per", "daemon"
    );
    println!(
        "{:<30} {:>9} {:>8} {:>11} {:>9} {:>11} {:>10}",
        "", "", "", "ms/msg", "kernel", "daemon core", "peak RSS"
    );
    for r in &rows {
        let cpu = (r.user_ticks + r.system_ticks) as f64 / ticks;
        let cpu_ms = cpu * 1000.0 / r.messages as f64;
        println!(
            "{:<30} {:>9} {:>8.0} {:>11.3} {:>8.0}% {:>11.0} {:>6.1} MiB",
            r.name,
            r.messages,
            r.messages as f64 / r.elapsed.as_secs_f64(),
            cpu_ms,
            r.system_ticks as f64 / ticks / cpu * 100.0,
            1000.0 / cpu_ms,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
}
