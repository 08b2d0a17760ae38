//! S25R, Selective SMTP Rejection (http://gabacho-net.jp/en/anti-spam/): mail straight from
//! end-user access lines (dial-up, DSL, cable, DHCP pools) is mostly from infected PCs, and
//! such hosts have generic reverse DNS names, which six published regular expressions
//! recognise; a client without a verified name at all is treated the same.
//!
//! Data flow: the client's verified name as the MTA found it (Postfix `client_name`) →
//! outbound clients, IPv6 clients (`ipv4_only`) and whitelisted ones are let be → the six
//! rules, then `extra_rules`, first match wins → a hit naming the rule, and a temporary
//! refusal for `enforce` mode. S25R refuses temporarily on purpose: a real MTA that a rule
//! misjudges retries, and its administrator can be asked to whitelist it meanwhile (the
//! whitelist file S25R publishes is exactly that list); a bot rarely retries.
//!
//! Greylisting only the clients S25R suspects ("rgrey", S25R's best-known use) is
//! `[greylist] only = "suspicious"`, which reads this check's hits. When greylisting is in
//! `enforce` mode, this check asks for no refusal of its own (`greylisted`): a suspect is
//! greylisted, and let through once it retries, rather than refused until someone
//! whitelists it; its hits still score.

use std::net::IpAddr;

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{Pattern, S25r, WhitelistEntry};
use crate::envelope::ReverseName;
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "S25R_GENERIC",
        description: "S25R: the client's host name looks like an end-user access line (dial-up, DSL, cable, DHCP)",
    },
    Symbol {
        name: "S25R_UNKNOWN_CLIENT",
        description: "S25R: the client has no verified host name (Postfix: unknown)",
    },
];

/// The six generic rules, verbatim from the S25R rejection table (also as milter-manager's
/// S25R condition ships them), with the labels S25R's replies carry (`[r1]` … `[r6]`).
const RULES: [(&str, &str); 6] = [
    ("r1", r"^[^.]*[0-9][^0-9.]+[0-9].*\."),
    ("r2", r"^[^.]*[0-9]{5}"),
    ("r3", r"^([^.]+\.)?[0-9][^.]*\.[^.]+\..+\.[a-z]"),
    ("r4", r"^[^.]*[0-9]\.[^.]*[0-9]-[0-9]"),
    ("r5", r"^[^.]*[0-9]\.[^.]*[0-9]\.[^.]+\..+\."),
    ("r6", r"^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9]"),
];

/// The label of the no-name rule. S25R leaves it to Postfix's
/// `reject_unknown_client_hostname`, so it has no `[rN]` label of its own.
const UNKNOWN_LABEL: &str = "unknown";

struct Rule {
    label: String,
    pattern: Pattern,
}

pub(crate) struct S25rCheck {
    rules: Vec<Rule>,
    whitelist: Vec<WhitelistEntry>,
    ipv4_only: bool,
    /// Greylisting is enforced and takes S25R's suspects: no tempfail of our own.
    greylisted: bool,
}

impl S25rCheck {
    pub(crate) fn new(config: &S25r, greylisted: bool) -> Self {
        let published = RULES.iter().map(|(label, pattern)| Rule {
            label: (*label).to_owned(),
            pattern: Pattern::new(pattern).expect("invariant: the published rules compile"),
        });
        let extra = config
            .extra_rules
            .iter()
            .enumerate()
            .map(|(i, pattern)| Rule {
                label: format!("extra_rules[{i}]"),
                pattern: pattern.clone(),
            });
        Self {
            rules: published.chain(extra).collect(),
            whitelist: config.whitelist.clone(),
            ipv4_only: config.ipv4_only,
            greylisted,
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        let envelope = scan.envelope;
        if scan.internal {
            outcome.skip(
                "s25r",
                "outbound: the client is in internal_hosts or authenticated",
            );
            return outcome;
        }
        // Postfix gives an IPv4 client on a dual-stack socket as 1.2.3.4; so do we.
        let ip = envelope.client_ip.map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        });
        if self.ipv4_only && ip.is_some_and(|ip| ip.is_ipv6()) {
            outcome.skip(
                "s25r",
                "IPv6 client: S25R's rules describe IPv4 access networks (s25r.ipv4_only)",
            );
            return outcome;
        }
        let name = match &envelope.client_name {
            ReverseName::NotTold => {
                outcome.skip(
                    "s25r",
                    "no client name given (Postfix client_name, --client-name)",
                );
                return outcome;
            }
            ReverseName::Unknown => None,
            ReverseName::Name(name) => Some(name.as_str()),
        };
        if let Some(entry) = self.whitelist.iter().find(|e| e.matches(name, ip)) {
            outcome.skip("s25r", format!("client whitelisted by {}", entry.source));
            return outcome;
        }
        let label = match name {
            None => {
                outcome.hit(
                    "S25R_UNKNOWN_CLIENT",
                    "no verified host name (Postfix: unknown)",
                );
                UNKNOWN_LABEL
            }
            Some(name) => {
                let Some(rule) = self.rules.iter().find(|r| r.pattern.is_match(name)) else {
                    return outcome;
                };
                outcome.hit(
                    "S25R_GENERIC",
                    format!("{name} matches {} /{}/", rule.label, rule.pattern.as_str()),
                );
                &rule.label
            }
        };
        if !self.greylisted {
            outcome.enforce = Some((
                Action::Tempfail,
                format!("S25R check: be patient [{label}]"),
            ));
        }
        outcome
    }
}

impl Check for S25rCheck {
    fn name(&self) -> CheckName {
        CheckName::S25r
    }

    fn needs_message(&self) -> bool {
        false
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
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

    fn check(config: &str) -> S25rCheck {
        let config = Config::parse(config).unwrap();
        S25rCheck::new(
            &config.s25r,
            config.greylist.mode == crate::check::Mode::Enforce,
        )
    }

    fn run(check: &S25rCheck, ip: &str, name: ReverseName) -> Outcome {
        let envelope = Envelope {
            client_ip: Some(ip.parse::<IpAddr>().unwrap()),
            client_name: name,
            ..Envelope::default()
        };
        let scan = Scan::new(&envelope, b"", None, false, 0, 1);
        check.examine(&scan)
    }

    fn named(name: &str) -> ReverseName {
        ReverseName::Name(name.to_owned())
    }

    /// The rule that judges `name`, if any.
    fn rule_for(check: &S25rCheck, name: &str) -> Option<String> {
        let outcome = run(check, "192.0.2.1", named(name));
        outcome.enforce.map(|(_, reason)| {
            let label = reason.strip_prefix("S25R check: be patient [").unwrap();
            label.strip_suffix(']').unwrap().to_owned()
        })
    }

    /// Dynamic-pool names of the shapes the S25R page explains rule by rule
    /// (http://gabacho-net.jp/en/anti-spam/anti-spam-system.html): real ISPs' naming schemes
    /// (OCN's `pNNNN-ipXXNNcity.pref.ocn.ne.jp`, Comcast's `c-A-B-C-D.hsd1.st.comcast.net`,
    /// Telmex's `dsl-A-B-C-D.prod-infinitum.com.mx`, `…ppp.infoweb.ne.jp`) with made-up
    /// numbers. Each is judged by the first rule that matches, as S25R's table is read.
    #[test]
    fn dynamic_pool_names_match_their_rules() {
        let check = check("");
        let examples = [
            ("p1234-ipbf01funabasi.chiba.ocn.ne.jp", "r1"),
            ("c-24-12-34-56.hsd1.ca.comcast.net", "r1"),
            ("dsl-189-169-4-223.prod-infinitum.com.mx", "r1"),
            ("m12345.example.net", "r2"),
            ("ntsitm123051.sitm.nt.ngn.ppp.infoweb.ne.jp", "r2"),
            ("ip.1.2.3.4.example.com", "r3"),
            ("3.example.dsl.example.co.jp", "r3"),
            ("p12.ab-12-34.example.net", "r4"),
            ("user8.x1.dyn.example.ne.jp", "r5"),
            ("dhcp0123.example.com", "r6"),
            ("ppp123.example.com", "r6"),
            ("adsl2.example.net", "r6"),
            ("DialUp7.Example.org", "r6"),
        ];
        for (name, rule) in examples {
            assert_eq!(rule_for(&check, name).as_deref(), Some(rule), "{name}");
        }
    }

    /// Names a well-run MTA has: none may match.
    #[test]
    fn server_names_do_not_match() {
        let check = check("");
        for name in [
            "mail.example.co.jp",
            "mx1.example.com",
            "smtp.example.ne.jp",
            "mail-sor-f41.google.com",
            "mta1.news.example.com",
            "out2-smtp.messagingengine.com",
        ] {
            assert_eq!(rule_for(&check, name), None, "{name}");
        }
    }

    /// Real outbound names of large senders (as they appear in Received fields) that rule 1
    /// misjudges: the reason S25R refuses only temporarily and publishes a whitelist.
    #[test]
    fn known_false_positives_are_fixed_by_the_whitelist() {
        let names = [
            "mail-ej1-f54.google.com",
            "a8-83.smtp-out.amazonses.com",
            "sonic301-20.consmr.mail.ne1.yahoo.com",
        ];
        let plain = check("");
        for name in names {
            assert_eq!(rule_for(&plain, name).as_deref(), Some("r1"), "{name}");
        }
        let whitelisted = check(
            "[s25r]\nwhitelist = [\"\\\\.google\\\\.com$\", \"\\\\.amazonses\\\\.com$\", \"\\\\.yahoo\\\\.com$\"]\n",
        );
        for name in names {
            assert_eq!(rule_for(&whitelisted, name), None, "{name}");
        }
    }

    #[test]
    fn unknown_counts_as_a_match_and_not_told_is_skipped() {
        let check = check("");
        let outcome = run(&check, "192.0.2.1", ReverseName::Unknown);
        assert_eq!(outcome.hits[0].symbol, "S25R_UNKNOWN_CLIENT");
        assert_eq!(
            outcome.enforce,
            Some((
                Action::Tempfail,
                "S25R check: be patient [unknown]".to_owned()
            ))
        );
        let outcome = run(&check, "192.0.2.1", ReverseName::NotTold);
        assert!(outcome.hits.is_empty() && outcome.enforce.is_none());
        assert_eq!(
            outcome.skipped[0].why,
            "no client name given (Postfix client_name, --client-name)"
        );
    }

    #[test]
    fn a_match_names_its_rule_in_evidence_and_reason() {
        let outcome = run(&check(""), "192.0.2.1", named("dhcp0123.example.com"));
        assert_eq!(outcome.hits[0].symbol, "S25R_GENERIC");
        assert_eq!(
            outcome.hits[0].evidence,
            "dhcp0123.example.com matches r6 /^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9]/"
        );
        assert_eq!(
            outcome.enforce,
            Some((Action::Tempfail, "S25R check: be patient [r6]".to_owned()))
        );
    }

    #[test]
    fn ipv6_clients_are_skipped_unless_asked() {
        let name = || named("dhcp0123.example.com");
        let outcome = run(&check(""), "2001:db8::5", name());
        assert!(outcome.hits.is_empty());
        assert!(outcome.skipped[0].why.contains("s25r.ipv4_only"));
        // An IPv4 client seen on a dual-stack socket is IPv4.
        let outcome = run(&check(""), "::ffff:192.0.2.1", name());
        assert_eq!(outcome.hits[0].symbol, "S25R_GENERIC");
        let outcome = run(&check("[s25r]\nipv4_only = false\n"), "2001:db8::5", name());
        assert_eq!(outcome.hits[0].symbol, "S25R_GENERIC");
    }

    #[test]
    fn extra_rules_come_after_the_published_ones() {
        let check = check("[s25r]\nextra_rules = [\"^pool-\", \"\\\\.dynamic\\\\.\"]\n");
        assert_eq!(
            rule_for(&check, "pool-a.example.net").as_deref(),
            Some("extra_rules[0]")
        );
        assert_eq!(
            rule_for(&check, "HOST.Dynamic.example.net").as_deref(),
            Some("extra_rules[1]")
        );
        assert_eq!(
            rule_for(&check, "dhcp7.dynamic.example.net").as_deref(),
            Some("r6")
        );
    }

    #[test]
    fn with_greylisting_enforced_s25r_asks_for_no_refusal_of_its_own() {
        let check = check(
            "[s25r]\nmode = \"enforce\"\n[greylist]\nmode = \"enforce\"\nonly = \"suspicious\"\n",
        );
        let outcome = run(&check, "192.0.2.1", named("dhcp0123.example.com"));
        assert_eq!(outcome.hits[0].symbol, "S25R_GENERIC");
        assert_eq!(outcome.enforce, None);
    }

    #[test]
    fn whitelisted_clients_are_let_be() {
        let check = check(
            "[s25r]\nwhitelist = [\"^dhcp0123\\\\.example\\\\.com$\", \"198.51.100.0/24\"]\n",
        );
        let outcome = run(&check, "192.0.2.1", named("dhcp0123.example.com"));
        assert!(outcome.hits.is_empty() && outcome.enforce.is_none());
        assert_eq!(
            outcome.skipped[0].why,
            "client whitelisted by s25r.whitelist[0]"
        );
        // By address, even without a name.
        let outcome = run(&check, "198.51.100.7", ReverseName::Unknown);
        assert!(outcome.hits.is_empty());
        assert_eq!(
            outcome.skipped[0].why,
            "client whitelisted by s25r.whitelist[1]"
        );
        // Others are still judged.
        let outcome = run(&check, "192.0.2.1", named("dhcp0124.example.com"));
        assert_eq!(outcome.hits[0].symbol, "S25R_GENERIC");
    }
}
