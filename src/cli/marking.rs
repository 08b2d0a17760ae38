//! Writing a verdict into the message itself, for `filter` and `deliver`, which have no
//! MTA to apply header changes for them (the milter's table is in `frontend/milter.rs`).
//!
//! The message is split into an optional mbox `From ` line (procmail hands it over), the
//! header fields as written (each with its continuation lines and line ending), and the
//! rest: the blank line and the body, copied byte for byte. Our fields go on top, folded
//! with the line ending the message already uses (LF from procmail stays LF).
//!
//! Idempotence (issue 7 item 4): what an earlier kanmon wrote is removed before ours are
//! added, so running twice gives one block, not two:
//! * every `X-Spam` and `X-Spam-*` field, whoever wrote it — a sender's own
//!   `X-Spam-Flag: YES` must not file ham into `.Spam`, nor its `X-Spam-Status: No` hide
//!   spam from a user's rules (SpamAssassin removes its markup on input the same way);
//! * the symbols header (`[headers] symbols_header`) and `X-Kanmon-Error`;
//! * only when we write authentication results ourselves ([`Marking::with_auth`]): the
//!   `Authentication-Results` fields claiming our authserv-id (RFC 8601 §5) and the
//!   `Received-SPF` fields whose `receiver=` is our authserv-id. Without envelope data
//!   those written at SMTP time by the milter or policy server are better than anything
//!   `filter` could say, and stay.
//!
//! * a field exactly like one we are about to write (same name, same words): what a content
//!   rule prepends (`PREPEND` in header_checks) on an earlier run comes back once, not
//!   twice. Other fields a rule matched are not ours to judge and are left, as Postfix
//!   would leave them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kanmon_core::headers::{claims_authserv_id, fold_value, is_spam_field};
use kanmon_core::kanmon_auth::message::LineEnding;
use kanmon_core::{Action, Config, Verdict};

/// One header field as written: its name and every byte of it, line endings included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) raw: &'a [u8],
}

impl Field<'_> {
    /// The value after the colon, with its line breaks (folding) as written.
    pub(crate) fn value(&self) -> &[u8] {
        let colon = self.raw.iter().position(|&b| b == b':').unwrap_or(0);
        self.raw.get(colon + 1..).unwrap_or_default()
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A message taken apart at the header section.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    /// The mbox `From sender date` line, when the message starts with one.
    pub(crate) from_line: &'a [u8],
    pub(crate) fields: Vec<Field<'a>>,
    /// The blank line and the body (or, for a message without a blank line, whatever follows
    /// the last line that looks like a field), untouched.
    pub(crate) rest: &'a [u8],
    pub(crate) line_ending: LineEnding,
}

impl<'a> Parts<'a> {
    pub(crate) fn split(raw: &'a [u8]) -> Parts<'a> {
        let line_ending = match raw.iter().position(|&b| b == b'\n') {
            Some(at) if at > 0 && raw.get(at - 1) == Some(&b'\r') => LineEnding::Crlf,
            _ => LineEnding::Lf,
        };
        let mut lines = LineIter { raw, at: 0 };
        let mut from_line: &[u8] = &[];
        if raw.starts_with(b"From ") {
            from_line = lines.next().unwrap_or_default();
        }
        let mut fields: Vec<Field<'a>> = Vec::new();
        let mut start = lines.at;
        let mut rest_at = raw.len();
        while let Some(line) = lines.next() {
            let is_continuation = matches!(line.first(), Some(b' ' | b'\t'));
            if is_continuation && let Some(last) = fields.last_mut() {
                last.raw = raw.get(start..lines.at).unwrap_or_default();
                continue;
            }
            match field_name(line) {
                Some(name) => {
                    start = lines.at - line.len();
                    fields.push(Field { name, raw: line });
                }
                None => {
                    rest_at = lines.at - line.len();
                    break;
                }
            }
        }
        Parts {
            from_line,
            fields,
            rest: raw.get(rest_at..).unwrap_or_default(),
            line_ending,
        }
    }

    /// The message without the mbox `From ` line: what the engine scans.
    pub(crate) fn message<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        raw.get(self.from_line.len()..).unwrap_or_default()
    }
}

/// The lines of a buffer, each with its line ending.
struct LineIter<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Iterator for LineIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.raw.get(self.at..).filter(|r| !r.is_empty())?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |at| at + 1);
        self.at += len;
        rest.get(..len)
    }
}

/// The name of a field line (RFC 5322 §3.6.8: printable ASCII but the colon, then `:`;
/// whitespace before the colon is tolerated as RFC 822 allowed), or `None` for a line that
/// is no field, such as the blank line.
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?.trim_ascii_end();
    (!name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic())).then_some(name)
}

/// What to write into the message.
pub(crate) struct Marking<'a> {
    pub(crate) config: &'a Config,
    pub(crate) verdict: &'a Verdict,
    /// Whether the envelope was known (a client address): then our Authentication-Results
    /// and Received-SPF are written and earlier ones of ours replaced; otherwise neither.
    pub(crate) with_auth: bool,
}

impl Marking<'_> {
    /// The message with our fields on top, stale ones removed, the Subject marked under
    /// `rewrite_subject`, and everything else as it was.
    pub(crate) fn apply(&self, raw: &[u8]) -> Vec<u8> {
        let parts = Parts::split(raw);
        let eol = parts.line_ending.as_str();
        let mut out = Vec::with_capacity(raw.len() + 1024);
        out.extend_from_slice(parts.from_line);
        // What the delivery agent put on top (pipe's `flags=DRO`) stays on top: RFC 5321
        // §4.4 has the final delivery add Return-Path as the first field.
        let delivery = parts
            .fields
            .iter()
            .take_while(|f| DELIVERY_FIELDS.iter().any(|name| f.is(name)))
            .count();
        let (delivery_fields, fields) = parts.fields.split_at(delivery);
        for field in delivery_fields {
            out.extend_from_slice(field.raw);
        }
        for header in &self.verdict.headers {
            if !self.with_auth && is_auth_field(&header.name) {
                continue;
            }
            let value = fold_value(&header.name, &header.value, parts.line_ending);
            out.extend_from_slice(format!("{}: {value}{eol}", header.name).as_bytes());
        }
        // DKIM-Signature fields exactly as signed (the verdict made them in this line ending).
        for signature in self.verdict.signing.iter().flat_map(|s| &s.signatures) {
            out.extend_from_slice(b"DKIM-Signature:");
            out.extend_from_slice(signature.value_with(eol).as_bytes());
            out.extend_from_slice(eol.as_bytes());
        }
        let mut subject_done = self.verdict.action != Action::RewriteSubject;
        for field in fields {
            if self.is_stale(field) {
                continue;
            }
            if !subject_done && field.is("Subject") {
                subject_done = true;
                out.extend_from_slice(&self.marked_subject(field));
                continue;
            }
            out.extend_from_slice(field.raw);
        }
        if !subject_done {
            let prefix = encoded_prefix(&self.config.headers.subject_prefix);
            out.extend_from_slice(format!("Subject: {prefix}{eol}").as_bytes());
        }
        out.extend_from_slice(parts.rest);
        out
    }

    /// Whether a field is one an earlier kanmon wrote (module doc).
    fn is_stale(&self, field: &Field<'_>) -> bool {
        let symbols = &self.config.headers.symbols_header;
        if is_spam_field(field.name)
            || field.is(ERROR_FIELD)
            || (!symbols.is_empty() && field.is(symbols))
        {
            return true;
        }
        let written_again = self.verdict.headers.iter().any(|header| {
            field.is(&header.name) && same_words(field.value(), header.value.as_bytes())
        });
        if written_again {
            return true;
        }
        let id = &self.config.authserv_id;
        self.with_auth
            && ((field.is("Authentication-Results") && claims_authserv_id(field.value(), id))
                || (field.is("Received-SPF") && spf_receiver_is(field.value(), id)))
    }

    /// The Subject field with the prefix in front, unless it is there already (a message
    /// filtered twice keeps one prefix).
    fn marked_subject(&self, field: &Field<'_>) -> Vec<u8> {
        let prefix = encoded_prefix(&self.config.headers.subject_prefix);
        let value = field.value();
        let text = value.trim_ascii_start();
        if prefix.is_empty() || text.starts_with(prefix.as_bytes()) {
            return field.raw.to_vec();
        }
        let mut out = field
            .raw
            .get(..field.raw.len() - value.len())
            .unwrap_or_default()
            .to_vec();
        out.push(b' ');
        out.extend_from_slice(prefix.as_bytes());
        out.push(b' ');
        out.extend_from_slice(text);
        out
    }
}

/// Whether two field values say the same once folding and spacing are set aside.
fn same_words(a: &[u8], b: &[u8]) -> bool {
    let words = |v: &'_ [u8]| -> Vec<Vec<u8>> {
        v.split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    words(a) == words(b)
}

/// The fields a delivery agent prepends (Postfix pipe(8) `flags=D`, `O`, `R`).
const DELIVERY_FIELDS: &[&str] = &["Return-Path", "Delivered-To", "X-Original-To"];

/// The header field a message delivered unscanned carries (as the milter's `on_error =
/// "accept"` writes it).
pub(crate) const ERROR_FIELD: &str = "X-Kanmon-Error";

/// The unscanned message with one field saying why, for `on_error = "accept"`.
pub(crate) fn with_error_field(raw: &[u8], why: &str) -> Vec<u8> {
    let parts = Parts::split(raw);
    let eol = parts.line_ending.as_str();
    let value = fold_value(
        ERROR_FIELD,
        &format!("not checked: {why}"),
        parts.line_ending,
    );
    let mut out = Vec::with_capacity(raw.len() + 128);
    out.extend_from_slice(parts.from_line);
    out.extend_from_slice(format!("{ERROR_FIELD}: {value}{eol}").as_bytes());
    out.extend_from_slice(parts.message(raw));
    out
}

fn is_auth_field(name: &str) -> bool {
    name.eq_ignore_ascii_case("Authentication-Results") || name.eq_ignore_ascii_case("Received-SPF")
}

/// Whether a Received-SPF value names `authserv_id` as its `receiver=` (RFC 7208 §9.1
/// key-value list), ignoring case.
fn spf_receiver_is(value: &[u8], authserv_id: &str) -> bool {
    const KEY: &[u8] = b"receiver=";
    value
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))
        .and_then(|at| value.get(at + KEY.len()..))
        .is_some_and(|rest| {
            let end = rest
                .iter()
                .position(|&b| b == b';' || b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            rest.get(..end)
                .is_some_and(|r| r.eq_ignore_ascii_case(authserv_id.as_bytes()))
        })
}

/// The Subject prefix as it can stand in a header: RFC 2047-encoded when not ASCII.
fn encoded_prefix(prefix: &str) -> String {
    if prefix.is_ascii() {
        prefix.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", BASE64.encode(prefix))
    }
}

/// The verdict a trusted kanmon already wrote into the message, when there is one: is it
/// spam? `deliver` then files the message without scanning it again.
///
/// The rule: the first `X-Spam-Checker-Version` field reads `kanmon … on <our authserv-id>`
/// and sits right under an `Authentication-Results` field claiming our authserv-id (only
/// `Received-SPF` fields between them), as kanmon writes its block; the `X-Spam-Status` in
/// the run of `X-Spam-*` fields that follows gives the verdict (`Yes`/`No`). Trust rests on
/// RFC 8601 §5: the kanmon milter deletes arriving Authentication-Results fields that claim
/// our id, so one that survives was written by us; a sender's own `X-Spam-*` fields sit
/// below Postfix's `Received`, never right under our field. A message that reached Postfix
/// without passing the milter (`non_smtpd_milters` unset) could carry a forged block:
/// `deliver --rescan` ignores what the message says.
pub(crate) fn trusted_verdict(raw: &[u8], authserv_id: &str) -> Option<bool> {
    let parts = Parts::split(raw);
    let fields = &parts.fields;
    let checker_at = fields.iter().position(|f| f.is("X-Spam-Checker-Version"))?;
    let checker = String::from_utf8_lossy(fields.get(checker_at)?.value()).into_owned();
    let mut words = checker.split_ascii_whitespace();
    let by_us = words.next() == Some("kanmon")
        && words.next().is_some()
        && words.next() == Some("on")
        && words
            .next()
            .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id));
    let above = fields
        .get(..checker_at)?
        .iter()
        .rev()
        .find(|f| !f.is("Received-SPF"))?;
    let ours = above.is("Authentication-Results") && claims_authserv_id(above.value(), authserv_id);
    if !by_us || !ours {
        return None;
    }
    let status = fields
        .get(checker_at..)?
        .iter()
        .take_while(|f| is_spam_field(f.name))
        .find(|f| f.is("X-Spam-Status"))?;
    let status = status.value().trim_ascii_start();
    let starts = |word: &[u8]| {
        status
            .get(..word.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(word))
    };
    if starts(b"yes") {
        Some(true)
    } else if starts(b"no") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_with_their_continuations_and_keeps_the_rest() {
        let raw = b"From alice@example.org Mon Dec  7 03:59:17 2026\n\
Subject: hello\n\
\tworld\n\
X-Spam-Flag: YES\n\
\n\
body\n";
        let parts = Parts::split(raw);
        assert_eq!(parts.line_ending, LineEnding::Lf);
        assert_eq!(
            parts.from_line,
            b"From alice@example.org Mon Dec  7 03:59:17 2026\n"
        );
        let raws: Vec<&[u8]> = parts.fields.iter().map(|f| f.raw).collect();
        assert_eq!(
            raws,
            [&b"Subject: hello\n\tworld\n"[..], b"X-Spam-Flag: YES\n"]
        );
        assert_eq!(parts.fields[0].value(), b" hello\n\tworld\n");
        assert_eq!(parts.rest, b"\nbody\n");
    }

    #[test]
    fn crlf_is_seen_and_a_message_without_a_body_has_no_rest() {
        let parts = Parts::split(b"Subject: x\r\nTo: y\r\n");
        assert_eq!(parts.line_ending, LineEnding::Crlf);
        assert_eq!(parts.fields.len(), 2);
        assert!(parts.rest.is_empty());
    }

    #[test]
    fn spam_field_names() {
        for name in ["X-Spam", "x-spam-flag", "X-Spam-Status", "X-SPAM-LEVEL"] {
            assert!(is_spam_field(name.as_bytes()), "{name}");
        }
        for name in ["X-Spamd-Result", "X-Spammy", "Subject", "X-Spa"] {
            assert!(!is_spam_field(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn received_spf_receiver() {
        let value = b" pass (mx.example.net: domain of a@b designates 192.0.2.1 as permitted sender)\n\treceiver=MX.example.net; client-ip=192.0.2.1;";
        assert!(spf_receiver_is(value, "mx.example.net"));
        assert!(!spf_receiver_is(value, "mx.example"));
        assert!(!spf_receiver_is(b" pass", "mx.example.net"));
    }

    fn verdict(action: Action, headers: &[(&str, &str)]) -> Verdict {
        Verdict {
            action,
            reason: None,
            score: 0.0,
            required: 6.0,
            hits: Vec::new(),
            enforcements: Vec::new(),
            auth: Default::default(),
            headers: headers
                .iter()
                .map(|(name, value)| kanmon_core::Header::new(name, (*value).to_owned()))
                .collect(),
            forged_authentication_results: Vec::new(),
            skipped: Vec::new(),
            internal: false,
            autolearn: Default::default(),
            signing: None,
        }
    }

    fn config() -> Config {
        Config::parse("authserv_id = \"mx.example.net\"\n").unwrap()
    }

    #[test]
    fn delivery_fields_stay_on_top_and_ours_replace_the_earlier_ones() {
        let config = config();
        let verdict = verdict(
            Action::Accept,
            &[
                (
                    "Authentication-Results",
                    "mx.example.net; spf=pass smtp.mailfrom=a@b.test",
                ),
                ("X-Spam-Status", "No, score=0.0"),
            ],
        );
        let raw = b"Return-Path: <a@b.test>\r\n\
Delivered-To: bob@example.net\r\n\
Authentication-Results: mx.example.net; spf=fail\r\n\
Authentication-Results: elsewhere.example; spf=pass\r\n\
Received-SPF: fail (mx.example.net: no) receiver=mx.example.net;\r\n\
X-Spam-Status: Yes, score=99\r\n\
\tfolded\r\n\
X-Kanmon-Symbols: old\r\n\
Subject: hi\r\n\
\r\n\
body\r\n";
        let marking = |with_auth| Marking {
            config: &config,
            verdict: &verdict,
            with_auth,
        };
        assert_eq!(
            String::from_utf8(marking(true).apply(raw)).unwrap(),
            "Return-Path: <a@b.test>\r\n\
Delivered-To: bob@example.net\r\n\
Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a@b.test\r\n\
X-Spam-Status: No, score=0.0\r\n\
Authentication-Results: elsewhere.example; spf=pass\r\n\
Subject: hi\r\n\
\r\n\
body\r\n"
        );
        // Without envelope data ours are not written, and the milter's stay.
        assert_eq!(
            String::from_utf8(marking(false).apply(raw)).unwrap(),
            "Return-Path: <a@b.test>\r\n\
Delivered-To: bob@example.net\r\n\
X-Spam-Status: No, score=0.0\r\n\
Authentication-Results: mx.example.net; spf=fail\r\n\
Authentication-Results: elsewhere.example; spf=pass\r\n\
Received-SPF: fail (mx.example.net: no) receiver=mx.example.net;\r\n\
Subject: hi\r\n\
\r\n\
body\r\n"
        );
    }

    #[test]
    fn the_subject_is_prefixed_once() {
        let config = config();
        let verdict = verdict(Action::RewriteSubject, &[]);
        let marking = Marking {
            config: &config,
            verdict: &verdict,
            with_auth: false,
        };
        let once = marking.apply(b"Subject: cheap\n\tpills\n\nbody\n");
        assert_eq!(once, b"Subject: ***SPAM*** cheap\n\tpills\n\nbody\n");
        assert_eq!(marking.apply(&once), once);
        assert_eq!(
            marking.apply(b"To: a@b\n\nbody\n"),
            b"To: a@b\nSubject: ***SPAM***\n\nbody\n"
        );
    }

    const V: &str = env!("CARGO_PKG_VERSION");

    fn block(id: &str, status: &str) -> String {
        format!(
            "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a@b.test\n\
X-Spam-Checker-Version: kanmon {V} on {id}\n\
X-Spam-Status: {status}, score=9.0 required=6.0 tests=X autolearn=disabled\n\
\tversion={V}\n\
Subject: s\n\nbody\n"
        )
    }

    #[test]
    fn a_verdict_is_trusted_only_when_both_fields_name_our_id() {
        let id = "mx.example.net";
        assert_eq!(trusted_verdict(block(id, "Yes").as_bytes(), id), Some(true));
        assert_eq!(trusted_verdict(block(id, "No").as_bytes(), id), Some(false));
        assert_eq!(
            trusted_verdict(block("other.example", "Yes").as_bytes(), id),
            None
        );
        let no_ar =
            block(id, "Yes").replace("Authentication-Results: mx", "Authentication-Results: mx2");
        assert_eq!(trusted_verdict(no_ar.as_bytes(), id), None);
        let spamassassin = block(id, "Yes").replace("kanmon", "SpamAssassin");
        assert_eq!(trusted_verdict(spamassassin.as_bytes(), id), None);
        assert_eq!(trusted_verdict(b"Subject: x\n\nbody\n", id), None);
        // Our Authentication-Results on top, but the spam fields (a sender's) further down.
        let forged = format!(
            "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a@b.test\n\
Received: from b.test by mx.example.net\n{}",
            block(id, "No").replace("Authentication-Results: mx.example.net;", "X-A:")
        );
        assert_eq!(trusted_verdict(forged.as_bytes(), id), None);
        let with_spf = block(id, "Yes").replace(
            "\nX-Spam-Checker-Version",
            "\nReceived-SPF: pass (mx.example.net: ...) receiver=mx.example.net;\nX-Spam-Checker-Version",
        );
        assert_eq!(trusted_verdict(with_spf.as_bytes(), id), Some(true));
    }
}
