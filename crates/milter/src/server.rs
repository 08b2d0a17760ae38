//! The milter server: one task per MTA connection, generic over the stream.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};

use crate::MilterError;
use crate::command::Command;
use crate::event::Event;
use crate::negotiate::{Negotiation, Protocol};
use crate::reply::{Reply, Response};
use crate::session::{Context, State};
use crate::wire::{MAX_PACKET_LEN, Packet, R_PROGRESS, read_packet};

/// The user's side of the protocol.
pub trait Milter: Send {
    /// Handles one event. Replies to events the MTA expects no reply for (negotiated `NR_*`,
    /// abort, quit) are ignored.
    fn handle(&mut self, ctx: &Context, event: Event) -> impl Future<Output = Response> + Send;
}

/// Per-message size caps. Input past a cap is not delivered to the handler; the context says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total header bytes delivered per message.
    pub max_header_bytes: usize,
    /// Body bytes delivered per message; past it the server answers `SMFIR_SKIP` when negotiated.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB of headers (ten times Postfix's default `header_size_limit` of 102 400 per
    /// field is far more than real mail) and 10 MiB of body (Postfix's default
    /// `message_size_limit` is 10 240 000).
    fn default() -> Self {
        Limits {
            max_header_bytes: 1024 * 1024,
            max_body_bytes: 10_240_000,
        }
    }
}

/// Server configuration shared by all connections.
#[derive(Debug, Clone)]
pub struct Config {
    /// What we ask for in option negotiation (narrowed to the MTA's offer).
    pub negotiation: Negotiation,
    /// Per-message caps.
    pub limits: Limits,
    /// While the end-of-message handler runs, send `SMFIR_PROGRESS` this often so the MTA's
    /// timeout (Postfix `milter_content_timeout`, 300 s) restarts. `None` disables it.
    pub progress_interval: Option<Duration>,
    /// How long the server waits for the MTA's next packet before it closes the connection;
    /// `None` waits forever. Postfix waits at most `milter_command_timeout` (30 s) for a reply
    /// and keeps a connection only for one SMTP session, whose client must speak within
    /// `smtpd_timeout` (300 s); a peer silent for longer is gone or is not Postfix, and
    /// would otherwise hold a connection slot for good.
    pub read_timeout: Option<Duration>,
}

/// A [`Config::read_timeout`] with a minute to spare over Postfix's `smtpd_timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(360);

/// Serves one MTA connection until QUIT or end of stream. Protocol errors end the connection
/// with an error (the MTA then applies its `milter_default_action`).
pub async fn serve_connection<S, M>(
    stream: S,
    milter: &mut M,
    config: &Config,
) -> Result<(), MilterError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    M: Milter,
{
    serve_connection_until(stream, milter, config, std::future::pending()).await
}

/// As [`serve_connection`], and also ends cleanly once `stop` has completed and the session is
/// between messages (before MAIL or after end of message): a daemon that drains never cuts a
/// message in half, and an idle connection does not hold it up. The MTA sees the connection
/// close and uses a new one (or its `milter_default_action`) for its next message.
pub async fn serve_connection_until<S, M, F>(
    stream: S,
    milter: &mut M,
    config: &Config,
    stop: F,
) -> Result<(), MilterError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    M: Milter,
    F: Future<Output = ()>,
{
    let mut io = BufReader::new(stream);
    let mut state = State::Negotiate;
    let mut ctx = Context::default();
    tokio::pin!(stop);
    let mut stopping = false;
    loop {
        let between_messages = state <= State::Helo;
        if between_messages && stopping {
            return Ok(());
        }
        let read = read_with_timeout(&mut io, config.read_timeout);
        let packet = if between_messages {
            tokio::select! {
                biased;
                () = &mut stop => {
                    stopping = true;
                    continue;
                }
                packet = read => packet?,
            }
        } else {
            read.await?
        };
        let Some(packet) = packet else { break };
        let code = packet.code;
        let cmd = Command::parse(packet)?;
        let next = state
            .transition(&cmd)
            .ok_or(MilterError::UnexpectedCommand {
                command: char::from(code),
                state: state.name(),
            })?;
        let quit = next == State::Closed;
        step(&mut io, milter, config, &mut ctx, cmd).await?;
        state = next;
        if quit {
            break;
        }
    }
    Ok(())
}

async fn read_with_timeout<S: AsyncRead + Unpin>(
    io: &mut S,
    timeout: Option<Duration>,
) -> Result<Option<Packet>, MilterError> {
    match timeout {
        None => read_packet(io, MAX_PACKET_LEN).await,
        Some(limit) => tokio::time::timeout(limit, read_packet(io, MAX_PACKET_LEN))
            .await
            .map_err(|_| MilterError::IdleTimeout(limit))?,
    }
}

async fn step<S, M>(
    io: &mut S,
    milter: &mut M,
    config: &Config,
    ctx: &mut Context,
    cmd: Command,
) -> Result<(), MilterError>
where
    S: AsyncWrite + Unpin + Send,
    M: Milter,
{
    let limits = config.limits;
    let (event, no_reply) = match cmd {
        Command::OptNeg(offer) => {
            let answer = config.negotiation.answer(&offer)?;
            ctx.actions = answer.actions;
            ctx.protocol = answer.protocol;
            return send(io, &[answer.encode()]).await;
        }
        Command::Macro(stage, pairs) => {
            ctx.set_macros(stage, pairs);
            return Ok(());
        }
        Command::Connect(c) => (Event::Connect(c), Protocol::NR_CONNECT),
        Command::Helo(h) => (Event::Helo(h), Protocol::NR_HELO),
        Command::Mail(a) => {
            ctx.begin_message();
            (Event::Mail(a), Protocol::NR_MAIL)
        }
        Command::Rcpt(a) => (Event::Rcpt(a), Protocol::NR_RCPT),
        Command::Data => (Event::Data, Protocol::NR_DATA),
        Command::Unknown(s) => (Event::Unknown(s), Protocol::NR_UNKNOWN),
        Command::Header(name, value) => {
            let size = name.len() + value.len() + 4;
            if ctx.headers_truncated || ctx.header_bytes + size > limits.max_header_bytes {
                ctx.headers_truncated = true;
                return reply_unless(io, ctx, Protocol::NR_HEADER, Reply::Continue).await;
            }
            ctx.header_bytes += size;
            (Event::Header { name, value }, Protocol::NR_HEADER)
        }
        Command::Eoh => (Event::EndOfHeaders, Protocol::NR_EOH),
        Command::Body(chunk) => {
            let Some(chunk) = cap_body(ctx, limits, chunk) else {
                return reply_unless(io, ctx, Protocol::NR_BODY, Reply::Skip).await;
            };
            (Event::Body(chunk), Protocol::NR_BODY)
        }
        Command::Eom(chunk) => {
            if !chunk.is_empty()
                && let Some(chunk) = cap_body(ctx, limits, chunk)
            {
                milter.handle(ctx, Event::Body(chunk)).await;
            }
            let response = end_of_message(io, milter, config, ctx).await?;
            ctx.reset_message();
            let mut packets = Vec::new();
            for m in &response.modifications {
                if !ctx.actions.contains(m.required()) {
                    tracing::warn!(modification = ?m, "modification not negotiated; dropped");
                    continue;
                }
                match m.encode() {
                    Ok(p) => packets.push(p),
                    Err(e) => tracing::warn!(error = %e, "invalid modification dropped"),
                }
            }
            packets.push(final_reply(ctx, response.reply).encode());
            return send(io, &packets).await;
        }
        Command::Abort => {
            milter.handle(ctx, Event::Abort).await;
            ctx.reset_message();
            return Ok(());
        }
        Command::Quit | Command::QuitNc => {
            milter.handle(ctx, Event::Quit).await;
            ctx.reset_connection();
            return Ok(());
        }
    };
    let response = milter.handle(ctx, event).await;
    if !response.modifications.is_empty() {
        tracing::warn!("modifications are only allowed at end of message; dropped");
    }
    reply_unless(io, ctx, no_reply, response.reply).await
}

/// The part of a body chunk that fits under [`Limits::max_body_bytes`], counted; `None` once
/// the cap is reached. Either way the context says when something was cut.
fn cap_body(ctx: &mut Context, limits: Limits, mut chunk: Vec<u8>) -> Option<Vec<u8>> {
    let room = limits.max_body_bytes.saturating_sub(ctx.body_bytes);
    if ctx.body_truncated || room == 0 {
        ctx.body_truncated = true;
        return None;
    }
    if chunk.len() > room {
        chunk.truncate(room);
        ctx.body_truncated = true;
    }
    ctx.body_bytes += chunk.len();
    Some(chunk)
}

/// Runs the end-of-message handler, sending progress packets while it is pending.
async fn end_of_message<S, M>(
    io: &mut S,
    milter: &mut M,
    config: &Config,
    ctx: &Context,
) -> Result<Response, MilterError>
where
    S: AsyncWrite + Unpin + Send,
    M: Milter,
{
    let handler = milter.handle(ctx, Event::EndOfMessage);
    let Some(every) = config.progress_interval else {
        return Ok(handler.await);
    };
    tokio::pin!(handler);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            r = &mut handler => return Ok(r),
            _ = ticks.tick() => send(io, &[Packet::new(R_PROGRESS, Vec::new())]).await?,
        }
    }
}

/// `Skip` only when negotiated, else continue.
fn final_reply(ctx: &Context, reply: Reply) -> Reply {
    match reply {
        Reply::Skip if !ctx.protocol.contains(Protocol::SKIP) => Reply::Continue,
        r => r,
    }
}

async fn reply_unless<S: AsyncWrite + Unpin>(
    io: &mut S,
    ctx: &Context,
    no_reply: Protocol,
    reply: Reply,
) -> Result<(), MilterError> {
    if ctx.protocol.contains(no_reply) {
        return Ok(());
    }
    send(io, &[final_reply(ctx, reply).encode()]).await
}

/// Sends a batch of packets in one write: the MTA reads an end-of-message batch (header
/// changes, then the reply) as it arrives, and one packet per write made it wake and read
/// once per packet (measured in the Postfix pipeline: eight writes per message before).
async fn send<S: AsyncWrite + Unpin>(io: &mut S, packets: &[Packet]) -> Result<(), MilterError> {
    let mut buf = Vec::with_capacity(packets.iter().map(|p| p.data.len() + 5).sum());
    for p in packets {
        p.encode_into(&mut buf)?;
    }
    io.write_all(&buf).await?;
    io.flush().await?;
    Ok(())
}

/// Accepts TCP connections forever, one task each, with `TCP_NODELAY` set: the MTA writes a
/// macro packet and a command back to back and waits for our reply, so Nagle plus delayed ACK
/// would add ~40 ms per exchange (measured: 105 vs 290 msgs/s, `research/anchor-pipeline.md`).
pub async fn serve_tcp<M, F>(
    listener: TcpListener,
    config: Arc<Config>,
    new_milter: F,
) -> std::io::Result<()>
where
    M: Milter + 'static,
    F: Fn() -> M,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let mut milter = new_milter();
        let config = config.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, &mut milter, &config).await {
                tracing::warn!(%peer, error = %e, "milter connection failed");
            }
        });
    }
}

/// Accepts unix-socket connections forever, one task each.
pub async fn serve_unix<M, F>(
    listener: UnixListener,
    config: Arc<Config>,
    new_milter: F,
) -> std::io::Result<()>
where
    M: Milter + 'static,
    F: Fn() -> M,
{
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        let mut milter = new_milter();
        let config = config.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, &mut milter, &config).await {
                tracing::warn!(error = %e, "milter connection failed");
            }
        });
    }
}

/// Accept errors (e.g. too many open files) are transient: log, back off briefly, go on.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
