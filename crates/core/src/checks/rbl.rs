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
    // The From field as DMARC reads it: no MIME decoding for a header field.
    for domain in scan.author_domains() {
        add(Identity::From, &domain);
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
    // Failures per zone: the first failed question and its error, and the distinct
    // questions that failed (lists sharing a zone share questions).
    let mut failures: Vec<(&str, &DnsError, Vec<usize>)> = Vec::new();
    for ask in asks {
        let subject = &subjects[ask.subject];
        let zone = ask.list.zone.as_str();
        let records = match &answers[ask.question] {
            Ok(records) => records,
            Err(DnsError::NxDomain) => continue,
            Err(error) => {
                match failures.iter_mut().find(|f| f.0 == zone) {
                    Some((_, _, failed)) if !failed.contains(&ask.question) => {
                        failed.push(ask.question);
                    }
                    Some(_) => {}
                    None => failures.push((zone, error, vec![ask.question])),
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
    for (zone, error, failed) in failures {
        let more = if failed.len() > 1 {
            format!(" (and {} more)", failed.len() - 1)
        } else {
            String::new()
        };
        outcome.skip(
            format!("rbl {zone}"),
            format!("lookup of {} failed: {error}{more}", questions[failed[0]]),
        );
    }
}

/// When each zone's "query refused" warning was last logged.
#[derive(Default)]
struct BlockedWarnings {
    last: HashMap<String, Instant>,
}

impl BlockedWarnings {
    /// Whether a warning about `zone` is due at `now`, noting it as logged if so.
    fn due(&mut self, zone: &str, now: Instant) -> bool {
        let due = self
            .last
            .get(zone)
            .is_none_or(|at| now.duration_since(*at) >= BLOCKED_WARNING_INTERVAL);
        if due {
            self.last.insert(zone.to_owned(), now);
        }
        due
    }
}

/// Logs that `zone` refused a query, unless it was logged for that zone less than
/// [`BLOCKED_WARNING_INTERVAL`] ago. Process-wide, so it holds across reloads (the zones
/// are the same); bounded by the zones ever configured.
fn warn_blocked(zone: &str, answer: Ipv4Addr) {
    static WARNINGS: OnceLock<Mutex<BlockedWarnings>> = OnceLock::new();
    let due = WARNINGS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .due(zone, Instant::now());
    if due {
        tracing::warn!(
            zone,
            %answer,
            "DNS list refused the query (over its free limit, or asked through a public resolver): its listings are not seen; next warning for this zone in 10 minutes at the earliest"
        );
    }
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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::net::Ipv6Addr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use kanmon_auth::dns::{Answer, Mx, StaticResolver, TxtAnswer};
    use kanmon_auth::message::Message;

    use super::*;
    use crate::config::Config;
    use crate::envelope::Envelope;

    /// A static zone that counts the A questions asked of it.
    #[derive(Clone)]
    struct Counting {
        zone: StaticResolver,
        asked: Arc<AtomicUsize>,
    }

    impl Resolver for Counting {
        fn txt(&self, name: &str) -> impl Future<Output = TxtAnswer> + Send {
            self.zone.txt(name)
        }
        fn a(&self, name: &str) -> impl Future<Output = Answer<Ipv4Addr>> + Send {
            self.asked.fetch_add(1, Ordering::SeqCst);
            self.zone.a(name)
        }
        fn aaaa(&self, name: &str) -> impl Future<Output = Answer<Ipv6Addr>> + Send {
            self.zone.aaaa(name)
        }
        fn mx(&self, name: &str) -> impl Future<Output = Answer<Mx>> + Send {
            self.zone.mx(name)
        }
        fn ptr(&self, ip: IpAddr) -> impl Future<Output = Answer<String>> + Send {
            self.zone.ptr(ip)
        }
    }

    const LISTS: &str = "[[dnsbl]]\nzone = \"bl.test\"\nsymbol = \"RCVD_IN_TEST\"\nscore = 2.0\n\
        [[rhsbl]]\nzone = \"dbl.test\"\nsymbol = \"SENDER_TEST\"\nscore = 1.0\n\
        [[uribl]]\nzone = \"dbl.test\"\nsymbol = \"URI_TEST\"\nscore = 1.0\n";

    fn listed(zone: StaticResolver, name: &str, answer: &str) -> StaticResolver {
        zone.with_ip(name, answer.parse().unwrap())
    }

    async fn run(
        config: &str,
        zone: StaticResolver,
        envelope: &Envelope,
        raw: &[u8],
    ) -> (Outcome, usize) {
        let config = Config::parse(config).unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let resolver = Counting {
            zone,
            asked: asked.clone(),
        };
        let check = RblCheck::new(&config.rbl, resolver);
        let message = (!raw.is_empty()).then(|| Message::parse(raw).unwrap());
        let scan = Scan::new(envelope, raw, message, false, 0, 10);
        let outcome = check.examine(&scan).await;
        (outcome, asked.load(Ordering::SeqCst))
    }

    fn client(ip: &str) -> Envelope {
        Envelope {
            client_ip: Some(ip.parse().unwrap()),
            ..Envelope::default()
        }
    }

    fn hits(outcome: &Outcome) -> Vec<(&str, &str)> {
        outcome
            .hits
            .iter()
            .map(|h| (h.symbol, h.evidence.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn a_listed_ipv4_client_and_an_unlisted_one() {
        let zone = listed(StaticResolver::new(), "1.2.0.192.bl.test", "127.0.0.2");
        let (outcome, _) = run(LISTS, zone.clone(), &client("192.0.2.1"), b"").await;
        assert_eq!(
            hits(&outcome),
            [(
                "RCVD_IN_TEST",
                "client [192.0.2.1] listed in bl.test (127.0.0.2)"
            )]
        );
        assert_eq!(outcome.enforce, None, "the list does not enforce");
        let (outcome, asked) = run(LISTS, zone, &client("192.0.2.2"), b"").await;
        assert!(outcome.hits.is_empty() && outcome.skipped.is_empty());
        assert_eq!(asked, 1);
    }

    #[tokio::test]
    async fn ipv6_clients_are_asked_by_nibbles_and_mapped_ones_as_ipv4() {
        let name = format!("1.0.0.0.{}8.b.d.0.1.0.0.2.bl.test", "0.0.0.0.".repeat(5));
        let zone = listed(StaticResolver::new(), &name, "127.0.0.2");
        let zone = listed(zone, "1.2.0.192.bl.test", "127.0.0.3");
        let (outcome, _) = run(LISTS, zone.clone(), &client("2001:db8::1"), b"").await;
        assert_eq!(
            hits(&outcome),
            [(
                "RCVD_IN_TEST",
                "client [2001:db8::1] listed in bl.test (127.0.0.2)"
            )]
        );
        let (outcome, _) = run(LISTS, zone, &client("::ffff:192.0.2.1"), b"").await;
        assert_eq!(
            hits(&outcome),
            [(
                "RCVD_IN_TEST",
                "client [192.0.2.1] listed in bl.test (127.0.0.3)"
            )]
        );
    }

    #[tokio::test]
    async fn private_and_outbound_clients_are_not_asked() {
        let (outcome, asked) = run(LISTS, StaticResolver::new(), &client("10.1.2.3"), b"").await;
        assert_eq!((outcome.hits.len(), asked), (0, 0));
        let config = Config::parse(LISTS).unwrap();
        let check = RblCheck::new(&config.rbl, StaticResolver::new());
        let envelope = client("192.0.2.1");
        let scan = Scan::new(&envelope, b"", None, true, 0, 10);
        let outcome = check.examine(&scan).await;
        assert_eq!(
            outcome.skipped[0].why,
            "outbound: the client is in internal_hosts or authenticated"
        );
    }

    #[tokio::test]
    async fn sender_domains_are_asked_as_registrable_domains_once_each() {
        let zone = listed(StaticResolver::new(), "bad.example.dbl.test", "127.0.0.2");
        let envelope = Envelope {
            mail_from: Some("bounce@mail.Bad.Example".to_owned()),
            helo: Some("mx.bad.example".to_owned()),
            ..Envelope::default()
        };
        let raw = b"From: a@news.bad.example\r\n\r\nSee https://www.bad.example/x and http://192.0.2.9/\r\n";
        let (outcome, asked) = run(LISTS, zone, &envelope, raw).await;
        // MAIL FROM, From, HELO and the URL name one domain: the RHSBL and the URIBL on the
        // same zone ask it once.
        assert_eq!(asked, 1);
        assert_eq!(
            hits(&outcome),
            [
                (
                    "SENDER_TEST",
                    "sender domain [bad.example] listed in dbl.test (127.0.0.2)"
                ),
                (
                    "URI_TEST",
                    "URL domain [bad.example] listed in dbl.test (127.0.0.2)"
                )
            ]
        );
    }

    #[tokio::test]
    async fn rhsbl_identities_choose_the_domains() {
        let config = "[[rhsbl]]\nzone = \"dbl.test\"\nsymbol = \"HELO_TEST\"\nscore = 1.0\nidentities = [\"helo\"]\n";
        let zone = listed(StaticResolver::new(), "bad.example.dbl.test", "127.0.0.2");
        let envelope = Envelope {
            mail_from: Some("a@bad.example".to_owned()),
            helo: Some("good.example".to_owned()),
            ..Envelope::default()
        };
        let (outcome, _) = run(config, zone, &envelope, b"").await;
        assert!(outcome.hits.is_empty(), "{:?}", outcome.hits);
    }

    #[tokio::test]
    async fn many_url_domains_one_hit_bounded_questions() {
        let mut zone = StaticResolver::new();
        let mut body = String::from("From: a@example.org\r\n\r\n");
        for i in 0..30 {
            zone = listed(zone, &format!("spam{i}.example.dbl.test"), "127.0.0.2");
            body.push_str(&format!("http://www.spam{i}.example/\r\n"));
        }
        let config = format!("[rbl]\nmax_uri_domains = 5\n{LISTS}");
        let (outcome, asked) = run(&config, zone, &Envelope::default(), body.as_bytes()).await;
        // example.org (From) plus five URL domains.
        assert_eq!(asked, 6);
        assert_eq!(
            hits(&outcome),
            [(
                "URI_TEST",
                "URL domain [spam0.example] listed in dbl.test (127.0.0.2); \
                 URL domain [spam1.example] listed in dbl.test (127.0.0.2); \
                 URL domain [spam2.example] listed in dbl.test (127.0.0.2); and 2 more"
            )]
        );
    }

    #[tokio::test]
    async fn refused_queries_and_failures_are_not_listings() {
        let zone = listed(
            StaticResolver::new(),
            "1.2.0.192.bl.test",
            "127.255.255.254",
        );
        let (outcome, _) = run(LISTS, zone, &client("192.0.2.1"), b"").await;
        assert_eq!(
            hits(&outcome),
            [(
                "RCVD_IN_TEST_BLOCKED",
                "bl.test refused the query about client [192.0.2.1] (127.255.255.254)"
            )]
        );
        let zone = StaticResolver::new().with_failure("1.2.0.192.bl.test");
        let (outcome, _) = run(LISTS, zone, &client("192.0.2.1"), b"").await;
        assert!(outcome.hits.is_empty());
        assert_eq!(outcome.skipped[0].what, "rbl bl.test");
        assert_eq!(
            outcome.skipped[0].why,
            "lookup of 1.2.0.192.bl.test failed: dns lookup failed: SERVFAIL"
        );
    }

    #[test]
    fn a_refused_zone_is_warned_about_once_per_interval() {
        let mut warnings = BlockedWarnings::default();
        let start = Instant::now();
        assert!(warnings.due("zen.spamhaus.org", start));
        assert!(!warnings.due("zen.spamhaus.org", start + Duration::from_secs(599)));
        assert!(warnings.due("multi.uribl.com", start + Duration::from_secs(1)));
        assert!(warnings.due("zen.spamhaus.org", start + BLOCKED_WARNING_INTERVAL));
    }

    #[tokio::test]
    async fn a_failing_zone_shared_by_two_lists_is_one_note_per_question() {
        let envelope = Envelope {
            mail_from: Some("a@bad.example".to_owned()),
            ..Envelope::default()
        };
        let raw = b"From: a@example.org\r\n\r\nhttp://bad.example/ http://other.example/\r\n";
        let zone = StaticResolver::new()
            .with_failure("bad.example.dbl.test")
            .with_failure("other.example.dbl.test");
        let (outcome, asked) = run(LISTS, zone, &envelope, raw).await;
        assert_eq!(asked, 3, "bad.example, example.org, other.example");
        let notes: Vec<(&str, &str)> = outcome
            .skipped
            .iter()
            .map(|s| (s.what.as_str(), s.why.as_str()))
            .collect();
        assert_eq!(
            notes,
            [(
                "rbl dbl.test",
                "lookup of bad.example.dbl.test failed: dns lookup failed: SERVFAIL (and 1 more)"
            )]
        );
    }

    #[tokio::test]
    async fn an_enforcing_list_asks_for_a_refusal_in_postfix_words() {
        let config = format!("{LISTS}enforce = true\n");
        let config = config.replace(
            "score = 2.0\n[[rhsbl]]",
            "score = 2.0\nenforce = true\n[[rhsbl]]",
        );
        let zone = listed(StaticResolver::new(), "1.2.0.192.bl.test", "127.0.0.2");
        let (outcome, _) = run(&config, zone, &client("192.0.2.1"), b"").await;
        assert_eq!(
            outcome.enforce,
            Some((
                Action::Reject,
                "DNSBL: client [192.0.2.1] blocked using bl.test".to_owned()
            ))
        );
        // A code answer the entry does not map and no symbol to fall back on: nothing.
        let config = "[[dnsbl]]\nzone = \"bl.test\"\nenforce = true\nblocked_symbol = \"BL_BLOCKED\"\n\
            codes = [{ answers = [\"127.0.0.2\"], symbol = \"BL_TWO\", score = 1.0 }]\n";
        let zone = listed(StaticResolver::new(), "1.2.0.192.bl.test", "127.0.0.3");
        let (outcome, _) = run(config, zone, &client("192.0.2.1"), b"").await;
        assert!(outcome.hits.is_empty() && outcome.enforce.is_none());
    }
}
