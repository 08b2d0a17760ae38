//! Signing throughput of two milters side by side, as Postfix would drive them: `kanmon serve`
//! (release binary, signing outbound mail: the client is in `internal_hosts`) and OpenDKIM
//! (`opendkim`, `Mode s`, the same key, relaxed/relaxed, the same signed fields), each a separate process on
//! loopback, fed the same ~20 KB message from example.com by `kanmon_milter::Client` (the
//! MTA side of the protocol). Every answer must insert one DKIM-Signature.
//!
//! Per daemon and key (RSA-2048, Ed25519), for a fixed time: `CONNECTIONS` connections
//! sending messages back to back. Reported: messages/s (client and daemon share the
//! machine's cores), the daemon's CPU time per message (utime + stime of all its threads from
//! `/proc/<pid>/stat`), and the signed messages per second one daemon core gives at that
//! cost, the number to compare. kanmon's cost includes its whole outbound scan (content
//! rules, the log line), OpenDKIM's its own bookkeeping; neither does DNS.
//!
//! Why not through Postfix: with smtpd, cleanup and the queue in the loop the milters' share
//! of the machine is small and noisy on two cores; the milter protocol is the interface both
//! daemons have, and CPU per message is what decides how many messages a core signs.
//!
//! Needs root (kanmon drops to `nobody`; OpenDKIM runs as root with `UserID root`) and
//! `/usr/sbin/opendkim` (scripts/test installs it). Run with `cargo bench --bench
//! dkim_sign_milter` (`KANMON_BENCH_SECS` seconds per row, default 4).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kanmon_milter::{
    Address, Client, Connect, Modification, Negotiation, Protocol, Reply, Stage, Transaction,
};
use kanmon_testdns::DnsServer;
use tokio::net::TcpStream;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dkim/keys");
const NOBODY: u32 = 65534;
/// Connections at once (the machine has two cores; more only queues).
const CONNECTIONS: usize = 4;

/// A ~20 KB plain-text newsletter from example.com (as benches/dkim_sign.rs).
fn message() -> (Vec<(String, String)>, Vec<u8>) {
    let headers = [
        ("From", "News <news@example.com>"),
        ("To", "Bob <bob@example.org>"),
        ("Subject", "This week at Example: twenty kilobytes of news"),
        ("Date", "Mon, 23 Nov 2026 10:00:00 +0000"),
        ("Message-ID", "<weekly-2026-47@example.com>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ];
    let lines = [
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n",
        "incididunt ut labore et dolore magna aliqua.  Ut enim ad minim veniam, quis\r\n",
        "nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. \r\n",
        "\r\n",
        "    Duis aute irure dolor in reprehenderit in voluptate velit esse cillum\t\r\n",
    ];
    let mut body = String::new();
    let mut i = 0;
    while body.len() < 20 * 1024 {
        body.push_str(lines[i % lines.len()]);
        i += 1;
    }
    let headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    (headers, body.into_bytes())
}

/// One message as an MTA sends it from 127.0.0.1; header values get their leading space
/// when the milter asked for it (kanmon does, OpenDKIM does not).
fn transaction(leading_space: bool) -> Transaction {
    let (headers, body) = message();
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    Transaction {
        macros: vec![
            (Stage::Connect, pairs(&[("j", "mx.example.com")])),
            (Stage::Mail, pairs(&[("i", "4dQmH12bXkz9sWt")])),
            (Stage::EndOfMessage, pairs(&[("i", "4dQmH12bXkz9sWt")])),
        ],
        connect: Some(Connect {
            hostname: "localhost".to_owned(),
            address: Address::Inet {
                ip: "127.0.0.1".parse().unwrap(),
                port: 40000,
            },
        }),
        helo: Some("localhost".to_owned()),
        mail: vec!["<news@example.com>".to_owned()],
        rcpts: vec![vec!["<bob@example.org>".to_owned()]],
        headers: headers
            .into_iter()
            .map(|(n, v)| (n, if leading_space { format!(" {v}") } else { v }))
            .collect(),
        body,
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
}

/// A signing milter process.
struct Daemon {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// `kanmon serve` signing `*@example.com` with the test key `key` (`rsa` or `ed`).
    fn kanmon(dns: SocketAddr, key: &str, file: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join(file);
        std::fs::copy(Path::new(KEYS).join(file), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(NOBODY), None).unwrap();
        let addr = free_addr();
        let config = dir.path().join("kanmon.toml");
        std::fs::write(
            &config,
            format!(
                "authserv_id = \"mx.example.com\"\ninternal_hosts = [\"127.0.0.0/8\"]\n\
                 [dns]\nnameservers = [\"{dns}\"]\n\
                 [milter]\nlisten = \"inet:{addr}\"\n[policy]\nlisten = \"\"\n\
                 [server]\nuser = \"nobody\"\n[store]\nbackend = \"memory\"\n\
                 [[dkim_keys]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"{key}\"\nfile = \"{}\"\n\
                 [[signing_table]]\nfrom = \"*@example.com\"\nkeys = [\"k\"]\n",
                path.display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("KANMON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            name: "kanmon",
            child,
            addr,
            _dir: dir,
        }
    }

    /// `opendkim` in signing mode with the same key file (PKCS#8 PEM, which it reads for RSA
    /// and Ed25519 alike).
    fn opendkim(key: &str, file: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join(file);
        std::fs::copy(Path::new(KEYS).join(file), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let addr = free_addr();
        let algorithm = if key == "ed" {
            "ed25519-sha256"
        } else {
            "rsa-sha256"
        };
        let config = dir.path().join("opendkim.conf");
        std::fs::write(
            &config,
            format!(
                "Mode s\nDomain example.com\nSelector {key}\nKeyFile {}\n\
                 Canonicalization relaxed/relaxed\nSignatureAlgorithm {algorithm}\n\
                 SignHeaders From,Reply-To,Subject,Date,To,Cc,Message-ID,MIME-Version,\
                 Content-Type,Content-Transfer-Encoding\nOversignHeaders From\nSocket inet:{}@127.0.0.1\nBackground no\nSyslog no\n\
                 UserID root\nInternalHosts 127.0.0.1\nRequireSafeKeys no\n",
                path.display(),
                addr.port()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/opendkim")
            .arg("-f")
            .arg("-x")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("/usr/sbin/opendkim (apt-get install opendkim)");
        Daemon {
            name: "opendkim",
            child,
            addr,
            _dir: dir,
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr).await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}", self.name);
            }
            assert!(Instant::now() < deadline, "{} did not listen", self.name);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// utime + stime of all the daemon's threads, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One connection signing messages back to back until told to stop.
async fn sender(addr: SocketAddr, count: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::connect(stream, Negotiation::mta_default())
        .await
        .unwrap();
    let leading = client
        .negotiated()
        .protocol
        .contains(Protocol::HEADER_LEADING_SPACE);
    let tx = transaction(leading);
    let mut next = tx.clone();
    next.connect = None;
    next.helo = None;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let outcome = client
            .transaction(if first { &tx } else { &next })
            .await
            .unwrap();
        first = false;
        assert!(
            matches!(outcome.reply, Reply::Continue | Reply::Accept),
            "{outcome:?}"
        );
        let signed = outcome.modifications.iter().any(
            |m| matches!(m, Modification::InsertHeader { name, .. } if name == "DKIM-Signature"),
        );
        assert!(signed, "no DKIM-Signature: {outcome:?}");
        count.fetch_add(1, Ordering::Relaxed);
    }
    client.quit(false).await.unwrap();
}

async fn row(daemon: &Daemon, key: &str, seconds: f64) {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (before, start) = (daemon.cpu_ticks(), Instant::now());
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(sender(daemon.addr, count.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let messages = count.load(Ordering::Relaxed);
    // sysconf(_SC_CLK_TCK) is 100 on Linux.
    let cpu = (daemon.cpu_ticks() - before) as f64 / 100.0;
    let per_message_us = cpu / messages.max(1) as f64 * 1e6;
    println!(
        "{:<9} {:<8} {:>8.0} msg/s  {:>7.1} µs CPU/msg  {:>8.0} signed msg/s per daemon core",
        daemon.name,
        key,
        messages as f64 / elapsed,
        per_message_us,
        1e6 / per_message_us
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: a moment per row.
    let seconds: f64 = if std::env::args().any(|a| a == "--bench") {
        std::env::var("KANMON_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4.0)
    } else {
        0.3
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dns = DnsServer::start().await;
        for (key, file) in [
            ("rsa2048", "rsa2048.TEST-ONLY.pkcs8.pem"),
            ("ed25519", "ed25519.TEST-ONLY.pkcs8.pem"),
        ] {
            let selector = if key == "ed25519" { "ed" } else { "rsa" };
            for mut daemon in [
                Daemon::kanmon(dns.addr, selector, file),
                Daemon::opendkim(selector, file),
            ] {
                daemon.wait_ready().await;
                row(&daemon, key, seconds).await;
            }
        }
    });
}
