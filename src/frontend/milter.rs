//! The milter front-end: Postfix's milter events → [`Envelope`] and message → engine → replies
//! and header changes.
//!
//! When things happen (issue: "evaluate what it can as soon as it can"):
//! * MAIL FROM: the envelope is complete but for recipients, so [`Engine::scan_early`] starts
//!   on its own task (SPF for MAIL FROM and HELO) while Postfix goes on with RCPT;
//! * RCPT TO: the early verdict is awaited; what a check in `enforce` mode asks for (SPF fail →
//!   reject) is answered here, before DATA, as policyd-spf does — the cheapest place to refuse;
//!   then, when `[greylist]` is on, greylisting of this recipient ([`Engine::greylist`]): a
//!   deferred recipient gets 451 4.7.1 (and a log line of its own), the others' greylisting
//!   joins the message's verdict at the end;
//! * end of message: [`Engine::scan_message_after`] with the early SPF results, then the one
//!   table [`response_for`] turns the verdict into a reply and header changes.
//!
//! What is bounded: the message kept for scanning stops growing one byte past
//! `limits.max_message_bytes` (the engine then checks only the envelope and says so); the
//! milter library bounds packets and header totals. Failures (a panic, an overrun) apply
//! `on_error`: accept with an `X-Kanmon-Error` field, or 451 — never a reject, never a
//! connection closed without a reply.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kanmon_core::config::OnError;
use kanmon_core::headers::{fold_value, is_spam_field};
use kanmon_core::kanmon_auth::message::LineEnding;
use kanmon_core::{Action, Envelope, Greylisting, ReverseName, Verdict};
use kanmon_milter::{
    Actions, Address, Context, Event, Milter, Modification, Negotiation, Protocol, Reply,
    ReplyCode, Response, Stage,
};
use tokio::time::Instant;

use super::{ERROR_FIELD, EngineSlot, GuardedScan, ScanEngine, ScanFailed, guarded, reply_text};

/// What kanmon asks Postfix for in option negotiation: add and change headers; no reply to
/// the steps it never refuses at (connect, HELO, MAIL, headers, body, and RCPT TO unless
/// `refuse_at_rcpt`), so Postfix streams them without waiting; no DATA or unknown commands;
/// header values with their leading space, so the exact header bytes can be rebuilt for DKIM;
/// and only the macros it reads.
pub(crate) fn negotiation(refuse_at_rcpt: bool) -> Negotiation {
    let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    let rcpt = if refuse_at_rcpt {
        Protocol::default()
    } else {
        Protocol::NR_RCPT
    };
    Negotiation {
        version: kanmon_milter::PROTOCOL_VERSION,
        actions: Actions::ADD_HEADERS | Actions::CHANGE_HEADERS,
        protocol: rcpt
            | Protocol::NO_DATA
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
                names(&["j", "{daemon_name}", "{client_name}", "{client_ptr}"]),
            ),
            (Stage::Mail, names(&["i", "{auth_authen}"])),
            (Stage::EndOfMessage, names(&["i"])),
        ],
    }
}

/// One milter connection: the SMTP client's facts, and the message in progress.
pub(crate) struct MilterSession {
    engines: EngineSlot,
    client: Client,
    message: Option<Transaction>,
}

/// What the connection told us about the SMTP client.
#[derive(Default)]
struct Client {
    ip: Option<std::net::IpAddr>,
    name: ReverseName,
    ptr: ReverseName,
    helo: Option<String>,
}

/// One message, from MAIL FROM to end of message or abort.
struct Transaction {
    /// The engine at MAIL FROM, kept to the end so a reload never splits a message.
    engine: Arc<ScanEngine>,
    envelope: Envelope,
    early: Early,
    /// Header section then body, as the engine reads it (CRLF line ends).
    raw: Vec<u8>,
    /// Whether the message passed `limits.max_message_bytes` (the rest was not kept).
    over_limit: bool,
    seen: Seen,
    /// When MAIL FROM arrived, for the log line of a message refused at RCPT TO.
    started: Instant,
    /// Whether the message's log line was written (a refusal at RCPT TO writes it once).
    logged: bool,
    /// Greylisting of the recipients accepted so far, for the message's verdict.
    greylisting: Vec<Greylisting>,
}

/// What the header fields told the front-end, for the changes it makes at the end.
#[derive(Default)]
struct Seen {
    /// The first Subject field's value, for `rewrite_subject`.
    subject: Option<Vec<u8>>,
    /// Whether a Received field has arrived yet: fields above the first one were written
    /// by Postfix for this delivery (its smtpd's PREPEND results), not by the sender.
    received: bool,
    /// Whether our policy server already PREPENDed Received-SPF for this message.
    policy_received_spf: bool,
    /// The arriving `X-Spam*` fields, as (name, 1-based index among fields of that name):
    /// removed when we write ours, so a sender's `X-Spam-Flag: YES` or `X-Spam-Status: No`
    /// cannot steer the recipient's filters.
    spam_fields: Vec<(String, u32)>,
}

/// The early scan: running, done, or failed (the end-of-message scan then does it all).
enum Early {
    Running(GuardedScan<Verdict>),
    Done(Box<Verdict>),
    Failed,
}

impl MilterSession {
    pub(crate) fn new(engines: EngineSlot) -> Self {
        MilterSession {
            engines,
            client: Client::default(),
            message: None,
        }
    }

    fn begin(&mut self, ctx: &Context, args: &[String]) {
        self.abort();
        let engine = self.engines.current();
        let mail_from = args.first().map(|a| strip_brackets(a).to_owned());
        let envelope = Envelope {
            client_ip: self.client.ip,
            client_name: self.client.name.clone(),
            client_ptr: self.client.ptr.clone(),
            helo: self.client.helo.clone(),
            mail_from,
            rcpt_to: Vec::new(),
            sasl_user: ctx
                .macro_value("{auth_authen}")
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            queue_id: queue_id(ctx),
        };
        let max = engine.config().limits.max_message_bytes;
        // SIZE= from the client is a promise, not a fact: use it to size the buffer, capped.
        let size = size_claim(args)
            .unwrap_or(0)
            .min(max.saturating_add(1))
            .min(INITIAL_BUFFER_CAP);
        let scan = {
            let engine = Arc::clone(&engine);
            let envelope = envelope.clone();
            async move { engine.scan_early(&envelope).await }
        };
        let early = Early::Running(GuardedScan::spawn(&engine, scan));
        self.message = Some(Transaction {
            engine,
            envelope,
            early,
            raw: Vec::with_capacity(size.max(4096)),
            over_limit: false,
            seen: Seen::default(),
            started: Instant::now(),
            logged: false,
            greylisting: Vec::new(),
        });
    }

    fn abort(&mut self) {
        if let Some(Transaction {
            early: Early::Running(scan),
            ..
        }) = self.message.take()
        {
            scan.abort();
        }
    }
}

impl Drop for MilterSession {
    /// A connection that ends mid-message (the MTA gave up) stops its early scan too.
    fn drop(&mut self) {
        self.abort();
    }
}

/// The largest buffer reserved up front from a client's SIZE= claim; past it, it grows as
/// bytes arrive.
const INITIAL_BUFFER_CAP: usize = 1024 * 1024;

impl Milter for MilterSession {
    async fn handle(&mut self, ctx: &Context, event: Event) -> Response {
        match event {
            Event::Connect(connect) => {
                self.abort();
                self.client = Client::default();
                if let Address::Inet { ip, .. } = connect.address {
                    self.client.ip = Some(ip);
                }
                // Postfix sends "unknown" when the client has no verified name (or no PTR,
                // for `{client_ptr}`, Postfix ≥ 2.5); the connect event's hostname is the
                // name or, without one, "[address]" (sendmail's convention).
                let name = ctx
                    .macro_value("{client_name}")
                    .unwrap_or(&connect.hostname);
                self.client.name = ReverseName::from_postfix(Some(name));
                self.client.ptr = ReverseName::from_postfix(ctx.macro_value("{client_ptr}"));
            }
            Event::Helo(helo) => self.client.helo = Some(helo),
            Event::Mail(args) => self.begin(ctx, &args),
            Event::Rcpt(args) => {
                if let Some(message) = &mut self.message {
                    // Negotiated without a reply at RCPT TO: nothing before DATA is enforced,
                    // and the early scan goes on while the message arrives.
                    let replies = !ctx.protocol().contains(Protocol::NR_RCPT);
                    if replies && let Some(reply) = message.early_refusal().await {
                        return reply.into();
                    }
                    if let Some(rcpt) = args.first() {
                        let rcpt = strip_brackets(rcpt).to_owned();
                        if let Some(reply) = message.greylist(&rcpt, replies).await {
                            return reply.into();
                        }
                        message.envelope.rcpt_to.push(rcpt);
                    }
                }
            }
            Event::Header { name, value } => {
                if let Some(message) = &mut self.message {
                    message.header(ctx, &name, &value);
                }
            }
            Event::EndOfHeaders => {
                if let Some(message) = &mut self.message {
                    message.push(b"\r\n");
                }
            }
            Event::Body(chunk) => {
                if let Some(message) = &mut self.message {
                    message.push(&chunk);
                    if message.over_limit {
                        return Reply::Skip.into();
                    }
                }
            }
            Event::EndOfMessage => {
                let Some(mut message) = self.message.take() else {
                    // End of message without MAIL FROM (Postfix always sends MAIL): nothing
                    // to judge; let it through unchanged.
                    return Reply::Continue.into();
                };
                if message.envelope.queue_id.is_none() {
                    message.envelope.queue_id = queue_id(ctx);
                }
                return message.finish(ctx).await;
            }
            Event::Abort => self.abort(),
            Event::Quit => {
                self.abort();
                self.client = Client::default();
            }
            Event::Data | Event::Unknown(_) => {}
        }
        Reply::Continue.into()
    }
}

impl Transaction {
    /// Appends to the kept message, up to one byte past the limit (so the engine can tell
    /// the message was larger without the milter keeping more).
    fn push(&mut self, bytes: &[u8]) {
        let keep = self.engine.config().limits.max_message_bytes + 1;
        let room = keep.saturating_sub(self.raw.len());
        if bytes.len() >= room {
            self.over_limit = true;
        }
        self.raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn header(&mut self, ctx: &Context, name: &str, value: &[u8]) {
        let seen = &mut self.seen;
        if is_spam_field(name.as_bytes()) {
            let index = 1 + seen
                .spam_fields
                .iter()
                .filter(|(seen_name, _)| seen_name.eq_ignore_ascii_case(name))
                .count();
            seen.spam_fields
                .push((name.to_owned(), u32::try_from(index).unwrap_or(u32::MAX)));
        }
        if name.eq_ignore_ascii_case("Received") {
            seen.received = true;
        } else if name.eq_ignore_ascii_case("Subject") && seen.subject.is_none() {
            seen.subject = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case("Received-SPF")
            && !seen.received
            && claims_receiver(value, &self.engine.config().authserv_id)
        {
            seen.policy_received_spf = true;
        }
        self.push(name.as_bytes());
        self.push(if ctx.protocol().contains(Protocol::HEADER_LEADING_SPACE) {
            b":"
        } else {
            b": "
        });
        // Postfix folds with bare LF inside a value; the message on the wire had CRLF.
        let mut lines = value.split(|&b| b == b'\n').peekable();
        while let Some(line) = lines.next() {
            self.push(line);
            if lines.peek().is_some() {
                self.push(if line.ends_with(b"\r") {
                    b"\n"
                } else {
                    b"\r\n"
                });
            }
        }
        self.push(b"\r\n");
    }

    /// Waits for the early scan, if it is still running.
    async fn await_early(&mut self) {
        if let Early::Running(scan) = &mut self.early {
            self.early = match scan.finish().await {
                Ok(verdict) => Early::Done(Box::new(verdict)),
                Err(e) => {
                    failed(&self.envelope, "early scan", &e);
                    Early::Failed
                }
            };
        }
    }

    /// Greylisting of `rcpt`, when `[greylist]` is on: the 451 for a recipient it defers
    /// (when Postfix waits for a reply at RCPT TO, `replies`), else kept for the message's
    /// verdict. Without a reply to give (a reload turned greylisting to `enforce` after this
    /// connection negotiated), a deferral is kept too, and defers the message at its end.
    async fn greylist(&mut self, rcpt: &str, replies: bool) -> Option<Reply> {
        if !self.engine.greylists() {
            return None;
        }
        self.await_early().await;
        let early = match &self.early {
            Early::Done(verdict) => Some(&**verdict),
            _ => None,
        };
        let greylisting = self.engine.greylist(&self.envelope, rcpt, early).await;
        if replies && let Some(deferral) = greylisting.deferral() {
            if let Some(early) = early {
                let verdict = self.engine.greylisted(early, &greylisting);
                self.engine
                    .conclude(&self.envelope, &verdict, self.started.elapsed());
            }
            return refusal(Action::Greylist, &deferral.reason);
        }
        self.greylisting.push(greylisting);
        None
    }

    /// The early verdict (waiting for it if needed), and the refusal it enforces, if any.
    async fn early_refusal(&mut self) -> Option<Reply> {
        self.await_early().await;
        let Early::Done(verdict) = &self.early else {
            return None;
        };
        let enforced = verdict.enforced()?;
        if !self.logged {
            // The message ends here: its one log line is this verdict's.
            self.logged = true;
            self.engine
                .conclude(&self.envelope, verdict, self.started.elapsed());
        }
        refusal(enforced.action, &enforced.reason)
    }

    /// The end-of-message scan and its translation.
    async fn finish(mut self, ctx: &Context) -> Response {
        // A message whose early scan is still running (no RCPT was sent) is waited for here.
        let _ = self.early_refusal().await;
        let early = match std::mem::replace(&mut self.early, Early::Failed) {
            Early::Done(verdict) => Some(verdict.auth),
            _ => None,
        };
        let engine = Arc::clone(&self.engine);
        let envelope = self.envelope.clone();
        let raw = std::mem::take(&mut self.raw);
        let greylisting = std::mem::take(&mut self.greylisting);
        let scan = {
            let engine = Arc::clone(&engine);
            async move {
                engine
                    .scan_message_greylisted(&envelope, &raw, early.as_ref(), &greylisting)
                    .await
            }
        };
        match guarded(&engine, scan).await {
            Ok(verdict) => response_for(
                &verdict,
                &self.seen,
                &engine.config().headers.subject_prefix,
                leading_space(ctx),
            ),
            Err(e) => {
                failed(&self.envelope, "scan", &e);
                on_error(engine.config().on_error, &e, leading_space(ctx))
            }
        }
    }
}

/// The one table: verdict → milter reply and header changes.
///
/// | action                         | reply                      | headers                  |
/// |--------------------------------|----------------------------|--------------------------|
/// | reject                         | `550 5.7.1 <reason>`       | —                        |
/// | tempfail, greylist             | `451 4.7.1 <reason>`       | —                        |
/// | accept, add_header             | continue                   | ours on top, then DKIM-Signature (outbound); forged A-R and arriving X-Spam* deleted |
/// | rewrite_subject                | continue                   | as above; Subject prefixed |
fn response_for(verdict: &Verdict, seen: &Seen, subject_prefix: &str, lead: &str) -> Response {
    let reason = verdict.reason.as_deref().unwrap_or("");
    if let Some(reply) = refusal(verdict.action, reason) {
        return reply.into();
    }
    let mut modifications = Vec::new();
    // Highest index first, so deleting one does not renumber the next.
    for &index in verdict.forged_authentication_results.iter().rev() {
        modifications.push(Modification::ChangeHeader {
            index: index as u32 + 1,
            name: "Authentication-Results".to_owned(),
            value: String::new(),
        });
    }
    // Same for arriving X-Spam* fields, when ours replace them.
    if verdict
        .headers
        .iter()
        .any(|h| is_spam_field(h.name.as_bytes()))
    {
        for (name, index) in seen.spam_fields.iter().rev() {
            modifications.push(Modification::ChangeHeader {
                index: *index,
                name: name.clone(),
                value: String::new(),
            });
        }
    }
    // DKIM-Signature fields first, in reverse: they end up just above the message's own
    // fields, in order, byte for byte as signed (folded with LF, as Postfix stores lines).
    for signature in verdict
        .signing
        .iter()
        .flat_map(|s| s.signatures.iter().rev())
    {
        let value = signature.value_with("\n");
        let value = value.strip_prefix(' ').unwrap_or(&value);
        modifications.push(Modification::InsertHeader {
            index: 0,
            name: "DKIM-Signature".to_owned(),
            value: format!("{lead}{value}"),
        });
    }
    // Inserted at index 0 in reverse, so the first field of the verdict ends up on top.
    for header in verdict.headers.iter().rev() {
        if seen.policy_received_spf && header.name.eq_ignore_ascii_case("Received-SPF") {
            continue;
        }
        modifications.push(Modification::InsertHeader {
            index: 0,
            name: header.name.clone(),
            value: format!(
                "{lead}{}",
                fold_value(&header.name, &header.value, LineEnding::Lf)
            ),
        });
    }
    if verdict.action == Action::RewriteSubject
        && let Some(change) = subject_change(subject_prefix, seen.subject.as_deref(), lead)
    {
        modifications.push(change);
    }
    Response {
        reply: Reply::Continue,
        modifications,
    }
}

/// The SMTP refusal for an action that refuses, with the reason as its text.
fn refusal(action: Action, reason: &str) -> Option<Reply> {
    let (code, status) = match action {
        Action::Reject => (550, "5.7.1"),
        Action::Tempfail | Action::Greylist => (451, "4.7.1"),
        _ => return None,
    };
    let text = format!("{status} {}", reply_text(reason));
    Some(Reply::Code(ReplyCode::new(code, &text).unwrap_or_else(
        |_| ReplyCode::new(code, status).expect("invariant: a bare status is a valid reply"),
    )))
}

/// `on_error` for a message whose scan failed: accept with a field saying so, or 451.
fn on_error(on_error: OnError, failure: &ScanFailed, lead: &str) -> Response {
    match on_error {
        OnError::Tempfail => Reply::Code(
            ReplyCode::new(451, "4.3.0 message could not be checked, try again later")
                .expect("invariant: a fixed valid reply"),
        )
        .into(),
        OnError::Accept => Response {
            reply: Reply::Continue,
            modifications: vec![Modification::InsertHeader {
                index: 0,
                name: ERROR_FIELD.to_owned(),
                value: format!("{lead}not checked: {failure}"),
            }],
        },
    }
}

/// The new Subject under `rewrite_subject`: the prefix (RFC 2047-encoded if not ASCII) and
/// the original value, or the prefix alone when the message had no Subject. A raw 8-bit
/// Subject that is not UTF-8 (Shift_JIS, say) is left alone rather than garbled; the spam
/// headers still mark the message.
fn subject_change(prefix: &str, original: Option<&[u8]>, lead: &str) -> Option<Modification> {
    let prefix = if prefix.is_ascii() {
        prefix.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", BASE64.encode(prefix))
    };
    Some(match original {
        Some(original) => {
            let text = std::str::from_utf8(original).ok()?.trim_start();
            Modification::ChangeHeader {
                index: 1,
                name: "Subject".to_owned(),
                value: format!("{lead}{prefix} {text}"),
            }
        }
        None => Modification::AddHeader {
            name: "Subject".to_owned(),
            value: format!("{lead}{prefix}"),
        },
    })
}

/// What goes before a header value we send: a space when Postfix keeps leading spaces
/// (`HEADER_LEADING_SPACE` negotiated), else nothing (Postfix adds it).
fn leading_space(ctx: &Context) -> &'static str {
    if ctx.protocol().contains(Protocol::HEADER_LEADING_SPACE) {
        " "
    } else {
        ""
    }
}

fn failed(envelope: &Envelope, what: &str, failure: &ScanFailed) {
    tracing::error!(
        queue_id = envelope.queue_id.as_deref().unwrap_or("-"),
        error = %failure,
        "milter: {what} failed; applying on_error"
    );
}

/// `<user@example.org>` → `user@example.org`; `<>` → empty (a bounce's null sender).
fn strip_brackets(address: &str) -> &str {
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
}

/// The `SIZE=` ESMTP parameter of MAIL FROM (RFC 1870), if given.
fn size_claim(args: &[String]) -> Option<usize> {
    args.iter().skip(1).find_map(|arg| {
        let (key, value) = arg.split_once('=')?;
        key.eq_ignore_ascii_case("SIZE")
            .then(|| value.parse().ok())
            .flatten()
    })
}

fn queue_id(ctx: &Context) -> Option<String> {
    ctx.queue_id()
        .filter(|id| !id.is_empty() && *id != "NOQUEUE")
        .map(str::to_owned)
}

/// Whether a Received-SPF value names `authserv_id` as its receiver (`receiver=ID;` or at the
/// end), as ours do.
fn claims_receiver(value: &[u8], authserv_id: &str) -> bool {
    let value = String::from_utf8_lossy(value);
    value
        .split(|c: char| c == ';' || c.is_whitespace())
        .any(|token| {
            token
                .strip_prefix("receiver=")
                .is_some_and(|r| r.eq_ignore_ascii_case(authserv_id))
        })
}

#[cfg(test)]
mod tests {
    use kanmon_core::Header;
    use kanmon_core::auth::AuthResults;

    use super::*;

    fn verdict(action: Action, reason: Option<&str>) -> Verdict {
        Verdict {
            action,
            reason: reason.map(str::to_owned),
            score: 0.0,
            required: 6.0,
            hits: Vec::new(),
            enforcements: Vec::new(),
            auth: AuthResults::default(),
            headers: vec![
                Header {
                    name: "Authentication-Results".to_owned(),
                    value: "mx.example; spf=pass smtp.mailfrom=a@example.org".to_owned(),
                },
                Header {
                    name: "Received-SPF".to_owned(),
                    value: "pass (mx.example: ...) receiver=mx.example; identity=mailfrom"
                        .to_owned(),
                },
            ],
            forged_authentication_results: vec![0, 2],
            skipped: Vec::new(),
            internal: false,
            autolearn: Default::default(),
            signing: None,
        }
    }

    fn names(response: &Response) -> Vec<String> {
        response
            .modifications
            .iter()
            .map(|m| match m {
                Modification::InsertHeader { index, name, .. } => format!("insert {index} {name}"),
                Modification::ChangeHeader {
                    index, name, value, ..
                } => format!("change {index} {name} {value:?}"),
                Modification::AddHeader { name, value } => format!("add {name} {value:?}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn refusals_are_replies_with_the_reason() {
        for (action, code, text) in [
            (Action::Reject, 550, "5.7.1 SPF fail: no"),
            (Action::Tempfail, 451, "4.7.1 SPF fail: no"),
            (Action::Greylist, 451, "4.7.1 SPF fail: no"),
        ] {
            let response = response_for(
                &verdict(action, Some("SPF fail: no")),
                &Seen::default(),
                "",
                " ",
            );
            assert_eq!(
                response.reply,
                Reply::Code(ReplyCode::new(code, text).unwrap()),
                "{action}"
            );
            assert!(response.modifications.is_empty());
        }
        // A reason with a line break cannot end the reply early.
        let Reply::Code(code) = refusal(Action::Reject, "a\r\n250 ok").unwrap() else {
            panic!("a code");
        };
        assert_eq!(code.text(), "5.7.1 a  250 ok");
    }

    #[test]
    fn accepted_mail_gets_forged_fields_deleted_and_ours_on_top_in_order() {
        let response = response_for(
            &verdict(Action::AddHeader, Some("score")),
            &Seen::default(),
            "***SPAM***",
            " ",
        );
        assert_eq!(response.reply, Reply::Continue);
        assert_eq!(
            names(&response),
            [
                "change 3 Authentication-Results \"\"",
                "change 1 Authentication-Results \"\"",
                "insert 0 Received-SPF",
                "insert 0 Authentication-Results",
            ]
        );
        let Modification::InsertHeader { value, .. } = &response.modifications[3] else {
            panic!("insert");
        };
        assert_eq!(value, " mx.example; spf=pass smtp.mailfrom=a@example.org");
    }

    #[test]
    fn signatures_go_under_our_fields_byte_for_byte_with_lf_folds() {
        let signature = |selector: &str| kanmon_core::DkimSignature {
            domain: "example.com".to_owned(),
            selector: selector.to_owned(),
            algorithm: "rsa-sha256",
            field: format!("DKIM-Signature: v=1; s={selector};\r\n b=AAAA\r\n"),
        };
        let mut outbound = verdict(Action::Accept, None);
        outbound.forged_authentication_results.clear();
        outbound.signing = Some(kanmon_core::SigningOutcome {
            signatures: vec![signature("rsa"), signature("ed")],
            not_signed: Vec::new(),
        });
        for (lead, expected) in [(" ", " v=1; s=ed;\n b=AAAA"), ("", "v=1; s=ed;\n b=AAAA")] {
            let response = response_for(&outbound, &Seen::default(), "", lead);
            // Each insert goes on top: the last one ends up first.
            assert_eq!(
                names(&response),
                [
                    "insert 0 DKIM-Signature",
                    "insert 0 DKIM-Signature",
                    "insert 0 Received-SPF",
                    "insert 0 Authentication-Results",
                ]
            );
            let Modification::InsertHeader { value, .. } = &response.modifications[0] else {
                panic!("insert");
            };
            assert_eq!(value, expected, "lead {lead:?}");
        }
    }

    #[test]
    fn received_spf_from_our_policy_server_is_not_repeated() {
        let mut seen = Seen::default();
        assert!(claims_receiver(
            b" pass (mx.example: domain of a@example.org designates 192.0.2.1 as permitted sender) receiver=mx.example; client-ip=192.0.2.1",
            "mx.example"
        ));
        assert!(!claims_receiver(
            b" pass receiver=other.example;",
            "mx.example"
        ));
        seen.policy_received_spf = true;
        let response = response_for(&verdict(Action::Accept, None), &seen, "", " ");
        assert!(!names(&response).iter().any(|n| n.contains("Received-SPF")));
    }

    #[test]
    fn rewritten_subjects() {
        let seen = Seen {
            subject: Some(b" cheap pills".to_vec()),
            ..Seen::default()
        };
        let response = response_for(
            &verdict(Action::RewriteSubject, Some("score")),
            &seen,
            "***SPAM***",
            " ",
        );
        assert!(
            names(&response).contains(&"change 1 Subject \" ***SPAM*** cheap pills\"".to_owned()),
            "{:?}",
            names(&response)
        );
        assert_eq!(
            subject_change("【迷惑】", None, ""),
            Some(Modification::AddHeader {
                name: "Subject".to_owned(),
                value: "=?UTF-8?B?44CQ6L+35oOR44CR?=".to_owned()
            })
        );
        // Raw Shift_JIS is not UTF-8: left alone rather than garbled.
        assert_eq!(subject_change("[SPAM]", Some(b"\x83e\x83X\x83g"), ""), None);
    }

    #[test]
    fn on_error_accepts_with_a_field_or_defers() {
        let accepted = on_error(OnError::Accept, &ScanFailed::Panicked, " ");
        assert_eq!(accepted.reply, Reply::Continue);
        assert_eq!(
            accepted.modifications,
            [Modification::InsertHeader {
                index: 0,
                name: "X-Kanmon-Error".to_owned(),
                value: " not checked: internal error".to_owned()
            }]
        );
        let deferred = on_error(
            OnError::Tempfail,
            &ScanFailed::TimedOut(std::time::Duration::from_secs(12)),
            " ",
        );
        let Reply::Code(code) = deferred.reply else {
            panic!("a code");
        };
        assert_eq!(code.code(), 451);
        assert!(code.text().starts_with("4.3.0 "));
    }

    #[tokio::test]
    async fn header_fields_are_kept_with_crlf_line_ends() {
        let config =
            kanmon_core::Config::parse("[dns]\nnameservers = [\"127.0.0.1:9\"]\n").expect("config");
        let engine = ScanEngine::from_config(config).expect("engine");
        let mut session = MilterSession::new(EngineSlot::new(engine));
        let ctx = Context::default();
        session.begin(&ctx, &["<a@example.org>".to_owned()]);
        let message = session.message.as_mut().expect("a transaction");
        message.header(&ctx, "Subject", b"folded\n\tonce\r\n\ttwice");
        message.header(&ctx, "X-Empty", b"");
        assert_eq!(
            message.raw,
            b"Subject: folded\r\n\tonce\r\n\ttwice\r\nX-Empty: \r\n".to_vec()
        );
        assert_eq!(
            message.seen.subject.as_deref(),
            Some(&b"folded\n\tonce\r\n\ttwice"[..])
        );
        session.abort();
    }

    #[tokio::test]
    async fn arriving_spam_fields_are_deleted_when_ours_are_written() {
        let config =
            kanmon_core::Config::parse("[dns]\nnameservers = [\"127.0.0.1:9\"]\n").expect("config");
        let engine = ScanEngine::from_config(config).expect("engine");
        let mut session = MilterSession::new(EngineSlot::new(engine));
        let ctx = Context::default();
        session.begin(&ctx, &["<a@example.org>".to_owned()]);
        let message = session.message.as_mut().expect("a transaction");
        for (name, value) in [
            ("X-Spam-Flag", "YES"),
            ("Subject", "hello"),
            ("x-spam-status", "No, score=-5"),
            ("X-SPAM-FLAG", "YES"),
            ("X-Spamd-Result", "default: False"),
        ] {
            message.header(&ctx, name, value.as_bytes());
        }
        let mut ours = verdict(Action::Accept, None);
        ours.forged_authentication_results.clear();
        let without = response_for(&ours, &message.seen, "", " ");
        assert!(!names(&without).iter().any(|n| n.starts_with("change")));

        ours.headers.push(Header {
            name: "X-Spam-Status".to_owned(),
            value: "No, score=0.0".to_owned(),
        });
        let with = response_for(&ours, &message.seen, "", " ");
        let changes: Vec<String> = names(&with)
            .into_iter()
            .filter(|n| n.starts_with("change"))
            .collect();
        assert_eq!(
            changes,
            [
                "change 2 X-SPAM-FLAG \"\"",
                "change 1 x-spam-status \"\"",
                "change 1 X-Spam-Flag \"\"",
            ]
        );
        session.abort();
    }

    #[test]
    fn envelope_details() {
        assert_eq!(strip_brackets("<a@example.org>"), "a@example.org");
        assert_eq!(strip_brackets("<>"), "");
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            size_claim(&args(&["<a@b>", "BODY=8BITMIME", "size=20480"])),
            Some(20480)
        );
        assert_eq!(size_claim(&args(&["<a@b>", "SIZE=lots"])), None);
        assert_eq!(size_claim(&args(&["<a@b>"])), None);
    }
}
