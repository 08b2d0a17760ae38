//! The policy server: one task per connection, many requests per connection.
//!
//! Data flow per connection: read one request ([`crate::wire::read_request`], bounded by
//! [`Limits`]) → the caller's handler → write `action=...` → wait for the next request, until
//! Postfix closes the connection (it keeps it for `smtpd_policy_service_max_idle` = 300 s and
//! `_max_ttl` = 1000 s, postconf(5)).
//!
//! Error policy: on a protocol error or an idle timeout the server writes *nothing*, logs a
//! warning and closes, as SMTPD_POLICY_README asks ("In case of trouble the policy server must
//! not send a reply. Instead the server must log a warning and disconnect"). Postfix then retries
//! on a new connection (`smtpd_policy_service_try_limit` = 2, `_retry_delay` = 1 s) and finally
//! applies `smtpd_policy_service_default_action` (default `451 4.3.5 Server configuration
//! problem`), or the per-service `default_action=` of `check_policy_service { ... }` (Postfix 3.0
//! and later; postconf(5)). Other connections are not affected.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};

use crate::action::Action;
use crate::request::{Limits, Request};
use crate::wire::{ReadError, read_request, write_action};

/// Read buffer per connection. A request is a few hundred bytes to a few KiB; requests larger
/// than this are still read (up to [`Limits`]), just in more than one read.
pub const READ_BUFFER_LEN: usize = 8 * 1024;

/// How long a connection may sit between requests before the server closes it. Postfix closes
/// idle policy connections itself after `smtpd_policy_service_max_idle` (300 s); a minute more
/// only reaps clients that are not Postfix or have died.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(360);

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Limits on each request.
    pub limits: Limits,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Why a connection ended without the peer closing it between requests.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Bad request or i/o failure while reading.
    #[error("failed to read a policy request")]
    Read(#[from] ReadError),
    /// No request within the idle timeout.
    #[error("no policy request for {0:?}")]
    IdleTimeout(Duration),
    /// Writing the reply failed.
    #[error("failed to write a policy reply")]
    Write(#[source] std::io::Error),
}

/// Serves one connection until the peer closes it; returns how many requests were answered.
///
/// Works on anything that reads and writes bytes: a TCP or unix stream, or an in-memory duplex in
/// tests. On error nothing is written and the write side is shut down.
pub async fn serve_connection<S, H, F>(
    stream: S,
    config: &ServerConfig,
    handler: &H,
) -> Result<u64, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Fn(Request) -> F,
    F: Future<Output = Action>,
{
    serve_connection_until(stream, config, handler, std::future::pending()).await
}

/// As [`serve_connection`], and also ends cleanly once `stop` has completed while the
/// connection waits for its next request: a draining daemon finishes the request in hand and
/// does not wait for Postfix's idle connections (kept up to 300 s) to close.
pub async fn serve_connection_until<S, H, F, Stop>(
    stream: S,
    config: &ServerConfig,
    handler: &H,
    stop: Stop,
) -> Result<u64, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Fn(Request) -> F,
    F: Future<Output = Action>,
    Stop: Future<Output = ()>,
{
    let mut stream = BufReader::with_capacity(READ_BUFFER_LEN, stream);
    let mut answered = 0u64;
    tokio::pin!(stop);
    let result = loop {
        let read = tokio::time::timeout(
            config.idle_timeout,
            read_request(&mut stream, &config.limits),
        );
        let read = tokio::select! {
            biased;
            () = &mut stop => break Ok(answered),
            read = read => read,
        };
        let request = match read {
            Err(_) => break Err(ConnectionError::IdleTimeout(config.idle_timeout)),
            Ok(Err(e)) => break Err(e.into()),
            Ok(Ok(None)) => break Ok(answered),
            Ok(Ok(Some(request))) => request,
        };
        let action = handler(request).await;
        if let Err(e) = write_action(stream.get_mut(), &action).await {
            break Err(ConnectionError::Write(e));
        }
        answered += 1;
    };
    // Best effort: the peer may already be gone, and there is nothing left to tell it.
    let _ = stream.get_mut().shutdown().await;
    result
}

/// Accepts TCP connections forever, each served on its own task with TCP_NODELAY set: a reply is
/// one small write that would otherwise wait on Nagle's algorithm for Postfix's delayed ACK
/// (about 40 ms per request on loopback). Accept errors (too many open files) are logged and
/// retried after a pause; they never end the server.
pub async fn serve_tcp<H, F>(listener: TcpListener, config: ServerConfig, handler: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Action> + Send,
{
    let config = Arc::new(config);
    let handler = Arc::new(handler);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(%peer, error = %e, "policy: cannot set TCP_NODELAY");
        }
        spawn_session(stream, &config, &handler);
    }
}

/// Accepts unix-socket connections forever, each served on its own task; accept errors as in
/// [`serve_tcp`].
pub async fn serve_unix<H, F>(listener: UnixListener, config: ServerConfig, handler: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Action> + Send,
{
    let config = Arc::new(config);
    let handler = Arc::new(handler);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => spawn_session(stream, &config, &handler),
            Err(e) => accept_failed(e).await,
        }
    }
}

/// Serves one accepted connection on its own task, logging how it ended if not cleanly.
fn spawn_session<S, H, F>(stream: S, config: &Arc<ServerConfig>, handler: &Arc<H>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Action> + Send,
{
    let (config, handler) = (Arc::clone(config), Arc::clone(handler));
    tokio::spawn(async move {
        if let Err(e) = serve_connection(stream, &config, handler.as_ref()).await {
            tracing::warn!(error = %ErrorChain(&e), "policy: closing connection");
        }
    });
}

/// Accept errors (file descriptors exhausted, a connection reset while queued) are transient:
/// log, back off briefly so a full descriptor table is not spun on, go on.
async fn accept_failed(error: std::io::Error) {
    tracing::warn!(%error, "policy: accept failed");
    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
}

/// Pause after a failed accept.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Displays an error with its sources, `a: b: c`.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
