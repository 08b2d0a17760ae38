//! A small MTA-side client, for tests and benchmarks.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::MilterError;
use crate::command::Command;
use crate::event::Connect;
use crate::negotiate::{Negotiation, Protocol, Stage};
use crate::reply::{Incoming, Modification, Reply, Response};
use crate::wire::{CHUNK_SIZE, MAX_PACKET_LEN, Packet, read_packet, write_packet};

/// One SMTP transaction to replay against a milter.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    /// Macros to send before the command of each stage.
    pub macros: Vec<(Stage, Vec<(String, String)>)>,
    /// CONNECT, if sent.
    pub connect: Option<Connect>,
    /// HELO argument, if sent.
    pub helo: Option<String>,
    /// MAIL FROM arguments.
    pub mail: Vec<String>,
    /// One argument list per RCPT TO.
    pub rcpts: Vec<Vec<String>>,
    /// Header fields, as name and value.
    pub headers: Vec<(String, String)>,
    /// The body, sent in 65 535-byte chunks.
    pub body: Vec<u8>,
}

/// What the milter answered: the first reply that was not `Continue` (or the end-of-message
/// reply) with the modifications and progress packets seen.
///
/// A recipient the milter rejects or defers does not end the transaction, as in Postfix
/// (`smtpd` answers that RCPT and goes on with the next); only when no recipient is left does
/// the last such reply decide, with step `rcpt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOutcome {
    /// The deciding reply.
    pub reply: Reply,
    /// The reply to each RCPT sent, in order (empty when RCPT gets no reply).
    pub rcpts: Vec<Reply>,
    /// Which step it came from (`connect`, `helo`, `mail`, `rcpt`, ..., `eom`).
    pub step: &'static str,
    /// End-of-message modifications.
    pub modifications: Vec<Modification>,
    /// Number of `SMFIR_PROGRESS` packets.
    pub progress: usize,
}

/// The MTA side of a milter connection.
pub struct Client<S> {
    io: BufReader<S>,
    negotiated: Negotiation,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Sends `offer` and reads the milter's negotiation reply.
    pub async fn connect(stream: S, offer: Negotiation) -> Result<Self, MilterError> {
        let mut io = BufReader::new(stream);
        write_packet(&mut io, &offer.encode()).await?;
        io.flush().await?;
        let p = read_packet(&mut io, MAX_PACKET_LEN)
            .await?
            .ok_or(MilterError::Truncated)?;
        if p.code != crate::wire::C_OPTNEG {
            return Err(MilterError::UnknownCommand(p.code));
        }
        let negotiated = Negotiation::decode(&p.data)?;
        Ok(Client { io, negotiated })
    }

    /// What the milter asked for.
    pub fn negotiated(&self) -> &Negotiation {
        &self.negotiated
    }

    /// Sends a raw packet (for tests of malformed input).
    pub async fn send_raw(&mut self, code: u8, data: &[u8]) -> Result<(), MilterError> {
        write_packet(&mut self.io, &Packet::new(code, data.to_vec())).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Reads packets until a reply, collecting modifications; `Ok(None)` at end of stream.
    pub async fn read_response(&mut self) -> Result<Option<(Response, usize)>, MilterError> {
        let mut modifications = Vec::new();
        let mut progress = 0;
        loop {
            let Some(p) = read_packet(&mut self.io, MAX_PACKET_LEN).await? else {
                return Ok(None);
            };
            match Incoming::decode(&p)? {
                Incoming::Reply(reply) => {
                    return Ok(Some((
                        Response {
                            reply,
                            modifications,
                        },
                        progress,
                    )));
                }
                Incoming::Modification(m) => modifications.push(m),
                Incoming::Progress => progress += 1,
            }
        }
    }

    async fn command(
        &mut self,
        cmd: Command,
        no_reply: Option<Protocol>,
    ) -> Result<Option<(Response, usize)>, MilterError> {
        write_packet(&mut self.io, &cmd.encode()).await?;
        self.io.flush().await?;
        match no_reply {
            Some(flag) if self.negotiated.protocol.contains(flag) => Ok(None),
            None => Ok(None),
            Some(_) => self
                .read_response()
                .await?
                .map(Some)
                .ok_or(MilterError::Truncated),
        }
    }

    async fn macros(&mut self, tx: &Transaction, stage: Stage) -> Result<(), MilterError> {
        for (s, pairs) in &tx.macros {
            if *s == stage {
                self.command(Command::Macro(Some(stage), pairs.clone()), None)
                    .await?;
            }
        }
        Ok(())
    }

    /// Replays `tx` up to the first reply that is not `Continue`, or to end of message.
    /// Steps the milter asked to skip (`NO_*` flags) are not sent.
    pub async fn transaction(
        &mut self,
        tx: &Transaction,
    ) -> Result<TransactionOutcome, MilterError> {
        let p = self.negotiated.protocol;
        let mut steps: Vec<(&'static str, Stage, Command, Protocol, Protocol)> = Vec::new();
        if let Some(c) = &tx.connect {
            steps.push((
                "connect",
                Stage::Connect,
                Command::Connect(c.clone()),
                Protocol::NO_CONNECT,
                Protocol::NR_CONNECT,
            ));
        }
        if let Some(h) = &tx.helo {
            steps.push((
                "helo",
                Stage::Helo,
                Command::Helo(h.clone()),
                Protocol::NO_HELO,
                Protocol::NR_HELO,
            ));
        }
        steps.push((
            "mail",
            Stage::Mail,
            Command::Mail(tx.mail.clone()),
            Protocol::NO_MAIL,
            Protocol::NR_MAIL,
        ));
        for r in &tx.rcpts {
            steps.push((
                "rcpt",
                Stage::Rcpt,
                Command::Rcpt(r.clone()),
                Protocol::NO_RCPT,
                Protocol::NR_RCPT,
            ));
        }
        steps.push((
            "data",
            Stage::Data,
            Command::Data,
            Protocol::NO_DATA,
            Protocol::NR_DATA,
        ));
        for (n, v) in &tx.headers {
            steps.push((
                "header",
                Stage::EndOfHeaders,
                Command::Header(n.clone(), v.clone().into_bytes()),
                Protocol::NO_HEADERS,
                Protocol::NR_HEADER,
            ));
        }
        steps.push((
            "eoh",
            Stage::EndOfHeaders,
            Command::Eoh,
            Protocol::NO_EOH,
            Protocol::NR_EOH,
        ));
        let mut skip_body = p.contains(Protocol::NO_BODY);
        for chunk in tx.body.chunks(CHUNK_SIZE) {
            steps.push((
                "body",
                Stage::EndOfMessage,
                Command::Body(chunk.to_vec()),
                Protocol::NO_BODY,
                Protocol::NR_BODY,
            ));
        }
        let mut rcpts = Vec::new();
        let mut rcpt_refused = None;
        for (step, stage, cmd, skip, nr) in steps {
            if step == "data"
                && !rcpts.is_empty()
                && !rcpts.contains(&Reply::Continue)
                && let Some(reply) = rcpt_refused.take()
            {
                return Ok(TransactionOutcome {
                    reply,
                    rcpts,
                    step: "rcpt",
                    modifications: Vec::new(),
                    progress: 0,
                });
            }
            if p.contains(skip) || (step == "body" && skip_body) {
                continue;
            }
            if step != "header" && step != "body" {
                self.macros(tx, stage).await?;
            }
            if let Some((r, progress)) = self.command(cmd, Some(nr)).await? {
                if step == "rcpt" {
                    rcpts.push(r.reply.clone());
                }
                match r.reply {
                    Reply::Continue => {}
                    reply @ (Reply::Reject | Reply::Tempfail | Reply::Code(_))
                        if step == "rcpt" =>
                    {
                        rcpt_refused = Some(reply);
                    }
                    Reply::Skip if step == "body" => skip_body = true,
                    reply => {
                        return Ok(TransactionOutcome {
                            reply,
                            rcpts,
                            step,
                            modifications: r.modifications,
                            progress,
                        });
                    }
                }
            }
        }
        self.macros(tx, Stage::EndOfMessage).await?;
        write_packet(&mut self.io, &Command::Eom(Vec::new()).encode()).await?;
        self.io.flush().await?;
        let (r, progress) = self.read_response().await?.ok_or(MilterError::Truncated)?;
        Ok(TransactionOutcome {
            reply: r.reply,
            rcpts,
            step: "eom",
            modifications: r.modifications,
            progress,
        })
    }

    /// Aborts the current message (no reply expected).
    pub async fn abort(&mut self) -> Result<(), MilterError> {
        self.command(Command::Abort, None).await.map(drop)
    }

    /// Sends QUIT (or QUIT_NC when `reuse`).
    pub async fn quit(&mut self, reuse: bool) -> Result<(), MilterError> {
        let cmd = if reuse {
            Command::QuitNc
        } else {
            Command::Quit
        };
        self.command(cmd, None).await.map(drop)
    }
}
