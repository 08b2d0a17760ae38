//! Policy discovery: which `_dmarc` record applies to an author domain (RFC 7489 §6.6.3,
//! RFC 9989 §4.10), whether the author domain exists (RFC 9091, RFC 9989 §3.2.13), and the
//! organizational domain used for relaxed alignment.
//!
//! Two methods, chosen by [`Discovery`]:
//!
//! * [`Discovery::Psl`] (the default): RFC 7489. Query `_dmarc.<author>`; if that name holds
//!   no DMARC record, query `_dmarc.<organizational domain>` from the Public Suffix List
//!   compiled into the `psl` crate. At most two TXT queries.
//! * [`Discovery::TreeWalk`]: RFC 9989 §4.10. Query `_dmarc.<author>`, then walk up the tree
//!   (at most eight queries in all), honouring `psd=y`/`psd=n`; organizational domains for
//!   alignment are found by the same walk.
//!
//! On ordinary domains both find the same record.

use crate::dns::{DnsError, Resolver};
use crate::domain::{is_queryable, organizational_domain};

use super::record::{PolicyRecord, Psd, RecordError, is_dmarc_record};

/// How policy records and organizational domains are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discovery {
    /// RFC 7489: the author domain, then its organizational domain from the Public Suffix List.
    #[default]
    Psl,
    /// RFC 9989 §4.10: the DNS tree walk with the `psd` tag.
    TreeWalk,
}

/// Most `_dmarc` queries of one tree walk (RFC 9989 §4.10: "Author Domains with more than
/// eight labels do not result in more than eight DNS queries").
pub const MAX_TREE_WALK_QUERIES: usize = 8;

/// What one `_dmarc.<name>` query found.
#[derive(Debug)]
enum Lookup {
    Record(Box<PolicyRecord>),
    None,
    /// More than one DMARC record: all are discarded (RFC 7489 §6.6.3 step 5, RFC 9989 §4.10
    /// step 2).
    Multiple(usize),
    Invalid(RecordError),
    TempFail(String),
}

async fn lookup<R: Resolver>(resolver: &R, domain: &str) -> Lookup {
    let name = format!("_dmarc.{domain}");
    if !is_queryable(&name) {
        return Lookup::None;
    }
    let texts = match resolver.txt(&name).await {
        Ok(texts) => texts,
        Err(DnsError::NxDomain) => return Lookup::None,
        Err(error) => return Lookup::TempFail(format!("{name}: {error}")),
    };
    let mut dmarc: Vec<String> = texts
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| is_dmarc_record(t))
        .collect();
    match dmarc.len() {
        0 => Lookup::None,
        1 => match PolicyRecord::parse(&dmarc.remove(0)) {
            Ok(record) => Lookup::Record(Box::new(record)),
            Err(error) => Lookup::Invalid(error),
        },
        n => Lookup::Multiple(n),
    }
}

/// The outcome of policy discovery for one author domain.
#[derive(Debug)]
pub(crate) enum Discovered {
    /// A policy applies.
    Policy {
        record: Box<PolicyRecord>,
        /// Where the record was found.
        policy_domain: String,
    },
    /// No policy: DMARC does not apply (the reason says why).
    None(String),
    /// The only record is unusable (RFC 7489 §11.2 `permerror`).
    PermError(String),
    /// A DNS failure left the question open.
    TempError(String),
}

/// Finds the record that applies to `author` (lower case, no trailing dot).
pub(crate) async fn discover<R: Resolver>(
    resolver: &R,
    author: &str,
    method: Discovery,
) -> Discovered {
    match lookup(resolver, author).await {
        Lookup::Record(record) => {
            return Discovered::Policy {
                record,
                policy_domain: author.to_owned(),
            };
        }
        Lookup::TempFail(problem) => return Discovered::TempError(problem),
        Lookup::Invalid(error) => {
            return Discovered::PermError(format!("_dmarc.{author}: {error}"));
        }
        Lookup::Multiple(n) if method == Discovery::Psl => {
            // RFC 7489 §6.6.3: the set at the author domain is not empty, so there is no
            // fallback to the organizational domain; discovery ends without a policy.
            return Discovered::None(format!("{n} DMARC records at _dmarc.{author}"));
        }
        Lookup::Multiple(_) | Lookup::None => {}
    }
    match method {
        Discovery::Psl => {
            let org = organizational_domain(author).to_ascii_lowercase();
            if org == author {
                return Discovered::None(format!("no DMARC record at _dmarc.{author}"));
            }
            match lookup(resolver, &org).await {
                Lookup::Record(record) => Discovered::Policy {
                    record,
                    policy_domain: org,
                },
                Lookup::TempFail(problem) => Discovered::TempError(problem),
                Lookup::Invalid(error) => Discovered::PermError(format!("_dmarc.{org}: {error}")),
                Lookup::Multiple(n) => {
                    Discovered::None(format!("{n} DMARC records at _dmarc.{org}"))
                }
                Lookup::None => Discovered::None(format!(
                    "no DMARC record at _dmarc.{author} or _dmarc.{org}"
                )),
            }
        }
        Discovery::TreeWalk => {
            let walk = match walk(resolver, author, false).await {
                Ok(walk) => walk,
                Err(problem) => return Discovered::TempError(problem),
            };
            let Some(org) = select_org(author, &walk, false) else {
                return Discovered::None(format!("no DMARC record at _dmarc.{author} or above it"));
            };
            // The organizational domain's record if it has one, else the PSD's (RFC 9989
            // §4.10.1: author, then organizational domain, then public suffix domain).
            let index = walk
                .iter()
                .position(|(name, _)| *name == org)
                .unwrap_or(walk.len() - 1);
            let (policy_domain, record) = walk.into_iter().nth(index).expect(
                "invariant: select_org returns Some only for a non-empty walk, and index is in it",
            );
            Discovered::Policy {
                record: Box::new(record),
                policy_domain,
            }
        }
    }
}

/// The names a tree walk queries, longest first (RFC 9989 §4.10 steps 3, 4 and 7). With
/// `include_start`, the walk begins at `domain` itself (organizational domain discovery);
/// without, at its parent (policy discovery, after the author domain's own query).
fn walk_names(domain: &str, include_start: bool) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let count = labels.len();
    let mut names = Vec::new();
    if include_start {
        names.push(domain.to_owned());
    }
    // Skip to seven labels when there are more than eight (step 4); otherwise go to the
    // parent.
    let first = if count > MAX_TREE_WALK_QUERIES {
        count - (MAX_TREE_WALK_QUERIES - 1)
    } else {
        1
    };
    for start in first..count {
        names.push(labels[start..].join("."));
    }
    names.truncate(MAX_TREE_WALK_QUERIES);
    names
}

/// Walks up from `domain`, collecting valid records longest first and stopping at the first
/// with `psd=y` or `psd=n`. Names with several or unusable records are passed over, since
/// the walk looks for "a valid DMARC Policy Record" (RFC 9989 §4.10). `Err` on a DNS failure.
async fn walk<R: Resolver>(
    resolver: &R,
    domain: &str,
    include_start: bool,
) -> Result<Vec<(String, PolicyRecord)>, String> {
    let mut found = Vec::new();
    for name in walk_names(domain, include_start) {
        match lookup(resolver, &name).await {
            Lookup::Record(record) => {
                let stop = record.psd != Psd::Unknown;
                found.push((name, *record));
                if stop {
                    break;
                }
            }
            Lookup::TempFail(problem) => return Err(problem),
            Lookup::None | Lookup::Multiple(_) | Lookup::Invalid(_) => {}
        }
    }
    Ok(found)
}

/// The organizational domain from a walk's records (RFC 9989 §4.10.2): the first `psd=n`
/// name; or the name one label below the first `psd=y` (unless that record is the start's);
/// or the shortest name with a record. `None` when the walk found nothing.
fn select_org(
    domain: &str,
    found: &[(String, PolicyRecord)],
    include_start: bool,
) -> Option<String> {
    for (index, (name, record)) in found.iter().enumerate() {
        match record.psd {
            Psd::No => return Some(name.clone()),
            Psd::Yes if !(include_start && index == 0 && name == domain) => {
                return Some(one_label_below(domain, name));
            }
            _ => {}
        }
    }
    found.last().map(|(name, _)| name.clone())
}

/// The subdomain of `ancestor` that is one label longer, on the way to `domain`.
fn one_label_below(domain: &str, ancestor: &str) -> String {
    let wanted = ancestor.split('.').count() + 1;
    let labels: Vec<&str> = domain.split('.').collect();
    let keep = wanted.min(labels.len());
    labels[labels.len() - keep..].join(".")
}

/// The organizational domain of `domain` for relaxed alignment: from the PSL, or by a tree
/// walk starting at the domain itself (RFC 9989 §4.10.2). `Err` on a DNS failure.
pub(crate) async fn org_domain<R: Resolver>(
    resolver: &R,
    domain: &str,
    method: Discovery,
) -> Result<String, String> {
    match method {
        Discovery::Psl => Ok(organizational_domain(domain).to_ascii_lowercase()),
        Discovery::TreeWalk => {
            let found = walk(resolver, domain, true).await?;
            Ok(select_org(domain, &found, true).unwrap_or_else(|| domain.to_owned()))
        }
    }
}

/// Whether `domain` does not exist: NXDOMAIN for its A, AAAA and MX queries (RFC 9091 §2.7;
/// RFC 9989 §3.2.13 narrows "non-existent" to NXDOMAIN, so a name that answers NODATA
/// exists). `Err` on a DNS failure.
pub(crate) async fn is_nonexistent<R: Resolver>(
    resolver: &R,
    domain: &str,
) -> Result<bool, String> {
    let verdict = |answer: Result<usize, DnsError>| match answer {
        Err(DnsError::NxDomain) => Ok(true),
        Ok(_) => Ok(false),
        Err(error) => Err(format!("{domain}: {error}")),
    };
    if !verdict(resolver.a(domain).await.map(|r| r.len()))? {
        return Ok(false);
    }
    if !verdict(resolver.aaaa(domain).await.map(|r| r.len()))? {
        return Ok(false);
    }
    verdict(resolver.mx(domain).await.map(|r| r.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_walk_names() {
        assert_eq!(
            walk_names("a.mail.example.com", false),
            ["mail.example.com", "example.com", "com"]
        );
        assert_eq!(
            walk_names("a.mail.example.com", true),
            [
                "a.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        // RFC 9989 §4.10: the eight queries for a twelve-label author domain.
        let mut long = vec!["a.b.c.d.e.f.g.h.i.j.mail.example.com".to_owned()];
        long.extend(walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com", false));
        assert_eq!(
            long,
            [
                "a.b.c.d.e.f.g.h.i.j.mail.example.com",
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(
            walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com", true).len(),
            MAX_TREE_WALK_QUERIES
        );
    }

    /// Counts TXT queries, to check the RFC 9989 §4.10 bound.
    struct Counting {
        zone: crate::dns::StaticResolver,
        txt: std::sync::atomic::AtomicUsize,
    }

    impl Resolver for Counting {
        async fn txt(&self, name: &str) -> crate::dns::TxtAnswer {
            self.txt.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.zone.txt(name).await
        }
        async fn a(&self, name: &str) -> crate::dns::Answer<std::net::Ipv4Addr> {
            self.zone.a(name).await
        }
        async fn aaaa(&self, name: &str) -> crate::dns::Answer<std::net::Ipv6Addr> {
            self.zone.aaaa(name).await
        }
        async fn mx(&self, name: &str) -> crate::dns::Answer<crate::dns::Mx> {
            self.zone.mx(name).await
        }
        async fn ptr(&self, ip: std::net::IpAddr) -> crate::dns::Answer<String> {
            self.zone.ptr(ip).await
        }
    }

    #[test]
    fn tree_walk_makes_at_most_eight_queries() {
        let resolver = Counting {
            zone: crate::dns::StaticResolver::new(),
            txt: Default::default(),
        };
        let long = format!("{}example.com", "x.".repeat(30));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let found = runtime.block_on(discover(&resolver, &long, Discovery::TreeWalk));
        assert!(matches!(found, Discovered::None(_)));
        assert_eq!(resolver.txt.load(std::sync::atomic::Ordering::Relaxed), 8);
        resolver.txt.store(0, std::sync::atomic::Ordering::Relaxed);
        let org = runtime.block_on(org_domain(&resolver, &long, Discovery::TreeWalk));
        assert_eq!(org.unwrap(), long);
        assert_eq!(resolver.txt.load(std::sync::atomic::Ordering::Relaxed), 8);
        resolver.txt.store(0, std::sync::atomic::Ordering::Relaxed);
        runtime.block_on(discover(&resolver, "a.example.com", Discovery::Psl));
        assert_eq!(resolver.txt.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn one_label_below_psd() {
        assert_eq!(one_label_below("a.mail.example.com", "com"), "example.com");
        assert_eq!(one_label_below("example.com", "com"), "example.com");
    }
}
