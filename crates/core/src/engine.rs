//! The engine: one scan of one message, from envelope and bytes to a [`Verdict`].
//!
//! The pipeline, in order (DESIGN.md "one path for every message"):
//! 1. bound and split the message ([`Message::parse_with`] under `[limits]`);
//! 2. decide the direction: our own networks or an authenticated client are outbound and
//!    are not judged by SPF, DKIM, DMARC or ARC;
//! 3. the authentication stage ([`crate::auth`]), under the scan's deadline;
//! 4. the enabled checks, concurrently, each under the same deadline;
//! 5. scores from the configuration, then [`decide`];
//! 6. the header fields to add ([`crate::headers`]) and a log line.
//!
//! Greylisting is asked apart, once per recipient at RCPT TO ([`Engine::greylist`]): the
//! message's verdict then carries what it said about the recipients it was accepted for
//! ([`Engine::scan_message_greylisted`]), and a deferred recipient's refusal gets the early
//! verdict with its greylisting ([`Engine::greylisted`]).
//!
//! Logging policy: one `info` line per message at the end of its scan, with the queue id,
//! client, sender, action, score, symbols and milliseconds; never a body, a header value or
//! a secret.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use kanmon_auth::dkim::DkimVerifier;
use kanmon_auth::dns::{HickoryResolver, Resolver, ResolverConfigError};
use kanmon_auth::message::{Message, MessageLimits};
use kanmon_auth::spf::SpfVerifier;
use kanmon_store::Store;
use tokio::time::{Instant, timeout_at};
use tokio_util::task::TaskTracker;

use crate::auth::{AuthContext, AuthResults, authenticate};
use crate::bayes::autolearn::{self, Autolearn};
use crate::bayes::learn_tokens_of;
use crate::check::{Check, CheckName, Mode};
use crate::checks::{self, Greylister, Greylisting};
use crate::config::Config;
use crate::decide::decide;
use crate::envelope::Envelope;
use crate::headers::{self, HeaderContext};
use crate::scan::Scan;
use crate::signing::{KeyLoadError, SigningKeys, SigningOutcome};
use crate::stats::Counter;
use crate::symbol::{Hit, ScoredHit};
use crate::verdict::{Action, Enforcement, Skipped, Verdict};

type Clock = Box<dyn Fn() -> u64 + Send + Sync>;
type Sampler = Box<dyn Fn() -> u8 + Send + Sync>;

/// The scan engine, shared by every front-end; one per configuration.
pub struct Engine<R> {
    config: Config,
    spf: SpfVerifier<R>,
    dkim: DkimVerifier<R>,
    checks: Vec<Box<dyn Check>>,
    /// Greylisting, when `[greylist]` is not off; it keeps its triplets in `store`.
    greylister: Option<Greylister>,
    clock: Clock,
    dmarc_sampler: Sampler,
    store: Store,
    counter: Counter,
    /// Kept to rebuild the checks when [`Engine::with_store`] gives another store.
    resolver: R,
    /// Autolearning under way, so a short-lived tool can wait for it ([`Engine::finish_learning`]).
    learning: TaskTracker,
    /// Whether autolearn decisions are carried out ([`Engine::without_learning`]).
    learns: bool,
    /// The `[[dkim_keys]]`, loaded ([`Engine::with_signing_keys`]); none by default.
    signing_keys: Arc<SigningKeys>,
}

/// Why an engine could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the DNS resolver")]
    Resolver(#[from] ResolverConfigError),
    #[error("cannot load a DKIM signing key")]
    SigningKey(#[from] Box<KeyLoadError>),
}

impl Engine<HickoryResolver> {
    /// An engine with the resolver `[dns]` describes (the listed nameservers, or the
    /// system's) and the signing keys of `[[dkim_keys]]`, read now by whoever calls: in the
    /// daemon, the `server.user` it switched to.
    pub fn from_config(config: Config) -> Result<Self, EngineError> {
        let keys = SigningKeys::load(&config.signing, config.server.user.as_deref())?;
        let dns = &config.dns;
        let resolver = if dns.nameservers.is_empty() {
            HickoryResolver::system(dns.timeout)?
        } else {
            HickoryResolver::with_nameservers(&dns.nameservers, dns.timeout)?
        }
        .with_cache_capacity(dns.cache_size);
        Ok(Engine::new(config, resolver).with_signing_keys(keys))
    }
}

impl<R: Resolver + Clone + 'static> Engine<R> {
    /// An engine over any resolver, with the system clock and random DMARC sampling. The
    /// resolver is cloned for the SPF and DKIM verifiers, which keep parsed records and keys,
    /// and for the checks that ask the DNS; clones of a caching resolver share its cache.
    pub fn new(config: Config, resolver: R) -> Self {
        let store = Store::memory();
        let checks = checks::enabled(&config, &resolver, &store);
        let greylister = greylister(&config, &store);
        Self {
            greylister,
            config,
            dkim: DkimVerifier::new(resolver.clone()),
            spf: SpfVerifier::new(resolver.clone()),
            resolver,
            checks,
            clock: Box::new(unix_now),
            dmarc_sampler: Box::new(|| fastrand::u8(0..100)),
            counter: Counter::disabled(store.clone()),
            store,
            learning: TaskTracker::new(),
            learns: true,
            signing_keys: Arc::default(),
        }
    }

    /// Gives the engine the signing keys of its configuration ([`SigningKeys::load`]).
    pub fn with_signing_keys(mut self, keys: SigningKeys) -> Self {
        self.signing_keys = Arc::new(keys);
        self
    }

    /// The loaded `[[dkim_keys]]`.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.signing_keys
    }

    /// The resolver the checks ask (with its answer cache).
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Gives the engine the store its checks keep state in. Without it the engine has a
    /// store in memory of its own, which a restart or a reload forgets: the daemon passes
    /// the one store it opened at start to every engine it builds.
    pub fn with_store(mut self, store: Store) -> Self {
        self.checks = checks::enabled(&self.config, &self.resolver, &store);
        self.greylister = greylister(&self.config, &store);
        self.counter = Counter::disabled(store.clone());
        self.store = store;
        self
    }

    /// Decides autolearn as configured but learns nothing: for `kanmon check`, which
    /// explains a verdict and leaves the store as it found it.
    pub fn without_learning(mut self) -> Self {
        self.learns = false;
        self
    }

    /// Shares `counter` (made over the same store): the engines a daemon builds, one per
    /// reload, then count into one place and no counts wait in an engine that is gone.
    /// Without it an engine records no counts and no history.
    pub fn with_counter(mut self, counter: Counter) -> Self {
        self.counter = counter;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Replaces the clock (Unix seconds), for reproducible DKIM expiry and SPF `%{t}`.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Replaces the DMARC `pct` sampling roll (0..=99), for reproducible results.
    pub fn with_dmarc_sampler(mut self, sampler: impl Fn() -> u8 + Send + Sync + 'static) -> Self {
        self.dmarc_sampler = Box::new(sampler);
        self
    }

    /// The configuration this engine runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What records this engine's verdicts (shared by the engines a daemon builds).
    pub fn counter(&self) -> &Counter {
        &self.counter
    }

    /// Scans a whole message (milter at end of message, CLI).
    pub async fn scan_message(&self, envelope: &Envelope, raw: &[u8]) -> Verdict {
        self.scan(envelope, Some(raw), None, &[], Purpose::Final)
            .await
    }

    /// The look at the envelope before DATA (the milter at MAIL FROM, the policy server at
    /// RCPT TO): the checks that need the message are skipped. The verdict has no header
    /// fields (a front-end renders the one it adds this early, see
    /// [`headers::received_spf`]), and no log line is written: the message's line comes
    /// at its end, or from the front-end when it refuses the message here
    /// ([`Engine::conclude`]).
    pub async fn scan_early(&self, envelope: &Envelope) -> Verdict {
        self.scan(envelope, None, None, &[], Purpose::Early).await
    }

    /// Scans a whole message whose envelope [`Engine::scan_early`] already saw: its SPF
    /// results are reused (same client, HELO and MAIL FROM), so SPF runs once per message.
    pub async fn scan_message_after(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        early: &AuthResults,
    ) -> Verdict {
        self.scan(envelope, Some(raw), Some(early), &[], Purpose::Final)
            .await
    }

    /// Scans a whole message (as [`Engine::scan_message_after`] when `early` is given, else
    /// as [`Engine::scan_message`]) whose recipients greylisting saw at RCPT TO: its
    /// GREYLIST_* symbols (each once) and a would-greylist of `tag` mode join the verdict,
    /// its score, headers, log line and counts. Give only the recipients the message was
    /// accepted for: a deferred one was answered at RCPT TO.
    pub async fn scan_message_greylisted(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        early: Option<&AuthResults>,
        greylisting: &[Greylisting],
    ) -> Verdict {
        self.scan(envelope, Some(raw), early, greylisting, Purpose::Final)
            .await
    }

    /// Whether greylisting is on (`tag` or `enforce`): front-ends then ask
    /// [`Engine::greylist`] at each RCPT TO.
    pub fn greylists(&self) -> bool {
        self.greylister.is_some()
    }

    /// Greylisting of one recipient (see [`crate::checks::Greylisting`]), given the verdict
    /// before DATA for `only = "suspicious"` (`None` when it failed: then no client is
    /// suspected, so a failure delays no mail). Never fails: a store error is the
    /// GREYLIST_UNAVAILABLE symbol, and the recipient is not deferred.
    pub async fn greylist(
        &self,
        envelope: &Envelope,
        recipient: &str,
        early: Option<&Verdict>,
    ) -> Greylisting {
        match &self.greylister {
            Some(greylister) => {
                greylister
                    .greylist(envelope, recipient, self.is_internal(envelope), early)
                    .await
            }
            None => Greylisting {
                recipient: recipient.to_owned(),
                hit: None,
                enforcement: None,
                skipped: None,
            },
        }
    }

    /// The verdict before DATA with one recipient's greylisting added (its symbol, its
    /// would-greylist or deferral), scored and decided again: the verdict of a recipient
    /// refused at RCPT TO, for its log line and counts ([`Engine::conclude`]).
    pub fn greylisted(&self, early: &Verdict, greylisting: &Greylisting) -> Verdict {
        let mut verdict = early.clone();
        let mut hits = Vec::new();
        merge_greylisting(
            std::slice::from_ref(greylisting),
            &mut hits,
            &mut verdict.enforcements,
            &mut verdict.skipped,
        );
        for hit in hits {
            if !verdict.hits.iter().any(|h| h.name == hit.symbol) {
                verdict.hits.push(ScoredHit {
                    name: hit.symbol,
                    score: self.config.score(hit.symbol),
                    reason: hit.evidence,
                });
            }
        }
        verdict.score = round(verdict.hits.iter().map(|h| h.score).sum());
        (verdict.action, verdict.reason) = decide(
            verdict.score,
            &verdict.enforcements,
            &self.config.thresholds,
        );
        verdict
    }

    /// Whether the client is ours: our networks, or authenticated. Its mail is outbound.
    fn is_internal(&self, envelope: &Envelope) -> bool {
        envelope.sasl_user.is_some()
            || envelope
                .client_ip
                .is_some_and(|ip| self.config.is_internal(ip))
    }

    async fn scan(
        &self,
        envelope: &Envelope,
        raw: Option<&[u8]>,
        early: Option<&AuthResults>,
        greylisting: &[Greylisting],
        purpose: Purpose,
    ) -> Verdict {
        let started = Instant::now();
        let deadline = started + self.config.limits.scan_timeout;
        let now = (self.clock)();
        let limits = &self.config.limits;
        let internal = self.is_internal(envelope);
        let mut skipped = Vec::new();
        let mut engine_hits = Vec::new();

        let mut no_message = "no message (envelope scan before DATA)";
        let (raw, message) = match raw {
            None => (&[][..], None),
            // The size is not repeated: a front-end reads at most one byte past the limit
            // (memory stays bounded), so `raw.len()` is not the message's size.
            Some(raw) if raw.len() > limits.max_message_bytes => {
                skipped.push(Skipped {
                    what: "message".to_owned(),
                    why: format!(
                        "larger than limits.max_message_bytes ({} bytes): only the envelope was checked",
                        limits.max_message_bytes
                    ),
                });
                no_message = "message over limits.max_message_bytes";
                (&[][..], None)
            }
            Some(raw) => {
                let bounds = MessageLimits {
                    max_header_fields: limits.max_header_fields,
                    max_header_bytes: limits.max_header_bytes,
                };
                match Message::parse_with(raw, &bounds) {
                    Ok(message) => (raw, Some(message)),
                    Err(error) => {
                        engine_hits.push(Hit::new("HEADER_UNREADABLE", error.to_string()));
                        no_message = "header section unreadable (HEADER_UNREADABLE)";
                        (raw, None)
                    }
                }
            }
        };
        let has_message = message.is_some();
        let mut scan = Scan::new(envelope, raw, message, internal, now, limits.max_mime_parts);

        if internal {
            skipped.push(Skipped {
                what: "spf, dkim, dmarc, arc".to_owned(),
                why: "outbound: the client is in internal_hosts or authenticated".to_owned(),
            });
        } else {
            let context = AuthContext {
                config: &self.config,
                spf: &self.spf,
                dkim: &self.dkim,
                envelope,
                message: scan.message.as_ref(),
                no_message,
                now,
                dmarc_sample: (self.dmarc_sampler)(),
                deadline,
                early,
            };
            let mut auth_skipped = Vec::new();
            let auth = authenticate(&context, &mut auth_skipped).await;
            skipped.extend(auth_skipped);
            scan.auth = auth;
        }

        let scanned = &scan;
        let runs = self
            .checks
            .iter()
            .filter(|check| has_message || !check.needs_message())
            .map(|check| async move {
                let started = Instant::now();
                let outcome = timeout_at(deadline, check.check(scanned)).await;
                kanmon_metrics::check(check.name().as_str(), started.elapsed());
                (check.name(), outcome)
            });
        let mut hits = engine_hits;
        let mut enforcements = Vec::new();
        let mut check_headers = Vec::new();
        for (name, outcome) in join_all(runs).await {
            let Ok(outcome) = outcome else {
                skipped.push(Skipped {
                    what: name.to_string(),
                    why: format!(
                        "timed out after limits.scan_timeout_ms ({} ms)",
                        limits.scan_timeout.as_millis()
                    ),
                });
                continue;
            };
            hits.extend(outcome.hits);
            skipped.extend(outcome.skipped);
            check_headers.extend(outcome.headers);
            if let Some((action, reason)) = outcome.enforce {
                enforcements.push(Enforcement {
                    check: name,
                    action,
                    reason,
                    mode: self.mode(name),
                });
            }
        }
        merge_greylisting(greylisting, &mut hits, &mut enforcements, &mut skipped);

        let hits: Vec<ScoredHit> = hits
            .into_iter()
            .map(|hit| ScoredHit {
                name: hit.symbol,
                score: self.config.score(hit.symbol),
                reason: hit.evidence,
            })
            .collect();
        let score = round(hits.iter().map(|h| h.score).sum());
        let (action, reason) = decide(score, &enforcements, &self.config.thresholds);
        let required = self.config.thresholds.add_header;
        let autolearn = match purpose {
            Purpose::Final => autolearn::decide(
                self.config.bayes.autolearn,
                has_message && !internal && self.config.bayes.mode != Mode::Off,
                &hits,
            ),
            Purpose::Early => Autolearn::Disabled,
        };
        let header_fields = match purpose {
            Purpose::Final => {
                let mut fields = headers::render(&HeaderContext {
                    config: &self.config,
                    envelope,
                    auth: &scan.auth,
                    action,
                    score,
                    required,
                    hits: &hits,
                    autolearn,
                });
                fields.extend(check_headers);
                fields
            }
            Purpose::Early => Vec::new(),
        };
        let signing = match purpose {
            Purpose::Final if internal && self.config.signing.enabled() => {
                Some(self.sign(scan.message.as_ref(), no_message, action, now))
            }
            _ => None,
        };
        let forged = scan
            .message
            .as_ref()
            .map(|m| headers::forged_authentication_results(m, &self.config.authserv_id))
            .unwrap_or_default();
        let verdict = Verdict {
            action,
            reason,
            score,
            required,
            hits,
            enforcements,
            auth: std::mem::take(&mut scan.auth),
            headers: header_fields,
            forged_authentication_results: forged,
            skipped,
            internal,
            autolearn,
            signing,
        };
        if let Some(class) = autolearn.class().filter(|_| self.learns) {
            // Tokenised now, while the message is here; learned after the reply.
            let message = learn_tokens_of(scan.content(), raw, &self.config.bayes.tokenizer);
            let store = self.store.clone();
            self.learning
                .spawn(async move { autolearn::learn(&store, &message, class).await });
        }
        let kind = if purpose == Purpose::Final {
            "final"
        } else {
            "early"
        };
        kanmon_metrics::scan(kind, started.elapsed());
        if purpose == Purpose::Final {
            let subject = self
                .config
                .stats
                .history_subjects
                .then(|| scan.content().subject.clone())
                .flatten();
            log_verdict(envelope, &verdict, started.elapsed());
            self.counter.record(
                &self.config,
                envelope,
                &verdict,
                started.elapsed(),
                subject,
                (!raw.is_empty()).then_some(raw),
            );
            kanmon_metrics::verdict(verdict.action.as_str(), verdict.hits.iter().map(|h| h.name));
        }
        verdict
    }

    /// Waits for the learning that scans so far started (autolearn runs after the verdict,
    /// on its own task): a command that exits after one scan calls it, or the learning dies
    /// with its runtime.
    pub async fn finish_learning(&self) {
        self.learning.close();
        self.learning.wait().await;
        self.learning.reopen();
    }

    /// Signs an outbound message, unless it is refused or changed after signing would be
    /// done; every reason not to sign is said, for the log line.
    fn sign(
        &self,
        message: Option<&Message<'_>>,
        no_message: &str,
        action: Action,
        now: u64,
    ) -> SigningOutcome {
        let signing = &self.config.signing;
        let why_not = match (message, action) {
            (None, _) => Some(no_message.to_owned()),
            (Some(_), Action::Reject | Action::Tempfail | Action::Greylist) => {
                Some(format!("the message is refused ({action})"))
            }
            (Some(_), Action::RewriteSubject) if signing.headers.iter().any(|h| h == "subject") => {
                Some("the Subject is rewritten as spam (rewrite_subject)".to_owned())
            }
            _ => None,
        };
        match (why_not, message) {
            (None, Some(message)) => self.signing_keys.sign(signing, message, now),
            (why, _) => SigningOutcome {
                signatures: Vec::new(),
                not_signed: why.into_iter().collect(),
            },
        }
    }

    /// The end of a message's story: its one log line, and its counts in the store
    /// ([`crate::stats`]). Final scans do it themselves; a front-end does it for a message
    /// it refuses on an early verdict.
    pub fn conclude(&self, envelope: &Envelope, verdict: &Verdict, elapsed: Duration) {
        log_verdict(envelope, verdict, elapsed);
        self.counter
            .record(&self.config, envelope, verdict, elapsed, None, None);
        kanmon_metrics::verdict(verdict.action.as_str(), verdict.hits.iter().map(|h| h.name));
    }

    /// Whether a scan of the envelope alone (before DATA) can refuse a message: some check
    /// that does not read the message is in `enforce` mode. When none is, a front-end has no
    /// reason to hold RCPT TO until the early scan is done.
    pub fn refuses_before_data(&self) -> bool {
        self.config.greylist.mode == Mode::Enforce
            || self
                .checks
                .iter()
                .any(|check| !check.needs_message() && self.mode(check.name()) == Mode::Enforce)
    }

    fn mode(&self, check: CheckName) -> Mode {
        match check {
            CheckName::Spf => self.config.spf.mode,
            CheckName::Dkim => self.config.dkim.mode,
            CheckName::Dmarc => self.config.dmarc.mode,
            CheckName::Arc => self.config.arc.mode,
            CheckName::S25r => self.config.s25r.mode,
            CheckName::Helo => self.config.helo.mode,
            CheckName::Content => self.config.content.mode,
            CheckName::Rbl => self.config.rbl.mode,
            CheckName::Senders => self.config.senders.mode,
            CheckName::Greylist => self.config.greylist.mode,
            CheckName::Bayes => self.config.bayes.mode,
        }
    }
}

fn greylister(config: &Config, store: &Store) -> Option<Greylister> {
    (config.greylist.mode != Mode::Off).then(|| Greylister::new(&config.greylist, store))
}

/// Adds what greylisting said about the recipients to a scan's findings: each symbol once
/// (with the first recipient's evidence), so several recipients do not multiply its score;
/// one enforcement; each skip note once.
fn merge_greylisting(
    greylisting: &[Greylisting],
    hits: &mut Vec<Hit>,
    enforcements: &mut Vec<Enforcement>,
    skipped: &mut Vec<Skipped>,
) {
    for one in greylisting {
        if let Some(hit) = &one.hit
            && !hits.iter().any(|h| h.symbol == hit.symbol)
        {
            hits.push(Hit::new(
                hit.symbol,
                format!("<{}>: {}", one.recipient, hit.evidence),
            ));
        }
        if let Some(enforcement) = &one.enforcement
            && !enforcements.iter().any(|e| e.check == CheckName::Greylist)
        {
            enforcements.push(enforcement.clone());
        }
        if let Some(skip) = &one.skipped
            && !skipped.contains(skip)
        {
            skipped.push(skip.clone());
        }
    }
}

/// What a scan is for: the message's last word, with its header fields and log line, or an
/// early look before DATA, which needs neither.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Final,
    Early,
}

/// Scores are sums of decimals; two places keep 0.1 + 0.2 from printing as 0.30000000000000004.
/// Adding 0.0 turns the -0.0 of an empty sum into 0.0.
fn round(score: f64) -> f64 {
    (score * 100.0).round() / 100.0 + 0.0
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes the message's log line: what a scan without one ([`Engine::scan_early`]) leaves to
/// the front-end when that scan is the last the message gets (refused at RCPT TO).
pub fn log_verdict(envelope: &Envelope, verdict: &Verdict, elapsed: Duration) {
    tracing::info!(
        queue_id = envelope.queue_id.as_deref().unwrap_or("-"),
        client = %OrDash(envelope.client_ip.as_ref()),
        from = envelope.mail_from.as_deref().unwrap_or("-"),
        action = %verdict.action,
        score = verdict.score,
        symbols = %SymbolList(&verdict.hits),
        would_enforce = %WouldEnforce(&verdict.enforcements),
        signed = ?Quoted(OrDash(verdict.signing.as_ref())),
        ms = elapsed.as_millis() as u64,
        "scanned"
    );
}

/// What checks in `tag` mode would have done, `check:action` comma-separated (`spf:reject`),
/// or `-`: the observe-mode trail an admin reads before switching a check to `enforce`.
struct WouldEnforce<'a>(&'a [Enforcement]);

impl fmt::Display for WouldEnforce<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tagged = self.0.iter().filter(|e| e.mode == Mode::Tag).peekable();
        if tagged.peek().is_none() {
            return f.write_str("-");
        }
        for (i, e) in tagged.enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", e.check, e.action.as_str())?;
        }
        Ok(())
    }
}

/// A value, or `-` when absent; formatted only if the log line is written.
struct OrDash<'a, T>(Option<&'a T>);

impl<T: fmt::Display> fmt::Display for OrDash<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A text with spaces in double quotes, as the log writes string fields, so a parser of the
/// line finds where it ends; formatted only if the line is written.
struct Quoted<T>(T);

impl<T: fmt::Display> fmt::Debug for Quoted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// `NAME(score),NAME(score)`; formatted only if the log line is written, so a scan with
/// logging off allocates nothing for it.
struct SymbolList<'a>(&'a [ScoredHit]);

impl fmt::Display for SymbolList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hit) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}({})", hit.name, hit.score)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Future, pending};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use kanmon_auth::dns::{Answer, Mx, TxtAnswer};

    use crate::verdict::Action;

    use super::*;

    /// A resolver whose lookups never end: only the scan's deadline can stop them.
    #[derive(Clone)]
    struct Hanging;

    impl Resolver for Hanging {
        fn txt(&self, _: &str) -> impl Future<Output = TxtAnswer> + Send {
            pending()
        }
        fn a(&self, _: &str) -> impl Future<Output = Answer<Ipv4Addr>> + Send {
            pending()
        }
        fn aaaa(&self, _: &str) -> impl Future<Output = Answer<Ipv6Addr>> + Send {
            pending()
        }
        fn mx(&self, _: &str) -> impl Future<Output = Answer<Mx>> + Send {
            pending()
        }
        fn ptr(&self, _: IpAddr) -> impl Future<Output = Answer<String>> + Send {
            pending()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_lookups_that_never_end() {
        let config =
            Config::parse("[dns]\ntimeout_ms = 100\n[limits]\nscan_timeout_ms = 500\n").unwrap();
        let engine = Engine::new(config, Hanging);
        let envelope = Envelope {
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            helo: Some("mail.example.org".to_owned()),
            mail_from: Some("user@example.org".to_owned()),
            ..Envelope::default()
        };
        let message = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\r\n \
            h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\nFrom: user@example.org\r\n\r\nbody\r\n";
        let started = Instant::now();
        let verdict = engine.scan_message(&envelope, message).await;
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        let budget = "timed out: the scan's time budget ran out";
        let auth = &verdict.auth;
        let spf = auth.spf.as_ref().unwrap();
        assert_eq!(
            (spf.result.as_str(), spf.problem.as_deref()),
            ("temperror", Some(budget))
        );
        let helo = auth.spf_helo.as_ref().unwrap();
        assert_eq!(helo.result.as_str(), "temperror");
        assert_eq!(auth.dkim.len(), 1);
        assert_eq!(
            (
                auth.dkim[0].result.as_str(),
                auth.dkim[0].domain.as_str(),
                auth.dkim[0].selector.as_str()
            ),
            ("temperror", "example.org", "sel")
        );
        let dmarc = auth.dmarc.as_ref().unwrap();
        assert_eq!(
            (
                dmarc.result.as_str(),
                dmarc.from_domain.as_str(),
                dmarc.problem.as_deref()
            ),
            ("temperror", "example.org", Some(budget))
        );
        let symbols: Vec<&str> = verdict.hits.iter().map(|h| h.name).collect();
        assert_eq!(
            symbols,
            [
                "SPF_TEMPERROR",
                "SPF_HELO_TEMPERROR",
                "DKIM_SIGNED",
                "DKIM_TEMPERROR",
                "DMARC_TEMPERROR"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_after_an_early_scan_reuses_its_spf_results() {
        let config = "[dns]\ntimeout_ms = 100\n[limits]\nscan_timeout_ms = 500\n";
        let envelope = Envelope {
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            helo: Some("mail.example.org".to_owned()),
            mail_from: Some("user@example.org".to_owned()),
            ..Envelope::default()
        };
        let zone = kanmon_auth::dns::StaticResolver::new()
            .with_txt("example.org", "v=spf1 ip4:192.0.2.1 -all")
            .with_txt("mail.example.org", "v=spf1 -all");
        let early = Engine::new(Config::parse(config).unwrap(), zone)
            .scan_early(&envelope)
            .await;
        assert_eq!(early.auth.spf.as_ref().unwrap().result.as_str(), "pass");
        assert_eq!(
            early.auth.spf_helo.as_ref().unwrap().result.as_str(),
            "fail"
        );
        assert_eq!(early.enforced(), None, "tag mode enforces nothing");
        // A resolver that never answers: only reuse can give SPF a result now.
        let engine = Engine::new(Config::parse(config).unwrap(), Hanging);
        let verdict = engine
            .scan_message_after(
                &envelope,
                b"From: user@example.org\r\n\r\nbody\r\n",
                &early.auth,
            )
            .await;
        assert_eq!(verdict.auth.spf, early.auth.spf);
        assert_eq!(verdict.auth.spf_helo, early.auth.spf_helo);
        assert_eq!(
            verdict.auth.dmarc.as_ref().unwrap().result.as_str(),
            "temperror"
        );
        let symbols: Vec<&str> = verdict.hits.iter().map(|h| h.name).collect();
        assert!(symbols.contains(&"SPF_PASS"), "{symbols:?}");
        assert!(symbols.contains(&"SPF_HELO_FAIL"), "{symbols:?}");
    }

    fn greylisting_engine(
        mode: &str,
    ) -> (
        Engine<kanmon_auth::dns::StaticResolver>,
        kanmon_store::Clock,
    ) {
        let config = Config::parse(&format!(
            "[dns]\ntimeout_ms = 100\n[greylist]\nmode = \"{mode}\"\n"
        ))
        .unwrap();
        let clock = kanmon_store::Clock::manual(1_800_000_000);
        let store = Store::memory_with_clock(clock.clone());
        let zone = kanmon_auth::dns::StaticResolver::new();
        (Engine::new(config, zone).with_store(store), clock)
    }

    fn stranger() -> Envelope {
        Envelope {
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            helo: Some("mail.example.org".to_owned()),
            mail_from: Some("user@example.org".to_owned()),
            ..Envelope::default()
        }
    }

    #[tokio::test]
    async fn greylisting_in_tag_mode_records_a_would_greylist_once_per_message() {
        let (engine, _) = greylisting_engine("tag");
        assert!(engine.greylists() && !engine.refuses_before_data());
        let envelope = stranger();
        let early = engine.scan_early(&envelope).await;
        let bob = engine
            .greylist(&envelope, "bob@example.net", Some(&early))
            .await;
        let carol = engine
            .greylist(&envelope, "carol@example.net", Some(&early))
            .await;
        assert!(bob.deferral().is_none(), "tag mode defers nothing");
        let refused = engine.greylisted(&early, &bob);
        assert_eq!(refused.action, Action::Accept);
        let verdict = engine
            .scan_message_greylisted(
                &envelope,
                b"From: user@example.org\r\n\r\nhi\r\n",
                Some(&early.auth),
                &[bob, carol],
            )
            .await;
        let greylist: Vec<(&str, &str)> = verdict
            .hits
            .iter()
            .filter(|h| h.name.starts_with("GREYLIST_"))
            .map(|h| (h.name, h.reason.as_str()))
            .collect();
        assert_eq!(
            greylist,
            [(
                "GREYLIST_DEFERRED",
                "<bob@example.net>: first attempt from 192.0.2.0/24"
            )]
        );
        assert_eq!(verdict.action, Action::Accept);
        assert_eq!(
            WouldEnforce(&verdict.enforcements).to_string(),
            "greylist:greylist"
        );
    }

    #[tokio::test]
    async fn greylisting_enforced_defers_then_passes_after_the_delay() {
        let (engine, clock) = greylisting_engine("enforce");
        assert!(engine.refuses_before_data());
        let envelope = stranger();
        let early = engine.scan_early(&envelope).await;
        let first = engine
            .greylist(&envelope, "bob@example.net", Some(&early))
            .await;
        let refused = engine.greylisted(&early, &first);
        assert_eq!(
            (refused.action, refused.reason.as_deref()),
            (
                Action::Greylist,
                Some("Greylisted: please try again in 300 seconds")
            )
        );
        clock.advance(300);
        let retry = engine
            .greylist(&envelope, "bob@example.net", Some(&early))
            .await;
        assert!(retry.deferral().is_none());
        assert_eq!(engine.greylisted(&early, &retry).action, Action::Accept);
        // An internal client is never greylisted.
        let internal = Envelope {
            client_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ..stranger()
        };
        let outbound = engine
            .greylist(&internal, "someone@example.net", None)
            .await;
        assert!(outbound.hit.is_none() && outbound.deferral().is_none());
    }

    /// Autolearn learns what the other checks judged clearly (not what Bayes itself said),
    /// says so in X-Spam-Status, and leaves a message someone already learned as it is.
    #[tokio::test]
    async fn autolearn_learns_clear_verdicts_and_says_so() {
        let config = Config::parse(
            "[bayes]\nautolearn = true\n[rbl]\nmode = \"off\"\n\
             [[sender_rules]]\ndomain_suffix = \"cyou\"\nscore = 13.0\n\
             [[sender_rules]]\ndomain = \"friends.example\"\nscore = -1.0\n",
        )
        .unwrap();
        let store = Store::memory();
        let engine =
            Engine::new(config, kanmon_auth::dns::StaticResolver::new()).with_store(store.clone());
        let envelope = |from: &str| Envelope {
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
            mail_from: Some(from.to_owned()),
            ..Envelope::default()
        };
        let status = |verdict: &Verdict| {
            verdict
                .headers
                .iter()
                .find(|h| h.name == "X-Spam-Status")
                .map(|h| h.value.clone())
                .unwrap()
        };
        let spam = b"Message-ID: <1@deals.cyou>\r\nFrom: a@deals.cyou\r\nSubject: pills\r\n\r\ncheap pills\r\n";
        let ham = b"Message-ID: <2@friends.example>\r\nFrom: b@friends.example\r\nSubject: lunch\r\n\r\nsee you\r\n";
        let unclear = b"Message-ID: <3@other.example>\r\nFrom: c@other.example\r\n\r\nhello\r\n";
        let verdict = engine.scan_message(&envelope("a@deals.cyou"), spam).await;
        assert!(
            status(&verdict).contains("autolearn=spam"),
            "{}",
            status(&verdict)
        );
        let verdict = engine
            .scan_message(&envelope("b@friends.example"), ham)
            .await;
        assert!(
            status(&verdict).contains("autolearn=ham"),
            "{}",
            status(&verdict)
        );
        let verdict = engine
            .scan_message(&envelope("c@other.example"), unclear)
            .await;
        assert!(
            status(&verdict).contains("autolearn=no"),
            "{}",
            status(&verdict)
        );

        // Learning runs after the reply, on its own task.
        let options = &engine.config().bayes.tokenizer;
        let spam_digest = crate::bayes::learn_tokens(spam, options).digest;
        let ham_digest = crate::bayes::learn_tokens(ham, options).digest;
        for _ in 0..100 {
            if store.label(&ham_digest).await.unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            store.label(&spam_digest).await.unwrap(),
            Some(kanmon_store::Class::Spam)
        );
        assert_eq!(
            store.label(&ham_digest).await.unwrap(),
            Some(kanmon_store::Class::Ham)
        );
        let totals = store.token_counts(&[]).await.unwrap().totals;
        assert_eq!((totals.spam, totals.ham), (1, 1));

        // A person's judgement wins: relabelled by hand, autolearn does not move it back.
        store
            .relabel(&spam_digest, Some(kanmon_store::Class::Ham), &[])
            .await
            .unwrap();
        engine.scan_message(&envelope("a@deals.cyou"), spam).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            store.label(&spam_digest).await.unwrap(),
            Some(kanmon_store::Class::Ham)
        );
    }
}
