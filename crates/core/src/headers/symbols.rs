//! The symbols header (`[headers] symbols_header`, `X-Kanmon-Symbols` by default): the
//! verdict and every hit with its score, so a reader sees why without the logs.
//!
//! ```text
//! X-Kanmon-Symbols: action=add_header score=6.10 required=6.00; DMARC_REJECT(2.00);
//!     SPF_FAIL(1.00); DKIM_SIGNED(0.10); SPF_HELO_NONE(0.00)
//! ```
//! The summary comes first, then the hits as rspamd's `X-Spamd-Result` lists them:
//! `NAME(score)`, two decimals, `; ` between, largest |score| first (what decided the
//! verdict leads), ties by name. Every hit is listed, zero-scored ones too, so the scores
//! shown add up to the total. Evidence is left out: it is free text from the message and
//! DNS, and `check --json` and the log line carry it.

use std::cmp::Ordering;
use std::fmt::Write;

use crate::symbol::ScoredHit;
use crate::verdict::Action;

/// The field's value.
pub(crate) fn render(action: Action, score: f64, required: f64, hits: &[ScoredHit]) -> String {
    let mut out = format!(
        "action={action} score={} required={}",
        two_places(score),
        two_places(required)
    );
    let mut hits: Vec<&ScoredHit> = hits.iter().collect();
    hits.sort_by(|a, b| by_weight(a, b));
    for hit in hits {
        let _ = write!(out, "; {}({})", hit.name, two_places(hit.score));
    }
    out
}

/// Larger |score| first, then by name.
fn by_weight(a: &ScoredHit, b: &ScoredHit) -> Ordering {
    b.score
        .abs()
        .total_cmp(&a.score.abs())
        .then_with(|| a.name.cmp(b.name))
}

/// Two decimals, as rspamd writes scores; never "-0.00".
fn two_places(value: f64) -> String {
    let text = format!("{value:.2}");
    if text == "-0.00" {
        "0.00".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(name: &'static str, score: f64) -> ScoredHit {
        ScoredHit {
            name,
            score,
            reason: "evidence (not shown)".to_owned(),
        }
    }

    #[test]
    fn sorted_by_weight_then_name() {
        let hits = [
            hit("DKIM_SIGNED", 0.1),
            hit("SPF_HELO_NONE", 0.0),
            hit("SPF_FAIL", 1.0),
            hit("DMARC_REJECT", 2.0),
            hit("DKIM_INVALID", 1.0),
            hit("DMARC_PASS", -0.5),
            hit("ARC_SIGNED", 0.0),
        ];
        assert_eq!(
            render(Action::Accept, 3.6, 6.0, &hits),
            "action=accept score=3.60 required=6.00; DMARC_REJECT(2.00); DKIM_INVALID(1.00); SPF_FAIL(1.00); DMARC_PASS(-0.50); DKIM_SIGNED(0.10); ARC_SIGNED(0.00); SPF_HELO_NONE(0.00)"
        );
    }

    #[test]
    fn no_hits() {
        assert_eq!(
            render(Action::Accept, 0.0, 6.0, &[]),
            "action=accept score=0.00 required=6.00"
        );
    }

    #[test]
    fn negative_total_and_spam_action() {
        assert_eq!(
            render(
                Action::Accept,
                -0.3,
                6.0,
                &[hit("SPF_PASS", -0.2), hit("DKIM_VALID", -0.1)]
            ),
            "action=accept score=-0.30 required=6.00; SPF_PASS(-0.20); DKIM_VALID(-0.10)"
        );
        assert_eq!(
            render(Action::RewriteSubject, 9.0, 6.0, &[]),
            "action=rewrite_subject score=9.00 required=6.00"
        );
        assert_eq!(two_places(-0.001), "0.00");
    }
}
