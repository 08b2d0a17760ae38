//! Listening sockets and the accept loop every front-end shares.
//!
//! * [`bind`] opens an `inet:` or `unix:` socket before privileges are dropped, with a deep
//!   listen queue (the back-pressure: past `server.max_connections` connections wait there,
//!   they are not refused) and, for a unix socket, its mode and owner.
//! * [`accept_loop`] serves each connection on its own task while holding one of
//!   `max_connections` permits, and stops accepting on the stop signal; [`drain`] then waits
//!   for the permits to come back.
//! * [`Stream`] is one type for both socket kinds. On TCP it sets `TCP_NODELAY` and re-arms
//!   `TCP_QUICKACK` before the first read after each write: Postfix writes a macro packet and
//!   a command back to back, and with Nagle and delayed ACK each exchange stalls ~40 ms on
//!   loopback (measured here: OpenDKIM 105 msgs/s over `inet:` against 290 with these two
//!   options, `research/anchor-pipeline.md`). Replies are written in one write per batch by
//!   the protocol libraries.

use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kanmon_core::config::{Frontend, Listen};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};

use super::privileges::{RunAs, lookup_group};

/// Listen queue length: Postfix opens at most `default_process_limit` (100) connections per
/// front-end at once; a burst of new smtpd processes must not find the queue full.
const BACKLOG: i32 = 1024;

/// Pause after a failed accept (descriptors exhausted): long enough not to spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A bound socket, before the runtime starts.
pub(crate) enum Bound {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

/// A listener that could not be opened, with the key it comes from.
#[derive(Debug)]
pub(crate) struct BindError {
    pub(crate) key: &'static str,
    pub(crate) listen: String,
    pub(crate) what: String,
    pub(crate) source: Option<io::Error>,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot listen on {}: {}",
            self.key, self.listen, self.what
        )
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Opens the socket `frontend` describes; `key` names it in errors (`milter.listen`).
/// `owner`: the user a unix socket is given to (when started as root).
pub(crate) fn bind(
    key: &'static str,
    frontend: &Frontend,
    owner: Option<&RunAs>,
) -> Result<Option<Bound>, BindError> {
    let error = |what: &str, source: Option<io::Error>| BindError {
        key,
        listen: frontend.listen.to_string(),
        what: what.to_owned(),
        source,
    };
    match &frontend.listen {
        Listen::Off => Ok(None),
        Listen::Inet(addr) => {
            let socket = Socket::new(Domain::for_address(*addr), Type::STREAM, None)
                .map_err(|e| error("socket", Some(e)))?;
            socket
                .set_reuse_address(true)
                .map_err(|e| error("SO_REUSEADDR", Some(e)))?;
            socket
                .bind(&(*addr).into())
                .map_err(|e| error("bind", Some(e)))?;
            socket
                .listen(BACKLOG)
                .map_err(|e| error("listen", Some(e)))?;
            socket
                .set_nonblocking(true)
                .map_err(|e| error("non-blocking mode", Some(e)))?;
            Ok(Some(Bound::Tcp(socket.into())))
        }
        Listen::Unix(path) => {
            remove_stale_socket(path).map_err(|(what, e)| error(&what, e))?;
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
                .map_err(|e| error("socket", Some(e)))?;
            let address = SockAddr::unix(path).map_err(|e| error("socket path", Some(e)))?;
            socket.bind(&address).map_err(|e| error("bind", Some(e)))?;
            socket
                .listen(BACKLOG)
                .map_err(|e| error("listen", Some(e)))?;
            socket
                .set_nonblocking(true)
                .map_err(|e| error("non-blocking mode", Some(e)))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(frontend.socket_mode))
                .map_err(|e| error("chmod", Some(e)))?;
            let group = match &frontend.socket_group {
                Some(name) => Some(lookup_group(name).map_err(|e| error(&e.to_string(), None))?),
                None => owner.map(|o| o.gid),
            };
            let user = owner.map(|o| o.uid.as_raw());
            if user.is_some() || group.is_some() {
                std::os::unix::fs::chown(path, user, group.map(|g| g.as_raw()))
                    .map_err(|e| error("chown", Some(e)))?;
            }
            let listener: std::os::unix::net::UnixListener = socket.into();
            Ok(Some(Bound::Unix(listener, path.clone())))
        }
    }
}

/// A socket file left by a process that is gone is removed; one that still answers belongs
/// to a running process (another kanmon?) and is an error, as is a file that is no socket.
fn remove_stale_socket(path: &Path) -> Result<(), (String, Option<io::Error>)> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(("the path exists and is not a socket".to_owned(), None));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err((
            "another process is listening there (is kanmon already running?)".to_owned(),
            None,
        ));
    }
    std::fs::remove_file(path).map_err(|e| ("removing the stale socket".to_owned(), Some(e)))
}

/// An accepted connection of either kind.
pub(crate) enum Stream {
    Tcp {
        stream: TcpStream,
        /// Whether quick-ACK mode must be re-armed before the next read.
        rearm_quickack: bool,
    },
    Unix(UnixStream),
}

impl Stream {
    fn tcp(stream: TcpStream) -> Stream {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        Stream::Tcp {
            stream,
            rearm_quickack: true,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp {
                stream,
                rearm_quickack,
            } => {
                // Linux leaves quick-ACK mode when we send data soon after receiving (it
                // then takes the exchange for interactive and delays ACKs), so re-arm it
                // once after each write, before the next read: the ACK for what we read
                // next goes out at once. Best effort: an error only costs latency.
                if std::mem::take(rearm_quickack) {
                    let _ = SockRef::from(&*stream).set_tcp_quickack(true);
                }
                Pin::new(stream).poll_read(cx, buf)
            }
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp {
                stream,
                rearm_quickack,
            } => {
                let written = Pin::new(stream).poll_write(cx, buf);
                if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
                    *rearm_quickack = true;
                }
                written
            }
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp { stream, .. } => Pin::new(stream).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp { stream, .. } => Pin::new(stream).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A listener on the runtime.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Registers a bound socket with the runtime (call inside it).
    pub(crate) fn from_bound(bound: Bound) -> io::Result<Listener> {
        Ok(match bound {
            Bound::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)?),
            Bound::Unix(l, path) => Listener::Unix(UnixListener::from_std(l)?, path),
        })
    }

    /// The address for log lines and tests: `inet:127.0.0.1:8897` or `unix:/path`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(addr) => format!("inet:{addr}"),
                Err(_) => "inet:?".to_owned(),
            },
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }

    async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Stream::tcp(s)),
            Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
        }
    }
}

/// Completes once `stop` says so (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Accepts connections until `stop`, each served by `serve` on its own task holding one of
/// `permits`. When all permits are out, accepting pauses: new connections wait in the
/// listen queue until a session ends.
pub(crate) async fn accept_loop<F, Fut>(
    name: &'static str,
    listener: Listener,
    permits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(Stream, watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let permit = tokio::select! {
            biased;
            () = stopped(stop.clone()) => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = stopped(stop.clone()) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(front_end = name, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let session = serve(stream, stop.clone());
        tokio::spawn(async move {
            session.await;
            drop(permit);
        });
    }
    if let Listener::Unix(_, path) = &listener {
        // Best effort: a socket file left behind is removed at the next start anyway.
        let _ = std::fs::remove_file(path);
    }
}

/// Waits until every session holding one of `permits` (of `total`) has ended, or `deadline`.
/// Returns how many were still running at the end.
pub(crate) async fn drain(
    permits: &Semaphore,
    total: usize,
    deadline: tokio::time::Instant,
) -> usize {
    let all = u32::try_from(total).unwrap_or(u32::MAX);
    match tokio::time::timeout_at(deadline, permits.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => total - permits.available_permits(),
    }
}
