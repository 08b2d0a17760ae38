//! DMARC (RFC 7489, with RFC 9989 "DMARCbis" where it settles things): does the domain in the
//! From header field vouch for this message, and what does its owner ask us to do if not?
//!
//! [`verify`] takes the From field(s) of a message and the results of the SPF and DKIM checks
//! already made, and returns a [`DmarcOutput`]: the result (`pass`, `fail`, `none`,
//! `temperror`, `permerror`), the record found and where, which identifier aligned, the policy
//! that applies (`p`, `sp` or `np`) and the disposition after `pct` sampling or `t=y` testing.
//! [`verify_domain`] does the same for an author domain already extracted.
//!
//! Data flow: [`author_domains`] reads the From field(s) (RFC 5322 §3.4); for each distinct
//! domain, discovery finds the `_dmarc` record (RFC 7489 §6.6.3 with the Public Suffix List by
//! default, or the RFC 9989 §4.10 tree walk, see [`Discovery`]); alignment compares the
//! authenticated identifiers with the author domain (§3.1); the policy and disposition follow
//! (§6.6.4). The outcome is always a value: DNS failures are `temperror`, never `Err`.
//!
//! This module does not depend on the DKIM verifier: the caller passes each signature's `d=`
//! and whether it verified ([`DkimIdentifier`]), and the SPF result of the MAIL FROM identity
//! ([`SpfIdentifier`]). It does not decide what happens to the message (kanmon-core maps the
//! disposition to an action) and does not send aggregate or failure reports yet; the parsed
//! `rua`, `ruf` and `fo` are kept in [`PolicyRecord`] for when it does.
//!
//! Interpretations where the RFCs leave room:
//!
//! * No From field, no address, or an address without a valid domain: `permerror` (RFC 7489
//!   §11.2: a permanent error, "a later attempt is unlikely to produce a final result"; RFC
//!   9989 §5.3.1 just stops). A bad address beside good ones does not stop the good ones
//!   from being evaluated, so it cannot hide a spoofed domain.
//! * Several From addresses (one field or several): each distinct domain is evaluated and the
//!   strictest outcome reported: a `fail` with the strictest disposition, then `temperror`,
//!   `permerror`, `none`, and `pass` only when every domain passes (RFC 7489 §6.6.1, RFC 9989
//!   §11.5: "apply the most strict policy selected among the checks that fail"), at most
//!   [`MAX_AUTHOR_DOMAINS`].
//! * An invalid `p`, `sp` or `np` with no valid `rua` is `permerror`; with one, the record
//!   acts as `p=none` (RFC 7489 §6.6.3 step 6). A missing `p` is `p=none` (RFC 9989 §4.7).
//! * Several DMARC records at the author domain end discovery with `none` (RFC 7489 §6.6.3
//!   step 5); in tree-walk mode the walk goes on (RFC 9989 §4.10 step 2).
//! * `pct` (RFC 7489) and `t=y` (RFC 9989) are both honoured; the sampling roll is an input
//!   ([`DmarcRequest::sample`]) so results are reproducible.
//! * `np` applies when the author domain answers NXDOMAIN for A, AAAA and MX, and is only
//!   looked up for failing messages.
//! * Internationalized (U-label) From domains are converted to A-labels (UTS #46, via the
//!   `idna` crate) before discovery and alignment; one that does not convert is `permerror`.
//!
//! ```
//! # use kanmon_auth::{dns::StaticResolver, spf::SpfResult};
//! # use kanmon_auth::dmarc::{verify, DkimIdentifier, DmarcRequest, DmarcResult, Policy, SpfIdentifier};
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let zone = StaticResolver::new().with_txt("_dmarc.example.com", "v=DMARC1; p=reject");
//! let dkim = [DkimIdentifier { domain: "other.net", passed: true }];
//! let request = DmarcRequest::new(
//!     Some(SpfIdentifier { domain: "bounce.other.net", result: SpfResult::Pass }),
//!     &dkim,
//! );
//! let output = verify(&zone, &["Alice <alice@example.com>"], &request).await;
//! assert_eq!(output.result, DmarcResult::Fail);
//! assert_eq!(output.disposition, Policy::Reject);
//! assert_eq!(
//!     output.reason(),
//!     "From example.com: no aligned SPF (mail from bounce.other.net) or DKIM (d=other.net) pass; p=reject"
//! );
//! # });
//! ```

mod discovery;
mod eval;
mod from;
mod record;

use std::fmt;

pub use discovery::{Discovery, MAX_TREE_WALK_QUERIES};
pub use eval::MAX_DKIM_IDENTIFIERS;
pub use from::{FromError, MAX_AUTHOR_DOMAINS, MAX_FROM_LEN, author_domains};
pub use record::{
    Alignment, FailureOptions, MAX_RECORD_LEN, MAX_REPORT_URIS, Policy, PolicyRecord, Psd,
    RecordError, ReportUri, is_dmarc_record,
};

use crate::dns::Resolver;
use crate::spf::{SpfOutput, SpfResult};

/// The five DMARC results (RFC 7489 §11.2, RFC 8601 §2.7.1 `dmarc=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// No DMARC policy applies to the author domain.
    None,
    /// An identifier aligned with the author domain passed.
    Pass,
    /// A policy exists and no aligned identifier passed.
    Fail,
    /// A DNS failure; a later retry may succeed.
    TempError,
    /// The From field or the published record could not be interpreted.
    PermError,
}

impl DmarcResult {
    /// The result's name as Authentication-Results writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tag the applied policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyTag {
    /// `p`: the author domain's own record, or a subdomain without `sp`.
    P,
    /// `sp`: an existing subdomain of the policy domain.
    Sp,
    /// `np`: a non-existent subdomain (RFC 9091, RFC 9989).
    Np,
}

impl PolicyTag {
    /// The tag name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyTag::P => "p",
            PolicyTag::Sp => "sp",
            PolicyTag::Np => "np",
        }
    }
}

/// One DKIM signature's outcome, as DMARC needs it: its `d=` and whether it verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DkimIdentifier<'a> {
    /// The signing domain (`d=`).
    pub domain: &'a str,
    /// Whether the signature verified (`dkim=pass`).
    pub passed: bool,
}

/// The SPF outcome DMARC uses: the MAIL FROM identity's, or the HELO identity's when the
/// reverse-path was null (RFC 7489 §4.1, RFC 7208 §2.4). A separate HELO check of a message
/// with a non-null MAIL FROM must not be passed here (RFC 9989 §4.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpfIdentifier<'a> {
    /// The domain SPF checked.
    pub domain: &'a str,
    /// Its result.
    pub result: SpfResult,
}

impl<'a> SpfIdentifier<'a> {
    /// From the output of [`crate::spf::verify_mail_from`] (which already falls back to HELO
    /// for a null reverse-path).
    pub fn from_mail_from(output: &'a SpfOutput) -> Self {
        Self {
            domain: &output.domain,
            result: output.result,
        }
    }
}

/// What DMARC evaluation needs besides the From field and the DNS.
#[derive(Debug, Clone, Copy)]
pub struct DmarcRequest<'a> {
    /// The SPF result for the MAIL FROM identity, if SPF was checked.
    pub spf: Option<SpfIdentifier<'a>>,
    /// Every DKIM signature checked, passing or not; the first [`MAX_DKIM_IDENTIFIERS`]
    /// passing ones are tried for alignment.
    pub dkim: &'a [DkimIdentifier<'a>],
    /// The sampling roll, 0..=99: a failing message is in the `pct` sample when
    /// `sample < pct` (RFC 7489 §6.6.4). Draw it at random per message in production; fixed
    /// in tests.
    pub sample: u8,
    /// How policy records and organizational domains are found.
    pub discovery: Discovery,
}

impl<'a> DmarcRequest<'a> {
    /// A request with sample 0 (always in the sample unless `pct=0`) and PSL discovery.
    pub fn new(spf: Option<SpfIdentifier<'a>>, dkim: &'a [DkimIdentifier<'a>]) -> Self {
        Self {
            spf,
            dkim,
            sample: 0,
            discovery: Discovery::Psl,
        }
    }
}

/// The outcome of DMARC for one message, with what Authentication-Results (RFC 8601) and
/// aggregate reports (RFC 7489 §7.2) need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutput {
    /// The result.
    pub result: DmarcResult,
    /// The author domain evaluated (lower case); empty when none could be read.
    pub from_domain: String,
    /// The other author domains of a multi-address From, evaluated too; this output is the
    /// strictest of them all.
    pub other_from_domains: Vec<String>,
    /// Where the record was found: the author domain or its organizational domain (or, in
    /// tree-walk mode, a public suffix domain).
    pub policy_domain: Option<String>,
    /// The record, whole, when one was found.
    pub record: Option<PolicyRecord>,
    /// The policy that applies to this author domain, before sampling.
    pub policy: Option<Policy>,
    /// Which tag [`DmarcOutput::policy`] came from.
    pub policy_tag: Option<PolicyTag>,
    /// What the owner asks for this message: `none` unless it failed; after `pct`/`t=y`.
    pub disposition: Policy,
    /// Whether the disposition is one lower than the policy because of `pct` or `t=y`.
    pub lowered: bool,
    /// The SPF domain that passed and aligned.
    pub spf_aligned: Option<String>,
    /// The first DKIM `d=` that passed and aligned.
    pub dkim_aligned: Option<String>,
    /// The SPF identity and result that were offered.
    pub spf: Option<(String, SpfResult)>,
    /// The `d=` of every passing DKIM signature offered.
    pub dkim_passed: Vec<String>,
    /// For `none`, `temperror` and `permerror`: what happened.
    pub problem: Option<String>,
}

impl DmarcOutput {
    fn empty(author: &str, request: &DmarcRequest<'_>) -> Self {
        Self {
            result: DmarcResult::None,
            from_domain: author.to_owned(),
            other_from_domains: Vec::new(),
            policy_domain: None,
            record: None,
            policy: None,
            policy_tag: None,
            disposition: Policy::None,
            lowered: false,
            spf_aligned: None,
            dkim_aligned: None,
            spf: request.spf.map(|s| (eval::normalize(s.domain), s.result)),
            dkim_passed: request
                .dkim
                .iter()
                .filter(|d| d.passed)
                .map(|d| eval::normalize(d.domain))
                .collect(),
            problem: None,
        }
    }

    /// An output for `author` that ends with `result` and `problem` before any record was
    /// read: for a caller that stopped the evaluation (a time budget ran out).
    pub fn unfinished(
        author: &str,
        request: &DmarcRequest<'_>,
        result: DmarcResult,
        problem: impl Into<String>,
    ) -> Self {
        Self::empty(&eval::normalize(author), request).with(result, problem.into())
    }

    fn with(mut self, result: DmarcResult, problem: String) -> Self {
        self.result = result;
        self.problem = Some(problem);
        self
    }

    /// One line an administrator can read, e.g. "From example.com: no aligned SPF (mail
    /// from bounce.other.net) or DKIM (d=other.net) pass; p=reject". Other author domains of
    /// the message, if any, are named at the end.
    pub fn reason(&self) -> String {
        let mut reason = self.reason_for_domain();
        if !self.other_from_domains.is_empty() {
            reason.push_str(&format!(
                "; also From {}",
                self.other_from_domains.join(", ")
            ));
        }
        reason
    }

    fn reason_for_domain(&self) -> String {
        let from = if self.from_domain.is_empty() {
            "From".to_owned()
        } else {
            format!("From {}", self.from_domain)
        };
        match self.result {
            DmarcResult::None | DmarcResult::TempError | DmarcResult::PermError => format!(
                "{from}: {}",
                self.problem.as_deref().unwrap_or(self.result.as_str())
            ),
            DmarcResult::Pass => {
                let what = match (&self.spf_aligned, &self.dkim_aligned) {
                    (Some(spf), Some(d)) => {
                        format!("aligned SPF (mail from {spf}) and DKIM (d={d}) pass")
                    }
                    (Some(spf), None) => format!("aligned SPF pass (mail from {spf})"),
                    (None, Some(d)) => format!("aligned DKIM pass (d={d})"),
                    (None, None) => "pass".to_owned(),
                };
                format!("{from}: {what}; {}", self.policy_text())
            }
            DmarcResult::Fail => {
                let spf = match &self.spf {
                    Some((domain, SpfResult::Pass)) => format!("mail from {domain}"),
                    Some((domain, result)) => format!("{result} for {domain}"),
                    None => "not checked".to_owned(),
                };
                let dkim = if self.dkim_passed.is_empty() {
                    "no valid signature".to_owned()
                } else {
                    self.dkim_passed
                        .iter()
                        .map(|d| format!("d={d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut text = format!(
                    "{from}: no aligned SPF ({spf}) or DKIM ({dkim}) pass; {}",
                    self.policy_text()
                );
                if self.lowered {
                    let why = match &self.record {
                        Some(record) if record.testing => "t=y".to_owned(),
                        Some(record) => format!("pct={}, not sampled", record.percent),
                        None => "lowered".to_owned(),
                    };
                    text.push_str(&format!(" ({why}: {})", self.disposition));
                }
                text
            }
        }
    }

    fn policy_text(&self) -> String {
        let tag = self.policy_tag.unwrap_or(PolicyTag::P).as_str();
        let policy = self.policy.unwrap_or(Policy::None);
        match &self.policy_domain {
            Some(domain) if *domain != self.from_domain => {
                format!("{tag}={policy} from {domain}")
            }
            _ => format!("{tag}={policy}"),
        }
    }

    /// How strict an outcome is, for choosing among several author domains: a failure with
    /// a stricter disposition first, then temperror, permerror, none, pass.
    fn strictness(&self) -> (u8, Policy) {
        let rank = match self.result {
            DmarcResult::Fail => 4,
            DmarcResult::TempError => 3,
            DmarcResult::PermError => 2,
            DmarcResult::None => 1,
            DmarcResult::Pass => 0,
        };
        (rank, self.disposition)
    }
}

/// Evaluates DMARC for a message: `from_values` are the bodies of all its From header
/// fields. Never fails; see the module documentation for how several addresses are handled.
pub async fn verify<R: Resolver>(
    resolver: &R,
    from_values: &[&str],
    request: &DmarcRequest<'_>,
) -> DmarcOutput {
    let authors = from::read_authors(from_values);
    // A From problem competes with the domains that could be read; being a permerror it
    // loses to any of their failures (see DmarcOutput::strictness).
    let mut strictest: Option<DmarcOutput> = authors.problem.as_ref().map(|problem| {
        DmarcOutput::empty("", request).with(DmarcResult::PermError, problem.to_string())
    });
    for domain in &authors.domains {
        let output = eval::evaluate(resolver, domain, request).await;
        let stricter = match &strictest {
            Some(current) => output.strictness() > current.strictness(),
            None => true,
        };
        if stricter {
            strictest = Some(output);
        }
    }
    let mut output = strictest.expect("invariant: read_authors gives a domain or a problem");
    output.other_from_domains = authors
        .domains
        .into_iter()
        .filter(|d| *d != output.from_domain)
        .collect();
    output
}

/// Evaluates DMARC for one author domain already taken from the From field.
pub async fn verify_domain<R: Resolver>(
    resolver: &R,
    from_domain: &str,
    request: &DmarcRequest<'_>,
) -> DmarcOutput {
    let author = eval::normalize(from_domain);
    if !crate::domain::is_valid_mail_domain(&author) {
        return DmarcOutput::empty(&author, request)
            .with(DmarcResult::PermError, "not a valid mail domain".to_owned());
    }
    eval::evaluate(resolver, &author, request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::StaticResolver;
    use crate::spf::{SpfRequest, verify_mail_from};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn spf_output_feeds_dmarc() {
        let zone = StaticResolver::new()
            .with_txt("bounce.example.com", "v=spf1 ip4:192.0.2.0/24 -all")
            .with_txt("_dmarc.example.com", "v=DMARC1; p=reject; aspf=r");
        let spf_request = SpfRequest::new(
            "192.0.2.7".parse().unwrap(),
            "mx.example.com",
            "list@bounce.example.com",
        );
        let spf = block_on(verify_mail_from(&zone, &spf_request));
        let request = DmarcRequest::new(Some(SpfIdentifier::from_mail_from(&spf)), &[]);
        let output = block_on(verify_domain(&zone, "Example.com.", &request));
        assert_eq!(output.result, DmarcResult::Pass);
        assert_eq!(output.spf_aligned.as_deref(), Some("bounce.example.com"));
        assert_eq!(output.from_domain, "example.com");
    }

    #[test]
    fn verify_domain_rejects_non_domains() {
        let zone = StaticResolver::new();
        let request = DmarcRequest::new(None, &[]);
        for bad in ["localhost", "", "[192.0.2.1]", "a..b"] {
            let output = block_on(verify_domain(&zone, bad, &request));
            assert_eq!(output.result, DmarcResult::PermError, "{bad}");
        }
    }

    #[test]
    fn output_keeps_the_record_for_reports() {
        let zone = StaticResolver::new().with_txt(
            "_dmarc.example.com",
            "v=DMARC1; p=quarantine; rua=mailto:agg@example.com; ruf=mailto:f@example.com; fo=1",
        );
        let request = DmarcRequest::new(None, &[]);
        let output = block_on(verify_domain(&zone, "example.com", &request));
        let record = output.record.expect("a record");
        assert!(record.text.starts_with("v=DMARC1; p=quarantine"));
        assert_eq!(record.rua[0].mailto(), Some("agg@example.com"));
        assert!(record.failure_options.any_fail);
        assert_eq!(output.policy_domain.as_deref(), Some("example.com"));
    }

    #[test]
    fn result_names() {
        let names: Vec<&str> = [
            DmarcResult::None,
            DmarcResult::Pass,
            DmarcResult::Fail,
            DmarcResult::TempError,
            DmarcResult::PermError,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(names, ["none", "pass", "fail", "temperror", "permerror"]);
        assert_eq!(Policy::Reject.lowered(), Policy::Quarantine);
        assert_eq!(Policy::Quarantine.lowered(), Policy::None);
        assert_eq!(Policy::None.lowered(), Policy::None);
    }
}
