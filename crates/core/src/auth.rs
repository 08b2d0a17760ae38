//! The authentication stage: SPF, DKIM, ARC and DMARC for one message, via kanmon-auth.
//!
//! These results are facts other checks and the headers build on, so they are derived once,
//! before the checks run: SPF (MAIL FROM and HELO), DKIM and ARC concurrently, then DMARC,
//! which needs the SPF and DKIM results. Every lookup is bounded by the resolver's timeout
//! and the whole stage by the scan's deadline; a part that runs out of time reports
//! `temperror`, so a silent DNS server delays a message by the budget, never forever.

use std::net::IpAddr;

use kanmon_auth::arc::{self, ArcOutput, ArcResult};
use kanmon_auth::dkim::{DkimOutput, DkimResult, DkimVerifier, VerifyOptions};
use kanmon_auth::dmarc::{
    self, Discovery, DkimIdentifier, DmarcOutput, DmarcRequest, DmarcResult, SpfIdentifier,
};
use kanmon_auth::dns::Resolver;
use kanmon_auth::message::Message;
use kanmon_auth::spf::{Identity, SpfOutput, SpfRequest, SpfResult, SpfVerifier};
use tokio::time::{Instant, timeout_at};

use crate::check::Mode;
use crate::config::Config;
use crate::envelope::Envelope;
use crate::verdict::Skipped;

/// The problem reported for a part of the stage the scan's deadline cut off.
const BUDGET_RAN_OUT: &str = "timed out: the scan's time budget ran out";

/// What the authentication stage found; `None` (or empty) where a part did not run, with
/// the reason in the verdict's `skipped`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthResults {
    /// SPF for the MAIL FROM identity (the HELO identity for a null reverse-path).
    pub spf: Option<SpfOutput>,
    /// SPF for the HELO identity, checked on its own.
    pub spf_helo: Option<SpfOutput>,
    /// One entry per DKIM signature (a single `none` entry for an unsigned message).
    pub dkim: Vec<DkimOutput>,
    /// The ARC chain.
    pub arc: Option<ArcOutput>,
    /// DMARC for the From domain(s).
    pub dmarc: Option<DmarcOutput>,
}

impl AuthResults {
    /// Whether any DKIM signature verified.
    pub fn dkim_passed(&self) -> bool {
        self.dkim.iter().any(|d| d.result == DkimResult::Pass)
    }
}

/// Everything the stage needs besides the message.
pub(crate) struct AuthContext<'a, R> {
    pub(crate) config: &'a Config,
    pub(crate) spf: &'a SpfVerifier<R>,
    pub(crate) dkim: &'a DkimVerifier<R>,
    pub(crate) envelope: &'a Envelope,
    pub(crate) message: Option<&'a Message<'a>>,
    /// Why there is no message, when there is none, for the skip notes.
    pub(crate) no_message: &'static str,
    pub(crate) now: u64,
    pub(crate) dmarc_sample: u8,
    pub(crate) deadline: Instant,
    /// Results of an earlier scan of the same envelope: its SPF outputs are taken as they are.
    pub(crate) early: Option<&'a AuthResults>,
}

/// Runs SPF, DKIM, ARC and DMARC as the configuration asks, recording what it skipped.
pub(crate) async fn authenticate<R: Resolver>(
    context: &AuthContext<'_, R>,
    skipped: &mut Vec<Skipped>,
) -> AuthResults {
    let config = context.config;
    let need_spf = config.spf.mode != Mode::Off || config.dmarc.mode != Mode::Off;
    let need_helo = config.spf.mode != Mode::Off && config.spf.helo;
    let need_dkim = config.dkim.mode != Mode::Off || config.dmarc.mode != Mode::Off;
    let need_arc = config.arc.mode != Mode::Off;
    let need_dmarc = config.dmarc.mode != Mode::Off;

    let spf_request = if need_spf || need_helo {
        spf_request(
            context.envelope,
            &config.authserv_id,
            context.now,
            skipped,
            need_helo,
        )
    } else {
        SpfPlan::default()
    };
    let message = context.message;
    if message.is_none() {
        for (needed, what) in [
            (need_dkim, "dkim"),
            (need_dmarc, "dmarc"),
            (need_arc, "arc"),
        ] {
            if needed {
                skipped.push(Skipped {
                    what: what.to_owned(),
                    why: context.no_message.to_owned(),
                });
            }
        }
    }
    let deadline = context.deadline;
    let early = context.early;
    let mail_from = async {
        if let Some(early) = early {
            return early.spf.clone();
        }
        match (&spf_request.request, need_spf, spf_request.mail_from) {
            (Some(request), true, true) => Some(
                timeout_at(deadline, context.spf.verify_mail_from(request))
                    .await
                    .unwrap_or_else(|_| spf_timed_out(request, Identity::MailFrom)),
            ),
            _ => None,
        }
    };
    let helo = async {
        if let Some(early) = early {
            return early.spf_helo.clone();
        }
        match (&spf_request.request, spf_request.helo) {
            (Some(request), true) => Some(
                timeout_at(deadline, context.spf.verify_helo(request))
                    .await
                    .unwrap_or_else(|_| spf_timed_out(request, Identity::Helo)),
            ),
            _ => None,
        }
    };
    let options = VerifyOptions {
        allow_sha1: config.dkim.allow_sha1,
        min_rsa_bits: config.dkim.min_rsa_bits,
        max_signatures: config.limits.max_dkim_signatures,
    };
    let resolver = context.spf.resolver();
    let dkim = async {
        match message {
            Some(message) if need_dkim => timeout_at(
                deadline,
                context.dkim.verify(message, &options, context.now),
            )
            .await
            .unwrap_or_else(|_| dkim_timed_out(message)),
            _ => Vec::new(),
        }
    };
    let arc = async {
        match message {
            Some(message) if need_arc => Some(
                timeout_at(deadline, arc::validate(resolver, message, context.now))
                    .await
                    .unwrap_or_else(|_| ArcOutput {
                        result: ArcResult::TempError,
                        problem: Some(BUDGET_RAN_OUT.to_owned()),
                        ..ArcOutput::none()
                    }),
            ),
            _ => None,
        }
    };
    let (spf, spf_helo, dkim, arc) = tokio::join!(mail_from, helo, dkim, arc);

    let dmarc = match message {
        Some(message) if need_dmarc => {
            let from_values = from_values(message);
            let from_values: Vec<&str> = from_values.iter().map(String::as_str).collect();
            let identifiers: Vec<DkimIdentifier<'_>> = dkim
                .iter()
                .filter(|d| !d.domain.is_empty())
                .map(|d| DkimIdentifier {
                    domain: &d.domain,
                    passed: d.result == DkimResult::Pass,
                })
                .collect();
            let mut request = DmarcRequest::new(
                spf.as_ref().map(SpfIdentifier::from_mail_from),
                &identifiers,
            );
            request.sample = context.dmarc_sample;
            request.discovery = if config.dmarc.tree_walk {
                Discovery::TreeWalk
            } else {
                Discovery::Psl
            };
            if spf.is_none() {
                skipped.push(Skipped {
                    what: "dmarc spf".to_owned(),
                    why: "no SPF result for the MAIL FROM identity: DMARC used DKIM alone"
                        .to_owned(),
                });
            }
            let verify = dmarc::verify(resolver, &from_values, &request);
            Some(
                timeout_at(deadline, verify)
                    .await
                    .unwrap_or_else(|_| dmarc_timed_out(&from_values, &request)),
            )
        }
        _ => None,
    };
    AuthResults {
        spf,
        spf_helo,
        dkim,
        arc,
        dmarc,
    }
}

/// The bodies of a message's From fields, as text (8-bit bytes replaced), for DMARC's
/// author-domain reading.
pub(crate) fn from_values(message: &Message<'_>) -> Vec<String> {
    message
        .fields("From")
        .map(|field| String::from_utf8_lossy(field.value()).into_owned())
        .collect()
}

/// The SPF request, and which identities can be checked with what the envelope holds.
#[derive(Default)]
struct SpfPlan<'a> {
    request: Option<SpfRequest<'a>>,
    mail_from: bool,
    helo: bool,
}

fn spf_request<'a>(
    envelope: &'a Envelope,
    receiver: &'a str,
    now: u64,
    skipped: &mut Vec<Skipped>,
    want_helo: bool,
) -> SpfPlan<'a> {
    let mut skip = |what: &str, why: &str| {
        skipped.push(Skipped {
            what: what.to_owned(),
            why: why.to_owned(),
        })
    };
    let Some(ip) = envelope.client_ip else {
        skip("spf", "no client IP address given");
        return SpfPlan::default();
    };
    let helo = envelope.helo.as_deref();
    let mail_from = match (envelope.mail_from.as_deref(), helo) {
        (None, _) => {
            skip("spf", "no MAIL FROM address given");
            false
        }
        // A null reverse-path is checked as postmaster@<helo> (RFC 7208 §2.4).
        (Some(""), None) => {
            skip("spf", "null MAIL FROM and no HELO name given");
            false
        }
        (Some(_), _) => true,
    };
    let helo_checked = want_helo && helo.is_some_and(|h| !is_address_literal(h));
    if want_helo && !helo_checked {
        match helo {
            None => skip("spf helo", "no HELO name given"),
            Some(_) => skip("spf helo", "HELO is an address literal, not a domain"),
        }
    }
    let mut request = SpfRequest::new(
        ip,
        helo.unwrap_or(""),
        envelope.mail_from.as_deref().unwrap_or(""),
    );
    request.receiver = receiver;
    request.now = now;
    SpfPlan {
        request: Some(request),
        mail_from,
        helo: helo_checked,
    }
}

/// `[192.0.2.1]` or a bare address: RFC 7208 §2.3 checks HELO only when it is a domain.
fn is_address_literal(helo: &str) -> bool {
    helo.starts_with('[') || helo.parse::<IpAddr>().is_ok()
}

fn spf_timed_out(request: &SpfRequest<'_>, identity: Identity) -> SpfOutput {
    let (sender, domain) = match identity {
        Identity::MailFrom if !request.mail_from.is_empty() => (
            request.mail_from.to_owned(),
            request
                .mail_from
                .rsplit_once('@')
                .map_or(request.mail_from, |(_, d)| d)
                .to_owned(),
        ),
        _ => (
            format!("postmaster@{}", request.helo),
            request.helo.to_owned(),
        ),
    };
    SpfOutput {
        result: SpfResult::TempError,
        identity,
        ip: request.ip,
        sender,
        domain,
        mechanism: None,
        explanation: None,
        problem: Some(BUDGET_RAN_OUT.to_owned()),
    }
}

/// What the budget leaves of a DKIM check: each signature as `temperror`, with the `d=`
/// and `s=` it claims, so the report still says who signed.
fn dkim_timed_out(message: &Message<'_>) -> Vec<DkimOutput> {
    message
        .fields("DKIM-Signature")
        .map(|field| {
            let value = String::from_utf8_lossy(field.value());
            DkimOutput {
                result: DkimResult::TempError,
                domain: tag(&value, "d").unwrap_or_default(),
                selector: tag(&value, "s").unwrap_or_default(),
                identity: tag(&value, "i"),
                algorithm: None,
                body_length: None,
                unsigned_body_bytes: None,
                header_b: String::new(),
                testing: false,
                key_bits: None,
                problem: Some(BUDGET_RAN_OUT.to_owned()),
            }
        })
        .collect()
}

/// A tag's value in a `tag=value; …` list, whitespace removed (RFC 6376 §3.2).
fn tag(list: &str, name: &str) -> Option<String> {
    list.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.split_whitespace().collect())
    })
}

/// What the budget leaves of a DMARC check: `temperror` for the (first) author domain.
fn dmarc_timed_out(from_values: &[&str], request: &DmarcRequest<'_>) -> DmarcOutput {
    let from_domain = dmarc::author_domains(from_values)
        .ok()
        .and_then(|domains| domains.into_iter().next())
        .unwrap_or_default();
    DmarcOutput::unfinished(
        &from_domain,
        request,
        DmarcResult::TempError,
        BUDGET_RAN_OUT,
    )
}
