//! The Postfix SMTP access policy delegation protocol (Postfix SMTPD_POLICY_README), with no
//! kanmon types.
//!
//! Postfix's smtpd connects (TCP or unix socket) and, for each `check_policy_service` it
//! evaluates, writes a request: `name=value` lines, each ended by a newline, then an empty line.
//! The server answers `action=<access(5) action>`, a newline, an empty line. The connection is
//! kept for further requests.
//!
//! * [`Request`] — parsed attributes with typed accessors; unknown attributes are kept.
//! * [`Action`] — the replies kanmon uses (`DUNNO`, `REJECT`, `DEFER`, `DEFER_IF_PERMIT`,
//!   `4NN`/`5NN`, `PREPEND`, `WARN`), never `OK`.
//! * [`serve_connection`], [`serve_tcp`], [`serve_unix`] — the async server, one handler call per
//!   request.
//! * [`Client`] — a test and benchmark client.
//!
//! ```
//! use kanmon_policy::{Action, Request};
//!
//! let request = Request::from_pairs(&[("protocol_state", "RCPT"), ("sender", "")]).unwrap();
//! assert_eq!(request.sender(), Some(""));
//! let action = Action::reject(Some("5.7.1"), "SPF fail").unwrap();
//! assert_eq!(action.to_string(), "REJECT 5.7.1 SPF fail");
//! ```

mod action;
mod client;
mod request;
mod server;
mod wire;

pub use action::{Action, ActionError, HeaderField, MAX_HEADER_LEN, MAX_REPLY_TEXT_LEN, ReplyText};
pub use client::{Client, ClientError, MAX_REPLY_LINE_LEN};
pub use request::{
    DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_LINE_LEN, DEFAULT_MAX_REQUEST_LEN, Limits, ProtocolError,
    ProtocolState, Request,
};
pub use server::{
    ConnectionError, DEFAULT_IDLE_TIMEOUT, READ_BUFFER_LEN, ServerConfig, serve_connection,
    serve_connection_until, serve_tcp, serve_unix,
};
pub use wire::{ReadError, read_request, write_action};
