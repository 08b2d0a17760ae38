//! What the engine concluded about a message, for front-ends to translate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::AuthResults;
use crate::bayes::autolearn::Autolearn;
use crate::check::{CheckName, Mode};
use crate::decide::most_severe_enforced;
use crate::signing::SigningOutcome;
use crate::symbol::ScoredHit;

/// What should happen to the message. The words are those of rspamd's actions, which
/// `check --json`, the policy `action=` mapping and the dashboard all use.
///
/// The order is severity: when several reasons apply, the most severe action wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver unchanged (headers are still added).
    Accept,
    /// Deliver with the spam headers saying yes.
    AddHeader,
    /// Deliver with the spam headers and a marked Subject.
    RewriteSubject,
    /// Defer the first attempt from an unknown sender (a temporary refusal).
    Greylist,
    /// Refuse temporarily (4xx): the sender retries, nothing is lost.
    Tempfail,
    /// Refuse permanently (5xx).
    Reject,
}

impl Action {
    /// The action's word, as in `check --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::AddHeader => "add_header",
            Action::RewriteSubject => "rewrite_subject",
            Action::Greylist => "greylist",
            Action::Tempfail => "tempfail",
            Action::Reject => "reject",
        }
    }

    /// Whether the message is judged spam (the spam headers say yes).
    pub fn is_spam(self) -> bool {
        matches!(
            self,
            Action::AddHeader | Action::RewriteSubject | Action::Reject
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action a check asks for on its own, before its mode is applied: SPF `fail` → reject,
/// DMARC failure under `p=reject` → reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enforcement {
    /// The check asking.
    pub check: CheckName,
    /// What it asks for.
    pub action: Action,
    /// Short text with a stable category first (e.g. "SPF fail: ..."), used as the SMTP
    /// reply text, so log parsers that split at the first colon group it well.
    pub reason: String,
    /// The check's mode: only `enforce` changes the action; `tag` records what would have
    /// happened.
    pub mode: Mode,
}

/// A header field to add, name and unfolded value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    pub fn new(name: &str, value: String) -> Header {
        Header {
            name: name.to_owned(),
            value,
        }
    }
}

/// Something the engine could not do for this message, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// What was skipped: a check name ("spf") or a part of one ("spf helo").
    pub what: String,
    /// Why, e.g. "no client IP given (--ip)".
    pub why: String,
}

/// The outcome of scanning one message.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// Why, when the action is not `accept`: the deciding enforcement's reason or the score.
    pub reason: Option<String>,
    /// The sum of the hits' scores.
    pub score: f64,
    /// The score at which the message counts as spam (the `add_header` threshold), which
    /// SpamAssassin's headers call `required`.
    pub required: f64,
    /// Every hit with its score, in the order the checks ran.
    pub hits: Vec<ScoredHit>,
    /// What each check asked to enforce, whatever its mode.
    pub enforcements: Vec<Enforcement>,
    /// The authentication results, for headers and reports.
    pub auth: AuthResults,
    /// Header fields to add, in order, top first.
    pub headers: Vec<Header>,
    /// Indexes (among the message's Authentication-Results fields, top first) of fields that
    /// claim our authserv-id: forged or stale, so front-ends remove them.
    pub forged_authentication_results: Vec<usize>,
    /// What could not run, and why.
    pub skipped: Vec<Skipped>,
    /// Whether the message came from our own networks (scanned as outbound).
    pub internal: bool,
    /// What autolearn made of the message (X-Spam-Status's `autolearn=`).
    pub autolearn: Autolearn,
    /// What DKIM signing did: `None` unless the message is outbound, whole, and signing is
    /// configured (`[[signing_table]]`).
    pub signing: Option<SigningOutcome>,
}

impl Verdict {
    /// The most severe action a check in `enforce` mode asks for, apart from the score: what
    /// a front-end may act on before it has the message (the score is not final until then).
    pub fn enforced(&self) -> Option<&Enforcement> {
        most_severe_enforced(&self.enforcements)
    }
}
