//! The SpamAssassin-style headers, which users' Sieve, procmail and MUA filters already
//! match (research/features.md §4.1).
//!
//! ```text
//! X-Spam-Checker-Version: kanmon 0.1.0 on mx.example.net
//! X-Spam-Flag: YES
//! X-Spam: Yes
//! X-Spam-Score: 14.2
//! X-Spam-Level: **************
//! X-Spam-Status: Yes, score=14.2 required=6.0 tests=DMARC_REJECT,SPF_FAIL
//!     autolearn=disabled version=0.1.0
//! ```
//! * `X-Spam-Checker-Version`, `X-Spam-Level` and `X-Spam-Status` as SpamAssassin's default
//!   `add_header all` lines write them (`rules/10_default_prefs.cf`), with kanmon and its
//!   version where SpamAssassin names itself; `X-Spam-Flag: YES` only on spam, as its
//!   `add_header spam Flag _YESNOCAPS_`.
//! * `X-Spam: Yes` on spam too, as rspamd writes it, and `X-Spam-Score` always, as amavisd-new
//!   writes it: filters in the wild match all of these.
//! * "Spam" means the action says so ([`Action::is_spam`]): over the `add_header` threshold,
//!   or refused by an enforcing check. `required` is the `add_header` threshold.
//! * Scores have one decimal, as SpamAssassin's `_SCORE_` (`%2.1f`); `tests=` lists each
//!   symbol once, sorted, comma-separated, `none` when empty, as `_TESTS(,)_`. `autolearn`
//!   is what `[bayes] autolearn` did with the message: `spam`, `ham`, `no`, or `disabled`.
//! * `X-Spam-Level` has one `*` per whole point (`_STARS(*)_`), none below 1, at most
//!   [`MAX_STARS`]; the field is written even when empty, as SpamAssassin does, so rules
//!   testing its length see it.

use super::syntax::push_pvalue;
use crate::bayes::autolearn::Autolearn;
use crate::verdict::Action;

/// SpamAssassin's cap on `_STARS_` (`PerMsgStatus.pm`: "limit to 50 stars").
pub(crate) const MAX_STARS: usize = 50;

/// What the headers say.
pub(crate) struct SpamFacts<'a> {
    pub(crate) authserv_id: &'a str,
    pub(crate) action: Action,
    pub(crate) score: f64,
    pub(crate) required: f64,
    pub(crate) tests: Vec<&'static str>,
    pub(crate) autolearn: Autolearn,
}

/// The fields, top first, as (name, value).
pub(crate) fn render(facts: &SpamFacts<'_>) -> Vec<(&'static str, String)> {
    let version = env!("CARGO_PKG_VERSION");
    let spam = facts.action.is_spam();
    let mut fields = vec![("X-Spam-Checker-Version", {
        let mut value = format!("kanmon {version} on ");
        push_pvalue(&mut value, facts.authserv_id);
        value
    })];
    if spam {
        fields.push(("X-Spam-Flag", "YES".to_owned()));
        fields.push(("X-Spam", "Yes".to_owned()));
    }
    fields.push(("X-Spam-Score", score(facts.score)));
    fields.push(("X-Spam-Level", stars(facts.score)));
    fields.push((
        "X-Spam-Status",
        format!(
            "{}, score={} required={} tests={} autolearn={} version={version}",
            if spam { "Yes" } else { "No" },
            score(facts.score),
            score(facts.required),
            tests(&facts.tests),
            facts.autolearn.as_str(),
        ),
    ));
    fields
}

/// One decimal, as `%2.1f`; never "-0.0" (a sum of small negative scores that rounds to
/// zero is zero to a reader).
fn score(value: f64) -> String {
    let text = format!("{value:.1}");
    if text == "-0.0" {
        "0.0".to_owned()
    } else {
        text
    }
}

/// One `*` per whole point; none for a score under 1 (or not a number).
fn stars(score: f64) -> String {
    let count = if score >= 1.0 {
        // `as` saturates: a huge score gives usize::MAX, then the cap.
        (score.floor() as usize).min(MAX_STARS)
    } else {
        0
    };
    "*".repeat(count)
}

/// The symbols once each, sorted, comma-separated; `none` for none.
fn tests(names: &[&'static str]) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(",")
    }
}

/// `X-Spam` or `X-Spam-*`, any case: the fields SpamAssassin-style filters read, which
/// front-ends remove from arriving mail before writing their own.
pub fn is_spam_field(name: &[u8]) -> bool {
    const PREFIX: &[u8] = b"x-spam";
    name.len() >= PREFIX.len()
        && name
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
        && matches!(name.get(PREFIX.len()), None | Some(b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(action: Action, score: f64, tests: &[&'static str]) -> Vec<(&'static str, String)> {
        render(&SpamFacts {
            autolearn: Autolearn::Disabled,
            authserv_id: "mx.example.net",
            action,
            score,
            required: 6.0,
            tests: tests.to_vec(),
        })
    }

    fn text(fields: &[(&'static str, String)]) -> String {
        fields
            .iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect()
    }

    const V: &str = env!("CARGO_PKG_VERSION");

    #[test]
    fn zero() {
        assert_eq!(
            text(&fields(Action::Accept, 0.0, &[])),
            format!(
                "X-Spam-Checker-Version: kanmon {V} on mx.example.net\n\
                 X-Spam-Score: 0.0\n\
                 X-Spam-Level: \n\
                 X-Spam-Status: No, score=0.0 required=6.0 tests=none autolearn=disabled version={V}\n"
            )
        );
    }

    #[test]
    fn half_a_point() {
        assert_eq!(
            text(&fields(Action::Accept, 0.5, &["SPF_SOFTFAIL"])),
            format!(
                "X-Spam-Checker-Version: kanmon {V} on mx.example.net\n\
                 X-Spam-Score: 0.5\n\
                 X-Spam-Level: \n\
                 X-Spam-Status: No, score=0.5 required=6.0 tests=SPF_SOFTFAIL autolearn=disabled version={V}\n"
            )
        );
    }

    #[test]
    fn at_the_threshold() {
        assert_eq!(
            text(&fields(
                Action::AddHeader,
                6.0,
                &[
                    "SPF_FAIL",
                    "DMARC_REJECT",
                    "DKIM_INVALID",
                    "HEADER_UNREADABLE"
                ]
            )),
            format!(
                "X-Spam-Checker-Version: kanmon {V} on mx.example.net\n\
                 X-Spam-Flag: YES\n\
                 X-Spam: Yes\n\
                 X-Spam-Score: 6.0\n\
                 X-Spam-Level: ******\n\
                 X-Spam-Status: Yes, score=6.0 required=6.0 tests=DKIM_INVALID,DMARC_REJECT,HEADER_UNREADABLE,SPF_FAIL autolearn=disabled version={V}\n"
            )
        );
    }

    #[test]
    fn well_over() {
        assert_eq!(
            text(&fields(Action::Reject, 14.2, &["SPF_FAIL", "DMARC_REJECT"])),
            format!(
                "X-Spam-Checker-Version: kanmon {V} on mx.example.net\n\
                 X-Spam-Flag: YES\n\
                 X-Spam: Yes\n\
                 X-Spam-Score: 14.2\n\
                 X-Spam-Level: **************\n\
                 X-Spam-Status: Yes, score=14.2 required=6.0 tests=DMARC_REJECT,SPF_FAIL autolearn=disabled version={V}\n"
            )
        );
    }

    #[test]
    fn negative() {
        assert_eq!(
            text(&fields(
                Action::Accept,
                -0.9,
                &[
                    "SPF_PASS",
                    "DKIM_VALID",
                    "DKIM_VALID_AU",
                    "DMARC_PASS",
                    "DKIM_SIGNED"
                ]
            )),
            format!(
                "X-Spam-Checker-Version: kanmon {V} on mx.example.net\n\
                 X-Spam-Score: -0.9\n\
                 X-Spam-Level: \n\
                 X-Spam-Status: No, score=-0.9 required=6.0 tests=DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,DMARC_PASS,SPF_PASS autolearn=disabled version={V}\n"
            )
        );
        assert_eq!(score(-0.04), "0.0");
    }

    #[test]
    fn spam_by_enforcement_below_the_threshold() {
        let fields = fields(Action::Reject, 1.0, &["SPF_FAIL"]);
        assert!(fields.contains(&("X-Spam-Flag", "YES".to_owned())));
        assert!(fields.contains(&("X-Spam-Level", "*".to_owned())));
    }

    #[test]
    fn greylisted_is_not_spam() {
        let fields = fields(Action::Greylist, 2.0, &[]);
        assert!(!fields.iter().any(|(name, _)| *name == "X-Spam-Flag"));
    }

    #[test]
    fn stars_are_capped() {
        assert_eq!(stars(1e9).len(), MAX_STARS);
        assert_eq!(stars(f64::NAN), "");
        assert_eq!(stars(0.99), "");
        assert_eq!(stars(1.0), "*");
    }

    #[test]
    fn tests_are_listed_once() {
        assert_eq!(tests(&["B", "A", "B"]), "A,B");
    }
}
