//! Typed events handed to a [`crate::Milter`].

use std::net::IpAddr;

/// Where the SMTP client connected from (`SMFIC_CONNECT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The client's host name as the MTA resolved it (Postfix: `unknown` or `[addr]` when
    /// it has none).
    pub hostname: String,
    /// The client address.
    pub address: Address,
}

/// The address part of CONNECT, by protocol family (`SMFIA_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Family `U`: the MTA does not know (e.g. mail submitted locally).
    Unknown,
    /// Family `L`: a unix-domain socket path.
    Unix(String),
    /// Family `4` or `6`: an IP address and port.
    Inet {
        /// Address (an `IPv6:` prefix is accepted and removed).
        ip: IpAddr,
        /// Client port.
        port: u16,
    },
}

/// One step of an SMTP session, as the MTA reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Client connected.
    Connect(Connect),
    /// HELO/EHLO argument.
    Helo(String),
    /// MAIL FROM: the first element is the address (with angle brackets), then ESMTP args.
    Mail(Vec<String>),
    /// RCPT TO: as for [`Event::Mail`].
    Rcpt(Vec<String>),
    /// The DATA command.
    Data,
    /// One header field. The value is raw bytes: 8-bit headers are not UTF-8.
    Header {
        /// Field name.
        name: String,
        /// Field value (with its leading space if `HEADER_LEADING_SPACE` was negotiated).
        value: Vec<u8>,
    },
    /// End of headers.
    EndOfHeaders,
    /// A body chunk (at most 65 535 bytes from Postfix; CRLF line ends).
    Body(Vec<u8>),
    /// End of message: the only point where modifications may be returned.
    EndOfMessage,
    /// The current message was aborted (RSET, or the MTA gave up); the connection stays.
    Abort,
    /// An SMTP command the MTA did not recognise.
    Unknown(String),
    /// The MTA closed the milter session. With `SMFIC_QUIT_NC` a new `Connect` may follow on the
    /// same handler, which must then forget per-connection state.
    Quit,
}
