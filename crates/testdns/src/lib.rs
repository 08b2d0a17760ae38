//! kanmon-testdns: real DNS on loopback for kanmon's tests and benchmarks.
//!
//! Tests of kanmon go through the production resolver exactly as a mail server would, so the
//! boundary under test is real DNS over UDP (with TCP fallback), not an in-process mock.
//! [`DnsServer`] answers from a zone a test can swap at any time; [`parse_zone`] reads the
//! zone lines test cases are written in; [`SilentServer`] never answers, for timeout budgets.
//! Nothing here is used by kanmon itself.

mod server;
mod silent;
mod zone;

pub use server::{DnsServer, Entry, Value, Zone, raw_name, zone_key};
pub use silent::SilentServer;
pub use zone::{ZoneError, parse_zone};
