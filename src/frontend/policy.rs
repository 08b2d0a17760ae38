//! The policy front-end: a Postfix policy request → [`Envelope`] → [`Engine::scan_early`]
//! → one `action=`.
//!
//! Postfix asks once per recipient (`check_policy_service` in `smtpd_recipient_restrictions`),
//! and again at `END-OF-MESSAGE` when listed in `smtpd_end_of_data_restrictions`. The verdict
//! is about the sender, not the recipient, so it is computed at the first request of a
//! transaction and kept under Postfix's `instance` attribute: SPF runs once per message, and
//! `Received-SPF` is prepended once, however many recipients there are. Greylisting is about
//! the recipient too, so when `[greylist]` is on it is asked at every RCPT request
//! ([`Engine::greylist`](kanmon_core::Engine::greylist)), with the kept verdict.
//!
//! The table ([`Decision::for_verdict`]), never `OK` (it would end the restriction list and skip
//! `reject_unauth_destination` after it):
//!
//! | verdict                                   | first request             | later requests |
//! |-------------------------------------------|---------------------------|----------------|
//! | a check in `enforce` mode asks reject     | `550 5.7.1 <reason>`      | the same       |
//! | … asks tempfail or greylist               | `DEFER_IF_PERMIT 4.7.1 <reason>` | the same |
//! | greylisting (`enforce`) defers the recipient | `DEFER_IF_PERMIT 4.7.1 Greylisted: please try again in N seconds` | per recipient |
//! | otherwise, with a Received-SPF field      | `PREPEND Received-SPF: …` | `DUNNO`        |
//! | otherwise                                 | `DUNNO`                   | `DUNNO`        |
//!
//! "First" is the first recipient not deferred, so the field is prepended for the message
//! that is accepted. A deferred recipient's request writes a log line of its own (action
//! `greylist`): each is a delivery attempt refused. The score is not acted on here: before
//! DATA it lacks the message's evidence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kanmon_core::config::OnError;
use kanmon_core::{Action as VerdictAction, Envelope, Header, ReverseName, Verdict, headers};
use kanmon_policy::{Action, ProtocolState, ReplyText, Request};

use super::{ERROR_FIELD, EngineSlot, ScanEngine, guarded, reply_text};

/// Transactions remembered at once. Each smtpd process has at most one transaction open, and
/// `default_process_limit` is 100; ten thousand leaves room for many Postfix instances.
const MAX_INSTANCES: usize = 10_000;

/// How long a transaction's decision is kept: longer than Postfix's `smtpd_timeout` (300 s)
/// between two commands of one transaction, with room for a slow DATA phase.
const INSTANCE_TTL: Duration = Duration::from_secs(3600);

/// The policy service shared by every policy connection.
#[derive(Clone)]
pub(crate) struct PolicyService {
    engines: EngineSlot,
    transactions: Arc<Mutex<HashMap<String, Transaction>>>,
    /// Whether every decision writes the message's log line. When the milter serves the
    /// same mail it writes that line at end of message, so the policy server logs only the
    /// messages it refuses (they never reach the milter): one line per message either way.
    log_every: bool,
}

/// One transaction, as its first RCPT request found it.
#[derive(Clone)]
struct Transaction {
    /// The engine at the first request, kept so a reload never splits a message.
    engine: Arc<ScanEngine>,
    /// The verdict before DATA, for greylisting each recipient; `None` if the scan failed.
    early: Option<Arc<Verdict>>,
    decision: Decision,
    /// Whether `decision.first` was given (to a recipient not deferred).
    answered: bool,
    /// Whether the message's log line was written.
    logged: bool,
}

/// What was decided about the sender of one transaction.
#[derive(Clone)]
struct Decision {
    /// The answer to the request that computed it.
    first: Action,
    /// The answer to every later request of the same transaction.
    later: Action,
    at: Instant,
}

impl Decision {
    /// The decision for `verdict`, prepending `received_spf` unless it refuses.
    fn for_verdict(verdict: &Verdict, received_spf: Option<&Header>) -> Decision {
        let refusal = verdict.enforced().and_then(|e| match e.action {
            VerdictAction::Reject => {
                Action::reply(550, Some("5.7.1"), &policy_text(&e.reason)).ok()
            }
            VerdictAction::Tempfail | VerdictAction::Greylist => {
                Action::defer_if_permit(Some("4.7.1"), &policy_text(&e.reason)).ok()
            }
            _ => None,
        });
        if let Some(refusal) = refusal {
            return Decision::same(refusal);
        }
        let prepend = received_spf.and_then(|h| match Action::prepend(&h.name, &h.value) {
            Ok(action) => Some(action),
            Err(e) => {
                tracing::warn!(error = %e, "policy: Received-SPF not prepended");
                None
            }
        });
        Decision {
            first: prepend.unwrap_or(Action::Dunno),
            later: Action::Dunno,
            at: Instant::now(),
        }
    }

    /// Whether the transaction is refused here (and so never reaches a milter).
    fn refuses(&self) -> bool {
        matches!(
            self.first,
            Action::Reply { .. } | Action::DeferIfPermit(_) | Action::Reject(_) | Action::Defer(_)
        )
    }

    fn same(action: Action) -> Decision {
        Decision {
            first: action.clone(),
            later: action,
            at: Instant::now(),
        }
    }
}

impl PolicyService {
    pub(crate) fn new(engines: EngineSlot, milter_too: bool) -> Self {
        PolicyService {
            engines,
            transactions: Arc::new(Mutex::new(HashMap::new())),
            log_every: !milter_too,
        }
    }

    /// The answer to one request.
    pub(crate) async fn answer(&self, request: Request) -> Action {
        let instance = request.instance().filter(|i| !i.is_empty());
        let remembered = instance.and_then(|i| self.remembered(i));
        if !matches!(request.protocol_state(), Some(ProtocolState::Rcpt)) {
            // After RCPT, only a refusal decided at RCPT matters, and that was remembered.
            // Other stages (CONNECT, HELO, MAIL, ETRN, VRFY) come before the sender is known.
            return remembered.map_or(Action::Dunno, |t| t.decision.later);
        }
        let envelope = envelope(&request);
        let started = Instant::now();
        let mut transaction = match remembered {
            Some(transaction) => transaction,
            None => self.begin(&envelope, started).await,
        };
        let answer = self.recipient(&mut transaction, &envelope, started).await;
        if let Some(instance) = instance {
            self.remember(instance, transaction);
        }
        answer
    }

    /// The answer for this request's recipient in `transaction`.
    async fn recipient(
        &self,
        transaction: &mut Transaction,
        envelope: &Envelope,
        started: Instant,
    ) -> Action {
        if transaction.decision.refuses() {
            return transaction.decision.first.clone();
        }
        let engine = Arc::clone(&transaction.engine);
        let early = transaction.early.clone();
        let log = |verdict: &Verdict| engine.conclude(envelope, verdict, started.elapsed());
        match envelope.rcpt_to.first() {
            Some(rcpt) if engine.greylists() => {
                let greylisting = engine.greylist(envelope, rcpt, early.as_deref()).await;
                let deferral = greylisting.deferral();
                if let Some(early) = &early
                    && (deferral.is_some() || (self.log_every && !transaction.logged))
                {
                    log(&engine.greylisted(early, &greylisting));
                    transaction.logged |= deferral.is_none();
                }
                if let Some(deferral) = deferral {
                    return Action::defer_if_permit(Some("4.7.1"), &policy_text(&deferral.reason))
                        .expect("invariant: policy_text is valid reply text");
                }
            }
            _ => {
                if let Some(early) = &early
                    && self.log_every
                    && !transaction.logged
                {
                    log(early);
                    transaction.logged = true;
                }
            }
        }
        if transaction.answered {
            transaction.decision.later.clone()
        } else {
            transaction.answered = true;
            transaction.decision.first.clone()
        }
    }

    /// The first request of a transaction: the scan before DATA and the decision about
    /// the sender (a refusal is logged here: the message ends with it).
    async fn begin(&self, envelope: &Envelope, started: Instant) -> Transaction {
        let engine = self.engines.current();
        let scan = {
            let engine = Arc::clone(&engine);
            let envelope = envelope.clone();
            async move {
                let verdict = engine.scan_early(&envelope).await;
                let received_spf = headers::received_spf(engine.config(), &envelope, &verdict.auth);
                (verdict, received_spf)
            }
        };
        let (early, decision) = match guarded(&engine, scan).await {
            Ok((verdict, received_spf)) => {
                let decision = Decision::for_verdict(&verdict, received_spf.first());
                (Some(Arc::new(verdict)), decision)
            }
            Err(failure) => {
                tracing::error!(
                    queue_id = envelope.queue_id.as_deref().unwrap_or("-"),
                    error = %failure,
                    "policy: scan failed; applying on_error"
                );
                let decision = match engine.config().on_error {
                    OnError::Tempfail => Decision::same(
                        Action::defer_if_permit(
                            Some("4.3.0"),
                            "sender could not be checked, try again later",
                        )
                        .expect("invariant: fixed valid text"),
                    ),
                    OnError::Accept => Decision {
                        first: Action::prepend(ERROR_FIELD, &format!("not checked: {failure}"))
                            .expect("invariant: fixed valid header"),
                        later: Action::Dunno,
                        at: Instant::now(),
                    },
                };
                (None, decision)
            }
        };
        let logged = decision.refuses() && early.is_some();
        if logged && let Some(verdict) = &early {
            engine.conclude(envelope, verdict, started.elapsed());
        }
        Transaction {
            engine,
            early,
            decision,
            answered: false,
            logged,
        }
    }

    fn remembered(&self, instance: &str) -> Option<Transaction> {
        let transactions = self.transactions.lock().unwrap_or_else(|e| e.into_inner());
        transactions
            .get(instance)
            .filter(|t| t.decision.at.elapsed() < INSTANCE_TTL)
            .cloned()
    }

    fn remember(&self, instance: &str, transaction: Transaction) {
        let mut transactions = self.transactions.lock().unwrap_or_else(|e| e.into_inner());
        if transactions.len() >= MAX_INSTANCES {
            transactions.retain(|_, t| t.decision.at.elapsed() < INSTANCE_TTL);
            if transactions.len() >= MAX_INSTANCES {
                // Only reached with more open transactions than any Postfix holds: forget
                // them all rather than grow; a forgotten one is merely checked again.
                transactions.clear();
            }
        }
        transactions.insert(instance.to_owned(), transaction);
    }
}

/// The envelope a request describes. Postfix sends `unknown` for a client without a
/// verified name (`client_name`) or without a PTR record (`reverse_client_name`), and empty
/// values for what it does not know.
fn envelope(request: &Request) -> Envelope {
    let present = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
    Envelope {
        client_ip: request.client_address().and_then(|a| a.parse().ok()),
        client_name: ReverseName::from_postfix(request.client_name()),
        client_ptr: ReverseName::from_postfix(request.reverse_client_name()),
        helo: present(request.helo_name()),
        mail_from: request.sender().map(str::to_owned),
        rcpt_to: present(request.recipient()).into_iter().collect(),
        sasl_user: present(request.sasl_username()),
        queue_id: present(request.queue_id()),
    }
}

/// Reply text for the policy protocol: printable ASCII within its length limit.
fn policy_text(reason: &str) -> String {
    let mut text = ReplyText::sanitize(&reply_text(reason));
    if text.len() > kanmon_policy::MAX_REPLY_TEXT_LEN {
        text.truncate(kanmon_policy::MAX_REPLY_TEXT_LEN - 3);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use kanmon_core::auth::AuthResults;
    use kanmon_core::{CheckName, Enforcement, Mode};

    use super::*;

    fn verdict(enforced: Option<(VerdictAction, Mode)>) -> Verdict {
        Verdict {
            action: VerdictAction::Accept,
            reason: None,
            score: 0.0,
            required: 6.0,
            hits: Vec::new(),
            enforcements: enforced
                .map(|(action, mode)| Enforcement {
                    check: CheckName::Spf,
                    action,
                    reason: "SPF fail: example.org does not permit 192.0.2.1".to_owned(),
                    mode,
                })
                .into_iter()
                .collect(),
            auth: AuthResults::default(),
            headers: Vec::new(),
            forged_authentication_results: Vec::new(),
            skipped: Vec::new(),
            internal: false,
            autolearn: Default::default(),
            signing: None,
        }
    }

    fn words(decision: &Decision) -> (String, String) {
        (decision.first.to_string(), decision.later.to_string())
    }

    #[test]
    fn the_table() {
        let reason = "SPF fail: example.org does not permit 192.0.2.1";
        let rows = [
            (
                Some((VerdictAction::Reject, Mode::Enforce)),
                format!("550 5.7.1 {reason}"),
                format!("550 5.7.1 {reason}"),
            ),
            (
                Some((VerdictAction::Tempfail, Mode::Enforce)),
                format!("DEFER_IF_PERMIT 4.7.1 {reason}"),
                format!("DEFER_IF_PERMIT 4.7.1 {reason}"),
            ),
            (
                Some((VerdictAction::Reject, Mode::Tag)),
                "PREPEND Received-SPF: fail (mx.example: ...) receiver=mx.example; identity=mailfrom".to_owned(),
                "DUNNO".to_owned(),
            ),
        ];
        let received_spf = Header::new(
            "Received-SPF",
            "fail (mx.example: ...) receiver=mx.example; identity=mailfrom".to_owned(),
        );
        for (enforced, first, later) in rows {
            let decision = Decision::for_verdict(&verdict(enforced), Some(&received_spf));
            assert_eq!(words(&decision), (first, later), "{enforced:?}");
        }
        let plain = Decision::for_verdict(&verdict(None), None);
        assert_eq!(words(&plain), ("DUNNO".to_owned(), "DUNNO".to_owned()));
    }

    #[test]
    fn reply_text_is_printable_ascii_within_the_limit() {
        let text = policy_text(&format!("SPF fail: münchen.example {}", "x".repeat(400)));
        assert!(text.is_ascii() && text.len() <= kanmon_policy::MAX_REPLY_TEXT_LEN);
        assert!(Action::reply(550, Some("5.7.1"), &text).is_ok());
    }
}
