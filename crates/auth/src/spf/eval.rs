//! `check_host()` evaluation (RFC 7208 §4–§6) with the processing limits of §4.6.4.
//!
//! One [`Evaluation`] carries the counters across `include:` and `redirect=` recursion, so the
//! limits hold for the whole check, not per record.

use std::borrow::Cow;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use super::cache::{Parsed, RecordCache};
use super::macros::{Context, MacroString, Values, query_name};
use super::record::{DualCidr, Mechanism, Record, is_spf_record};
use super::{Identity, SpfOutput, SpfRequest, SpfResult};
use crate::dns::{DnsError, Resolver};
use crate::domain;

/// Terms that query the DNS (include, a, mx, ptr, exists, redirect) allowed per check
/// (RFC 7208 §4.6.4).
const MAX_DNS_TERMS: u32 = 10;
/// DNS queries answering NXDOMAIN or no records allowed per check (RFC 7208 §4.6.4).
const MAX_VOID_LOOKUPS: u32 = 2;
/// MX names one `mx` mechanism may look up; more is a `permerror` (RFC 7208 §4.6.4).
const MAX_MX_NAMES: usize = 10;
/// PTR names one `ptr` mechanism or `%{p}` may validate; the rest are ignored (RFC 7208 §4.6.4).
const MAX_PTR_NAMES: usize = 10;

/// Ends evaluation early with `temperror` or `permerror`.
struct Abort {
    result: SpfResult,
    problem: String,
}

impl Abort {
    fn perm(problem: impl Into<String>) -> Self {
        Self {
            result: SpfResult::PermError,
            problem: problem.into(),
        }
    }

    fn temp(name: &str, error: &DnsError) -> Self {
        Self {
            result: SpfResult::TempError,
            problem: format!("dns lookup of {name} failed: {error}"),
        }
    }
}

/// What evaluating one record produced.
struct HostOutcome {
    result: SpfResult,
    mechanism: Option<String>,
    problem: Option<String>,
    /// The `exp=` of the record that decided a `fail`, with the domain it expands against.
    explanation: Option<(MacroString, String)>,
}

impl HostOutcome {
    fn new(result: SpfResult) -> Self {
        Self {
            result,
            mechanism: None,
            problem: None,
            explanation: None,
        }
    }

    fn aborted(abort: Abort) -> Self {
        Self {
            problem: Some(abort.problem),
            ..Self::new(abort.result)
        }
    }
}

struct Evaluation<'a, R> {
    resolver: &'a R,
    records: Option<&'a RecordCache>,
    ip: IpAddr,
    sender: String,
    local_part: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    receiver: &'a str,
    now: u64,
    dns_terms: u32,
    void_lookups: u32,
}

pub(super) async fn check<R: Resolver>(
    resolver: &R,
    records: Option<&RecordCache>,
    request: &SpfRequest<'_>,
    identity: Identity,
    local_part: &str,
    domain: &str,
) -> SpfOutput {
    let local_part = if local_part.is_empty() {
        "postmaster"
    } else {
        local_part
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let ip = request.ip.to_canonical();
    let mut evaluation = Evaluation {
        resolver,
        records,
        ip,
        sender: [local_part, "@", domain].concat(),
        local_part,
        sender_domain: domain,
        helo: request.helo,
        receiver: request.receiver,
        now: request.now,
        dns_terms: 0,
        void_lookups: 0,
    };
    let outcome = if domain::is_valid_mail_domain(domain) {
        evaluation.check_host(domain, true).await
    } else {
        HostOutcome {
            problem: Some("not a valid domain name".into()),
            ..HostOutcome::new(SpfResult::None)
        }
    };
    let explanation = match (&outcome.result, &outcome.explanation) {
        // Boxed: only a `fail` with exp= needs it, and its lookups would otherwise make every
        // check's future larger.
        (SpfResult::Fail, Some((exp, exp_domain))) => {
            Box::pin(evaluation.explanation(exp, exp_domain)).await
        }
        _ => None,
    };
    SpfOutput {
        result: outcome.result,
        identity,
        ip,
        sender: evaluation.sender,
        domain: domain.to_owned(),
        mechanism: outcome.mechanism,
        explanation,
        problem: outcome.problem,
    }
}

impl<'a, R: Resolver> Evaluation<'a, R> {
    /// `check_host()` for one domain; boxed because `include:` and `redirect=` recurse.
    /// `report`: whether the caller uses the deciding term and `exp=` (not for an include,
    /// whose parent reports its own), so they are only copied out when needed.
    fn check_host<'s>(
        &'s mut self,
        domain: &'s str,
        report: bool,
    ) -> Pin<Box<dyn Future<Output = HostOutcome> + Send + 's>> {
        Box::pin(async move {
            let parsed = match self.record(domain).await {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return HostOutcome::new(SpfResult::None),
                Err(abort) => return HostOutcome::aborted(abort),
            };
            let record = match parsed.as_ref() {
                Ok(record) => record,
                Err(error) => return HostOutcome::aborted(Abort::perm(error.to_string())),
            };
            match self.evaluate(record, domain, report).await {
                Ok(outcome) => outcome,
                Err(abort) => HostOutcome::aborted(abort),
            }
        })
    }

    /// Finds and parses the domain's one SPF record (RFC 7208 §4.4, §4.5).
    async fn record(&self, domain: &str) -> Result<Option<Parsed>, Abort> {
        let records = match self.resolver.txt(domain).await {
            Ok(records) => records,
            Err(DnsError::NxDomain) => return Ok(None),
            Err(error) => return Err(Abort::temp(domain, &error)),
        };
        let mut spf = records
            .iter()
            .enumerate()
            .filter(|(_, txt)| is_spf_record(txt));
        let Some((index, first)) = spf.next() else {
            return Ok(None);
        };
        if spf.next().is_some() {
            return Err(Abort::perm("more than one SPF record"));
        }
        Ok(Some(match self.records {
            Some(cache) => cache.parse_record(&records, index),
            None => std::sync::Arc::new(Record::parse(first)),
        }))
    }

    async fn evaluate(
        &mut self,
        record: &Record,
        domain: &str,
        report: bool,
    ) -> Result<HostOutcome, Abort> {
        for directive in &record.directives {
            if directive.mechanism.queries_dns() {
                self.count_dns_term()?;
            }
            if self.matches(&directive.mechanism, domain).await? {
                let result = directive.qualifier.result();
                if !report {
                    return Ok(HostOutcome::new(result));
                }
                return Ok(HostOutcome {
                    mechanism: Some(directive.text.clone()),
                    explanation: record
                        .explanation
                        .clone()
                        .filter(|_| result == SpfResult::Fail)
                        .map(|exp| (exp, domain.to_owned())),
                    ..HostOutcome::new(result)
                });
            }
        }
        let Some(redirect) = &record.redirect else {
            // No match and no redirect: "neutral" (RFC 7208 §4.7).
            return Ok(HostOutcome::new(SpfResult::Neutral));
        };
        self.count_dns_term()?;
        let Some(target) = self.target(Some(redirect), domain).await else {
            return Err(Abort::perm("redirect to an invalid domain"));
        };
        let outcome = self.check_host(&target, report).await;
        if outcome.result == SpfResult::None {
            return Err(Abort::perm(format!(
                "redirect to {target}, which has no SPF record"
            )));
        }
        Ok(outcome)
    }

    fn count_dns_term(&mut self) -> Result<(), Abort> {
        self.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(Abort::perm("more than 10 DNS-querying terms"));
        }
        Ok(())
    }

    /// Counts a lookup that found nothing (RFC 7208 §4.6.4).
    fn count_void(&mut self) -> Result<(), Abort> {
        self.void_lookups += 1;
        if self.void_lookups > MAX_VOID_LOOKUPS {
            return Err(Abort::perm("more than 2 void DNS lookups"));
        }
        Ok(())
    }

    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Result<bool, Abort> {
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { network, prefix } => Ok(match self.ip {
                IpAddr::V4(ip) => in_v4(ip, *network, *prefix),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6 { network, prefix } => Ok(match self.ip {
                IpAddr::V6(ip) => in_v6(ip, *network, *prefix),
                IpAddr::V4(_) => false,
            }),
            Mechanism::A { domain: spec, cidr } => match self.target(spec.as_ref(), domain).await {
                Some(target) => self.address_matches(&target, *cidr, true).await,
                None => Ok(false),
            },
            Mechanism::Mx { domain: spec, cidr } => {
                match self.target(spec.as_ref(), domain).await {
                    Some(target) => self.mx_matches(&target, *cidr).await,
                    None => Ok(false),
                }
            }
            Mechanism::Ptr(spec) => match self.target(spec.as_ref(), domain).await {
                Some(target) => {
                    // Boxed, as in `expand`: rare (RFC 7208 §5.5 says not to use it), and
                    // large enough to double the size of every check's future.
                    let (name, void) = Box::pin(self.validated_names(&target, true)).await;
                    if void {
                        self.count_void()?;
                    }
                    Ok(name.is_some())
                }
                None => Ok(false),
            },
            Mechanism::Exists(spec) => {
                let Some(target) = self.target(Some(spec), domain).await else {
                    return Ok(false);
                };
                // Always an A query, whatever the client's address family (RFC 7208 §5.7).
                match self.resolver.a(&target).await {
                    Ok(found) if !found.is_empty() => Ok(true),
                    Ok(_) | Err(DnsError::NxDomain) => self.count_void().map(|()| false),
                    Err(error) => Err(Abort::temp(&target, &error)),
                }
            }
            Mechanism::Include(spec) => {
                let Some(target) = self.target(Some(spec), domain).await else {
                    return Err(Abort::perm("include of an invalid domain"));
                };
                let outcome = self.check_host(&target, false).await;
                match outcome.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError | SpfResult::PermError => Err(Abort {
                        result: outcome.result,
                        problem: outcome.problem.unwrap_or_default(),
                    }),
                    SpfResult::None => Err(Abort::perm(format!(
                        "include of {target}, which has no SPF record"
                    ))),
                }
            }
        }
    }

    /// Expands a domain-spec (or takes the current domain) into the name to query. `None`
    /// when the expansion cannot be a DNS name (an empty or over-long label): such a name
    /// cannot exist, so the mechanism does not match. A domain-spec without macros (the
    /// usual `include:_spf.example.net`) is borrowed from the record, not copied.
    async fn target<'r>(
        &self,
        spec: Option<&'r MacroString>,
        domain: &'r str,
    ) -> Option<Cow<'r, str>> {
        let Some(spec) = spec else {
            return Some(Cow::Borrowed(domain));
        };
        if let Some(name) = spec.literal_name() {
            return name.map(Cow::Borrowed);
        }
        let expanded = self.expand(spec, domain).await;
        query_name(&expanded).map(|name| Cow::Owned(name.to_owned()))
    }

    async fn expand(&self, spec: &MacroString, domain: &str) -> String {
        let validated = if spec.uses_validated_name() {
            // %{p} never fails the check: DNS trouble just makes it "unknown" (RFC 7208 §7.3).
            // Boxed: a rare macro whose lookups would otherwise sit in every future that
            // expands a domain-spec, and so in every boxed `check_host`.
            Box::pin(self.validated_names(domain, false)).await.0
        } else {
            None
        };
        spec.expand(&Values {
            sender: &self.sender,
            local_part: self.local_part,
            sender_domain: self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: self.receiver,
            now: self.now,
            validated_name: validated.as_deref(),
        })
    }

    /// `a` and the address half of `mx`: does `name` have an address in the client's network?
    async fn address_matches(
        &mut self,
        name: &str,
        cidr: DualCidr,
        count_void: bool,
    ) -> Result<bool, Abort> {
        let answer = match self.ip {
            IpAddr::V4(ip) => self.resolver.a(name).await.map(|addrs| {
                (
                    addrs.is_empty(),
                    addrs.iter().any(|a| in_v4(ip, *a, cidr.v4)),
                )
            }),
            IpAddr::V6(ip) => self.resolver.aaaa(name).await.map(|addrs| {
                (
                    addrs.is_empty(),
                    addrs.iter().any(|a| in_v6(ip, *a, cidr.v6)),
                )
            }),
        };
        match answer {
            Ok((false, matched)) => Ok(matched),
            Ok((true, _)) | Err(DnsError::NxDomain) if count_void => {
                self.count_void().map(|()| false)
            }
            Ok((true, _)) | Err(DnsError::NxDomain) => Ok(false),
            Err(error) => Err(Abort::temp(name, &error)),
        }
    }

    async fn mx_matches(&mut self, name: &str, cidr: DualCidr) -> Result<bool, Abort> {
        let exchanges = match self.resolver.mx(name).await {
            Ok(exchanges) => exchanges,
            Err(DnsError::NxDomain) => Vec::new(),
            Err(error) => return Err(Abort::temp(name, &error)),
        };
        if exchanges.is_empty() {
            self.count_void()?;
            return Ok(false);
        }
        if exchanges.len() > MAX_MX_NAMES {
            return Err(Abort::perm(format!("{name} has more than 10 MX records")));
        }
        for mx in &exchanges {
            // A null MX ("." per RFC 7505) names no host.
            if mx.exchange.is_empty() || !domain::is_queryable(&mx.exchange) {
                continue;
            }
            if self.address_matches(&mx.exchange, cidr, false).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The client's validated host names (RFC 7208 §5.5): PTR names whose own addresses
    /// include the client. With `within` a target, returns a validated name equal to or under
    /// it (the `ptr` mechanism); otherwise the best name for `%{p}`: the domain itself, then a
    /// subdomain of it, then any (RFC 7208 §7.3).
    ///
    /// The flag says whether the PTR lookup was void, which only the mechanism counts.
    async fn validated_names(&self, domain: &str, ptr_mechanism: bool) -> (Option<String>, bool) {
        let names = match self.resolver.ptr(self.ip).await {
            Ok(names) => names,
            // A failed PTR lookup means no match, never an error (RFC 7208 §5.5).
            Err(DnsError::NxDomain) => return (None, true),
            Err(_) => return (None, false),
        };
        if names.is_empty() {
            return (None, true);
        }
        let under = |name: &str| {
            name.eq_ignore_ascii_case(domain)
                || (name.len() > domain.len()
                    && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
                    && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain))
        };
        let mut fallback = None;
        for name in names.iter().take(MAX_PTR_NAMES) {
            if ptr_mechanism && !under(name) {
                continue;
            }
            if !domain::is_queryable(name) || !self.is_validated(name).await {
                continue;
            }
            if ptr_mechanism || name.eq_ignore_ascii_case(domain) {
                return (Some(name.clone()), false);
            }
            let better = under(name) && !fallback.as_deref().is_some_and(under);
            if fallback.is_none() || better {
                fallback = Some(name.clone());
            }
        }
        (fallback, false)
    }

    /// Whether one of `name`'s addresses is the client; lookup errors skip the name.
    async fn is_validated(&self, name: &str) -> bool {
        match self.ip {
            IpAddr::V4(ip) => self.resolver.a(name).await.is_ok_and(|a| a.contains(&ip)),
            IpAddr::V6(ip) => self
                .resolver
                .aaaa(name)
                .await
                .is_ok_and(|a| a.contains(&ip)),
        }
    }

    /// The `exp=` text (RFC 7208 §6.2). Any problem means no explanation, never a different
    /// result.
    async fn explanation(&self, exp: &MacroString, domain: &str) -> Option<String> {
        let expanded = self.expand(exp, domain).await;
        let name = query_name(&expanded)?;
        let records = self.resolver.txt(name).await.ok()?;
        let [text] = &records[..] else {
            return None;
        };
        let text = std::str::from_utf8(text).ok()?;
        let explain = MacroString::parse(text, Context::Explanation).ok()?;
        Some(self.expand(&explain, domain).await)
    }
}

fn in_v4(ip: Ipv4Addr, network: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(network) & mask
}

fn in_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(network) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip: Ipv4Addr = "192.0.2.77".parse().unwrap();
        assert!(in_v4(ip, "192.0.2.0".parse().unwrap(), 24));
        assert!(in_v4(ip, "10.0.0.0".parse().unwrap(), 0));
        assert!(!in_v4(ip, "192.0.2.76".parse().unwrap(), 32));
        let ip6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(in_v6(ip6, "2001:db8::".parse().unwrap(), 32));
        assert!(in_v6(ip6, "::".parse().unwrap(), 0));
        assert!(!in_v6(ip6, "2001:db9::".parse().unwrap(), 32));
    }
}
