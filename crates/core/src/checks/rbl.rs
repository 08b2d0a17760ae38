//! DNS lists: DNSBL/DNSWL on the client address (`[[dnsbl]]`), RHSBL on the sender's
//! domains (`[[rhsbl]]`), URIBL on the domains of the message's URLs (`[[uribl]]`).
//!
//! Data flow: the scan's subjects (the client address, IPv4-mapped IPv6 asked as IPv4,
//! IPv6 as 32 nibbles; the registrable domains of MAIL FROM, HELO, and, once the message is
//! there, of the header From and of at most `rbl.max_uri_domains` URL hosts) → one A
//! question per list and subject (`2.0.0.192.zen.spamhaus.org`), identical questions asked
//! once → all of them at once (one round of DNS wait, not one per list) → each answer read
//! by its list ([`DnsList::read`]) → one hit per symbol, the evidence naming every subject
//! and answer, and a refusal (`reject`) for a list with `enforce = true`.
//!
//! Why registrable domains: SURBL and URIBL list registrable domains and expect to be asked
//! exactly those; Spamhaus's DBL also lists some host names below them, but asking it every
//! host name would multiply the questions, so kanmon asks what SpamAssassin asks by default.
//! URL hosts that are IP literals are not asked: the DBL refuses them (127.0.1.255) and
//! URIBL lists none. Non-ASCII (unconverted IDN) names and private client addresses are
//! not asked either: no public list knows them.
//!
//! Outcomes: NXDOMAIN (or no A record) is "not listed". A timeout or SERVFAIL is a skip note
//! naming the zone, not a hit. An answer that means "query refused" (see
//! [`crate::config::rbl`]) is the list's `*_BLOCKED` symbol (score 0) and a warning in the
//! log, at most once per zone every [`BLOCKED_WARNING_INTERVAL`]: a resolver the lists
//! refuse (a big public one) refuses every message's questions.
//!
//! Outbound mail (internal_hosts, authenticated) is not asked about. The check does not need
//! the message, so the policy front-end and the milter's early scan ask the address and
//! envelope lists; the header From and URI lists run in the final scan only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use kanmon_auth::dns::{DnsError, Resolver, reverse_name};
use kanmon_auth::domain::{is_queryable, organizational_domain};

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{DnsList, Rbl, Reading};
use crate::content::url_host;
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

/// Every symbol of this check comes from the configuration (`Definitions`).
const SYMBOLS: &[Symbol] = &[];

/// How often a zone's "query refused" warning may be logged: once per ten minutes says the
/// resolver is refused without writing a line per message.
pub(crate) const BLOCKED_WARNING_INTERVAL: Duration = Duration::from_secs(600);

/// Subjects named in one hit's evidence before "and N more": the log line stays short.
const MAX_EVIDENCE_SUBJECTS: usize = 3;

pub(crate) struct RblCheck<R> {
    resolver: R,
    rbl: Rbl,
}

/// The kinds of list, for evidence, reasons and notes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dnsbl,
    Rhsbl,
    Uribl,
}

impl Kind {
    /// The category of an enforced refusal, before the first colon.
    fn category(self) -> &'static str {
        match self {
            Kind::Dnsbl => "DNSBL",
            Kind::Rhsbl => "RHSBL",
            Kind::Uribl => "URIBL",
        }
    }
}

/// One thing the lists are asked about, as evidence and reasons name it.
struct Subject {
    /// "client [192.0.2.1]", "sender domain [bad.example]".
    label: String,
}

/// The distinct questions of one message: lists sharing a zone (the DBL as RHSBL and as
/// URIBL) and subjects sharing a domain ask once.
#[derive(Default)]
struct Questions {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Questions {
    /// The question `<key>.<zone>` of `list` about subject number `subject`; `None` when
    /// the name is too long to ask.
    fn ask<'l>(
        &mut self,
        kind: Kind,
        list: &'l DnsList,
        subject: usize,
        key: &str,
    ) -> Option<Ask<'l>> {
        let name = format!("{key}.{}", list.zone);
        if !is_queryable(&name) {
            return None;
        }
        let next = self.names.len();
        let question = *self.index.entry(name).or_insert_with_key(|name| {
            self.names.push(name.clone());
            next
        });
        Some(Ask {
            kind,
            list,
            subject,
            question,
        })
    }
}

/// One question of one list about one subject.
struct Ask<'a> {
    kind: Kind,
    list: &'a DnsList,
    subject: usize,
    question: usize,
}

impl<R: Resolver + Clone + 'static> RblCheck<R> {
    pub(crate) fn new(rbl: &Rbl, resolver: R) -> Self {
        Self {
            resolver,
            rbl: rbl.clone(),
        }
    }

    async fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        if scan.internal {
            outcome.skip(
                "rbl",
                "outbound: the client is in internal_hosts or authenticated",
            );
            return outcome;
        }
        let mut subjects: Vec<Subject> = Vec::new();
        let mut questions = Questions::default();
        let mut asks: Vec<Ask<'_>> = Vec::new();

        if let Some((key, ip)) = scan.envelope.client_ip.and_then(client_key) {
            for list in &self.rbl.dnsbl {
                asks.extend(questions.ask(Kind::Dnsbl, list, subjects.len(), &key));
            }
            subjects.push(Subject {
                label: format!("client [{ip}]"),
            });
        }
        for (identity, domain) in sender_domains(scan) {
            for list in self.rbl.rhsbl.iter().filter(|l| identity.asked_of(l)) {
                asks.extend(questions.ask(Kind::Rhsbl, list, subjects.len(), &domain));
            }
            subjects.push(Subject {
                label: format!("{} [{domain}]", identity.label()),
            });
        }
        if scan.message.is_some() && !self.rbl.uribl.is_empty() {
            for domain in url_domains(scan, self.rbl.max_uri_domains) {
                for list in &self.rbl.uribl {
                    asks.extend(questions.ask(Kind::Uribl, list, subjects.len(), &domain));
                }
                subjects.push(Subject {
                    label: format!("URL domain [{domain}]"),
                });
            }
        }

        let names = &questions.names;
        let answers = join_all(names.iter().map(|name| self.resolver.a(name))).await;
        read_answers(&mut outcome, &asks, &subjects, names, &answers);
        outcome
    }
}

/// The name a DNSBL is asked about for `ip` (reversed octets or nibbles) and the address as
/// it is written; `None` for addresses no public list knows.
fn client_key(ip: IpAddr) -> Option<(String, IpAddr)> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let private = match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    };
    if private {
        return None;
    }
    let reversed = reverse_name(ip);
    let key = reversed
        .strip_suffix(".in-addr.arpa")
        .or_else(|| reversed.strip_suffix(".ip6.arpa"))?
        .to_owned();
    Some((key, ip))
}

/// The sender identities an `[[rhsbl]]` list may be asked about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Identity {
    MailFrom,
    From,
    Helo,
}

impl Identity {
    fn label(self) -> &'static str {
        match self {
            Identity::MailFrom => "sender domain",
            Identity::From => "header From domain",
            Identity::Helo => "HELO domain",
        }
    }

    fn asked_of(self, list: &DnsList) -> bool {
        match self {
            Identity::MailFrom => list.identities.mail_from,
            Identity::From => list.identities.from,
            Identity::Helo => list.identities.helo,
        }
    }
}

/// The registrable domains of MAIL FROM, HELO and (with a message) the header From, each
/// once, labelled by the first identity that names it.
fn sender_domains(scan: &Scan<'_>) -> Vec<(Identity, String)> {
    let envelope = scan.envelope;
    let mut found: Vec<(Identity, String)> = Vec::new();
    let mut add = |identity: Identity, name: &str| {
        if let Some(domain) = registrable(name)
            && !found.iter().any(|(_, d)| *d == domain)
        {
            found.push((identity, domain));
        }
    };
    if let Some(domain) = envelope.mail_from_domain() {
        add(Identity::MailFrom, &domain);
    }
    if scan.message.is_some() {
        for address in &scan.content().from {
            if let Some((_, domain)) = address.rsplit_once('@') {
                add(Identity::From, domain);
            }
        }
    }
    if let Some(helo) = envelope.helo.as_deref()
        && helo.parse::<IpAddr>().is_err()
        && !helo.starts_with('[')
    {
        add(Identity::Helo, helo);
    }
    found
}

/// The registrable domains of the message's URL hosts, in order of appearance, each once,
/// at most `max` of them.
fn url_domains(scan: &Scan<'_>, max: usize) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    for url in &scan.content().urls {
        if domains.len() >= max {
            break;
        }
        let Some(host) = url_host(url) else { continue };
        if host.parse::<IpAddr>().is_ok() {
            continue;
        }
        if let Some(domain) = registrable(&host)
            && !domains.contains(&domain)
        {
            domains.push(domain);
        }
    }
    domains
}

/// The lowercase registrable domain (PSL) of `name`, if it is an ASCII name of two labels
/// or more.
fn registrable(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.');
    if !name.is_ascii() {
        return None;
    }
    let domain = organizational_domain(name).to_ascii_lowercase();
    (domain.contains('.') && is_queryable(&domain)).then_some(domain)
}

/// The evidence gathered for one symbol: its subjects and answers, in order.
struct Gathered {
    symbol: &'static str,
    pieces: Vec<String>,
}

fn read_answers(
    outcome: &mut Outcome,
    asks: &[Ask<'_>],
    subjects: &[Subject],
    questions: &[String],
    answers: &[Result<Vec<Ipv4Addr>, DnsError>],
) {
    let mut gathered: Vec<Gathered> = Vec::new();
    let mut gather = |symbol: &'static str, piece: String| match gathered
        .iter_mut()
        .find(|g| g.symbol == symbol)
    {
        Some(g) => g.pieces.push(piece),
        None => gathered.push(Gathered {
            symbol,
            pieces: vec![piece],
        }),
    };
    // Failures per zone: the first failed question and its error, and how many failed.
    let mut failures: Vec<(&str, &str, &DnsError, usize)> = Vec::new();
    for ask in asks {
        let subject = &subjects[ask.subject];
        let zone = ask.list.zone.as_str();
        let records = match &answers[ask.question] {
            Ok(records) => records,
            Err(DnsError::NxDomain) => continue,
            Err(error) => {
                match failures.iter_mut().find(|f| f.0 == zone) {
                    Some(failure) => failure.3 += 1,
                    None => failures.push((zone, &questions[ask.question], error, 1)),
                }
                continue;
            }
        };
        for &answer in records {
            match ask.list.read(answer) {
                Reading::Blocked => {
                    warn_blocked(zone, answer);
                    gather(
                        ask.list.blocked_symbol,
                        format!(
                            "{zone} refused the query about {} ({answer})",
                            subject.label
                        ),
                    );
                }
                Reading::Listed(symbols) => {
                    for &symbol in &symbols {
                        gather(
                            symbol,
                            format!("{} listed in {zone} ({answer})", subject.label),
                        );
                    }
                    if ask.list.enforce && !symbols.is_empty() && outcome.enforce.is_none() {
                        outcome.enforce = Some((
                            Action::Reject,
                            format!(
                                "{}: {} blocked using {zone}",
                                ask.kind.category(),
                                subject.label
                            ),
                        ));
                    }
                }
            }
        }
    }
    for g in gathered {
        let mut evidence = String::new();
        for (i, piece) in g.pieces.iter().take(MAX_EVIDENCE_SUBJECTS).enumerate() {
            if i > 0 {
                evidence.push_str("; ");
            }
            evidence.push_str(piece);
        }
        if g.pieces.len() > MAX_EVIDENCE_SUBJECTS {
            let _ = write!(
                evidence,
                "; and {} more",
                g.pieces.len() - MAX_EVIDENCE_SUBJECTS
            );
        }
        outcome.hit(g.symbol, evidence);
    }
    for (zone, question, error, count) in failures {
        let more = if count > 1 {
            format!(" (and {} more)", count - 1)
        } else {
            String::new()
        };
        outcome.skip(
            format!("rbl {zone}"),
            format!("lookup of {question} failed: {error}{more}"),
        );
    }
}

/// Logs that `zone` refused a query, unless it was logged for that zone less than
/// [`BLOCKED_WARNING_INTERVAL`] ago. Kept across reloads: the zones are the same.
fn warn_blocked(zone: &str, answer: Ipv4Addr) {
    static LAST: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    let now = Instant::now();
    let mut last = LAST
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let due = last
        .get(zone)
        .is_none_or(|at| now.duration_since(*at) >= BLOCKED_WARNING_INTERVAL);
    if !due {
        return;
    }
    last.insert(zone.to_owned(), now);
    drop(last);
    tracing::warn!(
        zone,
        %answer,
        "DNS list refused the query (over its free limit, or asked through a public resolver): its listings are not seen; next warning for this zone in 10 minutes at the earliest"
    );
}

impl<R: Resolver + Clone + 'static> Check for RblCheck<R> {
    fn name(&self) -> CheckName {
        CheckName::Rbl
    }

    fn needs_message(&self) -> bool {
        false
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(self.examine(scan))
    }
}
