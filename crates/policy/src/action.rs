//! The replies kanmon sends: a subset of access(5) actions, each with validated text.
//!
//! `OK` is deliberately absent. In a Postfix restriction list `OK` *permits* and ends that list,
//! so a policy server answering `OK` in `smtpd_recipient_restrictions` skips every restriction
//! after it — including `reject_unauth_destination` when it is listed later, which turns the
//! server into an open relay (access(5), "OK"; SMTPD_ACCESS_README). `DUNNO` means "no opinion,
//! carry on with the next restriction", which is the only safe "accept".
//!
//! Text rules, checked when an action is built:
//! * printable US-ASCII only (0x20..=0x7e; no CR, LF, NUL, tab or 8-bit): the text ends up in an
//!   SMTP reply line (RFC 5321 §4.2) or a header field (RFC 5322 §2.2), and a newline would end
//!   the policy reply early (SMTPD_POLICY_README);
//! * at most [`MAX_REPLY_TEXT_LEN`] bytes (or [`MAX_HEADER_LEN`] for a prepended header).

use std::fmt;

use thiserror::Error;

/// Longest reply text. RFC 5321 §4.5.3.1.5 bounds a reply line at 512 octets with its code and
/// CRLF; Postfix prefixes policy text with `<address>: Recipient address rejected: ` (an address
/// may be 256 octets, RFC 5321 §4.5.3.1.3) and the codes, which leaves about 200.
pub const MAX_REPLY_TEXT_LEN: usize = 200;

/// Longest `PREPEND` header field, name, colon and value together: RFC 5322 §2.1.1's 998-octet
/// line limit, since the field is written as one line.
pub const MAX_HEADER_LEN: usize = 998;

/// Why an action could not be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ActionError {
    #[error("text holds a byte that is not printable ASCII at offset {offset}")]
    BadByte { offset: usize },
    #[error("text is {len} bytes, more than {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("header name {0:?} is empty or holds a byte outside '!'..='~' or a colon")]
    BadHeaderName(String),
    #[error("reply code {0} is not 4NN or 5NN")]
    BadCode(u16),
    #[error("enhanced status code {0:?} is not class.subject.detail (RFC 3463 §2)")]
    BadEnhancedCode(String),
    #[error("enhanced status code {enhanced:?} does not match class {class}")]
    ClassMismatch { enhanced: String, class: char },
}

/// A policy reply (the value of `action=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `DUNNO`: no decision; Postfix goes on with the next restriction.
    Dunno,
    /// `REJECT [5.X.Y] text`: permanent refusal with `access_map_reject_code` (554 by default).
    Reject(ReplyText),
    /// `DEFER [4.X.Y] text`: temporary refusal with `access_map_defer_code` (450 by default).
    Defer(ReplyText),
    /// `DEFER_IF_PERMIT [4.X.Y] text`: temporary refusal, unless a later restriction rejects.
    DeferIfPermit(ReplyText),
    /// `4NN text` / `5NN text`: refusal with an explicit reply code, e.g. `550 5.7.1 SPF fail`.
    Reply { code: u16, text: ReplyText },
    /// `PREPEND name: value`: add a header field on top of the message; no decision.
    Prepend(HeaderField),
    /// `WARN text`: log a warning with the text; no decision.
    Warn(ReplyText),
}

impl Action {
    /// `REJECT` with an optional enhanced code of class 5.
    pub fn reject(enhanced: Option<&str>, text: &str) -> Result<Action, ActionError> {
        Ok(Action::Reject(ReplyText::new(enhanced, '5', text)?))
    }
    /// `DEFER` with an optional enhanced code of class 4.
    pub fn defer(enhanced: Option<&str>, text: &str) -> Result<Action, ActionError> {
        Ok(Action::Defer(ReplyText::new(enhanced, '4', text)?))
    }
    /// `DEFER_IF_PERMIT` with an optional enhanced code of class 4.
    pub fn defer_if_permit(enhanced: Option<&str>, text: &str) -> Result<Action, ActionError> {
        Ok(Action::DeferIfPermit(ReplyText::new(enhanced, '4', text)?))
    }
    /// An explicit `4NN`/`5NN` reply; the enhanced code, if any, must share its class.
    pub fn reply(code: u16, enhanced: Option<&str>, text: &str) -> Result<Action, ActionError> {
        let class = match code {
            400..=499 => '4',
            500..=599 => '5',
            _ => return Err(ActionError::BadCode(code)),
        };
        Ok(Action::Reply {
            code,
            text: ReplyText::new(enhanced, class, text)?,
        })
    }
    /// `PREPEND name: value`.
    pub fn prepend(name: &str, value: &str) -> Result<Action, ActionError> {
        Ok(Action::Prepend(HeaderField::new(name, value)?))
    }
    /// `WARN text`.
    pub fn warn(text: &str) -> Result<Action, ActionError> {
        Ok(Action::Warn(ReplyText::new(None, '4', text)?))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Dunno => f.write_str("DUNNO"),
            Action::Reject(t) => write!(f, "REJECT {t}"),
            Action::Defer(t) => write!(f, "DEFER {t}"),
            Action::DeferIfPermit(t) => write!(f, "DEFER_IF_PERMIT {t}"),
            Action::Reply { code, text } => write!(f, "{code} {text}"),
            Action::Prepend(h) => write!(f, "PREPEND {h}"),
            Action::Warn(t) => write!(f, "WARN {t}"),
        }
    }
}

/// Reply text with an optional RFC 3463 enhanced status code in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    enhanced: Option<String>,
    text: String,
}

impl ReplyText {
    fn new(enhanced: Option<&str>, class: char, text: &str) -> Result<ReplyText, ActionError> {
        if let Some(code) = enhanced {
            check_enhanced(code, class)?;
        }
        check_text(text, MAX_REPLY_TEXT_LEN)?;
        Ok(ReplyText {
            enhanced: enhanced.map(str::to_owned),
            text: text.to_owned(),
        })
    }

    /// Text made safe for a reply: every byte outside printable ASCII becomes `?`, and it is cut
    /// to [`MAX_REPLY_TEXT_LEN`]. For text that comes from the network (an address, a DNS TXT
    /// explanation) before it goes into [`Action::reject`] and friends.
    pub fn sanitize(text: &str) -> String {
        text.chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .take(MAX_REPLY_TEXT_LEN)
            .collect()
    }

    /// The enhanced status code, if any.
    pub fn enhanced(&self) -> Option<&str> {
        self.enhanced.as_deref()
    }
    /// The text after the codes.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ReplyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.enhanced {
            Some(code) => write!(f, "{code} {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// A header field to prepend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    name: String,
    value: String,
}

impl HeaderField {
    fn new(name: &str, value: &str) -> Result<HeaderField, ActionError> {
        // RFC 5322 §2.2: a field name is printable ASCII other than the colon.
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| (b'!'..=b'~').contains(&b) && b != b':')
        {
            return Err(ActionError::BadHeaderName(name.to_owned()));
        }
        let len = name.len() + 2 + value.len();
        if len > MAX_HEADER_LEN {
            return Err(ActionError::TooLong {
                len,
                limit: MAX_HEADER_LEN,
            });
        }
        check_text(value, MAX_HEADER_LEN)?;
        Ok(HeaderField {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The field value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

fn check_text(text: &str, limit: usize) -> Result<(), ActionError> {
    if let Some(offset) = text.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
        return Err(ActionError::BadByte { offset });
    }
    if text.len() > limit {
        return Err(ActionError::TooLong {
            len: text.len(),
            limit,
        });
    }
    Ok(())
}

/// RFC 3463 §2: `class "." subject "." detail`, subject and detail 1 to 3 digits.
fn check_enhanced(code: &str, class: char) -> Result<(), ActionError> {
    let mut parts = code.split('.');
    let well_formed = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(s), Some(d), None) => {
            (c == "4" || c == "5")
                && [s, d]
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    };
    if !well_formed {
        return Err(ActionError::BadEnhancedCode(code.to_owned()));
    }
    if !code.starts_with(class) {
        return Err(ActionError::ClassMismatch {
            enhanced: code.to_owned(),
            class,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(Action::Dunno.to_string(), "DUNNO");
        assert_eq!(
            Action::reject(Some("5.7.1"), "SPF fail")
                .unwrap()
                .to_string(),
            "REJECT 5.7.1 SPF fail"
        );
        assert_eq!(
            Action::defer_if_permit(None, "Greylisted")
                .unwrap()
                .to_string(),
            "DEFER_IF_PERMIT Greylisted"
        );
        assert_eq!(
            Action::defer(Some("4.7.1"), "try later")
                .unwrap()
                .to_string(),
            "DEFER 4.7.1 try later"
        );
        assert_eq!(
            Action::reply(550, Some("5.7.1"), "SPF fail")
                .unwrap()
                .to_string(),
            "550 5.7.1 SPF fail"
        );
        assert_eq!(
            Action::prepend(
                "Received-SPF",
                "pass (example.org: 192.0.2.1 is authorized)"
            )
            .unwrap()
            .to_string(),
            "PREPEND Received-SPF: pass (example.org: 192.0.2.1 is authorized)"
        );
        assert_eq!(
            Action::warn("would reject").unwrap().to_string(),
            "WARN would reject"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Action::reject(None, "a\nb"),
            Err(ActionError::BadByte { offset: 1 })
        );
        assert_eq!(
            Action::reject(None, "caf\u{e9}"),
            Err(ActionError::BadByte { offset: 3 })
        );
        assert!(matches!(
            Action::reject(None, &"x".repeat(201)),
            Err(ActionError::TooLong { .. })
        ));
        assert!(matches!(
            Action::reject(Some("4.7.1"), "x"),
            Err(ActionError::ClassMismatch { .. })
        ));
        assert!(matches!(
            Action::defer(Some("4.7"), "x"),
            Err(ActionError::BadEnhancedCode(_))
        ));
        assert_eq!(
            Action::reply(250, None, "x"),
            Err(ActionError::BadCode(250))
        );
        assert!(matches!(
            Action::reply(450, Some("5.7.1"), "x"),
            Err(ActionError::ClassMismatch { .. })
        ));
        assert!(matches!(
            Action::prepend("Bad Name", "x"),
            Err(ActionError::BadHeaderName(_))
        ));
        assert!(matches!(
            Action::prepend("X-A", "v\r\nX-B: injected"),
            Err(ActionError::BadByte { .. })
        ));
    }

    #[test]
    fn sanitize_replaces_and_cuts() {
        assert_eq!(ReplyText::sanitize("caf\u{e9}\r\nx"), "caf???x");
        assert_eq!(
            ReplyText::sanitize(&"y".repeat(500)).len(),
            MAX_REPLY_TEXT_LEN
        );
    }
}
