//! What the client's greeting and its reverse DNS say about it: a HELO that is a bare IP
//! address, `localhost`, or a single label is not what a configured MTA sends (RFC 5321
//! §4.1.1.1: a fully qualified domain name, or an address literal in brackets when it has
//! none); a client without reverse DNS, or whose PTR name does not lead back to its address,
//! is seldom a mail server.
//!
//! The reverse DNS facts are Postfix's own, passed to us (`{client_ptr}` and
//! `{client_name}` to the milter, `reverse_client_name` and `client_name` to the policy
//! server): Postfix already did the PTR lookup and the forward confirmation for every
//! connection, so asking DNS again would only repeat it. Postfix also says `unknown` after a
//! temporary DNS failure, which it does not tell its filters apart: one more reason these
//! are small scores, never a refusal on their own (`enforce` is refused in the config).

use std::net::IpAddr;

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::envelope::ReverseName;
use crate::scan::Scan;
use crate::symbol::Symbol;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "HFILTER_HELO_BAREIP",
        description: "HELO: a bare IP address, not a host name or an [address literal]",
    },
    Symbol {
        name: "HELO_LOCALHOST",
        description: "HELO: localhost, which no mail server on the internet is",
    },
    Symbol {
        name: "HFILTER_HELO_NOT_FQDN",
        description: "HELO: a single label, not a fully qualified domain name",
    },
    Symbol {
        name: "RDNS_NONE",
        description: "Reverse DNS: the client's address has no PTR name",
    },
    Symbol {
        name: "HFILTER_HOSTNAME_UNKNOWN",
        description: "Reverse DNS: no verified host name (the PTR name does not resolve back to the address)",
    },
];

pub(crate) struct HeloCheck;

impl HeloCheck {
    fn examine(scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        if scan.internal {
            outcome.skip(
                "helo",
                "outbound: the client is in internal_hosts or authenticated",
            );
            return outcome;
        }
        let envelope = scan.envelope;
        match envelope.helo.as_deref().map(str::trim) {
            None | Some("") => outcome.skip("helo", "no HELO name given (--helo)"),
            Some(helo) => {
                if let Some((symbol, why)) = helo_problem(helo) {
                    outcome.hit(symbol, format!("HELO {helo}: {why}"));
                }
            }
        }
        let ip = envelope
            .client_ip
            .map_or_else(|| "the client".to_owned(), |ip| ip.to_string());
        match (&envelope.client_name, &envelope.client_ptr) {
            // A verified name needs a PTR name that leads back: all is well.
            (ReverseName::Name(_), _) => {}
            (_, ReverseName::Unknown) => {
                outcome.hit("RDNS_NONE", format!("{ip} has no PTR name"));
            }
            (ReverseName::Unknown, ReverseName::Name(ptr)) => outcome.hit(
                "HFILTER_HOSTNAME_UNKNOWN",
                format!("{ip} has the PTR name {ptr}, which does not resolve back to it"),
            ),
            // (S25R_UNKNOWN_CLIENT says that much; which of the two it is needs client_ptr.)
            (ReverseName::Unknown, ReverseName::NotTold) => outcome.skip(
                "helo rdns",
                "no PTR name given (Postfix client_ptr, --client-ptr): no PTR and an unconfirmed one look alike",
            ),
            // A PTR name whose confirmation nobody told us of: nothing to say.
            (ReverseName::NotTold, ReverseName::Name(_)) => {}
            (ReverseName::NotTold, ReverseName::NotTold) => outcome.skip(
                "helo rdns",
                "no client name given (Postfix client_name and client_ptr, --client-name, --client-ptr)",
            ),
        }
        outcome
    }
}

/// What is wrong with a HELO name, if anything: the symbol and why.
fn helo_problem(helo: &str) -> Option<(&'static str, &'static str)> {
    // An address literal ([192.0.2.1], [IPv6:2001:db8::1]) is what RFC 5321 asks of a
    // client without a name: allowed, if unusual.
    if helo.starts_with('[') && helo.ends_with(']') {
        return None;
    }
    if helo.parse::<IpAddr>().is_ok() {
        return Some((
            "HFILTER_HELO_BAREIP",
            "an IP address without the brackets of an address literal",
        ));
    }
    let name = helo.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.starts_with("localhost.") || name.ends_with(".localdomain") {
        return Some(("HELO_LOCALHOST", "a name for the local host"));
    }
    if !name.contains('.') {
        return Some(("HFILTER_HELO_NOT_FQDN", "a single label, not a domain name"));
    }
    None
}

impl Check for HeloCheck {
    fn name(&self) -> CheckName {
        CheckName::Helo
    }

    fn needs_message(&self) -> bool {
        false
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(HeloCheck::examine(scan)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helo_names_a_mail_server_would_not_send() {
        for (helo, symbol) in [
            ("192.0.2.1", "HFILTER_HELO_BAREIP"),
            ("2001:db8::25", "HFILTER_HELO_BAREIP"),
            ("localhost", "HELO_LOCALHOST"),
            ("LOCALHOST.localdomain", "HELO_LOCALHOST"),
            ("pc17.localdomain", "HELO_LOCALHOST"),
            ("WIN-7H3K2Q", "HFILTER_HELO_NOT_FQDN"),
            ("mail", "HFILTER_HELO_NOT_FQDN"),
        ] {
            assert_eq!(helo_problem(helo).map(|(s, _)| s), Some(symbol), "{helo}");
        }
        for helo in [
            "mail.example.org",
            "mx1.example.org.",
            "[192.0.2.1]",
            "[IPv6:2001:db8::25]",
            "localhost-relay.example.net",
        ] {
            assert_eq!(helo_problem(helo), None, "{helo}");
        }
    }
}
