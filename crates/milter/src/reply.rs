//! Replies and end-of-message modifications, milter to MTA.

use crate::MilterError;
use crate::wire::*;

/// The longest reply text we send (libmilter's `MAXREPLYLEN` is 980; an SMTP reply line is
/// at most 512 octets, RFC 5321 §4.5.3.1.5, so stay under that).
const MAX_REPLY_TEXT: usize = 400;

/// How the MTA should proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Go on (`SMFIR_CONTINUE`).
    Continue,
    /// Accept the message/connection; no further events for it (`SMFIR_ACCEPT`).
    Accept,
    /// Reject with the MTA's default 5xx text (`SMFIR_REJECT`).
    Reject,
    /// Temporary failure with the MTA's default 4xx text (`SMFIR_TEMPFAIL`).
    Tempfail,
    /// Accept and silently drop the message (`SMFIR_DISCARD`).
    Discard,
    /// Stop sending body chunks (`SMFIR_SKIP`; sent as continue if not negotiated).
    Skip,
    /// Reject or defer with our own code and text (`SMFIR_REPLYCODE`).
    Code(ReplyCode),
}

/// A validated SMTP reply such as `550 5.7.1 text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyCode {
    code: u16,
    text: String,
}

impl ReplyCode {
    /// `code` must be 4xx or 5xx; `text` may start with an enhanced status code whose class
    /// matches (`5.7.1` with 550), must be one line and printable.
    pub fn new(code: u16, text: &str) -> Result<ReplyCode, MilterError> {
        if !(400..600).contains(&code) {
            return Err(MilterError::InvalidReply("code must be 4xx or 5xx"));
        }
        if text.len() > MAX_REPLY_TEXT {
            return Err(MilterError::InvalidReply("text too long"));
        }
        if text.chars().any(char::is_control) {
            return Err(MilterError::InvalidReply(
                "text contains control characters",
            ));
        }
        let first = text.split(' ').next().unwrap_or("");
        if first.contains('.') {
            let class = (code / 100).to_string();
            let mut parts = first.split('.');
            let ok = parts.next() == Some(class.as_str())
                && parts.clone().count() == 2
                && parts.all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
                });
            if !ok {
                return Err(MilterError::InvalidReply("bad enhanced status code"));
            }
        }
        Ok(ReplyCode {
            code,
            text: text.to_owned(),
        })
    }

    /// The three-digit code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The text after the code, unescaped.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Wire form. `%` is doubled: libmilter's `smfi_setreply` documents `%` as special, and the
    /// MTA may pass the text through a format step.
    fn wire(&self) -> String {
        format!("{} {}", self.code, self.text.replace('%', "%%"))
    }

    fn from_wire(s: &str) -> Option<ReplyCode> {
        let (code, text) = s.split_once(' ').unwrap_or((s, ""));
        ReplyCode::new(code.parse().ok()?, &text.replace("%%", "%")).ok()
    }
}

/// A change to the message, allowed only at end of message and only if negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modification {
    /// Append a header (`SMFIR_ADDHEADER`; needs `ADD_HEADERS`).
    AddHeader {
        /// Field name.
        name: String,
        /// Field value (include the leading space if `HEADER_LEADING_SPACE` was negotiated).
        value: String,
    },
    /// Insert a header before the `index`-th (0 = on top) (`SMFIR_INSHEADER`; `ADD_HEADERS`).
    InsertHeader {
        /// Position; 0 is the top of the header.
        index: u32,
        /// Field name.
        name: String,
        /// Field value.
        value: String,
    },
    /// Change the `index`-th (1-based, counted per name) header of this name; an empty value
    /// deletes it (`SMFIR_CHGHEADER`; needs `CHANGE_HEADERS`).
    ChangeHeader {
        /// 1-based occurrence among headers with this name.
        index: u32,
        /// Field name.
        name: String,
        /// New value; empty deletes.
        value: String,
    },
    /// Quarantine with a reason (`SMFIR_QUARANTINE`; needs `QUARANTINE`; Postfix: hold queue).
    Quarantine(String),
}

impl Modification {
    pub(crate) fn required(&self) -> crate::Actions {
        use crate::Actions;
        match self {
            Modification::AddHeader { .. } | Modification::InsertHeader { .. } => {
                Actions::ADD_HEADERS
            }
            Modification::ChangeHeader { .. } => Actions::CHANGE_HEADERS,
            Modification::Quarantine(_) => Actions::QUARANTINE,
        }
    }

    pub(crate) fn encode(&self) -> Result<Packet, MilterError> {
        fn header(d: &mut Vec<u8>, name: &str, value: &str) -> Result<(), MilterError> {
            let bad_name =
                name.is_empty() || name.bytes().any(|b| !(33..=126).contains(&b) || b == b':');
            if bad_name {
                return Err(MilterError::InvalidHeader("bad field name"));
            }
            if value.contains('\0') {
                return Err(MilterError::InvalidHeader("NUL in value"));
            }
            put_str(d, name.as_bytes());
            put_str(d, value.as_bytes());
            Ok(())
        }
        let mut d = Vec::new();
        let code = match self {
            Modification::AddHeader { name, value } => {
                header(&mut d, name, value)?;
                R_ADDHEADER
            }
            Modification::InsertHeader { index, name, value } => {
                d.extend_from_slice(&index.to_be_bytes());
                header(&mut d, name, value)?;
                R_INSHEADER
            }
            Modification::ChangeHeader { index, name, value } => {
                d.extend_from_slice(&index.to_be_bytes());
                header(&mut d, name, value)?;
                R_CHGHEADER
            }
            Modification::Quarantine(reason) => {
                if reason.is_empty() || reason.contains('\0') {
                    return Err(MilterError::InvalidHeader("bad quarantine reason"));
                }
                put_str(&mut d, reason.as_bytes());
                R_QUARANTINE
            }
        };
        Ok(Packet::new(code, d))
    }
}

/// What a handler returns: a reply and, at end of message, modifications sent before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The reply.
    pub reply: Reply,
    /// Modifications (end of message only; dropped with a warning elsewhere or if not
    /// negotiated).
    pub modifications: Vec<Modification>,
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Response {
        Response {
            reply,
            modifications: Vec::new(),
        }
    }
}

impl Reply {
    pub(crate) fn encode(&self) -> Packet {
        let code = match self {
            Reply::Continue => R_CONTINUE,
            Reply::Accept => R_ACCEPT,
            Reply::Reject => R_REJECT,
            Reply::Tempfail => R_TEMPFAIL,
            Reply::Discard => R_DISCARD,
            Reply::Skip => R_SKIP,
            Reply::Code(c) => {
                let mut d = Vec::new();
                put_str(&mut d, c.wire().as_bytes());
                return Packet::new(R_REPLYCODE, d);
            }
        };
        Packet::new(code, Vec::new())
    }
}

/// A packet read by the client: a final reply, a modification, or progress.
pub(crate) enum Incoming {
    Reply(Reply),
    Modification(Modification),
    Progress,
}

impl Incoming {
    pub(crate) fn decode(p: &Packet) -> Result<Incoming, MilterError> {
        let mut f = Fields::new(p.code, &p.data);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(match p.code {
            R_CONTINUE => Incoming::Reply(Reply::Continue),
            R_ACCEPT => Incoming::Reply(Reply::Accept),
            R_REJECT => Incoming::Reply(Reply::Reject),
            R_TEMPFAIL => Incoming::Reply(Reply::Tempfail),
            R_DISCARD => Incoming::Reply(Reply::Discard),
            R_SKIP => Incoming::Reply(Reply::Skip),
            R_REPLYCODE => {
                let s = f.string()?;
                Incoming::Reply(Reply::Code(
                    ReplyCode::from_wire(&s).ok_or(f.malformed("bad reply code"))?,
                ))
            }
            R_PROGRESS => Incoming::Progress,
            R_ADDHEADER => Incoming::Modification(Modification::AddHeader {
                name: f.string()?,
                value: text(f.bytes()?),
            }),
            R_INSHEADER | R_CHGHEADER => {
                let index = f.u32()?;
                let name = f.string()?;
                let value = text(f.bytes()?);
                Incoming::Modification(if p.code == R_INSHEADER {
                    Modification::InsertHeader { index, name, value }
                } else {
                    Modification::ChangeHeader { index, name, value }
                })
            }
            R_QUARANTINE => Incoming::Modification(Modification::Quarantine(f.string()?)),
            other => return Err(MilterError::UnknownCommand(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_are_validated_and_escaped() {
        let r = ReplyCode::new(550, "5.7.1 100% spam").expect("valid");
        assert_eq!(r.wire(), "550 5.7.1 100%% spam");
        assert_eq!(ReplyCode::from_wire(&r.wire()), Some(r));
        assert!(ReplyCode::new(250, "ok").is_err());
        assert!(ReplyCode::new(451, "5.7.1 wrong class").is_err());
        assert!(ReplyCode::new(550, "two\r\nlines").is_err());
        assert!(ReplyCode::new(451, "4.7.1 try later").is_ok());
    }
}
