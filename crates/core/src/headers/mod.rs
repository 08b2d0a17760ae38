//! The header fields kanmon adds, rendered in one place from the verdict.
//!
//! Interface only in this commit; the renderers follow.

use kanmon_auth::message::Message;

use crate::auth::AuthResults;
use crate::config::Config;
use crate::envelope::Envelope;
use crate::symbol::ScoredHit;
use crate::verdict::{Action, Header};

/// Everything the headers say.
pub struct HeaderContext<'a> {
    pub config: &'a Config,
    pub envelope: &'a Envelope,
    pub auth: &'a AuthResults,
    pub action: Action,
    pub score: f64,
    pub required: f64,
    pub hits: &'a [ScoredHit],
}

/// The header fields to add, top first.
pub fn render(_context: &HeaderContext<'_>) -> Vec<Header> {
    Vec::new()
}

/// Indexes, among the message's Authentication-Results fields (top first), of those that
/// claim `authserv_id`.
pub fn forged_authentication_results(_message: &Message<'_>, _authserv_id: &str) -> Vec<usize> {
    Vec::new()
}
