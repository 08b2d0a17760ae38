//! A store reached through the daemon that holds it. The embedded file admits one process;
//! while `kanmon serve` runs, the command-line tools (`learn`, `store`, reports) reach its
//! store over a unix socket next to the file ([`crate::StoreSettings::socket_path`]) with the
//! same contract as any backend (the conformance suite runs through it).

mod client;
mod protocol;
mod server;

pub use client::RemoteStore;
pub use server::{bind, serve};
