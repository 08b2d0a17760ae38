//! `kanmon serve` as a process: the milter and policy front-ends driven by the protocol
//! libraries' clients (as Postfix would), a real DNS server on loopback, signals.
//!
//! [`Daemon`] starts the binary with a configuration in a temporary directory, free loopback
//! ports for both front-ends and `[server] user = "nobody"` (tests may run as root), and waits
//! until both ports accept. Its log (standard error) is kept in a file for assertions and
//! for the failure message.

mod load;
mod milter;
mod policy;
mod robustness;
mod signals;
mod stats;
mod store;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kanmon_milter::{Address, Client, Connect, Negotiation, Stage, Transaction};
use kanmon_testdns::{DnsServer, parse_zone};
use tokio::net::TcpStream;

/// Zone lines the tests send mail from: `pass.test` permits 192.0.2.25, `fail.test` fails
/// everyone, `reject.test` publishes DMARC p=reject.
pub(crate) const ZONE: &str = r#"
pass.test              TXT "v=spf1 ip4:192.0.2.25 -all"
_dmarc.pass.test       TXT "v=DMARC1; p=none"
fail.test              TXT "v=spf1 -all"
reject.test            TXT "v=spf1 -all"
_dmarc.reject.test     TXT "v=DMARC1; p=reject"
mx.client.test         A   192.0.2.25
mx.client.test         TXT "v=spf1 a -all"
"#;

/// A DNS server serving [`ZONE`] on the test's runtime.
/// A temporary directory the daemon's user (`nobody` after the privilege drop) can enter
/// and read: mode 0755.
pub(crate) fn open_temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod temp dir");
    dir
}

pub(crate) async fn dns() -> DnsServer {
    let server = DnsServer::start().await;
    server.set_zone(parse_zone(ZONE).expect("zone parses"));
    server
}

/// A running `kanmon serve`.
pub(crate) struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) milter: SocketAddr,
    pub(crate) policy: SocketAddr,
    pub(crate) http: SocketAddr,
}

impl Daemon {
    /// Starts the daemon with DNS at `dns` and `extra` configuration (whole tables).
    pub(crate) async fn start(dns: SocketAddr, extra: &str) -> Daemon {
        // Readable by `nobody` after the privilege drop (reload reads the file again).
        let dir = open_temp_dir();
        let (milter, policy, http) = (free_port(), free_port(), free_port());
        let mut daemon = Daemon {
            child: Command::new("true").spawn().expect("placeholder"),
            dir,
            milter,
            policy,
            http,
        };
        daemon.write_config(dns, extra);
        let log = std::fs::File::create(daemon.log_path()).expect("log file");
        daemon.child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
            .arg("serve")
            .arg("--config")
            .arg(daemon.config_path())
            .env("KANMON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kanmon serve");
        daemon.wait_ready().await;
        daemon
    }

    /// Writes the configuration file (again, for a reload).
    pub(crate) fn write_config(&self, dns: SocketAddr, extra: &str) {
        let text = format!(
            "authserv_id = \"mx.kanmon.test\"\ninternal_hosts = [\"10.255.255.0/24\"]\n\n{extra}\n\
             [dns]\nnameservers = [\"{dns}\"]\ntimeout_ms = 500\n\
             [milter]\nlisten = \"inet:{}\"\n[policy]\nlisten = \"inet:{}\"\n\
             [server]\nuser = \"nobody\"\ndrain_timeout_ms = 5000\n",
            self.milter, self.policy
        );
        // The memory store, unless the test names one.
        let text = if extra.contains("[store]") {
            text
        } else {
            text + "[store]\nbackend = \"memory\"\n"
        };
        // The web server on a port of its own (tests run in parallel), unless the test
        // sets [http] itself.
        let text = if extra.contains("[http]") {
            text
        } else {
            text + &format!("[http]\nlisten = \"{}\"\n", self.http)
        };
        std::fs::write(self.config_path(), text).expect("write config");
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.path().join("kanmon.toml")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("kanmon.log")
    }

    /// What the daemon has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("kanmon serve exited with {status}:\n{}", self.log());
            }
            let milter = TcpStream::connect(self.milter).await.is_ok();
            let policy = TcpStream::connect(self.policy).await.is_ok();
            if milter && policy {
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

    /// Sends a signal (`HUP`, `TERM`, `KILL`) to the daemon.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the daemon to exit, up to `timeout`.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Waits until the log holds `text`, up to five seconds.
    pub(crate) async fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "log never said {text:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A milter connection, negotiated as Postfix 3.x offers.
    pub(crate) async fn milter_client(&self) -> Client<TcpStream> {
        let stream = TcpStream::connect(self.milter)
            .await
            .expect("connect milter");
        Client::connect(stream, Negotiation::mta_default())
            .await
            .expect("negotiate")
    }

    /// A policy connection.
    pub(crate) async fn policy_client(&self) -> kanmon_policy::Client<TcpStream> {
        let stream = TcpStream::connect(self.policy)
            .await
            .expect("connect policy");
        kanmon_policy::Client::new(stream)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- kanmon serve log ---\n{}", self.log());
        }
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// A transaction as Postfix sends it: client 192.0.2.25 (`mx.client.test`), the macros
/// kanmon asks for, MAIL FROM `from`, one recipient, and `message` split into header fields
/// and body (LF or CRLF line ends; header values keep their leading space, as negotiated).
pub(crate) fn transaction(queue_id: &str, from: &str, message: &str) -> Transaction {
    let message = message.replace("\r\n", "\n");
    let (head, body) = message.split_once("\n\n").unwrap_or((&message, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
            continue;
        }
        let (name, value) = line.split_once(':').expect("header line has a colon");
        headers.push((name.to_owned(), value.to_owned()));
    }
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    Transaction {
        macros: vec![
            (
                Stage::Connect,
                pairs(&[("j", "mx.kanmon.test"), ("{client_name}", "mx.client.test")]),
            ),
            (Stage::Mail, pairs(&[("i", queue_id)])),
            (Stage::EndOfMessage, pairs(&[("i", queue_id)])),
        ],
        connect: Some(Connect {
            hostname: "mx.client.test".to_owned(),
            address: Address::Inet {
                ip: "192.0.2.25".parse().expect("ip"),
                port: 40000,
            },
        }),
        helo: Some("mx.client.test".to_owned()),
        mail: vec![format!("<{from}>")],
        rcpts: vec![vec!["<bob@kanmon.test>".to_owned()]],
        headers,
        body: body.replace('\n', "\r\n").into_bytes(),
    }
}

/// The same transaction as the next message on a connection that already sent CONNECT and
/// HELO: Postfix sends those once per SMTP session.
pub(crate) fn next_message(queue_id: &str, from: &str, message: &str) -> Transaction {
    let mut tx = transaction(queue_id, from, message);
    tx.connect = None;
    tx.helo = None;
    tx.macros.retain(|(stage, _)| *stage != Stage::Connect);
    tx
}

impl Daemon {
    /// The daemon's process id (the binary itself, not a shell).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's peak resident set size so far (`VmHWM` of `/proc/<pid>/status`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in {path}:\n{status}"))
    }
}
