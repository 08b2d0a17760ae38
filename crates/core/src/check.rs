//! The `Check` trait: one source of evidence about a message.
//!
//! A check reads the [`Scan`] (envelope, message, facts derived once) and returns an
//! [`Outcome`]: hits on the symbols it declared, and optionally an action it would enforce on
//! its own. It never fails: a DNS timeout is a `*_TEMPERROR` hit or a skip note, not an
//! `Err`. The engine runs the checks concurrently and applies each one's [`Mode`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::scan::Scan;
use crate::symbol::{Hit, Symbol};
use crate::verdict::{Action, Header, Skipped};

/// How much say a check has, per check in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Not run at all.
    Off,
    /// Run; its symbols score, and what it would enforce is recorded but not done.
    #[default]
    Tag,
    /// Run; what it asks to enforce (reject, tempfail, …) is done.
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Tag => "tag",
            Mode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The checks kanmon has; the name of each is its configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    Spf,
    Dkim,
    Dmarc,
    Arc,
    S25r,
    Helo,
    Senders,
    Greylist,
    Rbl,
    Content,
    Bayes,
}

impl CheckName {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Spf => "spf",
            CheckName::Dkim => "dkim",
            CheckName::Dmarc => "dmarc",
            CheckName::Arc => "arc",
            CheckName::S25r => "s25r",
            CheckName::Helo => "helo",
            CheckName::Senders => "senders",
            CheckName::Greylist => "greylist",
            CheckName::Rbl => "rbl",
            CheckName::Content => "content",
            CheckName::Bayes => "bayes",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one check found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Symbols that fired, with evidence.
    pub hits: Vec<Hit>,
    /// The action this check asks for on its own, with a reason whose stable category comes
    /// before the first colon ("SPF fail: …"). The engine honours it only in `enforce` mode.
    pub enforce: Option<(Action, String)>,
    /// Parts of the check that could not run, and why.
    pub skipped: Vec<Skipped>,
    /// Header fields it asks to add (a Postfix header_checks `PREPEND`), after kanmon's own.
    pub headers: Vec<Header>,
}

impl Outcome {
    pub fn hit(&mut self, symbol: &'static str, evidence: impl Into<String>) {
        self.hits.push(Hit::new(symbol, evidence));
    }

    pub fn skip(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.skipped.push(Skipped {
            what: what.into(),
            why: why.into(),
        });
    }
}

/// A boxed future, so checks of different types can sit in one list.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One source of evidence.
pub trait Check: Send + Sync {
    /// Its name, which is also its configuration section.
    fn name(&self) -> CheckName;

    /// Whether it reads the message; checks that do not can run before DATA.
    fn needs_message(&self) -> bool;

    /// Every symbol it may emit. Emitting an undeclared one is a bug the engine's tests catch.
    fn symbols(&self) -> &'static [Symbol];

    /// Examines the message. Never fails; see the module documentation.
    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a>;
}
