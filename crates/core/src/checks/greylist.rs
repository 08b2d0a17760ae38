//! Greylisting (postgrey's way): the first attempt of a (client network, sender, recipient)
//! triplet is deferred; a real MTA retries, and a retry after `delay` (within
//! `retry_window` of the first attempt) passes; the triplet is then remembered for
//! `max_age` and passes at once. Most spamware never retries.
//!
//! Greylisting needs the recipient, so it is not a [`crate::Check`] of the envelope scan:
//! a front-end asks [`crate::Engine::greylist`] once per recipient, at RCPT TO (policy
//! request, milter RCPT event), and the answer ([`Greylisting`]) is a hit on a declared
//! symbol and, for a deferral, an enforcement that the engine's mode rules apply (`tag`
//! records a would-greylist). The message's verdict carries the greylisting of the
//! recipients it was accepted for ([`crate::Engine::scan_message_greylisted`]).
//!
//! Data flow for one recipient: internal or authenticated client → let be; whitelisted
//! client or recipient → GREYLIST_WHITELISTED; `only = "suspicious"` and the early verdict
//! has no S25R hit and a score under `min_score` → let be; then the store: the client
//! network auto-whitelisted → GREYLIST_AUTOWHITELISTED; the triplet passed before →
//! GREYLIST_PASSED; pending and waited long enough → GREYLIST_PASSED; else
//! GREYLIST_DEFERRED. A store that fails never delays mail: GREYLIST_UNAVAILABLE, accepted.
//!
//! Store keys (greylist entries, readable in `kanmon store export`):
//! * `try/<net>/<sender>/<recipient>` — a pending triplet, written once at its first
//!   attempt and expiring `retry_window` later, so its `first_seen` is the first attempt;
//! * `pass/<net>/<sender>/<recipient>` — a triplet that passed, refreshed at every pass,
//!   expiring `max_age` after the last;
//! * `client/<net>` — a client network's passes (the count), for the auto-whitelist.
//!
//! The triplet, as postgrey builds it: the client's /24 (IPv4) or /64 (IPv6) network, since
//! large senders retry from another address of the same pool; the sender lowercased, with a
//! `+extension` removed and each number standing alone replaced by `#` (VERP and bounce
//! addresses carry a fresh one per message); the recipient lowercased. The null sender of a
//! bounce (`<>`) is greylisted like any other, as postgrey does: real MTAs retry bounces.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use kanmon_store::{Sighting, Store, StoreError, Timestamp};

use crate::check::{CheckName, Mode};
use crate::config::{Greylist, GreylistOnly};
use crate::envelope::Envelope;
use crate::symbol::{Hit, Symbol};
use crate::verdict::{Action, Enforcement, Skipped, Verdict};

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "GREYLIST_DEFERRED",
        description: "Greylisting: first attempt of this client network, sender and recipient, or a retry before the delay; deferred (in tag mode: would have been)",
    },
    Symbol {
        name: "GREYLIST_PASSED",
        description: "Greylisting: retried after the delay, or this client network, sender and recipient passed before",
    },
    Symbol {
        name: "GREYLIST_WHITELISTED",
        description: "Greylisting: the client or the recipient is on a greylisting whitelist",
    },
    Symbol {
        name: "GREYLIST_AUTOWHITELISTED",
        description: "Greylisting: the client's network passed greylisting often enough to be let through at once",
    },
    Symbol {
        name: "GREYLIST_UNAVAILABLE",
        description: "Greylisting: the store could not be reached; the recipient was not greylisted",
    },
];

/// The S25R symbols that make a client suspicious for `only = "suspicious"` (rgrey).
const SUSPICIOUS_SYMBOLS: [&str; 2] = ["S25R_GENERIC", "S25R_UNKNOWN_CLIENT"];

/// A client network's pass is counted at most once an hour, as postgrey counts it, so one
/// burst of mail (a list sending to many recipients) does not auto-whitelist it at once.
const PASS_COUNT_INTERVAL_S: u64 = 3600;

/// Bound on the sender and recipient in a store key: RFC 5321 §4.5.3.1.3 limits a path to
/// 256 octets, so nothing real is cut, and a key from the network stays bounded.
const MAX_ADDRESS_BYTES: usize = 256;

/// What greylisting said about one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Greylisting {
    /// The recipient, as given.
    pub recipient: String,
    /// The GREYLIST_* symbol that fired, if any.
    pub hit: Option<Hit>,
    /// A deferral, with the check's mode: only `enforce` defers; `tag` records it.
    pub enforcement: Option<Enforcement>,
    /// Why greylisting did not look at this recipient (outbound, not suspicious, no IP).
    pub skipped: Option<Skipped>,
}

impl Greylisting {
    fn new(recipient: &str) -> Self {
        Greylisting {
            recipient: recipient.to_owned(),
            hit: None,
            enforcement: None,
            skipped: None,
        }
    }

    /// The deferral to answer at RCPT TO: greylisting in `enforce` mode deferred this
    /// recipient.
    pub fn deferral(&self) -> Option<&Enforcement> {
        self.enforcement
            .as_ref()
            .filter(|e| e.mode == Mode::Enforce)
    }

    fn skip(mut self, why: impl Into<String>) -> Self {
        self.skipped = Some(Skipped {
            what: "greylist".to_owned(),
            why: why.into(),
        });
        self
    }

    fn hit(mut self, symbol: &'static str, evidence: impl Into<String>) -> Self {
        self.hit = Some(Hit::new(symbol, evidence));
        self
    }
}

/// What the store says about a triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    FirstAttempt,
    TooEarly { waited: u64 },
    Passed { waited: u64 },
    PassedBefore { since: u64 },
    AutoWhitelisted { passes: u64 },
}

/// Greylisting with its settings and the store it keeps triplets in.
pub(crate) struct Greylister {
    config: Greylist,
    store: Store,
}

impl Greylister {
    pub(crate) fn new(config: &Greylist, store: &Store) -> Self {
        Greylister {
            config: config.clone(),
            store: store.clone(),
        }
    }

    /// Greylisting of `recipient` of the message `envelope` describes. `internal`: the
    /// client is ours (internal_hosts, SASL); `early`: the verdict before DATA, for
    /// `only = "suspicious"` (without one, the client is not suspected).
    pub(crate) async fn greylist(
        &self,
        envelope: &Envelope,
        recipient: &str,
        internal: bool,
        early: Option<&Verdict>,
    ) -> Greylisting {
        let greylisting = Greylisting::new(recipient);
        if internal {
            return greylisting.skip("outbound: the client is in internal_hosts or authenticated");
        }
        let Some(ip) = envelope.client_ip.map(unmapped) else {
            return greylisting.skip("no client IP given");
        };
        let name = envelope.client_name.name();
        if let Some(entry) = self
            .config
            .whitelist_clients
            .iter()
            .find(|e| e.matches(name, Some(ip)))
        {
            return greylisting.hit(
                "GREYLIST_WHITELISTED",
                format!("client whitelisted by {}", entry.source),
            );
        }
        let rcpt = bounded(&recipient.to_ascii_lowercase());
        if let Some(entry) = self
            .config
            .whitelist_recipients
            .iter()
            .find(|e| e.matches(&rcpt))
        {
            return greylisting.hit(
                "GREYLIST_WHITELISTED",
                format!("recipient <{rcpt}> whitelisted by {}", entry.source),
            );
        }
        if self.config.only == GreylistOnly::Suspicious
            && suspicion(early, self.config.min_score).is_none()
        {
            return greylisting.skip(format!(
                "client not suspicious (greylist.only = \"suspicious\": no S25R hit, score under {})",
                self.config.min_score
            ));
        }
        let net = self.network(ip);
        let sender = normalised_sender(envelope.mail_from.as_deref().unwrap_or(""));
        match self.judge(&net, &sender, &rcpt).await {
            Ok(judgement) => self.conclude(greylisting, judgement, &net),
            Err(error) => {
                tracing::warn!(
                    queue_id = envelope.queue_id.as_deref().unwrap_or("-"),
                    error = %error,
                    "greylist: store unavailable; not greylisting"
                );
                greylisting.hit(
                    "GREYLIST_UNAVAILABLE",
                    format!("store unavailable ({error}); not greylisted"),
                )
            }
        }
    }

    fn conclude(&self, greylisting: Greylisting, judgement: Judgement, net: &str) -> Greylisting {
        let delay = self.config.delay.as_secs();
        let (greylisting, wait) = match judgement {
            Judgement::FirstAttempt => (
                greylisting.hit("GREYLIST_DEFERRED", format!("first attempt from {net}")),
                delay,
            ),
            Judgement::TooEarly { waited } => (
                greylisting.hit(
                    "GREYLIST_DEFERRED",
                    format!("retried from {net} after {waited} s, before the delay of {delay} s"),
                ),
                delay - waited,
            ),
            Judgement::Passed { waited } => {
                return greylisting.hit(
                    "GREYLIST_PASSED",
                    format!("retried from {net} after {waited} s (delay {delay} s)"),
                );
            }
            Judgement::PassedBefore { since } => {
                return greylisting.hit(
                    "GREYLIST_PASSED",
                    format!("passed before; first seen from {net} {since} s ago"),
                );
            }
            Judgement::AutoWhitelisted { passes } => {
                return greylisting.hit(
                    "GREYLIST_AUTOWHITELISTED",
                    format!(
                        "{net} passed greylisting {passes} times (greylist.auto_whitelist_after = {})",
                        self.config.auto_whitelist_after
                    ),
                );
            }
        };
        Greylisting {
            enforcement: Some(Enforcement {
                check: CheckName::Greylist,
                action: Action::Greylist,
                reason: format!("Greylisted: please try again in {}", seconds(wait)),
                mode: self.config.mode,
            }),
            ..greylisting
        }
    }

    /// The store's word on a triplet, updating it: see the module documentation.
    async fn judge(&self, net: &str, sender: &str, rcpt: &str) -> Result<Judgement, StoreError> {
        let store = &self.store;
        let now = store.clock().now();
        let client = format!("client/{net}").into_bytes();
        let passes = if self.config.auto_whitelist_after > 0 {
            store.greylist_get(&client).await?
        } else {
            None
        };
        if let Some(seen) = passes
            && seen.count >= self.config.auto_whitelist_after
        {
            self.count_pass(&client, passes, now).await?;
            return Ok(Judgement::AutoWhitelisted { passes: seen.count });
        }
        let passed = format!("pass/{net}/{sender}/{rcpt}").into_bytes();
        if let Some(before) = store.greylist_get(&passed).await? {
            store.greylist_touch(&passed, self.config.max_age).await?;
            self.count_pass(&client, passes, now).await?;
            return Ok(Judgement::PassedBefore {
                since: now.saturating_sub(before.first_seen),
            });
        }
        let pending = format!("try/{net}/{sender}/{rcpt}").into_bytes();
        let Some(first) = store.greylist_get(&pending).await? else {
            // Written once: it expires retry_window after the first attempt, which ends
            // the window; a retry after that starts over.
            store
                .greylist_touch(&pending, self.config.retry_window)
                .await?;
            return Ok(Judgement::FirstAttempt);
        };
        let waited = now.saturating_sub(first.first_seen);
        if waited < self.config.delay.as_secs() {
            return Ok(Judgement::TooEarly { waited });
        }
        store.greylist_touch(&passed, self.config.max_age).await?;
        self.count_pass(&client, passes, now).await?;
        Ok(Judgement::Passed { waited })
    }

    /// Counts a pass of the client network, at most once per [`PASS_COUNT_INTERVAL_S`].
    async fn count_pass(
        &self,
        client: &[u8],
        passes: Option<Sighting>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if self.config.auto_whitelist_after == 0 {
            return Ok(());
        }
        let due =
            passes.is_none_or(|seen| now.saturating_sub(seen.last_seen) >= PASS_COUNT_INTERVAL_S);
        if due {
            self.store
                .greylist_touch(client, self.config.max_age)
                .await?;
        }
        Ok(())
    }

    /// The client's network in the triplet, as text (`192.0.2.0/24`).
    fn network(&self, ip: IpAddr) -> String {
        let net = match ip {
            IpAddr::V4(v4) => Ipv4Net::new(v4, self.config.ipv4_prefix).map(IpNet::V4),
            IpAddr::V6(v6) => Ipv6Net::new(v6, self.config.ipv6_prefix).map(IpNet::V6),
        };
        // The prefixes are validated (at most 32 and 128), so `new` cannot fail.
        net.map_or_else(|_| ip.to_string(), |net| net.trunc().to_string())
    }
}

/// `1 second`, `300 seconds`.
fn seconds(n: u64) -> String {
    if n == 1 {
        "1 second".to_owned()
    } else {
        format!("{n} seconds")
    }
}

/// Why the early verdict makes the client suspicious for `only = "suspicious"`, if it does.
fn suspicion(early: Option<&Verdict>, min_score: f64) -> Option<String> {
    let early = early?;
    if let Some(hit) = early
        .hits
        .iter()
        .find(|h| SUSPICIOUS_SYMBOLS.contains(&h.name))
    {
        return Some(hit.name.to_owned());
    }
    (early.score >= min_score).then(|| format!("score {:.2}", early.score))
}

/// An IPv4 client seen on a dual-stack socket is IPv4.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// At most [`MAX_ADDRESS_BYTES`], cut at a character boundary.
fn bounded(address: &str) -> String {
    let mut end = address.len().min(MAX_ADDRESS_BYTES);
    while !address.is_char_boundary(end) {
        end -= 1;
    }
    address[..end].to_owned()
}

/// The sender as postgrey keys it: lowercased, `+extension` removed from the local part,
/// and every number standing alone in it (`bounce-12345-67`) replaced by `#`.
fn normalised_sender(sender: &str) -> String {
    let sender = sender.to_ascii_lowercase();
    let Some((local, domain)) = sender.rsplit_once('@') else {
        return bounded(&sender);
    };
    let local = local.split('+').next().unwrap_or_default();
    let mut out = String::with_capacity(sender.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in local.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.push('@');
    out.push_str(domain);
    bounded(&out)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use kanmon_store::Clock;

    use super::*;
    use crate::config::Config;
    use crate::envelope::ReverseName;

    const T0: u64 = 1_800_000_000;

    fn greylister(config: &str) -> (Greylister, Clock) {
        let config = Config::parse(&format!("[greylist]\nmode = \"enforce\"\n{config}")).unwrap();
        let clock = Clock::manual(T0);
        let store = Store::memory_with_clock(clock.clone());
        (Greylister::new(&config.greylist, &store), clock)
    }

    fn envelope(ip: &str, from: &str) -> Envelope {
        Envelope {
            client_ip: Some(ip.parse::<IpAddr>().unwrap()),
            client_name: ReverseName::Name("mail.example.org".to_owned()),
            mail_from: Some(from.to_owned()),
            ..Envelope::default()
        }
    }

    async fn symbol(g: &Greylister, envelope: &Envelope, rcpt: &str) -> (String, bool) {
        let outcome = g.greylist(envelope, rcpt, false, None).await;
        let deferred = outcome.deferral().is_some();
        (
            outcome.hit.map(|h| h.symbol.to_owned()).unwrap_or_default(),
            deferred,
        )
    }

    #[tokio::test]
    async fn first_attempt_deferred_early_retry_deferred_late_retry_passes() {
        let (g, clock) = greylister("");
        let env = envelope("192.0.2.1", "alice@example.org");
        let first = g.greylist(&env, "bob@example.net", false, None).await;
        assert_eq!(first.hit.as_ref().unwrap().symbol, "GREYLIST_DEFERRED");
        assert_eq!(
            first.hit.as_ref().unwrap().evidence,
            "first attempt from 192.0.2.0/24"
        );
        assert_eq!(
            first.deferral().unwrap().reason,
            "Greylisted: please try again in 300 seconds"
        );
        clock.advance(120);
        let early = g.greylist(&env, "bob@example.net", false, None).await;
        assert_eq!(
            early.hit.as_ref().unwrap().evidence,
            "retried from 192.0.2.0/24 after 120 s, before the delay of 300 s"
        );
        assert_eq!(
            early.deferral().unwrap().reason,
            "Greylisted: please try again in 180 seconds"
        );
        clock.advance(180);
        // Another address of the same /24, as a sending pool retries.
        let retry = g
            .greylist(
                &envelope("192.0.2.77", "alice@example.org"),
                "bob@example.net",
                false,
                None,
            )
            .await;
        assert_eq!(retry.hit.as_ref().unwrap().symbol, "GREYLIST_PASSED");
        assert_eq!(
            retry.hit.as_ref().unwrap().evidence,
            "retried from 192.0.2.0/24 after 300 s (delay 300 s)"
        );
        assert!(retry.enforcement.is_none());
        // Remembered from then on.
        clock.advance(86_400);
        let later = g.greylist(&env, "bob@example.net", false, None).await;
        assert_eq!(
            later.hit.unwrap().evidence,
            "passed before; first seen from 192.0.2.0/24 86400 s ago"
        );
        // Another recipient is another triplet.
        assert_eq!(
            symbol(&g, &env, "carol@example.net").await,
            ("GREYLIST_DEFERRED".to_owned(), true)
        );
    }

    #[tokio::test]
    async fn bounces_and_mapped_addresses_are_greylisted_like_the_rest() {
        let (g, clock) = greylister("");
        // The null sender of a bounce, from an IPv4 client on a dual-stack socket.
        let bounce = envelope("::ffff:192.0.2.9", "");
        let first = g.greylist(&bounce, "bob@example.net", false, None).await;
        assert_eq!(
            first.hit.unwrap().evidence,
            "first attempt from 192.0.2.0/24"
        );
        clock.advance(300);
        let retry = g
            .greylist(&envelope("192.0.2.10", ""), "bob@example.net", false, None)
            .await;
        assert_eq!(retry.hit.unwrap().symbol, "GREYLIST_PASSED");
    }

    #[tokio::test]
    async fn a_retry_after_the_window_starts_over() {
        let (g, clock) = greylister("retry_window_s = 3600\n");
        let env = envelope("192.0.2.1", "alice@example.org");
        assert_eq!(
            symbol(&g, &env, "bob@example.net").await.0,
            "GREYLIST_DEFERRED"
        );
        clock.advance(3600);
        let again = g.greylist(&env, "bob@example.net", false, None).await;
        assert_eq!(
            again.hit.unwrap().evidence,
            "first attempt from 192.0.2.0/24"
        );
        clock.advance(300);
        assert_eq!(
            symbol(&g, &env, "bob@example.net").await.0,
            "GREYLIST_PASSED"
        );
    }

    #[tokio::test]
    async fn a_passed_triplet_is_forgotten_after_max_age() {
        let (g, clock) =
            greylister("retry_window_s = 3600\nmax_age_s = 7200\nauto_whitelist_after = 0\n");
        let env = envelope("192.0.2.1", "alice@example.org");
        symbol(&g, &env, "bob@example.net").await;
        clock.advance(300);
        assert_eq!(
            symbol(&g, &env, "bob@example.net").await.0,
            "GREYLIST_PASSED"
        );
        clock.advance(g.config.max_age.as_secs());
        assert_eq!(
            symbol(&g, &env, "bob@example.net").await,
            ("GREYLIST_DEFERRED".to_owned(), true)
        );
    }

    #[tokio::test]
    async fn clients_passing_often_enough_are_auto_whitelisted() {
        let (g, clock) = greylister("auto_whitelist_after = 3\n");
        let env = envelope(
            "2001:db8:5:6::1",
            "list-bounces+bob=example.net@lists.example.org",
        );
        // Three recipients pass, an hour apart (passes within an hour count once).
        for rcpt in ["a@example.net", "b@example.net", "c@example.net"] {
            assert_eq!(symbol(&g, &env, rcpt).await.0, "GREYLIST_DEFERRED");
            clock.advance(300);
            assert_eq!(symbol(&g, &env, rcpt).await.0, "GREYLIST_PASSED");
            clock.advance(PASS_COUNT_INTERVAL_S);
        }
        // A new recipient, from another address of the same /64: no delay.
        let next = g
            .greylist(
                &envelope("2001:db8:5:6::99", "x@example.org"),
                "d@example.net",
                false,
                None,
            )
            .await;
        assert_eq!(
            next.hit.unwrap().evidence,
            "2001:db8:5:6::/64 passed greylisting 3 times (greylist.auto_whitelist_after = 3)"
        );
        assert!(next.enforcement.is_none());
        // Another network is still greylisted.
        assert_eq!(
            symbol(
                &g,
                &envelope("2001:db8:5:7::1", "x@example.org"),
                "d@example.net"
            )
            .await
            .0,
            "GREYLIST_DEFERRED"
        );
    }

    #[tokio::test]
    async fn passes_within_an_hour_count_once() {
        let (g, clock) = greylister("auto_whitelist_after = 2\n");
        let env = envelope("192.0.2.1", "alice@example.org");
        for rcpt in ["a@example.net", "b@example.net"] {
            symbol(&g, &env, rcpt).await;
        }
        clock.advance(300);
        for rcpt in ["a@example.net", "b@example.net"] {
            assert_eq!(symbol(&g, &env, rcpt).await.0, "GREYLIST_PASSED");
        }
        assert_eq!(
            symbol(&g, &env, "c@example.net").await.0,
            "GREYLIST_DEFERRED"
        );
    }

    #[tokio::test]
    async fn whitelists_internal_clients_and_suspicion() {
        let (g, _) = greylister(
            "whitelist_clients = [\"example.org\", \"198.51.100.0/24\"]\nwhitelist_recipients = [\"postmaster@\"]\n",
        );
        let env = envelope("192.0.2.1", "alice@example.org");
        let by_name = g.greylist(&env, "bob@example.net", false, None).await;
        assert_eq!(
            by_name.hit.unwrap().evidence,
            "client whitelisted by greylist.whitelist_clients[0]"
        );
        let mut stranger = envelope("203.0.113.5", "x@example.com");
        stranger.client_name = ReverseName::Unknown;
        let by_rcpt = g
            .greylist(&stranger, "PostMaster@example.net", false, None)
            .await;
        assert_eq!(
            by_rcpt.hit.unwrap().evidence,
            "recipient <postmaster@example.net> whitelisted by greylist.whitelist_recipients[0]"
        );
        let internal = g.greylist(&stranger, "bob@example.net", true, None).await;
        assert!(internal.hit.is_none() && internal.enforcement.is_none());
        assert!(internal.skipped.unwrap().why.starts_with("outbound"));

        // rgrey: only what S25R suspects, or a high early score.
        let (g, _) = greylister("only = \"suspicious\"\nmin_score = 4.0\n");
        let plain = g.greylist(&stranger, "bob@example.net", false, None).await;
        assert!(plain.hit.is_none());
        assert!(
            plain
                .skipped
                .unwrap()
                .why
                .starts_with("client not suspicious")
        );
        let mut early = Verdict {
            action: Action::Accept,
            reason: None,
            score: 0.0,
            required: 6.0,
            hits: Vec::new(),
            enforcements: Vec::new(),
            auth: crate::auth::AuthResults::default(),
            headers: Vec::new(),
            forged_authentication_results: Vec::new(),
            skipped: Vec::new(),
            internal: false,
            autolearn: Default::default(),
            signing: None,
        };
        early.hits.push(crate::symbol::ScoredHit {
            name: "S25R_UNKNOWN_CLIENT",
            score: 0.5,
            reason: String::new(),
        });
        let suspected = g
            .greylist(&stranger, "bob@example.net", false, Some(&early))
            .await;
        assert_eq!(suspected.hit.unwrap().symbol, "GREYLIST_DEFERRED");
        early.hits.clear();
        early.score = 4.0;
        assert_eq!(suspicion(Some(&early), 4.0).as_deref(), Some("score 4.00"));
        early.score = 3.9;
        assert_eq!(suspicion(Some(&early), 4.0), None);
    }

    #[test]
    fn senders_are_keyed_as_postgrey_keys_them() {
        assert_eq!(
            normalised_sender("Alice+news@Example.ORG"),
            "alice@example.org"
        );
        assert_eq!(
            normalised_sender("bounce-12345-678@lists.example.org"),
            "bounce-#-#@lists.example.org"
        );
        assert_eq!(
            normalised_sender("user123@example.org"),
            "user123@example.org"
        );
        assert_eq!(normalised_sender(""), "");
        assert_eq!(
            normalised_sender(&"x".repeat(1000)).len(),
            MAX_ADDRESS_BYTES
        );
    }
}
