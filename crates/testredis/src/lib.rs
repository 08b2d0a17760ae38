//! A real `redis-server` for tests and benchmarks: started in a temporary directory with no
//! persistence, on a Unix socket or a free loopback port, and stopped when dropped.
//!
//! Implementation note: the server runs under a small `sh` that kills it (SIGKILL, by the
//! PID it started) as soon as its stdin closes, and stdin is a pipe this process holds. So
//! the server goes when the [`RedisServer`] is dropped, when [`RedisServer::kill`] is
//! called, and also when the test process exits without running destructors (a server kept
//! in a `static`, a panic that aborts): no stray servers outlive the tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer PING after it starts.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Starts `redis-server` with the arguments after `sh`, prints its PID, waits for stdin to
/// close, then kills it and reaps it.
const SUPERVISOR: &str =
    "redis-server \"$@\" >/dev/null 2>&1 & echo $!; read line; kill -9 $! 2>/dev/null; wait";

#[derive(Debug, Clone)]
pub enum Address {
    Unix(PathBuf),
    Tcp(u16),
}

pub struct RedisServer {
    dir: tempfile::TempDir,
    address: Address,
    extra: Vec<String>,
    running: Option<Running>,
}

struct Running {
    supervisor: Child,
    stdin: ChildStdin,
    pid: u32,
}

impl RedisServer {
    /// A server listening only on a Unix socket in its directory.
    pub fn unix() -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("redis.sock");
        RedisServer::start_in(dir, Address::Unix(socket), Vec::new())
    }

    /// A server listening on a free port of 127.0.0.1.
    pub fn tcp() -> RedisServer {
        RedisServer::tcp_with(&[])
    }

    /// A TCP server with extra `redis-server` arguments (e.g. for a cluster node).
    pub fn tcp_with(extra: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let extra = extra.iter().map(|s| (*s).to_owned()).collect();
        RedisServer::start_in(dir, Address::Tcp(free_port()), extra)
    }

    fn start_in(dir: tempfile::TempDir, address: Address, extra: Vec<String>) -> RedisServer {
        let mut server = RedisServer {
            dir,
            address,
            extra,
            running: None,
        };
        server.start();
        server
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// `store.url` for this server.
    pub fn url(&self) -> String {
        match &self.address {
            Address::Unix(path) => format!("redis+unix://{}", path.display()),
            Address::Tcp(port) => format!("redis://127.0.0.1:{port}"),
        }
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.pid)
    }

    /// Starts the server (again) on the same address, and waits until it answers PING.
    pub fn start(&mut self) {
        assert!(self.running.is_none(), "the server is already running");
        let dir = self.dir.path();
        let mut args: Vec<String> = vec![
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--logfile".into(),
            dir.join("redis.log").display().to_string(),
            "--daemonize".into(),
            "no".into(),
        ];
        match &self.address {
            Address::Unix(path) => args.extend([
                "--port".into(),
                "0".into(),
                "--unixsocket".into(),
                path.display().to_string(),
                "--unixsocketperm".into(),
                "700".into(),
            ]),
            Address::Tcp(port) => args.extend([
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
            ]),
        }
        args.extend(self.extra.iter().cloned());
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts redis-server");
        let stdin = supervisor.stdin.take().expect("a piped stdin");
        let mut line = String::new();
        BufReader::new(supervisor.stdout.take().expect("a piped stdout"))
            .read_line(&mut line)
            .expect("the supervisor prints the PID");
        let pid = line.trim().parse().expect("a PID");
        self.running = Some(Running {
            supervisor,
            stdin,
            pid,
        });
        let deadline = Instant::now() + READY_WITHIN;
        while !self.answers_ping() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                panic!("redis-server on {:?} did not start:\n{log}", self.address);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to clients) and waits until it
    /// is gone.
    pub fn kill(&mut self) {
        if let Some(mut running) = self.running.take() {
            // Closing stdin tells the supervisor to kill the server by its PID.
            let _ = running.stdin.write_all(b"\n");
            drop(running.stdin);
            let _ = running.supervisor.wait();
        }
    }

    /// Sends one command in RESP and returns the raw reply (for setting up tests).
    pub fn command(&self, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let mut reply = vec![0; 64 * 1024];
        let n = match &self.address {
            Address::Unix(path) => {
                let mut s = UnixStream::connect(path).expect("connect");
                s.set_read_timeout(Some(READY_WITHIN)).expect("timeout");
                s.write_all(request.as_bytes()).expect("write");
                s.read(&mut reply).expect("read")
            }
            Address::Tcp(port) => {
                let mut s = TcpStream::connect(("127.0.0.1", *port)).expect("connect");
                s.set_read_timeout(Some(READY_WITHIN)).expect("timeout");
                s.write_all(request.as_bytes()).expect("write");
                s.read(&mut reply).expect("read")
            }
        };
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    fn answers_ping(&self) -> bool {
        // Any answer will do: `+PONG`, or `-NOAUTH` from a server that wants a password.
        let ping = |stream: &mut dyn ReadWrite| -> bool {
            let mut reply = [0; 1];
            stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && matches!(reply[0], b'+' | b'-')
        };
        match &self.address {
            Address::Unix(path) => UnixStream::connect(path).is_ok_and(|mut s| ping(&mut s)),
            Address::Tcp(port) => {
                TcpStream::connect(("127.0.0.1", *port)).is_ok_and(|mut s| ping(&mut s))
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A port of 127.0.0.1 nobody listens on right now (the OS picks it; a race with another
/// process taking it before redis-server does is possible, and shows as a start failure).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Redis Cluster of `nodes` masters (no replicas) on free loopback ports, each node a
/// [`RedisServer`], formed with `redis-cli --cluster create`.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(nodes: usize) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..nodes)
            .map(|_| {
                RedisServer::tcp_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| match n.address() {
                Address::Tcp(port) => format!("127.0.0.1:{port}"),
                Address::Unix(_) => unreachable!("cluster nodes listen on TCP"),
            })
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + READY_WITHIN;
        while !nodes
            .iter()
            .all(|n| n.command(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster did not form");
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisCluster { nodes }
    }

    /// `store.url`: every node, comma-separated.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}
