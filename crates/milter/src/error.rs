//! One error type for the protocol layer; every variant ends the milter connection.

use std::io;

/// Why a milter connection could not continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MilterError {
    /// Reading or writing the socket failed.
    #[error("milter socket i/o failed")]
    Io(#[from] io::Error),
    /// The peer closed the connection inside a packet.
    #[error("connection closed in the middle of a packet")]
    Truncated,
    /// A packet announced a length of zero (there must be a command byte).
    #[error("packet with length zero")]
    EmptyPacket,
    /// A packet announced more bytes than we accept.
    #[error("packet of {len} bytes exceeds the limit of {max}")]
    PacketTooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A command byte that the protocol does not define.
    #[error("unknown milter command {0:#04x}")]
    UnknownCommand(u8),
    /// A packet whose data does not parse.
    #[error("malformed {command:?} packet: {reason}")]
    Malformed {
        /// The command letter.
        command: char,
        /// What was wrong.
        reason: &'static str,
    },
    /// A command that is not valid in the current session state.
    #[error("unexpected {command:?} command in state {state}")]
    UnexpectedCommand {
        /// The command letter.
        command: char,
        /// The state name.
        state: &'static str,
    },
    /// The peer speaks a protocol version older than 6.
    #[error("milter protocol version {0} is not supported (need 6)")]
    Version(u32),
    /// A reply code or text that may not be sent.
    #[error("invalid reply: {0}")]
    InvalidReply(&'static str),
    /// A header modification that may not be sent.
    #[error("invalid header modification: {0}")]
    InvalidHeader(&'static str),
    /// The MTA sent nothing within the read timeout.
    #[error("no packet from the MTA for {0:?}")]
    IdleTimeout(std::time::Duration),
}
