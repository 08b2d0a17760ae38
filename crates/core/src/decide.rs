//! `decide`: the one place where evidence becomes an action. Pure, so it is table-tested.
//!
//! Precedence:
//! 1. An allow-listed message is accepted (allow-lists arrive with the reputation checks;
//!    until then nothing is allow-listed).
//! 2. Each check in `enforce` mode that asks for an action (SPF `fail` → reject, DMARC
//!    failure under `p=reject` → reject, a DNS `temperror` → tempfail) is a candidate; a
//!    check in `tag` mode only records what it would have asked for.
//! 3. The score is a candidate too: at or above `reject` → reject; at or above
//!    `rewrite_subject` (if set) → rewrite_subject; at or above `add_header` → add_header.
//! 4. The most severe candidate wins (reject > tempfail > greylist > rewrite_subject >
//!    add_header > accept), so a tempfail asked by one check never lets a message the score
//!    rejects through, and an enforced reason wins a tie with the score. Nothing → accept.

use crate::check::Mode;
use crate::config::Thresholds;
use crate::verdict::{Action, Enforcement};

/// The action for a message, and the reason for it when it is not `accept`.
pub fn decide(
    score: f64,
    enforcements: &[Enforcement],
    thresholds: &Thresholds,
) -> (Action, Option<String>) {
    let enforced = most_severe_enforced(enforcements);
    let by_score = score_action(score, thresholds);
    match enforced {
        Some(e) if e.action >= by_score.0 => (e.action, Some(e.reason.clone())),
        _ if by_score.0 != Action::Accept => (by_score.0, Some(by_score.1)),
        _ => (Action::Accept, None),
    }
}

/// The most severe action a check in `enforce` mode asks for (the first of equals), if any.
pub fn most_severe_enforced(enforcements: &[Enforcement]) -> Option<&Enforcement> {
    enforcements
        .iter()
        .filter(|e| e.mode == Mode::Enforce && e.action != Action::Accept)
        .fold(None::<&Enforcement>, |best, e| match best {
            Some(best) if best.action >= e.action => Some(best),
            _ => Some(e),
        })
}

fn score_action(score: f64, thresholds: &Thresholds) -> (Action, String) {
    let over = |name: &str, threshold: f64| {
        format!("score {score:.2} reached {name} threshold {threshold:.2}")
    };
    if score >= thresholds.reject {
        return (Action::Reject, over("reject", thresholds.reject));
    }
    if let Some(rewrite) = thresholds.rewrite_subject
        && score >= rewrite
    {
        return (Action::RewriteSubject, over("rewrite_subject", rewrite));
    }
    if score >= thresholds.add_header {
        return (Action::AddHeader, over("add_header", thresholds.add_header));
    }
    (Action::Accept, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckName;

    fn thresholds() -> Thresholds {
        Thresholds {
            add_header: 6.0,
            rewrite_subject: Some(8.0),
            reject: 15.0,
        }
    }

    fn asked(check: CheckName, action: Action, mode: Mode) -> Enforcement {
        Enforcement {
            check,
            action,
            reason: format!("{check} asks {action}"),
            mode,
        }
    }

    /// Score, what checks ask (check, action, mode), expected action and reason.
    type Row = (
        f64,
        &'static [(CheckName, Action, Mode)],
        Action,
        &'static str,
    );

    #[test]
    fn precedence_table() {
        use Action::*;
        use CheckName::*;
        use Mode::*;
        #[rustfmt::skip]
        let table: &[Row] = &[
            // score alone
            (0.0,  &[], Accept, ""),
            (5.99, &[], Accept, ""),
            (6.0,  &[], AddHeader, "score 6.00 reached add_header threshold 6.00"),
            (8.0,  &[], RewriteSubject, "score 8.00 reached rewrite_subject threshold 8.00"),
            (15.0, &[], Reject, "score 15.00 reached reject threshold 15.00"),
            (-3.0, &[], Accept, ""),
            // tag mode records, never acts
            (0.0,  &[(Spf, Reject, Tag)], Accept, ""),
            (7.0,  &[(Dmarc, Reject, Tag)], AddHeader, "score 7.00 reached add_header threshold 6.00"),
            // enforce mode acts, whatever the score
            (-5.0, &[(Spf, Reject, Enforce)], Reject, "spf asks reject"),
            (0.0,  &[(Spf, Tempfail, Enforce)], Tempfail, "spf asks tempfail"),
            (0.0,  &[(Dmarc, AddHeader, Enforce)], AddHeader, "dmarc asks add_header"),
            // an enforced accept is no request
            (7.0,  &[(Spf, Accept, Enforce)], AddHeader, "score 7.00 reached add_header threshold 6.00"),
            // the most severe wins; the first of equals
            (0.0,  &[(Spf, Tempfail, Enforce), (Dmarc, Reject, Enforce)], Reject, "dmarc asks reject"),
            (0.0,  &[(Spf, Reject, Enforce), (Dmarc, Reject, Enforce)], Reject, "spf asks reject"),
            (0.0,  &[(Spf, Reject, Tag), (Dmarc, Tempfail, Enforce)], Tempfail, "dmarc asks tempfail"),
            // the score beats a milder enforcement, an enforcement wins a tie
            (16.0, &[(Spf, Tempfail, Enforce)], Reject, "score 16.00 reached reject threshold 15.00"),
            (16.0, &[(Dmarc, Reject, Enforce)], Reject, "dmarc asks reject"),
            (9.0,  &[(Dmarc, AddHeader, Enforce)], RewriteSubject, "score 9.00 reached rewrite_subject threshold 8.00"),
            (6.5,  &[(Dmarc, AddHeader, Enforce)], AddHeader, "dmarc asks add_header"),
            // off-mode checks never run, but a stray request is ignored all the same
            (0.0,  &[(Arc, Reject, Off)], Accept, ""),
        ];
        for (score, asks, action, reason) in table {
            let enforcements: Vec<Enforcement> =
                asks.iter().map(|&(c, a, m)| asked(c, a, m)).collect();
            let (got, why) = decide(*score, &enforcements, &thresholds());
            assert_eq!(
                (got, why.unwrap_or_default().as_str()),
                (*action, *reason),
                "score {score}, {asks:?}"
            );
        }
    }

    #[test]
    fn rewrite_subject_unset_goes_straight_to_reject() {
        let thresholds = Thresholds {
            rewrite_subject: None,
            ..thresholds()
        };
        assert_eq!(decide(14.0, &[], &thresholds).0, Action::AddHeader);
    }
}
