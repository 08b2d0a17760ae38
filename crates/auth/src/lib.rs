//! kanmon-auth: sender authentication for kanmon, written from the RFCs.
//!
//! This crate answers "who may send for this domain, and did they?" for one message:
//!
//! * [`spf`]: RFC 7208 `check_host()` for the MAIL FROM and HELO identities.
//! * [`dns`]: the narrow lookup trait every protocol here uses, with a caching resolver over
//!   hickory-resolver for production and a static zone for tests.
//!
//! What it does not do: decide what happens to the message. Every outcome here is a value
//! (`softfail` and `temperror` are results, not errors); scoring and policy belong to
//! kanmon-core. It keeps no global state and reads no clock: time and DNS are parameters.

pub mod dkim;
pub mod dns;
pub mod domain;
pub mod message;
pub mod spf;
