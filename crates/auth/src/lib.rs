//! kanmon-auth: sender authentication for kanmon, written from the RFCs.
//!
//! This crate answers "who may send for this domain, and did they?" for one message:
//!
//! * [`spf`]: RFC 7208 `check_host()` for the MAIL FROM and HELO identities.
//! * [`dkim`]: RFC 6376 signatures (RFC 8301 policy, RFC 8463 Ed25519): verify every
//!   signature of a message, and sign with RSA or Ed25519.
//! * [`arc`]: RFC 8617 Authenticated Received Chain: validate a message's chain, and seal it.
//! * [`dmarc`]: RFC 7489 (with RFC 9989 where it settles things) policy discovery, alignment
//!   and disposition, from the From field and the SPF and DKIM results.
//! * [`message`]: the raw header fields and body of a message, as the protocols read them.
//! * [`dns`]: the narrow lookup trait every protocol here uses, with a caching resolver over
//!   hickory-resolver for production and a static zone for tests.
//!
//! What it does not do: decide what happens to the message. Every outcome here is a value
//! (`softfail` and `temperror` are results, not errors); scoring and policy belong to
//! kanmon-core. It keeps no global state and reads no clock: time and DNS are parameters.

pub mod arc;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod domain;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod message;
mod parse_cache;
pub mod spf;
