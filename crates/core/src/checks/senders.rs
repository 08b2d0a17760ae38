//! Sender-domain rules: score or refuse mail by the domain, or a whole suffix such as the
//! TLD `cyou`, of the envelope sender, the header From and the HELO name: what admins did
//! with `check_sender_access` and `check_helo_access` tables, one rule covering all three.
//!
//! Data flow: the identities the scan has (MAIL FROM and HELO from the envelope, the From
//! domains once the message is here) → each identity in a `[senders] whitelist` domain is
//! left alone (the whitelist wins) → the rules whose domain the identity's domain is, or
//! is under, fire once each with every identity they matched → the strongest `action`
//! among them is what this check would enforce.
//!
//! Lookup is by the domain's own suffixes in two hash maps, so a list of thousands of
//! blocked domains costs a few lookups per identity, not a pass over the list.

use std::collections::HashMap;

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{SenderIdentity, Senders};
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

pub(crate) struct SenderRulesCheck {
    senders: Senders,
    /// Domain → indexes of the rules for exactly that domain.
    exact: HashMap<String, Vec<usize>>,
    /// Suffix → indexes of the rules for it and the domains under it.
    suffixes: HashMap<String, Vec<usize>>,
}

impl SenderRulesCheck {
    pub(crate) fn new(senders: &Senders) -> Self {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut suffixes: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, rule) in senders.rules.iter().enumerate() {
            let map = if rule.subdomains {
                &mut suffixes
            } else {
                &mut exact
            };
            map.entry(rule.domain.clone()).or_default().push(index);
        }
        Self {
            senders: senders.clone(),
            exact,
            suffixes,
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        if scan.internal {
            outcome.skip(
                "senders",
                "outbound: the client is in internal_hosts or authenticated",
            );
            return outcome;
        }
        // Per rule, in file order: the identities it matched.
        let mut matched: Vec<Vec<String>> = vec![Vec::new(); self.senders.rules.len()];
        for (identity, domain) in identities(scan) {
            if let Some(entry) = self.senders.whitelisted(&domain) {
                outcome.skip(
                    "senders",
                    format!(
                        "{} {domain} is whitelisted by senders.whitelist {entry}",
                        identity.as_str()
                    ),
                );
                continue;
            }
            for index in self.rules_for(&domain) {
                if self.senders.rules[index].on.contains(&identity) {
                    let seen = format!("{} {domain}", identity.as_str());
                    if !matched[index].contains(&seen) {
                        matched[index].push(seen);
                    }
                }
            }
        }
        let mut strongest: Option<(Action, String)> = None;
        for (rule, seen) in self.senders.rules.iter().zip(&matched) {
            if seen.is_empty() {
                continue;
            }
            let evidence = format!("{} matches {}", seen.join(", "), rule.describe());
            if let Some(action) = rule.action
                && strongest.as_ref().is_none_or(|(a, _)| action > *a)
            {
                strongest = Some((action, format!("Sender rule: {evidence}")));
            }
            outcome.hit(rule.symbol, evidence);
        }
        outcome.enforce = strongest;
        outcome
    }

    /// Indexes of the rules that may match `domain`: its exact rules, then those of each
    /// of its suffixes from the longest (the domain itself) to its TLD.
    fn rules_for<'s>(&'s self, domain: &'s str) -> impl Iterator<Item = usize> + 's {
        let exact = self.exact.get(domain).into_iter().flatten();
        let suffixes = suffixes_of(domain)
            .filter_map(|suffix| self.suffixes.get(suffix))
            .flatten();
        exact.chain(suffixes).copied()
    }
}

/// `a.b.c`, `b.c`, `c`.
fn suffixes_of(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |rest| rest.split_once('.').map(|(_, r)| r))
}

/// The sender's names this scan has, lowercased, without a trailing dot.
fn identities(scan: &Scan<'_>) -> Vec<(SenderIdentity, String)> {
    let mut found = Vec::new();
    if let Some(domain) = scan.envelope.mail_from_domain() {
        found.push((SenderIdentity::MailFrom, normalise(&domain)));
    }
    for domain in scan.author_domains() {
        found.push((SenderIdentity::From, normalise(&domain)));
    }
    if let Some(helo) = &scan.envelope.helo {
        // A bare or bracketed address literal names no domain.
        let helo = helo.trim_start_matches('[').trim_end_matches(']');
        if helo.parse::<std::net::IpAddr>().is_err() && !helo.is_empty() {
            found.push((SenderIdentity::Helo, normalise(helo)));
        }
    }
    found
}

fn normalise(domain: &str) -> String {
    domain.trim_end_matches('.').to_lowercase()
}

impl Check for SenderRulesCheck {
    fn name(&self) -> CheckName {
        CheckName::Senders
    }

    /// MAIL FROM and HELO are judged before DATA; the From domains when the message is here.
    fn needs_message(&self) -> bool {
        false
    }

    /// Its symbols are the rules', defined by the configuration.
    fn symbols(&self) -> &'static [Symbol] {
        &[]
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(self.examine(scan)))
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::Config;
    use crate::envelope::Envelope;

    fn run(config: &str, mail_from: &str, helo: &str, message: &[u8]) -> Outcome {
        let config = Config::parse(config).unwrap_or_else(|e| panic!("{e}"));
        let check = SenderRulesCheck::new(&config.senders);
        let envelope = Envelope {
            client_ip: Some("192.0.2.1".parse::<IpAddr>().unwrap()),
            mail_from: Some(mail_from.to_owned()),
            helo: Some(helo.to_owned()),
            ..Envelope::default()
        };
        let parsed =
            (!message.is_empty()).then(|| kanmon_auth::message::Message::parse(message).unwrap());
        let scan = Scan::new(&envelope, message, parsed, false, 0, 10);
        check.examine(&scan)
    }

    fn symbols(outcome: &Outcome) -> Vec<&str> {
        outcome.hits.iter().map(|h| h.symbol).collect()
    }

    #[test]
    fn a_tld_rule_matches_every_identity_under_it_once() {
        let outcome = run(
            "[[sender_rules]]\ndomain_suffix = \"cyou\"\nscore = 8.0\n",
            "a@Mail.Spam.CYOU",
            "mx.spam.cyou.",
            b"From: b@news.cyou\r\n\r\nhi\r\n",
        );
        assert_eq!(symbols(&outcome), ["SENDER_SUFFIX_CYOU"]);
        assert_eq!(
            outcome.hits[0].evidence,
            "mail_from mail.spam.cyou, from news.cyou, helo mx.spam.cyou matches domain_suffix cyou"
        );
        assert_eq!(outcome.enforce, None);
    }

    #[test]
    fn an_exact_domain_rule_leaves_subdomains_and_unnamed_identities_alone() {
        let config =
            "[[sender_rules]]\ndomain = \"spam.example\"\non = [\"helo\"]\naction = \"reject\"\n";
        let outcome = run(config, "a@spam.example", "sub.spam.example", b"");
        assert!(outcome.hits.is_empty(), "{outcome:?}");
        let outcome = run(config, "a@ok.example", "spam.example", b"");
        assert_eq!(symbols(&outcome), ["SENDER_DOMAIN_SPAM_EXAMPLE"]);
        assert_eq!(
            outcome.enforce,
            Some((
                Action::Reject,
                "Sender rule: helo spam.example matches domain spam.example".to_owned()
            ))
        );
    }

    #[test]
    fn the_whitelist_wins_for_the_identity_it_covers() {
        let config = "[senders]\nwhitelist = [\"good.cyou\"]\n\
            [[sender_rules]]\ndomain_suffix = \"cyou\"\nsymbol = \"TLD_CYOU\"\nscore = 8.0\naction = \"tempfail\"\n";
        let outcome = run(config, "a@mail.good.cyou", "mx.good.cyou", b"");
        assert!(outcome.hits.is_empty(), "{outcome:?}");
        assert_eq!(outcome.skipped.len(), 2);
        let outcome = run(config, "a@mail.good.cyou", "bad.cyou", b"");
        assert_eq!(symbols(&outcome), ["TLD_CYOU"]);
        assert_eq!(outcome.enforce.map(|(a, _)| a), Some(Action::Tempfail));
    }

    #[test]
    fn the_strongest_action_of_the_matching_rules_is_enforced() {
        let config = "[[sender_rules]]\ndomain_suffix = \"example\"\naction = \"tempfail\"\n\
            [[sender_rules]]\ndomain = \"spam.example\"\naction = \"reject\"\n";
        let outcome = run(config, "a@spam.example", "[192.0.2.1]", b"");
        assert_eq!(
            symbols(&outcome),
            ["SENDER_SUFFIX_EXAMPLE", "SENDER_DOMAIN_SPAM_EXAMPLE"]
        );
        assert_eq!(outcome.enforce.map(|(a, _)| a), Some(Action::Reject));
    }

    #[test]
    fn rule_mistakes_name_their_keys() {
        let errors = Config::parse(
            "[[sender_rules]]\ndomain = \"a.example\"\ndomain_suffix = \"b\"\n\
             [[sender_rules]]\ndomain_suffix = \"bad domain\"\n\
             [[sender_rules]]\ndomain = \"x.example\"\non = [\"envelope\"]\naction = \"add_header\"\n\
             [[sender_rules]]\ndomain_suffix = \"cyou\"\n[[sender_rules]]\ndomain_suffix = \"cyou\"\n\
             [[sender_rules]]\ndomain = \"y.example\"\nsymbol = \"SPF_FAIL\"\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "sender_rules[0]",
            "give exactly one of domain",
            "sender_rules[1].domain_suffix",
            "sender_rules[2].on[0]",
            "sender_rules[2].action",
            "sender_rules[4].domain_suffix",
            "SENDER_SUFFIX_CYOU is already defined by sender_rules[3].domain_suffix",
            "sender_rules[5].symbol",
            "SPF_FAIL is a built-in symbol",
        ] {
            assert!(errors.contains(expected), "{expected:?} not in:\n{errors}");
        }
        let unknown = Config::parse("[[sender_rules]]\ndomian = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("sender_rules[0].domian") && unknown.contains("did you mean domain?"),
            "{unknown}"
        );
    }

    #[test]
    fn scores_come_from_the_rule_and_may_be_overridden_in_scores() {
        let config = Config::parse(
            "[[sender_rules]]\ndomain_suffix = \"cyou\"\nscore = 8.0\n\
             [[sender_rules]]\ndomain_suffix = \"top\"\nscore = 3.0\n\
             [scores]\nSENDER_SUFFIX_TOP = 1.5\n",
        )
        .unwrap();
        assert_eq!(config.senders.rules.len(), 2);
        assert_eq!(config.score("SENDER_SUFFIX_CYOU"), 8.0);
        assert_eq!(config.score("SENDER_SUFFIX_TOP"), 1.5);
        assert!(
            config
                .symbols()
                .any(|(name, description)| name == "SENDER_SUFFIX_CYOU"
                    && description == "Sender rule: domain_suffix cyou in mail_from, from, helo")
        );
    }
}
