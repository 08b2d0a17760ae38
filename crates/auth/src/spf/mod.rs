//! SPF (RFC 7208): may this IP address send mail for this domain?
//!
//! [`verify_mail_from`] and [`verify_helo`] run `check_host()` (RFC 7208 §4) for the two
//! identities an SMTP server sees, and return an [`SpfOutput`]: the result, the domain it is
//! about, the mechanism that decided it and, for `fail`, the domain owner's explanation.
//! Everything that can go wrong with the sender's DNS is a result (`temperror`, `permerror`,
//! `none`), never a Rust error.
//!
//! Conformance: the official RFC 7208 test suite is run against this module through a real
//! DNS server on loopback (`tests/spf_suite.rs`, results in `docs/conformance.md`).
//!
//! ```
//! # use kanmon_auth::{dns::StaticResolver, spf::{verify_mail_from, SpfRequest, SpfResult}};
//! # tokio_test();
//! # fn tokio_test() { let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let zone = StaticResolver::new().with_txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
//! let request = SpfRequest::new("203.0.113.5".parse().unwrap(), "mx.example.net", "alice@example.org");
//! let output = verify_mail_from(&zone, &request).await;
//! assert_eq!(output.result, SpfResult::Fail);
//! assert_eq!(output.reason(), "203.0.113.5 is not permitted by example.org (-all)");
//! # }); }
//! ```

mod cache;
mod eval;
mod macros;
mod record;

use std::fmt;
use std::net::IpAddr;

use crate::dns::Resolver;

/// The seven results of `check_host()` (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No syntactically valid domain, or no SPF record.
    None,
    /// The domain owner makes no assertion about the client.
    Neutral,
    /// The client is authorized.
    Pass,
    /// The client is explicitly not authorized.
    Fail,
    /// The client is probably not authorized.
    SoftFail,
    /// A transient DNS error; a later retry may succeed.
    TempError,
    /// The domain's published records could not be interpreted.
    PermError,
}

impl SpfResult {
    /// The result's name as Received-SPF and Authentication-Results write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The MAIL FROM address.
    MailFrom,
    /// The HELO/EHLO name; also used for MAIL FROM when the reverse-path is null.
    Helo,
}

/// What the SMTP session told us, and the context macros may ask for.
#[derive(Debug, Clone)]
pub struct SpfRequest<'a> {
    /// The SMTP client's address; an IPv4-mapped IPv6 address counts as IPv4.
    pub ip: IpAddr,
    /// The HELO/EHLO argument as given.
    pub helo: &'a str,
    /// The MAIL FROM address without angle brackets; empty for the null reverse-path.
    pub mail_from: &'a str,
    /// This host's name, for the `%{r}` macro in explanations.
    pub receiver: &'a str,
    /// Current time in Unix seconds, for the `%{t}` macro in explanations.
    pub now: u64,
}

impl<'a> SpfRequest<'a> {
    /// A request with receiver "unknown" (RFC 7208 §7.3) and time 0.
    pub fn new(ip: IpAddr, helo: &'a str, mail_from: &'a str) -> Self {
        Self {
            ip,
            helo,
            mail_from,
            receiver: "unknown",
            now: 0,
        }
    }
}

/// The outcome of one SPF check, with what Received-SPF (RFC 7208 §9.1) and
/// Authentication-Results (RFC 8601) report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutput {
    /// The result.
    pub result: SpfResult,
    /// The identity that was checked.
    pub identity: Identity,
    /// The client address as evaluated (IPv4-mapped addresses unmapped).
    pub ip: IpAddr,
    /// The `<sender>` used: the MAIL FROM address, or `postmaster@` the HELO name.
    pub sender: String,
    /// The domain whose record was evaluated first.
    pub domain: String,
    /// The top-level term that decided the result, e.g. `-all` or `include:_spf.example.net`;
    /// `None` when no mechanism matched or no record was evaluated.
    pub mechanism: Option<String>,
    /// The domain's explanation for a `fail`, from its `exp=` modifier.
    pub explanation: Option<String>,
    /// For `temperror` and `permerror`: what went wrong.
    pub problem: Option<String>,
}

impl SpfOutput {
    /// One line an administrator can read, e.g.
    /// "203.0.113.5 is not permitted by spoofed.test (-all)".
    pub fn reason(&self) -> String {
        let by = |verb: &str| match &self.mechanism {
            Some(mechanism) => format!("{} {verb} {} ({mechanism})", self.ip, self.domain),
            None => format!("{} {verb} {}", self.ip, self.domain),
        };
        match self.result {
            SpfResult::Pass => by("is permitted by"),
            SpfResult::Fail => by("is not permitted by"),
            SpfResult::SoftFail => by("is probably not permitted by"),
            SpfResult::Neutral => match &self.mechanism {
                Some(m) => format!("{} makes no assertion about {} ({m})", self.domain, self.ip),
                None => format!("no mechanism of {} matched {}", self.domain, self.ip),
            },
            SpfResult::None => match &self.problem {
                Some(problem) => format!("{}: {problem}", self.domain),
                None => format!("{} has no SPF record", self.domain),
            },
            SpfResult::TempError | SpfResult::PermError => format!(
                "{}: {}",
                self.domain,
                self.problem.as_deref().unwrap_or("error")
            ),
        }
    }
}

/// Checks the MAIL FROM identity; with a null reverse-path, checks the HELO identity instead
/// (RFC 7208 §2.4). For one-off checks; a daemon uses [`SpfVerifier`], which parses each
/// record once.
pub async fn verify_mail_from<R: Resolver>(resolver: &R, request: &SpfRequest<'_>) -> SpfOutput {
    mail_from(resolver, None, request).await
}

/// Checks the HELO identity, with `postmaster@<helo>` as the sender (RFC 7208 §2.3).
pub async fn verify_helo<R: Resolver>(resolver: &R, request: &SpfRequest<'_>) -> SpfOutput {
    helo(resolver, None, request).await
}

/// SPF checks through one resolver, keeping the parsed form of the records it has seen.
///
/// Share one per process: the cache is keyed by record text, so it never serves a stale
/// record, and it is bounded (the oldest entries are dropped wholesale when it is full).
pub struct SpfVerifier<R> {
    resolver: R,
    records: cache::RecordCache,
}

impl<R: Resolver> SpfVerifier<R> {
    /// A verifier with room for [`SpfVerifier::DEFAULT_CAPACITY`] parsed records.
    pub fn new(resolver: R) -> Self {
        Self::with_capacity(resolver, Self::DEFAULT_CAPACITY)
    }

    /// Parsed records kept by [`SpfVerifier::new`].
    pub const DEFAULT_CAPACITY: usize = cache::DEFAULT_CAPACITY;

    /// A verifier keeping at most `capacity` parsed records (0 keeps none).
    pub fn with_capacity(resolver: R, capacity: usize) -> Self {
        Self {
            resolver,
            records: cache::RecordCache::new(capacity),
        }
    }

    /// The resolver the checks use.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// As [`verify_mail_from`].
    pub async fn verify_mail_from(&self, request: &SpfRequest<'_>) -> SpfOutput {
        mail_from(&self.resolver, Some(&self.records), request).await
    }

    /// As [`verify_helo`].
    pub async fn verify_helo(&self, request: &SpfRequest<'_>) -> SpfOutput {
        helo(&self.resolver, Some(&self.records), request).await
    }
}

async fn mail_from<R: Resolver>(
    resolver: &R,
    records: Option<&cache::RecordCache>,
    request: &SpfRequest<'_>,
) -> SpfOutput {
    if request.mail_from.is_empty() {
        return helo(resolver, records, request).await;
    }
    let (local, domain) = match request.mail_from.rsplit_once('@') {
        Some((local, domain)) => (local, domain),
        None => ("", request.mail_from),
    };
    eval::check(
        resolver,
        records,
        request,
        Identity::MailFrom,
        local,
        domain,
    )
    .await
}

async fn helo<R: Resolver>(
    resolver: &R,
    records: Option<&cache::RecordCache>,
    request: &SpfRequest<'_>,
) -> SpfOutput {
    eval::check(
        resolver,
        records,
        request,
        Identity::Helo,
        "postmaster",
        request.helo,
    )
    .await
}

/// Runs the record and macro parsers on arbitrary bytes (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_record(data: &[u8]) {
    let _ = record::Record::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        for word in text.split(' ') {
            let _ = macros::MacroString::parse(word, macros::Context::DomainSpec);
            let _ = macros::MacroString::parse(word, macros::Context::Explanation);
        }
    }
}
