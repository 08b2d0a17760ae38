//! The narrow DNS interface the protocols need, and nothing more.
//!
//! SPF, DKIM, DMARC and ARC only ever ask five questions of the DNS: TXT, A, AAAA, MX and PTR.
//! [`Resolver`] asks exactly those, so production can answer them with a caching recursive
//! resolver ([`HickoryResolver`], feature `hickory`) and tests with a fixed zone
//! ([`StaticResolver`]) or a real DNS server on loopback.
//!
//! The three outcomes the RFCs distinguish are kept apart: records (possibly none, which is
//! "NODATA"), [`DnsError::NxDomain`] (RCODE 3), and every other failure, which the protocols
//! report as `temperror` ([`DnsError::is_temporary`]).
//!
//! TXT answers are shared ([`TxtRecords`], an `Arc`): SPF asks for the same few records for
//! every message from a sender, so a cache hands out one decoded answer to every check
//! instead of copying it each time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

#[cfg(feature = "hickory")]
mod cache;
#[cfg(feature = "hickory")]
mod clock;
#[cfg(feature = "hickory")]
mod hickory;
#[cfg(feature = "hickory")]
pub use hickory::{HickoryResolver, ResolverConfigError};

/// The answer to one DNS question: the records found (empty means the name exists but has no
/// records of that type), or why there are none.
pub type Answer<T> = Result<Vec<T>, DnsError>;

/// The TXT records of one name, each the concatenation of its character-strings (the form
/// SPF and DKIM read, RFC 7208 §3.3, RFC 6376 §3.6.2.2). Cloning shares, never copies.
pub type TxtRecords = Arc<[Box<[u8]>]>;

/// The answer to a TXT question: as [`Answer`], with the records shared.
pub type TxtAnswer = Result<TxtRecords, DnsError>;

/// Why a DNS question got no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist (RCODE 3, NXDOMAIN).
    #[error("no such domain")]
    NxDomain,
    /// No answer arrived within the resolver's time budget.
    #[error("dns lookup timed out")]
    Timeout,
    /// The server answered with an error (SERVFAIL, REFUSED, ...) or the answer could not be
    /// read.
    #[error("dns lookup failed: {0}")]
    Failed(String),
}

impl DnsError {
    /// Whether the failure may go away on retry: everything but NXDOMAIN. The protocols turn
    /// these into `temperror` (RFC 7208 §2.6.6, RFC 6376 §6.1.2, RFC 7489 §6.6.3).
    pub fn is_temporary(&self) -> bool {
        !matches!(self, DnsError::NxDomain)
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger's host name, without the trailing dot.
    pub exchange: String,
}

/// The five lookups the authentication protocols make.
///
/// Names are passed as absolute domain names without the trailing dot (`example.com`); an
/// implementation must not apply a search list to them. Returned host names (MX exchanges,
/// PTR targets) also come without the trailing dot. A TXT record is returned as the
/// concatenation of its character-strings, which is how both SPF (RFC 7208 §3.3) and DKIM
/// (RFC 6376 §3.6.2.2) read multi-string records.
pub trait Resolver: Send + Sync {
    /// TXT records of `name`, each with its strings joined without separator.
    fn txt(&self, name: &str) -> impl Future<Output = TxtAnswer> + Send;
    /// A records of `name`.
    fn a(&self, name: &str) -> impl Future<Output = Answer<Ipv4Addr>> + Send;
    /// AAAA records of `name`.
    fn aaaa(&self, name: &str) -> impl Future<Output = Answer<Ipv6Addr>> + Send;
    /// MX records of `name`, in the order the server gave them.
    fn mx(&self, name: &str) -> impl Future<Output = Answer<Mx>> + Send;
    /// PTR records of the reverse name of `ip` (`in-addr.arpa` or `ip6.arpa`).
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Answer<String>> + Send;
}

impl<R: Resolver> Resolver for &R {
    fn txt(&self, name: &str) -> impl Future<Output = TxtAnswer> + Send {
        (**self).txt(name)
    }
    fn a(&self, name: &str) -> impl Future<Output = Answer<Ipv4Addr>> + Send {
        (**self).a(name)
    }
    fn aaaa(&self, name: &str) -> impl Future<Output = Answer<Ipv6Addr>> + Send {
        (**self).aaaa(name)
    }
    fn mx(&self, name: &str) -> impl Future<Output = Answer<Mx>> + Send {
        (**self).mx(name)
    }
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Answer<String>> + Send {
        (**self).ptr(ip)
    }
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` or the 32 nibbles of an
/// IPv6 address under `ip6.arpa` (RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    name.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    name.push('.');
                }
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

/// Records held in memory: for unit tests, examples and benchmarks.
///
/// A name that was never added answers NXDOMAIN; a name that was added, but not with the
/// type asked, answers NODATA (no records). [`StaticResolver::with_failure`] makes every question
/// about a name fail temporarily, to exercise `temperror` paths.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, StaticName, foldhash::fast::RandomState>,
}

#[derive(Debug, Clone, Default)]
struct StaticName {
    txt: TxtRecords,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    mx: Vec<Mx>,
    ptr: Vec<String>,
    fails: bool,
}

impl StaticResolver {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&mut self, name: &str) -> &mut StaticName {
        self.names.entry(normalize(name)).or_default()
    }

    /// Adds a TXT record (one string, or several already joined).
    pub fn with_txt(mut self, name: &str, text: impl Into<Vec<u8>>) -> Self {
        let entry = self.entry(name);
        let text: Box<[u8]> = text.into().into();
        entry.txt = entry.txt.iter().cloned().chain([text]).collect();
        self
    }

    /// Adds an A or AAAA record.
    pub fn with_ip(mut self, name: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => self.entry(name).a.push(v4),
            IpAddr::V6(v6) => self.entry(name).aaaa.push(v6),
        }
        self
    }

    /// Adds an MX record.
    pub fn with_mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        let exchange = normalize(exchange);
        self.entry(name).mx.push(Mx {
            preference,
            exchange,
        });
        self
    }

    /// Adds a PTR record for `ip` pointing at `target`.
    pub fn with_ptr(mut self, ip: IpAddr, target: &str) -> Self {
        let target = normalize(target);
        self.entry(&reverse_name(ip)).ptr.push(target);
        self
    }

    /// Makes every lookup of `name` fail with a server failure.
    pub fn with_failure(mut self, name: &str) -> Self {
        self.entry(name).fails = true;
        self
    }

    fn answer<T: Clone>(
        &self,
        name: &str,
        pick: impl Fn(&StaticName) -> &T,
    ) -> Result<T, DnsError> {
        match self.names.get(lookup_key(name).as_ref()) {
            None => Err(DnsError::NxDomain),
            Some(entry) if entry.fails => Err(DnsError::Failed("SERVFAIL".into())),
            Some(entry) => Ok(pick(entry).clone()),
        }
    }
}

fn normalize(name: &str) -> String {
    lookup_key(name).into_owned()
}

/// A name as zones and caches key it: without trailing dots, in lower case; borrowed when it
/// already is (the usual case), so a lookup does not allocate.
pub(crate) fn lookup_key(name: &str) -> Cow<'_, str> {
    let name = name.trim_end_matches('.');
    // `fold`, not `any`: no early exit, so the check compiles to a vector loop.
    if name
        .bytes()
        .fold(false, |upper, b| upper | b.is_ascii_uppercase())
    {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

impl Resolver for StaticResolver {
    async fn txt(&self, name: &str) -> TxtAnswer {
        self.answer(name, |e| &e.txt)
    }
    async fn a(&self, name: &str) -> Answer<Ipv4Addr> {
        self.answer(name, |e| &e.a)
    }
    async fn aaaa(&self, name: &str) -> Answer<Ipv6Addr> {
        self.answer(name, |e| &e.aaaa)
    }
    async fn mx(&self, name: &str) -> Answer<Mx> {
        self.answer(name, |e| &e.mx)
    }
    async fn ptr(&self, ip: IpAddr) -> Answer<String> {
        self.answer(&reverse_name(ip), |e| &e.ptr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::cb01".parse().unwrap()),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[tokio::test]
    async fn static_resolver_distinguishes_nxdomain_nodata_and_failure() {
        let zone = StaticResolver::new()
            .with_txt("Example.COM.", "v=spf1 -all")
            .with_failure("broken.example");
        let txt = zone.txt("example.com").await.unwrap();
        assert_eq!(txt.len(), 1);
        assert_eq!(&*txt[0], b"v=spf1 -all");
        assert_eq!(zone.a("example.com").await, Ok(vec![]));
        assert_eq!(zone.a("nowhere.example").await, Err(DnsError::NxDomain));
        assert!(zone.mx("broken.example").await.unwrap_err().is_temporary());
    }
}
