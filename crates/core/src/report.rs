//! The machine-readable form of a verdict: what `kanmon check --json` prints and the HTTP
//! API will return. The schema is documented in `docs/check-json.md` and kept stable: fields
//! are added, never renamed or removed. Results are the RFC words in lowercase.

use serde::Serialize;

use crate::symbol::ScoredHit;
use crate::verdict::{Action, Enforcement, Header, Skipped, Verdict};

/// One scan's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub action: Action,
    pub reason: Option<&'a str>,
    pub score: f64,
    pub required: f64,
    pub internal: bool,
    /// X-Spam-Status's `autolearn=`: disabled, no, spam or ham.
    pub autolearn: &'static str,
    pub symbols: &'a [ScoredHit],
    pub spf: Option<SpfReport<'a>>,
    pub helo: Option<SpfReport<'a>>,
    pub dkim: Vec<DkimReport<'a>>,
    pub dmarc: Option<DmarcReport<'a>>,
    pub arc: Option<ArcReport>,
    pub enforcements: &'a [Enforcement],
    pub headers: &'a [Header],
    pub forged_authentication_results: &'a [usize],
    pub skipped: &'a [Skipped],
    /// What DKIM signing did; only for outbound mail under a signing table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningReport<'a>>,
}

/// The signatures made for an outbound message (`d=`, `s=`, `a=`), and why a key or the
/// message was not signed.
#[derive(Debug, Clone, Serialize)]
pub struct SigningReport<'a> {
    pub signatures: Vec<SignatureReport<'a>>,
    pub not_signed: &'a [String],
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport<'a> {
    pub domain: &'a str,
    pub selector: &'a str,
    pub algorithm: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpfReport<'a> {
    pub result: &'static str,
    pub domain: &'a str,
    pub sender: &'a str,
    pub mechanism: Option<&'a str>,
    pub explanation: Option<&'a str>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DkimReport<'a> {
    pub result: &'static str,
    pub domain: &'a str,
    pub selector: &'a str,
    pub identity: Option<&'a str>,
    pub algorithm: Option<&'static str>,
    pub key_bits: Option<usize>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DmarcReport<'a> {
    pub result: &'static str,
    pub from_domain: &'a str,
    pub policy: Option<&'static str>,
    pub disposition: &'static str,
    pub policy_domain: Option<&'a str>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArcReport {
    pub result: &'static str,
    pub sets: usize,
    pub reason: String,
}

impl<'a> Report<'a> {
    pub fn new(verdict: &'a Verdict) -> Self {
        let auth = &verdict.auth;
        let spf = |output: &'a kanmon_auth::spf::SpfOutput| SpfReport {
            result: output.result.as_str(),
            domain: &output.domain,
            sender: &output.sender,
            mechanism: output.mechanism.as_deref(),
            explanation: output.explanation.as_deref(),
            reason: output.reason(),
        };
        Report {
            action: verdict.action,
            reason: verdict.reason.as_deref(),
            score: verdict.score,
            required: verdict.required,
            internal: verdict.internal,
            autolearn: verdict.autolearn.as_str(),
            symbols: &verdict.hits,
            spf: auth.spf.as_ref().map(spf),
            helo: auth.spf_helo.as_ref().map(spf),
            dkim: auth
                .dkim
                .iter()
                .map(|d| DkimReport {
                    result: d.result.as_str(),
                    domain: &d.domain,
                    selector: &d.selector,
                    identity: d.identity.as_deref(),
                    algorithm: d.algorithm.map(|a| a.as_str()),
                    key_bits: d.key_bits,
                    reason: d.reason(),
                })
                .collect(),
            dmarc: auth.dmarc.as_ref().map(|d| DmarcReport {
                result: d.result.as_str(),
                from_domain: &d.from_domain,
                policy: d.policy.map(|p| p.as_str()),
                disposition: d.disposition.as_str(),
                policy_domain: d.policy_domain.as_deref(),
                reason: d.reason(),
            }),
            arc: auth.arc.as_ref().map(|a| ArcReport {
                result: a.result.as_str(),
                sets: a.set_count(),
                reason: a.reason(),
            }),
            enforcements: &verdict.enforcements,
            headers: &verdict.headers,
            forged_authentication_results: &verdict.forged_authentication_results,
            skipped: &verdict.skipped,
            signing: verdict.signing.as_ref().map(|signing| SigningReport {
                signatures: signing
                    .signatures
                    .iter()
                    .map(|s| SignatureReport {
                        domain: &s.domain,
                        selector: &s.selector,
                        algorithm: s.algorithm,
                    })
                    .collect(),
                not_signed: &signing.not_signed,
            }),
        }
    }
}
