//! One policy request: the `name=value` attributes Postfix sends, parsed with named limits.
//!
//! Data flow: [`crate::wire::read_request`] reads the raw lines of one request (bounded by
//! [`Limits`]); [`Request::from_lines`] checks them and derives the typed fields once, so the
//! handler gets a value it can trust.
//!
//! Implementation note on bytes that are not UTF-8: Postfix passes envelope text through as it
//! received it, so a HELO name or an address may carry 8-bit bytes. Such a value is *kept*, with
//! each invalid sequence replaced by U+FFFD, and [`Request::had_invalid_utf8`] reports it. Refusing
//! the request instead would close the connection, Postfix would then apply its default action,
//! and a client could skip the policy check just by sending one 8-bit byte in its HELO.

use std::fmt;

use thiserror::Error;

/// Bounds on one request, checked before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest `name=value` line in bytes, newline excluded. Postfix's own values are bounded by
    /// smtpd's `line_length_limit` (2048 by default) plus the attribute name; 8 KiB leaves room
    /// for a raised `line_length_limit` and long TLS certificate subjects.
    pub max_line_len: usize,
    /// Most attributes in one request. Postfix 3.12 sends about 35 (SMTPD_POLICY_README,
    /// "Protocol description"); 256 leaves room for attributes added by later versions.
    pub max_attributes: usize,
    /// Most bytes in one request, newlines included. 64 KiB bounds the memory one connection
    /// can pin while staying far above a real request (a few hundred bytes to a few KiB).
    pub max_request_len: usize,
}

/// Default for [`Limits::max_line_len`].
pub const DEFAULT_MAX_LINE_LEN: usize = 8 * 1024;
/// Default for [`Limits::max_attributes`].
pub const DEFAULT_MAX_ATTRIBUTES: usize = 256;
/// Default for [`Limits::max_request_len`].
pub const DEFAULT_MAX_REQUEST_LEN: usize = 64 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_attributes: DEFAULT_MAX_ATTRIBUTES,
            max_request_len: DEFAULT_MAX_REQUEST_LEN,
        }
    }
}

/// Why a request was refused. After any of these the server sends no reply and closes the
/// connection, as SMTPD_POLICY_README asks ("In case of trouble the policy server must not send
/// a reply. Instead the server must log a warning and disconnect").
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// A line is longer than [`Limits::max_line_len`].
    #[error("attribute line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// More attributes than [`Limits::max_attributes`].
    #[error("more than {limit} attributes in one request")]
    TooManyAttributes { limit: usize },
    /// The request is larger than [`Limits::max_request_len`].
    #[error("request longer than {limit} bytes")]
    RequestTooLong { limit: usize },
    /// The peer closed the connection inside a request (no terminating empty line).
    #[error("connection closed inside a request, before its empty line")]
    Truncated,
    /// A line without `=`.
    #[error("attribute line without '=' (line {line})")]
    MissingEquals { line: usize },
    /// A line starting with `=`.
    #[error("attribute with an empty name (line {line})")]
    EmptyName { line: usize },
    /// The same attribute twice: which one is meant would be a guess.
    #[error("attribute {name:?} given twice")]
    DuplicateAttribute { name: String },
    /// An empty line with no attribute before it.
    #[error("empty request")]
    Empty,
    /// A numeric attribute (`size`, `recipient_count`, ports, key size) that is not a number.
    #[error("attribute {name:?} is not a number: {value:?}")]
    BadNumber { name: String, value: String },
}

/// The SMTP stage a request belongs to (`protocol_state`, SMTPD_POLICY_README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolState {
    Connect,
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    EndOfMessage,
    Vrfy,
    Etrn,
    /// A state this library does not know; kept as sent.
    Other(String),
}

impl ProtocolState {
    /// The state from its wire form; exact, upper case, as Postfix sends it.
    pub fn from_wire(value: &str) -> ProtocolState {
        match value {
            "CONNECT" => ProtocolState::Connect,
            "EHLO" => ProtocolState::Ehlo,
            "HELO" => ProtocolState::Helo,
            "MAIL" => ProtocolState::Mail,
            "RCPT" => ProtocolState::Rcpt,
            "DATA" => ProtocolState::Data,
            "END-OF-MESSAGE" => ProtocolState::EndOfMessage,
            "VRFY" => ProtocolState::Vrfy,
            "ETRN" => ProtocolState::Etrn,
            other => ProtocolState::Other(other.to_owned()),
        }
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            ProtocolState::Connect => "CONNECT",
            ProtocolState::Ehlo => "EHLO",
            ProtocolState::Helo => "HELO",
            ProtocolState::Mail => "MAIL",
            ProtocolState::Rcpt => "RCPT",
            ProtocolState::Data => "DATA",
            ProtocolState::EndOfMessage => "END-OF-MESSAGE",
            ProtocolState::Vrfy => "VRFY",
            ProtocolState::Etrn => "ETRN",
            ProtocolState::Other(s) => s,
        }
    }
}

impl fmt::Display for ProtocolState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One policy request. Every attribute is kept in the order sent, unknown ones included; the
/// accessors below read the ones SMTPD_POLICY_README documents.
///
/// String accessors return `None` when Postfix did not send the attribute and `Some("")` when it
/// sent it empty (for example `sender=` for the null sender `<>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    attributes: Vec<(String, String)>,
    protocol_state: Option<ProtocolState>,
    recipient_count: Option<u64>,
    size: Option<u64>,
    client_port: Option<u16>,
    server_port: Option<u16>,
    encryption_keysize: Option<u32>,
    had_invalid_utf8: bool,
}

impl Request {
    /// Checks the lines of one request (each without its newline, the empty line excluded) and
    /// builds the request. The line and size limits are the reader's job; this checks the
    /// attribute count, syntax, duplicates and numbers.
    pub fn from_lines<L: AsRef<[u8]>>(
        lines: &[L],
        limits: &Limits,
    ) -> Result<Request, ProtocolError> {
        if lines.is_empty() {
            return Err(ProtocolError::Empty);
        }
        if lines.len() > limits.max_attributes {
            return Err(ProtocolError::TooManyAttributes {
                limit: limits.max_attributes,
            });
        }
        let mut attributes: Vec<(String, String)> = Vec::with_capacity(lines.len());
        let mut had_invalid_utf8 = false;
        for (index, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                return Err(ProtocolError::MissingEquals { line: index + 1 });
            };
            if eq == 0 {
                return Err(ProtocolError::EmptyName { line: index + 1 });
            }
            let name = lossy(&line[..eq], &mut had_invalid_utf8);
            let value = lossy(&line[eq + 1..], &mut had_invalid_utf8);
            if attributes.iter().any(|(n, _)| *n == name) {
                return Err(ProtocolError::DuplicateAttribute { name });
            }
            attributes.push((name, value));
        }
        let mut request = Request {
            attributes,
            protocol_state: None,
            recipient_count: None,
            size: None,
            client_port: None,
            server_port: None,
            encryption_keysize: None,
            had_invalid_utf8,
        };
        request.protocol_state = request.get("protocol_state").map(ProtocolState::from_wire);
        request.recipient_count = request.number("recipient_count")?;
        request.size = request.number("size")?;
        request.client_port = request.number("client_port")?;
        request.server_port = request.number("server_port")?;
        request.encryption_keysize = request.number("encryption_keysize")?;
        Ok(request)
    }

    /// A request built from attribute pairs, for tests and the client. Same checks as on the wire.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Request, ProtocolError> {
        let lines: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        Request::from_lines(&lines, &Limits::default())
    }

    /// A numeric attribute: absent or empty is `None`, anything else must parse.
    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ProtocolError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| ProtocolError::BadNumber {
                    name: name.to_owned(),
                    value: value.to_owned(),
                }),
        }
    }

    /// Any attribute by name, known or not.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every attribute in the order sent.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether some name or value held bytes that are not UTF-8 (replaced by U+FFFD).
    pub fn had_invalid_utf8(&self) -> bool {
        self.had_invalid_utf8
    }

    /// `request`: always `smtpd_access_policy` from Postfix.
    pub fn request(&self) -> Option<&str> {
        self.get("request")
    }
    /// `protocol_state`: the SMTP stage of this request.
    pub fn protocol_state(&self) -> Option<&ProtocolState> {
        self.protocol_state.as_ref()
    }
    /// `protocol_name`: `SMTP` or `ESMTP` (or `LMTP`, `QMQP`).
    pub fn protocol_name(&self) -> Option<&str> {
        self.get("protocol_name")
    }
    /// `helo_name`: the HELO/EHLO argument, empty before HELO.
    pub fn helo_name(&self) -> Option<&str> {
        self.get("helo_name")
    }
    /// `queue_id`: empty until Postfix has assigned one.
    pub fn queue_id(&self) -> Option<&str> {
        self.get("queue_id")
    }
    /// `sender`: the MAIL FROM address without `<>`; empty for the null sender.
    pub fn sender(&self) -> Option<&str> {
        self.get("sender")
    }
    /// `recipient`: the RCPT TO address without `<>`.
    pub fn recipient(&self) -> Option<&str> {
        self.get("recipient")
    }
    /// `recipient_count`: recipients accepted so far (0 before DATA, final at DATA and
    /// END-OF-MESSAGE).
    pub fn recipient_count(&self) -> Option<u64> {
        self.recipient_count
    }
    /// `client_address`: the SMTP client's IP address as text.
    pub fn client_address(&self) -> Option<&str> {
        self.get("client_address")
    }
    /// `client_name`: the verified client host name, or `unknown`.
    pub fn client_name(&self) -> Option<&str> {
        self.get("client_name")
    }
    /// `reverse_client_name`: the unverified PTR name, or `unknown`.
    pub fn reverse_client_name(&self) -> Option<&str> {
        self.get("reverse_client_name")
    }
    /// `instance`: the same for every request of one message delivery attempt; the key to cache
    /// per-message results across RCPT requests.
    pub fn instance(&self) -> Option<&str> {
        self.get("instance")
    }
    /// `sasl_method`: set when the client authenticated.
    pub fn sasl_method(&self) -> Option<&str> {
        self.get("sasl_method")
    }
    /// `sasl_username`: the authenticated user name.
    pub fn sasl_username(&self) -> Option<&str> {
        self.get("sasl_username")
    }
    /// `sasl_sender`: the `AUTH=` parameter of MAIL FROM.
    pub fn sasl_sender(&self) -> Option<&str> {
        self.get("sasl_sender")
    }
    /// `size`: the `SIZE=` parameter of MAIL FROM, or the real size at END-OF-MESSAGE.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
    /// `ccert_subject`: the client certificate's subject CN (xtext-encoded by Postfix).
    pub fn ccert_subject(&self) -> Option<&str> {
        self.get("ccert_subject")
    }
    /// `ccert_issuer`: the client certificate's issuer CN.
    pub fn ccert_issuer(&self) -> Option<&str> {
        self.get("ccert_issuer")
    }
    /// `ccert_fingerprint`: the client certificate's fingerprint.
    pub fn ccert_fingerprint(&self) -> Option<&str> {
        self.get("ccert_fingerprint")
    }
    /// `ccert_pubkey_fingerprint`: the client public key's fingerprint.
    pub fn ccert_pubkey_fingerprint(&self) -> Option<&str> {
        self.get("ccert_pubkey_fingerprint")
    }
    /// `encryption_protocol`: for example `TLSv1.3`; empty without TLS.
    pub fn encryption_protocol(&self) -> Option<&str> {
        self.get("encryption_protocol")
    }
    /// `encryption_cipher`: the TLS cipher; empty without TLS.
    pub fn encryption_cipher(&self) -> Option<&str> {
        self.get("encryption_cipher")
    }
    /// `encryption_keysize`: the cipher's key size in bits; 0 or absent without TLS.
    pub fn encryption_keysize(&self) -> Option<u32> {
        self.encryption_keysize
    }
    /// `etrn_domain`: the ETRN argument.
    pub fn etrn_domain(&self) -> Option<&str> {
        self.get("etrn_domain")
    }
    /// `stress`: `yes` when Postfix runs under stress (overload), else empty.
    pub fn stress(&self) -> Option<&str> {
        self.get("stress")
    }
    /// `client_port`: the client's TCP port.
    pub fn client_port(&self) -> Option<u16> {
        self.client_port
    }
    /// `server_address`: the local address the client connected to.
    pub fn server_address(&self) -> Option<&str> {
        self.get("server_address")
    }
    /// `server_port`: the local port the client connected to.
    pub fn server_port(&self) -> Option<u16> {
        self.server_port
    }
    /// `policy_context`: the `policy_context` set in main.cf for this policy service.
    pub fn policy_context(&self) -> Option<&str> {
        self.get("policy_context")
    }
    /// `compatibility_level`: Postfix's `compatibility_level`.
    pub fn compatibility_level(&self) -> Option<&str> {
        self.get("compatibility_level")
    }
    /// `mail_version`: Postfix's version.
    pub fn mail_version(&self) -> Option<&str> {
        self.get("mail_version")
    }
}

fn lossy(bytes: &[u8], had_invalid: &mut bool) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            *had_invalid = true;
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_attributes() {
        let r = Request::from_pairs(&[
            ("request", "smtpd_access_policy"),
            ("protocol_state", "RCPT"),
            ("sender", ""),
            ("size", "12345"),
            ("x_future", "1"),
        ])
        .unwrap();
        assert_eq!(r.protocol_state(), Some(&ProtocolState::Rcpt));
        assert_eq!(r.sender(), Some(""));
        assert_eq!(r.recipient(), None);
        assert_eq!(r.size(), Some(12345));
        assert_eq!(r.get("x_future"), Some("1"));
    }

    #[test]
    fn refusals() {
        let l = Limits::default();
        assert_eq!(
            Request::from_lines::<&[u8]>(&[], &l),
            Err(ProtocolError::Empty)
        );
        assert_eq!(
            Request::from_lines(&[b"novalue"], &l),
            Err(ProtocolError::MissingEquals { line: 1 })
        );
        assert_eq!(
            Request::from_lines(&[b"=x"], &l),
            Err(ProtocolError::EmptyName { line: 1 })
        );
        assert!(matches!(
            Request::from_lines(&[b"a=1", b"a=2"], &l),
            Err(ProtocolError::DuplicateAttribute { .. })
        ));
        assert!(matches!(
            Request::from_lines(&[b"size=big"], &l),
            Err(ProtocolError::BadNumber { .. })
        ));
        let many: Vec<String> = (0..10_000).map(|i| format!("a{i}=x")).collect();
        assert_eq!(
            Request::from_lines(&many, &l),
            Err(ProtocolError::TooManyAttributes { limit: 256 })
        );
    }

    #[test]
    fn invalid_utf8_is_kept_lossy_and_flagged() {
        let r =
            Request::from_lines(&[&b"helo_name=caf\xe9.example"[..]], &Limits::default()).unwrap();
        assert!(r.had_invalid_utf8());
        assert_eq!(r.helo_name(), Some("caf\u{fffd}.example"));
    }
}
