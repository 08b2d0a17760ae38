//! `[bayes]` validated: the classifier's constants in range, the tokeniser's options built.

use super::error::ConfigErrors;
use super::raw::RawBayes;
use crate::bayes::autolearn::Thresholds as AutolearnThresholds;
use crate::bayes::{Params, TokenizerOptions};
use crate::check::Mode;

/// Tokens per message the configuration may ask for: enough for any real message, small
/// enough that one batched read stays a fraction of a millisecond.
const MAX_TOKENS: std::ops::RangeInclusive<usize> = 100..=20_000;

/// The classifier's settings, ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Bayes {
    /// Never [`Mode::Enforce`]: validation refuses it.
    pub mode: Mode,
    pub params: Params,
    pub tokenizer: TokenizerOptions,
    /// `None` unless `autolearn = true`.
    pub autolearn: Option<AutolearnThresholds>,
}

impl Default for Bayes {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            params: Params::default(),
            tokenizer: TokenizerOptions::default(),
            autolearn: None,
        }
    }
}

/// `authserv_id` (by default this host's name) names our own MX: its Received hops are
/// never read either.
pub(super) fn validate(errors: &mut ConfigErrors, raw: &RawBayes, authserv_id: &str) -> Bayes {
    if raw.mode == Mode::Enforce {
        errors.push(
            "bayes.mode",
            "must be \"off\" or \"tag\": a probability scores, it never refuses mail on its own",
        );
    }
    if !(raw.min_dev.is_finite() && (0.0..0.5).contains(&raw.min_dev)) {
        errors.push("bayes.min_dev", "must be at least 0 and below 0.5");
    }
    if !(raw.robs.is_finite() && raw.robs > 0.0) {
        errors.push("bayes.robs", "must be above 0");
    }
    if !(raw.robx.is_finite() && raw.robx > 0.0 && raw.robx < 1.0) {
        errors.push("bayes.robx", "must be above 0 and below 1");
    }
    if !MAX_TOKENS.contains(&raw.max_tokens) {
        errors.push(
            "bayes.max_tokens",
            format!(
                "must be from {} to {}, not {}",
                MAX_TOKENS.start(),
                MAX_TOKENS.end(),
                raw.max_tokens
            ),
        );
    }
    let thresholds_valid = raw.autolearn_spam.is_finite()
        && raw.autolearn_ham.is_finite()
        && raw.autolearn_ham < raw.autolearn_spam;
    if !thresholds_valid {
        errors.push(
            "bayes.autolearn_ham",
            "autolearn_ham and autolearn_spam must be numbers, autolearn_ham below autolearn_spam",
        );
    }
    if raw.min_spam == 0 || raw.min_ham == 0 {
        errors.push(
            "bayes.min_spam",
            "min_spam and min_ham must be at least 1: no class can be judged from nothing",
        );
    }
    Bayes {
        mode: raw.mode,
        params: Params {
            robs: raw.robs,
            robx: raw.robx,
            min_dev: raw.min_dev,
            min_spam: raw.min_spam,
            min_ham: raw.min_ham,
            ..Params::default()
        },
        tokenizer: TokenizerOptions {
            max_tokens: raw.max_tokens,
            local_hosts: raw
                .local_hosts
                .iter()
                .map(String::as_str)
                .chain((!authserv_id.is_empty()).then_some(authserv_id))
                .map(|host| host.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            ..TokenizerOptions::default()
        },
        autolearn: raw.autolearn.then_some(AutolearnThresholds {
            spam: raw.autolearn_spam,
            ham: raw.autolearn_ham,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_by_key() {
        let raw = RawBayes {
            mode: Mode::Enforce,
            min_dev: 0.5,
            robs: 0.0,
            robx: 1.0,
            max_tokens: 10,
            min_ham: 0,
            ..RawBayes::default()
        };
        let mut errors = ConfigErrors::default();
        validate(&mut errors, &raw, "");
        let text = errors.to_string();
        for key in [
            "bayes.mode",
            "bayes.min_dev",
            "bayes.robs",
            "bayes.robx",
            "bayes.max_tokens",
            "bayes.min_spam",
        ] {
            assert!(text.contains(key), "{key} not reported: {text}");
        }
    }

    #[test]
    fn defaults_are_valid_and_local_hosts_include_our_authserv_id() {
        let raw = RawBayes {
            local_hosts: vec!["MX.Example.".to_owned()],
            ..RawBayes::default()
        };
        let mut errors = ConfigErrors::default();
        let bayes = validate(&mut errors, &raw, "MX.Ours.Example");
        assert!(errors.to_string().is_empty(), "{errors}");
        assert_eq!(
            bayes.tokenizer.local_hosts,
            vec!["mx.example", "mx.ours.example"]
        );
        assert_eq!(bayes.params, Params::default());
    }
}
