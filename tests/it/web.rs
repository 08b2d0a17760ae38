//! The web server (crates/web): the dashboard in a real headless Chromium, `/metrics`
//! through Prometheus's own text parsers, the scan API against `kanmon check --json`, and
//! who may use what (password, CSRF, token).
//!
//! Servers run in-process ([`Server`]: an engine, a memory store with a fixed clock, an
//! address of our choosing to claim) or as `kanmon serve` (`crate::serve::Daemon`); requests
//! go over real TCP ([`request`]). The browser and the parsers are Debian's (`chromium`,
//! `chromium-driver`, `python3-selenium`, `python3-prometheus-client`; scripts/test installs
//! them) driven by the Python scripts beside this file.

mod api;
mod auth;
mod browser;
mod dkim;
mod history;
mod limits;
mod metrics;
mod render;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kanmon_core::{Config, Engine};
use kanmon_store::{Clock, Store, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 2026-11-18T11:06:40Z: the clock of the in-process servers' stores.
pub(crate) const NOW: Timestamp = 1_795_000_000;

/// A web server on loopback, serving `engine` and `store`.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Store,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

impl Server {
    /// Starts a server for the configuration `toml` (its `[dns]` points nowhere unless it
    /// says otherwise); `claimed` is the address the server believes it is bound to (to test
    /// the rules of a public address while listening on loopback), `None` for the real one.
    pub(crate) async fn start(toml: &str, claimed: Option<SocketAddr>) -> Server {
        Server::start_with(toml, claimed, Store::memory_with_clock(Clock::manual(NOW))).await
    }

    /// As [`Server::start`], serving `store`.
    pub(crate) async fn start_with(
        toml: &str,
        claimed: Option<SocketAddr>,
        store: Store,
    ) -> Server {
        let toml = if toml.contains("[dns]") {
            toml.to_owned()
        } else {
            format!("{toml}\n[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout_ms = 200\n")
        };
        let config = Config::parse(&toml).expect("test config parses");
        let engine = Engine::from_config(config)
            .expect("resolver")
            .with_store(store.clone());
        Server::serve(Arc::new(engine), claimed, store).await
    }

    /// A server for `engine` (made over `store`).
    pub(crate) async fn serve(
        engine: Arc<Engine<kanmon_core::kanmon_auth::dns::HickoryResolver>>,
        claimed: Option<SocketAddr>,
        store: Store,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let web = kanmon_web::Web::new(
            Arc::new(move || Arc::clone(&engine)),
            store.clone(),
            claimed.unwrap_or(addr),
        )
        .expect("web server");
        let serving = tokio::spawn(async move {
            let _ = kanmon_web::serve(listener, web, std::future::pending()).await;
        });
        Server {
            addr,
            store,
            serving,
        }
    }
}

/// One HTTP reply.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `name=value` part of the Set-Cookie header.
    pub(crate) fn cookie(&self) -> Option<String> {
        self.header("set-cookie")
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
    }

    /// The value of the page's CSRF field.
    pub(crate) fn csrf(&self) -> Option<String> {
        let start = self.body.find("name=\"csrf\" value=\"")? + 19;
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

/// Sends one request (`Connection: close`) and reads the whole reply.
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read reply");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a reply head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Runs `python3 tests/it/web/SCRIPT ARGS...` (Debian's python, where the apt packages
/// are) on the blocking pool and returns its standard output; a failure fails the test
/// with the script's standard error.
pub(crate) async fn python(script: &str, args: Vec<String>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/web")
        .join(script);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/python3")
            .arg(path)
            .args(args)
            .output()
            .expect("run /usr/bin/python3")
    })
    .await
    .expect("python task");
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Where tests leave files to look at (screenshots): target/test-artifacts.
pub(crate) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    dir
}
