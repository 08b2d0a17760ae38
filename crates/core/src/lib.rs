//! kanmon-core: the scan engine. An envelope and (optionally) a message go in; a [`Verdict`]
//! with an action, a score, the evidence and the header fields to add comes out.
//!
//! Data flow ([`Engine::scan_message`]): the message is split into header fields and body
//! ([`Scan`]); the authentication stage runs SPF, DKIM, ARC and DMARC through kanmon-auth
//! ([`auth`]); the enabled [`Check`]s turn those facts into hits on declared symbols
//! ([`checks`]); configuration gives each hit its score ([`config`]); [`decide`] picks the
//! action; [`headers`] renders what to add. Front-ends (milter, policy, CLI) translate the
//! verdict into their protocol; no protocol type appears here.

pub mod auth;
pub mod bayes;
pub mod check;
pub mod checks;
pub mod config;
pub mod content;
pub mod decide;
pub mod engine;
pub mod envelope;
pub mod headers;
pub mod history;
pub mod report;
pub mod scan;
pub mod signing;
pub mod stats;
pub mod symbol;
pub mod verdict;

pub use check::{Check, CheckName, Mode, Outcome};
pub use checks::Greylisting;
pub use config::Config;
pub use decide::decide;
pub use engine::Engine;
pub use envelope::{Envelope, ReverseName};
pub use scan::Scan;
pub use signing::{DkimSignature, SigningOutcome};
pub use symbol::{Hit, ScoredHit, Symbol};
pub use verdict::{Action, Enforcement, Header, Skipped, Verdict};

/// The auth crate, re-exported so front-ends and tests name one version of its types.
pub use kanmon_auth;
