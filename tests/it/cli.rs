//! The `kanmon` binary as an administrator runs it: `kanmon check` on messages against a real
//! DNS server on loopback, `kanmon config …`, bad input, and DNS that fails or never answers.
//!
//! Each test starts a [`kanmon_testdns::DnsServer`] on a tokio runtime it owns (ready once
//! `start().await` returns), writes a configuration whose `[dns] nameservers` points at it,
//! and runs the binary built by cargo (`CARGO_BIN_EXE_kanmon`). Messages are raw bytes, either
//! from `testdata/messages/` (with the zone lines in its `zone.txt`) or written in the test.

mod bad_input;
mod check;
mod config;
mod deliver;
mod dkim;
mod dkim_sign;
mod dns_failure;
mod filter;
mod import;
mod learn;
mod store;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kanmon_testdns::{DnsServer, SilentServer, parse_zone};

const MESSAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/messages");

/// A sample message from `testdata/messages/`.
fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(MESSAGES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The zone lines the sample messages need (`testdata/messages/zone.txt`).
fn sample_zone() -> String {
    String::from_utf8(sample("zone.txt")).expect("zone.txt is text")
}

/// A DNS server on loopback, running on its own runtime until dropped.
struct Dns {
    addr: SocketAddr,
    // The server (for a silent one, its sockets) and the runtime its tasks run on.
    _server: Box<dyn std::any::Any>,
    _runtime: tokio::runtime::Runtime,
}

impl Dns {
    /// A server answering from `zone` (kanmon-testdns zone lines).
    fn serving(zone: &str) -> Dns {
        let zone = parse_zone(zone).unwrap_or_else(|e| panic!("{e}"));
        let runtime = runtime();
        let server = runtime.block_on(DnsServer::start());
        server.set_zone(zone);
        Dns {
            addr: server.addr,
            _server: Box::new(server),
            _runtime: runtime,
        }
    }

    /// A server that receives every query and never answers.
    fn silent() -> Dns {
        let runtime = runtime();
        let server = runtime.block_on(SilentServer::start());
        Dns {
            addr: server.addr,
            _server: Box::new(server),
            _runtime: runtime,
        }
    }
}

/// A multi-thread runtime, so the server keeps answering while the test thread waits for
/// the binary.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The binary with a configuration file in a temporary directory of its own.
struct Kanmon {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Kanmon {
    /// Default configuration with a fixed authserv-id, `extra` (whole tables), and every
    /// lookup sent to `dns`.
    fn new(dns: &Dns, extra: &str) -> Kanmon {
        Kanmon::with_config(&format!(
            "authserv_id = \"mx.example.org\"\n\n{extra}\n[dns]\nnameservers = [\"{}\"]\n",
            dns.addr
        ))
    }

    /// Exactly this configuration file.
    fn with_config(text: &str) -> Kanmon {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("kanmon.toml");
        std::fs::write(&config, text).expect("write config");
        Kanmon { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `kanmon check --config FILE ARGS... message.eml`.
    fn check(&self, args: &[&str], message: &[u8]) -> Run {
        let file = self.path("message.eml");
        std::fs::write(&file, message).expect("write message");
        let mut all = self.check_args(args);
        all.push(file.to_str().expect("utf-8 temp path").to_owned());
        run(&all, None)
    }

    /// `kanmon check --config FILE ARGS...` with `stdin` on standard input.
    fn check_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run(&self.check_args(args), Some(stdin))
    }

    fn check_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![
            "check".to_owned(),
            "--config".to_owned(),
            self.config.to_str().expect("utf-8 temp path").to_owned(),
        ];
        all.extend(args.iter().map(|&a| a.to_owned()));
        all
    }
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    /// The exit status; `None` if a signal ended it (a panic aborting would show here).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// The output as JSON, after checking the run succeeded.
    fn json(&self) -> serde_json::Value {
        self.assert_code(0);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    fn assert_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{self:#?}");
    }
}

/// Runs the binary with `args`, feeding `stdin` (or nothing) to it.
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(args)
        .env_remove("KANMON_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kanmon");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        // A writer of its own, so a large input cannot deadlock against unread output;
        // a child that stops reading early closes the pipe, which is not this test's error.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let output = child.wait_with_output().expect("wait for kanmon");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        elapsed: started.elapsed(),
    }
}

/// The symbols of a `--json` report, by name.
fn symbol_names(json: &serde_json::Value) -> Vec<&str> {
    json["symbols"]
        .as_array()
        .expect("symbols is an array")
        .iter()
        .map(|s| s["name"].as_str().expect("symbol name is a string"))
        .collect()
}

/// The note Bayes leaves while nothing is learned: `kanmon check` scans with a store of its
/// own in memory.
const BAYES_COLD_START: &str = "bayes: 0 spam and 0 ham learned, needs 50 spam and 50 ham";

/// The `skipped` entries of a `--json` report as `what: why`.
fn skipped(json: &serde_json::Value) -> Vec<String> {
    json["skipped"]
        .as_array()
        .expect("skipped is an array")
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["what"].as_str().expect("what"),
                s["why"].as_str().expect("why")
            )
        })
        .collect()
}

/// What one run of `filter` or `deliver` did, its output as bytes (a message need not be
/// UTF-8).
#[derive(Debug)]
struct Piped {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `command` (the environment cleared of what Postfix's local(8) would set, so the
/// caller's shell cannot leak an envelope in) with `stdin` on standard input.
fn piped(mut command: Command, stdin: &[u8]) -> Piped {
    for name in [
        "KANMON_LOG",
        "SENDER",
        "RECIPIENT",
        "CLIENT_ADDRESS",
        "CLIENT_HELO",
        "CLIENT_HOSTNAME",
        "SASL_USERNAME",
    ] {
        command.env_remove(name);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kanmon");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for kanmon");
    Piped {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
