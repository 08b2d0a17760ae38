//! ARC (RFC 8617, Authenticated Received Chain): validate a message's chain, and seal it.
//!
//! An ARC set is three header fields with the same instance `i=`: ARC-Authentication-Results
//! (AAR, what a hop concluded), ARC-Message-Signature (AMS, a DKIM-like signature over the
//! message as that hop passed it on) and ARC-Seal (AS, a signature over every ARC set up to
//! and including its own). Each forwarding hop adds one set.
//!
//! [`validate`] follows RFC 8617 §5.2 and returns an [`ArcOutput`]: the chain result
//! ([`ArcResult`]: `none`, `pass`, `fail`, or `temperror` when a key lookup failed
//! transiently), one [`ArcSetOutput`] per instance found (the outcome of its AS and AMS, its
//! `cv=`, its AAR text and `smtp.remote-ip`), the "oldest-pass" instance (§5.2 step 6) and
//! an [`ArcOutput::reason`] an administrator can read. Keys come through the
//! [`Resolver`](crate::dns::Resolver) trait and the time is a parameter.
//!
//! [`Sealer`] follows RFC 8617 §5.1: given the message, the validation of the chain it
//! arrived with and this hop's Authentication-Results payload, it writes the next
//! [`ArcSet`], folded and ready to prepend. It seals with RSA-SHA256 only: RFC 8617 defines
//! no other algorithm for ARC, and dkimpy refuses Ed25519 seals, so an Ed25519 key is
//! refused when the sealer is made.
//!
//! What it does not do:
//! * Decide whom to trust. A `pass` says the chain is intact, not that its sealers are
//!   honest; the AAR texts and remote addresses are reported so that kanmon-core can apply
//!   a trusted-forwarder policy (RFC 8617 §7.2, and DMARC's local-policy override).
//! * Write the hop's Authentication-Results field. The sealer copies the payload it is
//!   given into the AAR (adding `arc=` when it is missing, RFC 8617 §4.1.1).
//! * Cache keys across messages. Within one validation each key is fetched once.
//!
//! Interoperability: chains sealed here validate in dkimpy 1.1.4's `arc_verify`, and dkimpy
//! `arc_sign` chains validate here (`testdata/arc/`, `scripts/arc-interop/`). Like dkimpy,
//! the AMS never signs ARC header fields, DKIM-Signature or Authentication-Results.

mod header;
mod seal;
mod validate;

use std::fmt;

use crate::dkim::DkimResult;

pub use seal::{ArcSet, SealError, Sealer, UNSIGNABLE_HEADERS};
pub use validate::validate;

/// The highest instance an ARC set may have (RFC 8617 §4.2.1: "The 'i' tag value can range
/// from 1-50"; §5.2 step 1: a chain with more sets fails).
pub const MAX_INSTANCE: u32 = 50;

/// A chain validation status as ARC-Seal's `cv=` writes it (RFC 8617 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainStatus {
    /// No chain before this set (only instance 1).
    None,
    /// The chain as received validated.
    Pass,
    /// The chain as received did not validate.
    Fail,
}

impl ChainStatus {
    /// The name as `cv=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::None => "none",
            ChainStatus::Pass => "pass",
            ChainStatus::Fail => "fail",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        // Values are case-insensitive in practice (dkimpy lower-cases them).
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(ChainStatus::None),
            "pass" => Some(ChainStatus::Pass),
            "fail" => Some(ChainStatus::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for ChainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of validating a chain (RFC 8617 §5.2; the `arc` method of RFC 8601 results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArcResult {
    /// The message has no ARC header fields.
    None,
    /// Every structural check and signature passed.
    Pass,
    /// The chain is broken, malformed or was marked failed by a sealer.
    Fail,
    /// A key lookup failed transiently; a retry may give `pass` or `fail`. RFC 8617 has no
    /// such result: Authentication-Results writers that need one of the three may treat it
    /// as `fail`, but a sealer should not stamp `cv=fail` on it ([`SealError::ChainUnknown`]).
    TempError,
}

impl ArcResult {
    /// The name as Authentication-Results writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ArcResult::None => "none",
            ArcResult::Pass => "pass",
            ArcResult::Fail => "fail",
            ArcResult::TempError => "temperror",
        }
    }
}

impl fmt::Display for ArcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one ARC signature (an AMS or an AS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// `pass` or `fail` once checked; `permerror` for a malformed field or unusable key,
    /// `temperror` for a transient DNS failure, `policy` for a key under RFC 8301's floor,
    /// and `neutral` when the validation stopped before it (RFC 8617 §5.2 stops at the
    /// first failure).
    pub result: DkimResult,
    /// `d=` as written (empty when absent).
    pub domain: String,
    /// `s=` as written.
    pub selector: String,
    /// What went wrong or why it was not checked, for every result but `pass`.
    pub problem: Option<String>,
}

impl SignatureCheck {
    pub(crate) fn unchecked(domain: &str, selector: &str) -> Self {
        Self {
            result: DkimResult::Neutral,
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            problem: Some("not checked".to_owned()),
        }
    }

    /// One line an administrator can read.
    pub fn reason(&self) -> String {
        match self.result {
            DkimResult::Pass => "signature verified".to_owned(),
            _ => self
                .problem
                .clone()
                .unwrap_or_else(|| self.result.to_string()),
        }
    }
}

/// What one ARC set holds and how its signatures fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSetOutput {
    /// The instance `i=`.
    pub instance: u32,
    /// The ARC-Seal's `cv=`, if it could be read.
    pub cv: Option<ChainStatus>,
    /// The ARC-Seal.
    pub seal: SignatureCheck,
    /// The ARC-Message-Signature.
    pub message_signature: SignatureCheck,
    /// The ARC-Authentication-Results payload after `i=N;` (authserv-id and results),
    /// unfolded; empty when the set has no AAR. Untrusted unless the sealer is.
    pub authentication_results: String,
    /// `smtp.remote-ip` from the AAR: the client the sealer received the message from.
    pub remote_ip: Option<String>,
}

/// The result of validating a message's chain (RFC 8617 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutput {
    /// The chain result.
    pub result: ArcResult,
    /// One entry per instance found, lowest first.
    pub sets: Vec<ArcSetOutput>,
    /// The highest instance found (N), 0 without a chain. A sealer writes N+1.
    pub highest_instance: u32,
    /// RFC 8617 §5.2 step 6, for a `pass`: the lowest instance from which every AMS up to
    /// N still verifies, or 0 when all of them do (the message is as the first sealer saw
    /// it). `None` when not determined.
    pub oldest_pass: Option<u32>,
    /// What made the chain fail (or not validate), for every result but `pass` and `none`.
    pub problem: Option<String>,
}

impl ArcOutput {
    /// The output for a message without ARC header fields.
    pub fn none() -> Self {
        Self {
            result: ArcResult::None,
            sets: Vec::new(),
            highest_instance: 0,
            oldest_pass: None,
            problem: None,
        }
    }

    /// The number of ARC sets (distinct instances) found.
    pub fn set_count(&self) -> usize {
        self.sets.len()
    }

    /// The set with instance `i`, if found.
    pub fn set(&self, instance: u32) -> Option<&ArcSetOutput> {
        self.sets.iter().find(|set| set.instance == instance)
    }

    /// The `cv=` a sealer adding the next set writes (RFC 8617 §5.1.1), or `None` after a
    /// `temperror`.
    pub fn cv(&self) -> Option<ChainStatus> {
        match self.result {
            ArcResult::None => Some(ChainStatus::None),
            ArcResult::Pass => Some(ChainStatus::Pass),
            ArcResult::Fail => Some(ChainStatus::Fail),
            ArcResult::TempError => None,
        }
    }

    /// Whether the newest set already says the chain failed (`cv=fail`): RFC 8617 §5.1
    /// step 1, such a chain gets no further sets.
    pub fn ended(&self) -> bool {
        self.set(self.highest_instance)
            .is_some_and(|set| set.cv == Some(ChainStatus::Fail))
    }

    /// One line an administrator can read, e.g. "ARC-Seal i=1 did not verify: ...".
    pub fn reason(&self) -> String {
        match self.result {
            ArcResult::None => "message has no ARC header fields".to_owned(),
            ArcResult::Pass => {
                let sets = self.sets.len();
                let plural = if sets == 1 { "" } else { "s" };
                let mut reason = format!("chain of {sets} ARC set{plural} verified");
                if let Some(oldest) = self.oldest_pass {
                    reason.push_str(&format!(" (oldest-pass={oldest})"));
                }
                reason
            }
            _ => self
                .problem
                .clone()
                .unwrap_or_else(|| self.result.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cv_values_round_trip() {
        for status in [ChainStatus::None, ChainStatus::Pass, ChainStatus::Fail] {
            assert_eq!(ChainStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ChainStatus::parse("PASS"), Some(ChainStatus::Pass));
        assert_eq!(ChainStatus::parse("maybe"), None);
    }

    #[test]
    fn empty_output_reads_as_none() {
        let output = ArcOutput::none();
        assert_eq!(output.cv(), Some(ChainStatus::None));
        assert_eq!(output.reason(), "message has no ARC header fields");
        assert!(!output.ended());
        assert_eq!(output.set_count(), 0);
    }
}
