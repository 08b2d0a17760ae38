//! [`Resolver`] over hickory-resolver: the production DNS client.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::cache::{AnswerCache, Cached, DEFAULT_CAPACITY};
use super::clock::CoarseClock;
use super::{Answer, DnsError, Mx, Resolver, TxtAnswer, TxtRecords, reverse_name};

/// A caching stub resolver that sends every question to the configured nameservers.
///
/// Answers (including NXDOMAIN and NODATA when the zone gives a negative TTL) are kept for
/// their TTL (less up to 100 ms: the cache reads a coarse clock) in a cache of at most
/// [`HickoryResolver::with_cache_capacity`] answers; cheap to clone, and clones share the
/// cache.
///
/// Names are queried exactly as given (no search list, no `/etc/hosts`), and byte-for-byte:
/// SPF macros can produce labels with characters a host name never has, and those must still
/// be asked, not rejected locally (RFC 7208 §7.3).
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
    cache: Arc<AnswerCache>,
    clock: Arc<CoarseClock>,
    /// Bound on each lookup, retries included.
    timeout: Duration,
}

/// Shortest time one try may wait for an answer.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(50);

/// Why a resolver could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {0}")]
pub struct ResolverConfigError(String);

impl HickoryResolver {
    /// Uses the nameservers in `/etc/resolv.conf`, with its search list ignored.
    pub fn system(timeout: Duration) -> Result<Self, ResolverConfigError> {
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| ResolverConfigError(e.to_string()))?;
        let servers = config.name_servers().to_vec();
        Self::build(ResolverConfig::from_name_servers(servers), timeout)
    }

    /// Sends every question to these servers (UDP, falling back to TCP for truncated answers).
    pub fn with_nameservers(
        servers: &[SocketAddr],
        timeout: Duration,
    ) -> Result<Self, ResolverConfigError> {
        if servers.is_empty() {
            return Err(ResolverConfigError("no nameservers given".into()));
        }
        let servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        Self::build(ResolverConfig::from_name_servers(servers), timeout)
    }

    /// `timeout` bounds each lookup as a whole: hickory gets two tries of half of it each
    /// (one retry for a lost UDP packet), and a timer around the lookup enforces the bound
    /// whatever hickory does with several nameservers or a TCP fallback.
    fn build(config: ResolverConfig, timeout: Duration) -> Result<Self, ResolverConfigError> {
        let mut options = ResolverOpts::default();
        options.timeout = (timeout / 2).max(MIN_ATTEMPT_TIMEOUT);
        // Retries after the first try: 1 means two tries in all.
        options.attempts = 1;
        options.ndots = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.edns0 = true;
        let inner = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| ResolverConfigError(e.to_string()))?;
        Ok(Self {
            inner,
            cache: Arc::new(AnswerCache::new(DEFAULT_CAPACITY)),
            clock: CoarseClock::start(),
            timeout,
        })
    }

    /// Keeps at most `capacity` answers (0 turns kanmon's own cache off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = Arc::new(AnswerCache::new(capacity));
        self
    }

    /// The answer for `name`: from kanmon's cache while it is fresh, else from the
    /// nameservers (and then kept). NXDOMAIN and failures come back as `Err`, never as
    /// [`Cached::Missing`].
    async fn lookup(&self, name: &str, kind: RecordType) -> Result<Cached, DnsError> {
        match self.cache.get(kind, name, self.clock.recent()) {
            Some(Cached::Missing(error)) => Err(error),
            Some(found) => Ok(found),
            // Boxed: hickory's query future is large, and keeping it out of line keeps every
            // caller's future small on the hit path (SPF boxes one per include).
            None => Box::pin(self.query(name, kind)).await,
        }
    }

    /// Asks the nameservers and keeps the answer for its TTL.
    async fn query(&self, name: &str, kind: RecordType) -> Result<Cached, DnsError> {
        let now = Instant::now();
        let answer = self.ask(name, kind, now).await;
        let failure = match &answer {
            Err(DnsError::Timeout) => Some("timeout"),
            Err(DnsError::Failed(_)) => Some("failed"),
            Ok(_) | Err(DnsError::NxDomain) => None,
        };
        kanmon_metrics::dns_lookup(record_type_name(kind), now.elapsed(), failure);
        answer
    }

    /// [`Self::query`] without the metrics.
    async fn ask(&self, name: &str, kind: RecordType, now: Instant) -> Result<Cached, DnsError> {
        let query = absolute_name(name)?;
        let Ok(result) = tokio::time::timeout(self.timeout, self.inner.lookup(query, kind)).await
        else {
            return Err(DnsError::Timeout);
        };
        match result {
            Ok(lookup) => {
                let records = lookup
                    .answers()
                    .iter()
                    .filter(|record| record.record_type() == kind)
                    .map(|record| &record.data);
                let answer = if kind == RecordType::TXT {
                    Cached::Text(
                        records
                            .filter_map(|data| match data {
                                RData::TXT(txt) => Some(txt.txt_data.concat().into_boxed_slice()),
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    Cached::Records(records.cloned().collect())
                };
                self.cache
                    .put_records(kind, name, answer.clone(), lookup.valid_until());
                Ok(answer)
            }
            Err(error) => {
                let (outcome, negative_ttl) = classify(error);
                let answer = match outcome {
                    Ok(()) if kind == RecordType::TXT => Cached::Text(Arc::new([])),
                    Ok(()) => Cached::Records(Arc::new([])),
                    Err(DnsError::NxDomain) => Cached::Missing(DnsError::NxDomain),
                    Err(temporary) => return Err(temporary),
                };
                self.cache
                    .put_negative(kind, name, answer.clone(), negative_ttl, now);
                match answer {
                    Cached::Missing(error) => Err(error),
                    found => Ok(found),
                }
            }
        }
    }

    /// The TXT records of `name` asked afresh (kanmon's cache neither read nor filled), and
    /// whether the server marked the answer as DNSSEC-validated: the AD bit (RFC 4035
    /// §3.2.3), which a validating resolver sets on data it checked. For `kanmon dkim
    /// testkey`, which reports it as information. kanmon does not ask for DNSSEC records
    /// (no DO bit), so a resolver that sets AD only when asked that way reports `false`.
    pub async fn txt_with_validation(&self, name: &str) -> (TxtAnswer, bool) {
        let query = match absolute_name(name) {
            Ok(query) => query,
            Err(error) => return (Err(error), false),
        };
        let Ok(result) =
            tokio::time::timeout(self.timeout, self.inner.lookup(query, RecordType::TXT)).await
        else {
            return (Err(DnsError::Timeout), false);
        };
        match result {
            Ok(lookup) => {
                let records: TxtRecords = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(txt.txt_data.concat().into_boxed_slice()),
                        _ => None,
                    })
                    .collect();
                (Ok(records), lookup.message().metadata.authentic_data)
            }
            Err(error) => match classify(error).0 {
                Ok(()) => (Ok(Arc::new([])), false),
                Err(error) => (Err(error), false),
            },
        }
    }

    /// The records of a type other than TXT.
    async fn records(&self, name: &str, kind: RecordType) -> Result<Arc<[RData]>, DnsError> {
        match self.lookup(name, kind).await? {
            Cached::Records(records) => Ok(records),
            Cached::Text(_) | Cached::Missing(_) => Ok(Arc::new([])),
        }
    }
}

/// Builds the name from raw labels, so any byte sequence that fits the DNS is asked as is.
fn absolute_name(name: &str) -> Result<Name, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut built = Name::from_labels(name.split('.').map(str::as_bytes))
        .map_err(|e| DnsError::Failed(format!("invalid name {name:?}: {e}")))?;
    built.set_fqdn(true);
    Ok(built)
}

/// Sorts hickory's errors into the three outcomes the protocols distinguish: `Ok(())` for
/// NODATA, `NxDomain`, or a temporary failure; with the zone's negative TTL when it gave one.
fn classify(error: NetError) -> (Result<(), DnsError>, Option<u32>) {
    match error {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no_records)) => {
            let ttl = no_records.negative_ttl;
            match no_records.response_code {
                ResponseCode::NXDomain => (Err(DnsError::NxDomain), ttl),
                ResponseCode::NoError => (Ok(()), ttl),
                code => (Err(DnsError::Failed(code.to_string())), None),
            }
        }
        // "Server Failure", not hickory's "DNS error: error response: Server Failure".
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => {
            (Err(DnsError::Failed(code.to_str().to_owned())), None)
        }
        NetError::Timeout => (Err(DnsError::Timeout), None),
        other => (Err(DnsError::Failed(other.to_string())), None),
    }
}

/// A host name as the protocols compare it: the raw labels joined by dots, no trailing dot;
/// the root becomes "". Not `Name::to_ascii`, which escapes bytes like `:` and `/` that
/// SPF must match literally (RFC 7208 §7.1 lets a domain-spec contain them).
fn host_name(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect();
    labels.join(".")
}

impl Resolver for HickoryResolver {
    async fn txt(&self, name: &str) -> TxtAnswer {
        match self.lookup(name, RecordType::TXT).await? {
            Cached::Text(records) => Ok(records),
            Cached::Records(_) | Cached::Missing(_) => Ok(Arc::new([])),
        }
    }

    async fn a(&self, name: &str) -> Answer<Ipv4Addr> {
        let records = self.records(name, RecordType::A).await?;
        Ok(records
            .iter()
            .filter_map(|data| match data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn aaaa(&self, name: &str) -> Answer<Ipv6Addr> {
        let records = self.records(name, RecordType::AAAA).await?;
        Ok(records
            .iter()
            .filter_map(|data| match data {
                RData::AAAA(aaaa) => Some(aaaa.0),
                _ => None,
            })
            .collect())
    }

    async fn mx(&self, name: &str) -> Answer<Mx> {
        let records = self.records(name, RecordType::MX).await?;
        Ok(records
            .iter()
            .filter_map(|data| match data {
                RData::MX(mx) => Some(Mx {
                    preference: mx.preference,
                    exchange: host_name(&mx.exchange),
                }),
                _ => None,
            })
            .collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Answer<String> {
        let records = self.records(&reverse_name(ip), RecordType::PTR).await?;
        Ok(records
            .iter()
            .filter_map(|data| match data {
                RData::PTR(ptr) => Some(host_name(&ptr.0)),
                _ => None,
            })
            .collect())
    }
}

/// The record type as a metrics label: a fixed list, so the label set stays bounded.
fn record_type_name(kind: RecordType) -> &'static str {
    match kind {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::MX => "MX",
        RecordType::PTR => "PTR",
        RecordType::TXT => "TXT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_unusual_bytes() {
        let name = absolute_name("a b:c.example.org.").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(name.iter().next(), Some(&b"a b:c"[..]));
        assert!(absolute_name("bad..example").is_err());
        assert_eq!(host_name(&name), "a b:c.example.org");
        assert_eq!(host_name(&Name::root()), "");
    }
}
