//! A milter that looks at nothing and changes only what kanmon changes: it negotiates the same
//! steps as `kanmon serve`, answers every event at once and inserts two header fields at end
//! of message. `scripts/bench-pipeline` runs it to measure what a milter costs Postfix itself
//! (the floor under any milter's throughput ratio).
//!
//! ```text
//! cargo run --release -p kanmon-milter --example null_milter -- LISTEN [INSERTED [APPENDED]]
//! ```
//! LISTEN is `inet:HOST:PORT` or `unix:PATH`; INSERTED fields go on top (default 2) and
//! APPENDED ones at the end of the header (default 0), to measure what header edits cost the
//! MTA.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use kanmon_milter::{
    Actions, Config, Context, Event, Milter, Modification, Negotiation, Protocol, Reply, Response,
    Stage,
};

#[derive(Clone, Copy)]
struct Null {
    inserted: usize,
    appended: usize,
}

impl Milter for Null {
    async fn handle(&mut self, _ctx: &Context, event: Event) -> Response {
        match event {
            Event::EndOfMessage => {
                let field = |i: usize| (format!("X-Null-{i}"), " null".to_owned());
                let inserted =
                    (0..self.inserted)
                        .map(field)
                        .map(|(name, value)| Modification::InsertHeader {
                            index: 0,
                            name,
                            value,
                        });
                let appended = (self.inserted..self.inserted + self.appended)
                    .map(field)
                    .map(|(name, value)| Modification::AddHeader { name, value });
                Response {
                    reply: Reply::Continue,
                    modifications: inserted.chain(appended).collect(),
                }
            }
            _ => Reply::Continue.into(),
        }
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = args.first().cloned().unwrap_or_default();
    let count =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let null = Null {
        inserted: count(1, 2),
        appended: count(2, 0),
    };
    let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    let config = Arc::new(Config {
        negotiation: Negotiation {
            version: kanmon_milter::PROTOCOL_VERSION,
            actions: Actions::ADD_HEADERS | Actions::CHANGE_HEADERS,
            protocol: Protocol::NO_DATA
                | Protocol::NO_UNKNOWN
                | Protocol::NR_CONNECT
                | Protocol::NR_HELO
                | Protocol::NR_MAIL
                | Protocol::NR_HEADER
                | Protocol::NR_EOH
                | Protocol::NR_BODY
                | Protocol::SKIP
                | Protocol::HEADER_LEADING_SPACE,
            macros: vec![
                (
                    Stage::Connect,
                    names(&["j", "{daemon_name}", "{client_name}"]),
                ),
                (Stage::Mail, names(&["i", "{auth_authen}"])),
                (Stage::EndOfMessage, names(&["i"])),
            ],
        },
        limits: Default::default(),
        progress_interval: None,
        read_timeout: None,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if let Some(addr) = listen.strip_prefix("inet:") {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                let config = config.clone();
                let mut milter = null;
                tokio::spawn(async move {
                    let _ = kanmon_milter::serve_connection(
                        QuickAck {
                            stream,
                            rearm: true,
                        },
                        &mut milter,
                        &config,
                    )
                    .await;
                });
            }
        } else if let Some(path) = listen.strip_prefix("unix:") {
            let listener = tokio::net::UnixListener::bind(path)?;
            // Postfix's smtpd and cleanup run as another user.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            kanmon_milter::serve_unix(listener, config, move || null).await
        } else {
            eprintln!("usage: null_milter inet:HOST:PORT|unix:PATH [INSERTED [APPENDED]]");
            std::process::exit(2)
        }
    })
}

/// As kanmon's listener does (`src/daemon/listener.rs`): `TCP_QUICKACK` re-armed before the
/// first read after each write, or every exchange with Postfix stalls on delayed ACKs and the
/// floor measures latency.
struct QuickAck {
    stream: TcpStream,
    rearm: bool,
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if std::mem::take(&mut self.rearm) {
            let _ = SockRef::from(&self.stream).set_tcp_quickack(true);
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.rearm = true;
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
