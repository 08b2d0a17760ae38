//! The Bayesian classifier as a check: the message's tokens, their learned counts read from
//! the store in one batched call, and the probability as one of SpamAssassin's BAYES_xx
//! bands (made non-overlapping: exactly one fires).
//!
//! It never fails a scan: a store error is the zero-score BAYES_UNAVAILABLE; too few
//! learned messages (cold start), counts learned by another tokeniser version, or too few
//! known tokens give no band and a skip note saying why.

use std::sync::atomic::{AtomicBool, Ordering};

use kanmon_store::Store;

use crate::bayes::{self, Params, TokenizerOptions};
use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::Bayes;
use crate::scan::Scan;
use crate::symbol::Symbol;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "BAYES_00",
        description: "Bayes: spam probability 0 to 1%",
    },
    Symbol {
        name: "BAYES_05",
        description: "Bayes: spam probability 1 to 5%",
    },
    Symbol {
        name: "BAYES_20",
        description: "Bayes: spam probability 5 to 20%",
    },
    Symbol {
        name: "BAYES_40",
        description: "Bayes: spam probability 20 to 40%",
    },
    Symbol {
        name: "BAYES_50",
        description: "Bayes: spam probability 40 to 60% (no or conflicting evidence)",
    },
    Symbol {
        name: "BAYES_60",
        description: "Bayes: spam probability 60 to 80%",
    },
    Symbol {
        name: "BAYES_80",
        description: "Bayes: spam probability 80 to 95%",
    },
    Symbol {
        name: "BAYES_95",
        description: "Bayes: spam probability 95 to 99%",
    },
    Symbol {
        name: "BAYES_99",
        description: "Bayes: spam probability 99 to 99.9%",
    },
    Symbol {
        name: "BAYES_999",
        description: "Bayes: spam probability above 99.9%",
    },
    Symbol {
        name: "BAYES_UNAVAILABLE",
        description: "Bayes: the store could not be read; the message was not classified",
    },
];

pub(crate) struct BayesCheck {
    params: Params,
    tokenizer: TokenizerOptions,
    store: Store,
    /// The store's counts were found learned by this tokeniser version: asked once, and
    /// again after any abstention (a reset empties the store, so a relearn by another
    /// kanmon version is seen).
    version_checked: AtomicBool,
}

impl BayesCheck {
    pub(crate) fn new(config: &Bayes, store: &Store) -> Self {
        Self {
            params: config.params,
            tokenizer: config.tokenizer.clone(),
            store: store.clone(),
            version_checked: AtomicBool::new(false),
        }
    }

    async fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        if scan.internal {
            // Our own users' mail is not judged, as by every other check.
            outcome.skip(
                "bayes",
                "outbound: the client is in internal_hosts or authenticated",
            );
            return outcome;
        }
        let tokens = bayes::tokenize(scan.content(), &self.tokenizer);
        let read = match self.store.token_counts(&tokens.keys).await {
            Ok(read) => read,
            Err(e) => {
                outcome.hit("BAYES_UNAVAILABLE", format!("store: {e}"));
                return outcome;
            }
        };
        let result = bayes::classify(&read, &self.params);
        let classification = match result {
            Ok(classification) => classification,
            Err(abstention) => {
                self.version_checked.store(false, Ordering::Relaxed);
                outcome.skip("bayes", abstention.to_string());
                return outcome;
            }
        };
        if !self.version_checked.load(Ordering::Relaxed) {
            match bayes::learned_version(&self.store).await {
                Ok(Some(version)) if version != bayes::TOKENIZER_VERSION => {
                    outcome.skip(
                        "bayes",
                        format!(
                            "the store was learned by tokenizer {version}, this kanmon has {}; \
                             `kanmon bayes reset --yes`, then learn again",
                            bayes::TOKENIZER_VERSION
                        ),
                    );
                    return outcome;
                }
                Ok(_) => self.version_checked.store(true, Ordering::Relaxed),
                Err(e) => {
                    outcome.hit("BAYES_UNAVAILABLE", format!("store: {e}"));
                    return outcome;
                }
            }
        }
        let band = bayes::band(classification.log_odds);
        outcome.hit(
            band,
            format!(
                "P = {:.4}, log-odds {:.1}, from {} of {} tokens",
                classification.probability,
                classification.log_odds,
                classification.used,
                tokens.keys.len()
            ),
        );
        if tokens.truncated {
            outcome.skip("bayes", "truncated: only the first tokens were read");
        }
        outcome
    }
}

impl Check for BayesCheck {
    fn name(&self) -> CheckName {
        CheckName::Bayes
    }

    fn needs_message(&self) -> bool {
        true
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
    use kanmon_auth::dns::StaticResolver;
    use kanmon_store::{Class, StoreSettings};

    use crate::bayes::{TokenizerOptions, learn_tokens};
    use crate::config::Config;
    use crate::engine::Engine;
    use crate::envelope::Envelope;
    use crate::verdict::Verdict;

    const SPAM_WORDS: &[&str] = &[
        "viagra",
        "cheap",
        "pills",
        "winner",
        "casino",
        "bonus",
        "unsubscribe",
        "offer",
        "guaranteed",
        "mortgage",
        "refinance",
        "lowest",
    ];
    const HAM_WORDS: &[&str] = &[
        "meeting", "agenda", "project", "review", "patch", "kernel", "release", "thanks",
        "regards", "schedule", "minutes", "build",
    ];

    /// A message of `words` (a rotating selection, so messages differ), numbered `n`.
    fn message(words: &[&str], from: &str, n: usize) -> Vec<u8> {
        let body: Vec<&str> = (0..8).map(|i| words[(n * 3 + i) % words.len()]).collect();
        format!(
            "From: sender{n} <news@{from}>\r\nTo: user@ours.example\r\nSubject: {} {}\r\n\
             Message-ID: <{n}.{from}@{from}>\r\n\r\n{} message {n}\r\n",
            body[0],
            body[1],
            body.join(" ")
        )
        .into_bytes()
    }

    fn engine(store: &kanmon_store::Store) -> Engine<StaticResolver> {
        let config = Config::parse(
            "[dns]\ntimeout_ms = 100\n[rbl]\nmode = \"off\"\n[bayes]\nmin_spam = 5\nmin_ham = 5\n",
        )
        .unwrap();
        Engine::new(config, StaticResolver::new()).with_store(store.clone())
    }

    async fn learn(store: &kanmon_store::Store, raw: &[u8], class: Class) {
        let learnable = learn_tokens(raw, &TokenizerOptions::default());
        store
            .relabel(&learnable.digest, Some(class), &learnable.keys)
            .await
            .unwrap();
    }

    /// Six spam and six ham: past the tests' cold start of five each.
    async fn learn_six_of_each(store: &kanmon_store::Store) {
        for n in 0..6 {
            learn(store, &message(SPAM_WORDS, "promo.example", n), Class::Spam).await;
            learn(
                store,
                &message(HAM_WORDS, "lists.example.org", n),
                Class::Ham,
            )
            .await;
        }
    }

    fn assert_skipped_for_another_tokenizer(verdict: &Verdict) {
        assert!(
            verdict
                .skipped
                .iter()
                .any(|s| s.what == "bayes" && s.why.contains("tokenizer v0")),
            "{:?}",
            verdict.skipped
        );
    }

    fn bands(verdict: &Verdict) -> Vec<&'static str> {
        verdict
            .hits
            .iter()
            .map(|hit| hit.name)
            .filter(|name| name.starts_with("BAYES_"))
            .collect()
    }

    async fn learn_then_classify(store: kanmon_store::Store) {
        let engine = engine(&store);
        let spam_probe = message(SPAM_WORDS, "promo.example", 100);
        let ham_probe = message(HAM_WORDS, "lists.example.org", 100);

        let cold = engine.scan_message(&Envelope::default(), &spam_probe).await;
        assert!(bands(&cold).is_empty(), "{:?}", bands(&cold));
        assert!(
            cold.skipped.iter().any(|s| s.what == "bayes"
                && s.why == "0 spam and 0 ham learned, needs 5 spam and 5 ham"),
            "{:?}",
            cold.skipped
        );

        learn_six_of_each(&store).await;
        let spam = engine.scan_message(&Envelope::default(), &spam_probe).await;
        let ham = engine.scan_message(&Envelope::default(), &ham_probe).await;
        let spam_bands = bands(&spam);
        assert!(
            spam_bands == ["BAYES_999"] || spam_bands == ["BAYES_99"],
            "{spam_bands:?}"
        );
        assert_eq!(bands(&ham), ["BAYES_00"]);
        assert!(spam.score >= 6.0, "{}", spam.score);
        assert!(ham.score <= -3.0, "{}", ham.score);

        // Learning the probe as ham twice counts once, and moves nothing the second time.
        learn(&store, &spam_probe, Class::Ham).await;
        learn(&store, &spam_probe, Class::Ham).await;
        let totals = store.token_counts(&[]).await.unwrap().totals;
        assert_eq!((totals.spam, totals.ham), (6, 7));
    }

    #[tokio::test]
    async fn learning_flips_bands_on_held_out_messages_in_memory() {
        learn_then_classify(kanmon_store::Store::memory()).await;
    }

    #[tokio::test]
    async fn learning_flips_bands_with_the_embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            path: dir.path().join("kanmon.redb"),
            ..StoreSettings::default()
        };
        let store = kanmon_store::Store::open(&settings).await.unwrap();
        learn_then_classify(store).await;
    }

    #[tokio::test]
    async fn another_tokenizer_version_makes_it_abstain() {
        let store = kanmon_store::Store::memory();
        learn_six_of_each(&store).await;
        store
            .set(crate::bayes::VERSION_KEY, b"v0", None)
            .await
            .unwrap();
        let verdict = engine(&store)
            .scan_message(
                &Envelope::default(),
                &message(SPAM_WORDS, "promo.example", 50),
            )
            .await;
        assert!(bands(&verdict).is_empty());
        assert_skipped_for_another_tokenizer(&verdict);
        assert!(crate::bayes::claim_version(&store).await.unwrap().is_err());
    }

    /// One engine throughout: the version it checked before a reset is asked again after,
    /// so counts relearned by another tokenizer version are not used.
    #[tokio::test]
    async fn after_a_reset_the_version_is_asked_again() {
        let store = kanmon_store::Store::memory();
        learn_six_of_each(&store).await;
        let engine = engine(&store);
        let spam = message(SPAM_WORDS, "promo.example", 50);
        let verdict = engine.scan_message(&Envelope::default(), &spam).await;
        assert!(!bands(&verdict).is_empty(), "{:?}", verdict.skipped);

        crate::bayes::reset(&store).await.unwrap();
        let verdict = engine.scan_message(&Envelope::default(), &spam).await;
        assert!(
            bands(&verdict).is_empty(),
            "nothing learned after the reset"
        );
        learn_six_of_each(&store).await;
        store
            .set(crate::bayes::VERSION_KEY, b"v0", None)
            .await
            .unwrap();
        let verdict = engine.scan_message(&Envelope::default(), &spam).await;
        assert!(bands(&verdict).is_empty(), "{:?}", bands(&verdict));
        assert_skipped_for_another_tokenizer(&verdict);
    }
}
