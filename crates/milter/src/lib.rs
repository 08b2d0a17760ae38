//! The milter protocol, version 6, as spoken by Postfix (`milter_protocol = 6`, the default since
//! Postfix 2.6; see Postfix's MILTER_README) and Sendmail's libmilter.
//!
//! Data flow: [`server::serve_connection`] reads length-prefixed packets ([`wire`]), parses them
//! into commands, checks them against the session state machine ([`session::State`]), keeps the
//! macros per stage ([`Context`]), hands typed [`Event`]s to the user's [`Milter`] and writes its
//! [`Response`] back. [`Client`] is the MTA side, for tests and benchmarks.
//!
//! The wire facts (command letters, `SMFIF_*`/`SMFIP_*` bits, `SMFIM_*` stages, chunk sizes)
//! come from libmilter's public `mfdef.h` and Postfix's `milter8.c`/MILTER_README; no code from
//! other milter implementations is used.

mod client;
mod command;
mod error;
mod event;
mod negotiate;
mod reply;
mod server;
mod session;
mod wire;

pub use client::{Client, Transaction, TransactionOutcome};

pub use error::MilterError;
pub use event::{Address, Connect, Event};
pub use negotiate::{Actions, Negotiation, Protocol, Stage};
pub use reply::{Modification, Reply, ReplyCode, Response};
pub use server::{
    Config, Limits, Milter, serve_connection, serve_connection_until, serve_tcp, serve_unix,
};
pub use session::Context;
pub use wire::{MAX_PACKET_LEN, PROTOCOL_VERSION};
