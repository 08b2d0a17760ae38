//! Autolearn: the classifier learns, on its own, messages the *other* checks judged clearly
//! enough. Off by default. A message is learned as spam when its score without the BAYES_*
//! symbols reaches `autolearn_spam`, as ham when it is at most `autolearn_ham`: Bayes never
//! teaches itself, so one wrong band cannot feed on its own mistakes. A message already
//! learned (by `kanmon learn`, or autolearned before) keeps its label: a person's judgement
//! wins over ours. The decision is pure ([`decide`]); the learning ([`learn`]) runs after
//! the reply, on its own task.

use kanmon_store::{Class, Store};

use super::{Learnable, claim_version};
use crate::symbol::ScoredHit;

/// What autolearn did with a message, as `autolearn=` in X-Spam-Status says it
/// (SpamAssassin's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Autolearn {
    /// Autolearn is off (or Bayes is).
    #[default]
    Disabled,
    /// On, and this message was not clear enough (or is outbound, or has no message).
    No,
    Spam,
    Ham,
}

impl Autolearn {
    pub fn as_str(self) -> &'static str {
        match self {
            Autolearn::Disabled => "disabled",
            Autolearn::No => "no",
            Autolearn::Spam => "spam",
            Autolearn::Ham => "ham",
        }
    }

    pub fn class(self) -> Option<Class> {
        match self {
            Autolearn::Spam => Some(Class::Spam),
            Autolearn::Ham => Some(Class::Ham),
            Autolearn::Disabled | Autolearn::No => None,
        }
    }
}

/// The thresholds, on the score without BAYES_* symbols.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub spam: f64,
    pub ham: f64,
}

/// Whether to learn this message, and as what. `eligible` is false for outbound mail and
/// scans without a message.
pub fn decide(thresholds: Option<Thresholds>, eligible: bool, hits: &[ScoredHit]) -> Autolearn {
    let Some(thresholds) = thresholds else {
        return Autolearn::Disabled;
    };
    if !eligible {
        return Autolearn::No;
    }
    let without_bayes: f64 = hits
        .iter()
        .filter(|hit| !hit.name.starts_with("BAYES_"))
        .map(|hit| hit.score)
        .sum();
    if without_bayes >= thresholds.spam {
        Autolearn::Spam
    } else if without_bayes <= thresholds.ham {
        Autolearn::Ham
    } else {
        Autolearn::No
    }
}

/// Learns `message` as `class` unless it is learned already or the store's counts belong
/// to another tokeniser. Failures are logged, never raised: the message was answered.
pub async fn learn(store: &Store, message: &Learnable, class: Class) {
    let outcome = async {
        if let Err(why) = claim_version(store).await? {
            return Ok(Some(why));
        }
        if store.label(&message.digest).await?.is_none() {
            store
                .relabel(&message.digest, Some(class), &message.keys)
                .await?;
        }
        Ok::<_, kanmon_store::StoreError>(None)
    }
    .await;
    match outcome {
        Ok(None) => {}
        Ok(Some(why)) => tracing::warn!(%why, "autolearn skipped"),
        Err(error) => tracing::warn!(%error, "autolearn failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(list: &[(&'static str, f64)]) -> Vec<ScoredHit> {
        list.iter()
            .map(|&(name, score)| ScoredHit {
                name,
                score,
                reason: String::new(),
            })
            .collect()
    }

    const ON: Option<Thresholds> = Some(Thresholds {
        spam: 12.0,
        ham: -0.5,
    });

    #[test]
    fn bayes_never_counts_towards_its_own_lessons() {
        let spammy = hits(&[("SENDER_SUFFIX_CYOU", 8.0), ("RCVD_IN_SBL", 4.0)]);
        assert_eq!(decide(ON, true, &spammy), Autolearn::Spam);
        let bayes_made = hits(&[("SENDER_SUFFIX_CYOU", 8.0), ("BAYES_999", 7.0)]);
        assert_eq!(decide(ON, true, &bayes_made), Autolearn::No);
        let hammy = hits(&[("DMARC_PASS", -0.5), ("SPF_PASS", -0.2), ("BAYES_99", 6.0)]);
        assert_eq!(decide(ON, true, &hammy), Autolearn::Ham);
        let unclear = hits(&[("SPF_PASS", -0.2)]);
        assert_eq!(decide(ON, true, &unclear), Autolearn::No);
    }

    #[test]
    fn off_and_ineligible_messages_are_not_learned() {
        let spammy = hits(&[("SENDER_SUFFIX_CYOU", 20.0)]);
        assert_eq!(decide(None, true, &spammy), Autolearn::Disabled);
        assert_eq!(decide(ON, false, &spammy), Autolearn::No);
    }
}
