//! A raw RFC 5322 message split into its header fields and body, without copying.
//!
//! DKIM (and later ARC) needs each header field exactly as it arrived, folding included,
//! because `simple` canonicalisation signs the bytes; and it needs the body as one slice it
//! can feed to a hasher. [`Message::parse`] gives both, borrowing from the input.
//!
//! Line endings: the wire format is CRLF (RFC 5322 §2.1), but messages handed over by MTAs,
//! files and pipes often use bare LF. Both are accepted here; a field keeps its bytes as they
//! were, and the canonicalisation code treats a bare LF as CRLF, as OpenDKIM and dkimpy do.
//!
//! Limits: the header section is bounded in bytes and in fields ([`MessageLimits`]) before
//! anything is stored, since both come from the network.

use std::fmt;

/// How a message may be shaped before [`Message::parse`] refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Most header fields accepted. Postfix's `header_size_limit` is per field; the count has
    /// no standard cap, so this follows OpenDKIM's practice of refusing pathological header
    /// sections: 1,000 fields is far beyond real mail (a long Received chain is ~50).
    pub max_header_fields: usize,
    /// Most bytes in the header section, folding and line endings included. Postfix's default
    /// `header_size_limit` is 102,400 bytes for a single field; 1 MiB for the whole section
    /// leaves room for that and stays bounded.
    pub max_header_bytes: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            max_header_fields: 1_000,
            max_header_bytes: 1024 * 1024,
        }
    }
}

/// Why a message could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// More header fields than [`MessageLimits::max_header_fields`].
    #[error("more than {0} header fields")]
    TooManyFields(usize),
    /// A header section longer than [`MessageLimits::max_header_bytes`].
    #[error("header section longer than {0} bytes")]
    HeaderTooLong(usize),
    /// A line in the header section that is neither a field nor a continuation
    /// (1-based line number).
    #[error("line {0} of the header section is not a header field")]
    MalformedField(usize),
    /// The message starts with a continuation line.
    #[error("the header section starts with a continuation line")]
    LeadingContinuation,
}

/// The line ending a message uses, taken from its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// `\r\n`, the wire format.
    Crlf,
    /// A bare `\n`, as in files and pipes.
    Lf,
}

impl LineEnding {
    /// The bytes of this line ending.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Crlf => "\r\n",
            LineEnding::Lf => "\n",
        }
    }
}

/// One header field as it appeared in the message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name as written, without trailing whitespace before the colon.
    pub name: &'a [u8],
    /// The whole field: name, colon, value and any folding, without the final line ending.
    pub raw: &'a [u8],
}

impl<'a> HeaderField<'a> {
    /// The value: everything after the colon, folding included, without the final line ending.
    pub fn value(&self) -> &'a [u8] {
        match self.raw.iter().position(|&b| b == b':') {
            Some(colon) => self.raw.get(colon + 1..).unwrap_or_default(),
            None => &[],
        }
    }

    /// Whether the field's name is `name`, ignoring ASCII case (RFC 5322 §1.2.2).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

impl fmt::Debug for HeaderField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderField")
            .field("raw", &String::from_utf8_lossy(self.raw))
            .finish()
    }
}

/// A message split into header fields (in order, top first) and body.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// The header fields, top first.
    pub headers: Vec<HeaderField<'a>>,
    /// The body: everything after the empty line that ends the header section; empty when
    /// there is no such line.
    pub body: &'a [u8],
    /// The line ending of the first line (CRLF for an empty message).
    pub line_ending: LineEnding,
}

impl<'a> Message<'a> {
    /// Splits `raw` with the default [`MessageLimits`].
    pub fn parse(raw: &'a [u8]) -> Result<Self, MessageError> {
        Self::parse_with(raw, &MessageLimits::default())
    }

    /// Splits `raw` into header fields and body, refusing it when it exceeds `limits`.
    ///
    /// The header section ends at the first empty line (RFC 5322 §2.1); a message without
    /// one is all header and has an empty body. A field's name ends at its colon; WSP before
    /// the colon (obsolete syntax, RFC 5322 §4.5) is not part of the name.
    pub fn parse_with(raw: &'a [u8], limits: &MessageLimits) -> Result<Self, MessageError> {
        let line_ending = match raw.iter().position(|&b| b == b'\n') {
            Some(lf) if lf == 0 || raw.get(lf - 1) != Some(&b'\r') => LineEnding::Lf,
            _ => LineEnding::Crlf,
        };
        let mut headers: Vec<HeaderField<'a>> = Vec::new();
        let mut pos = 0;
        let mut line_number = 0;
        // Start of the field being collected; it ends when a line does not start with WSP.
        let mut field_start: Option<usize> = None;
        let mut field_end = 0;
        loop {
            if pos > limits.max_header_bytes {
                return Err(MessageError::HeaderTooLong(limits.max_header_bytes));
            }
            let rest = raw.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            let (content_len, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let content = if lf > 0 && rest.get(lf - 1) == Some(&b'\r') {
                        lf - 1
                    } else {
                        lf
                    };
                    (content, pos + lf + 1)
                }
                None => (rest.len(), raw.len()),
            };
            line_number += 1;
            let line = rest.get(..content_len).unwrap_or_default();
            if line.is_empty() {
                // The empty line: the body follows it.
                if let Some(start) = field_start.take() {
                    push_field(&mut headers, raw, start, field_end, limits)?;
                }
                pos = next;
                return Ok(Self {
                    headers,
                    body: raw.get(pos..).unwrap_or_default(),
                    line_ending,
                });
            }
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if field_start.is_none() {
                    return Err(MessageError::LeadingContinuation);
                }
            } else {
                if !starts_with_field_name(line) {
                    return Err(MessageError::MalformedField(line_number));
                }
                if let Some(start) = field_start.replace(pos) {
                    push_field(&mut headers, raw, start, field_end, limits)?;
                }
            }
            field_end = pos + content_len;
            pos = next;
        }
        if let Some(start) = field_start {
            push_field(&mut headers, raw, start, field_end, limits)?;
        }
        Ok(Self {
            headers,
            body: &[],
            line_ending,
        })
    }

    /// The fields named `name` (ignoring case), top first.
    pub fn fields<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s HeaderField<'a>> {
        self.headers.iter().filter(move |field| field.is(name))
    }
}

fn push_field<'a>(
    headers: &mut Vec<HeaderField<'a>>,
    raw: &'a [u8],
    start: usize,
    end: usize,
    limits: &MessageLimits,
) -> Result<(), MessageError> {
    if headers.len() >= limits.max_header_fields {
        return Err(MessageError::TooManyFields(limits.max_header_fields));
    }
    let field = raw.get(start..end).unwrap_or_default();
    let colon = field.iter().position(|&b| b == b':').unwrap_or(0);
    let name = field.get(..colon).unwrap_or_default();
    let name_len = name.len() - name.iter().rev().take_while(|&&b| is_wsp(b)).count();
    headers.push(HeaderField {
        name: name.get(..name_len).unwrap_or_default(),
        raw: field,
    });
    Ok(())
}

/// Whether `line` starts with `field-name [WSP] ":"`, the name being 1*ftext (printable
/// ASCII but colon, RFC 5322 §3.6.8).
fn starts_with_field_name(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = line.get(..colon).unwrap_or_default();
    let name_len = name.len() - name.iter().rev().take_while(|&&b| is_wsp(b)).count();
    let name = name.get(..name_len).unwrap_or_default();
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_crlf_message_keeping_folding() {
        let raw = b"From: a@example.com\r\nSubject: one\r\n two\r\nX-Empty:\r\n\r\nbody\r\n";
        let message = Message::parse(raw).unwrap();
        assert_eq!(message.line_ending, LineEnding::Crlf);
        assert_eq!(message.headers.len(), 3);
        assert_eq!(message.headers[1].name, b"Subject");
        assert_eq!(message.headers[1].raw, b"Subject: one\r\n two");
        assert_eq!(message.headers[1].value(), b" one\r\n two");
        assert_eq!(message.headers[2].value(), b"");
        assert_eq!(message.body, b"body\r\n");
    }

    #[test]
    fn splits_bare_lf_message() {
        let raw = b"From: a@example.com\nSubject: one\n\ttwo\n\nbody\n\n";
        let message = Message::parse(raw).unwrap();
        assert_eq!(message.line_ending, LineEnding::Lf);
        assert_eq!(message.headers[1].raw, b"Subject: one\n\ttwo");
        assert_eq!(message.body, b"body\n\n");
    }

    #[test]
    fn name_excludes_whitespace_before_colon() {
        let message = Message::parse(b"Subject \t: hi\r\n\r\n").unwrap();
        assert_eq!(message.headers[0].name, b"Subject");
        assert!(message.headers[0].is("SUBJECT"));
    }

    #[test]
    fn message_without_body() {
        let message = Message::parse(b"From: a@example.com\r\nTo: b@example.com").unwrap();
        assert_eq!(message.headers.len(), 2);
        assert_eq!(message.body, b"");
        let message = Message::parse(b"From: a@example.com\r\n\r\n").unwrap();
        assert_eq!(message.body, b"");
        assert_eq!(Message::parse(b"").unwrap().headers.len(), 0);
    }

    #[test]
    fn empty_header_section() {
        let message = Message::parse(b"\r\nbody").unwrap();
        assert!(message.headers.is_empty());
        assert_eq!(message.body, b"body");
    }

    #[test]
    fn refuses_malformed_and_oversized_headers() {
        assert_eq!(
            Message::parse(b"From: a\r\nnot a field\r\n\r\n").unwrap_err(),
            MessageError::MalformedField(2)
        );
        assert_eq!(
            Message::parse(b" folded: a\r\n\r\n").unwrap_err(),
            MessageError::LeadingContinuation
        );
        let limits = MessageLimits {
            max_header_fields: 2,
            max_header_bytes: 64,
        };
        assert_eq!(
            Message::parse_with(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits).unwrap_err(),
            MessageError::TooManyFields(2)
        );
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(100));
        assert_eq!(
            Message::parse_with(long.as_bytes(), &limits).unwrap_err(),
            MessageError::HeaderTooLong(64)
        );
    }

    #[test]
    fn cr_inside_a_line_is_not_the_end_of_headers() {
        let message = Message::parse(b"A: 1\r\n\rB: 2\r\n\r\nbody").unwrap_err();
        assert_eq!(message, MessageError::MalformedField(2));
    }
}
