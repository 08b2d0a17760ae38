//! `Received-SPF` (RFC 7208 §9.1): the SPF result with the facts needed to check it again.
//!
//! ```text
//! Received-SPF: fail (mx.example.net: domain of alice@spoofed.test does not designate
//!     203.0.113.5 as permitted sender) receiver=mx.example.net; client-ip=203.0.113.5;
//!     envelope-from="alice@spoofed.test"; helo=mail.spoofed.test; identity=mailfrom;
//!     mechanism=-all;
//! ```
//! * The comment is the RFC's example wording ("domain of … designates … as permitted
//!   sender"), extended to the other results as libspf2 words them, which Gmail's headers
//!   made familiar ("domain of transitioning …", "is neither permitted nor denied by …").
//! * Keys in the RFC example's order, then `identity` (§9.1 lists `mailfrom` and `helo`),
//!   `mechanism` when one matched and `problem` for errors. Values are dot-atoms or
//!   quoted-strings as §9.1's grammar asks: an address (`@`), an IPv6 address (`:`) or an
//!   address literal is quoted, even where pypolicyd-spf writes them bare.
//! * `envelope-from` is written for the MAIL FROM identity only: for a null reverse-path
//!   the HELO identity was checked (RFC 7208 §2.4), and §9.1 asks for `envelope-from` "if
//!   the MAIL FROM identity was checked".
//!
//! One field for the identity DMARC uses (MAIL FROM, or HELO for a null reverse-path). A
//! separate HELO check gets a field of its own, `identity=helo`, when its domain publishes
//! SPF (any result but `none`): SpamAssassin's SPF plugin reads such fields for its
//! `SPF_HELO_*` rules, and a field for every HELO name without a record would be noise.

use std::fmt::Write;

use kanmon_auth::spf::{Identity, SpfOutput, SpfResult};

use super::syntax::{push_comment_text, push_dot_atom_or_quoted};
use crate::auth::AuthResults;
use crate::envelope::Envelope;

/// The field values, top first: MAIL FROM identity, then HELO.
pub(crate) fn render(receiver: &str, envelope: &Envelope, auth: &AuthResults) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(spf) = &auth.spf {
        values.push(value(receiver, envelope, spf));
    }
    if let Some(helo) = super::separate_helo(auth)
        && helo.result != SpfResult::None
    {
        values.push(value(receiver, envelope, helo));
    }
    values
}

fn value(receiver: &str, envelope: &Envelope, spf: &SpfOutput) -> String {
    let mut out = String::with_capacity(256);
    let _ = write!(out, "{} ", spf.result);
    push_comment_text(&mut out, &format!("{receiver}: {}", explain(spf)));
    let mut key = |name: &str, value: &str| {
        out.push(' ');
        out.push_str(name);
        out.push('=');
        push_dot_atom_or_quoted(&mut out, value);
        out.push(';');
    };
    key("receiver", receiver);
    key("client-ip", &spf.ip.to_string());
    if spf.identity == Identity::MailFrom {
        key("envelope-from", &spf.sender);
    }
    let helo = match (&envelope.helo, spf.identity) {
        (Some(helo), _) => Some(helo.as_str()),
        (None, Identity::Helo) => Some(spf.domain.as_str()),
        (None, Identity::MailFrom) => None,
    };
    if let Some(helo) = helo.filter(|h| !h.is_empty()) {
        key("helo", helo);
    }
    key(
        "identity",
        match spf.identity {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        },
    );
    if let Some(mechanism) = &spf.mechanism {
        key("mechanism", mechanism);
    }
    if let Some(problem) = &spf.problem {
        key("problem", problem);
    }
    out
}

/// The comment after the receiver, in RFC 7208 §9.1's and libspf2's words.
fn explain(spf: &SpfOutput) -> String {
    let (sender, ip) = (&spf.sender, spf.ip);
    match spf.result {
        SpfResult::Pass => format!("domain of {sender} designates {ip} as permitted sender"),
        SpfResult::Fail => {
            format!("domain of {sender} does not designate {ip} as permitted sender")
        }
        SpfResult::SoftFail => {
            format!("domain of transitioning {sender} does not designate {ip} as permitted sender")
        }
        SpfResult::Neutral => {
            format!("{ip} is neither permitted nor denied by domain of {sender}")
        }
        SpfResult::None => {
            format!("domain of {sender} does not designate permitted sender hosts")
        }
        SpfResult::TempError => {
            format!("temporary error in processing during lookup of {sender}")
        }
        SpfResult::PermError => {
            format!("permanent error in processing during lookup of {sender}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::fixtures::*;

    fn envelope(helo: &str, from: &str) -> Envelope {
        Envelope {
            helo: Some(helo.to_owned()),
            mail_from: Some(from.to_owned()),
            ..Envelope::default()
        }
    }

    fn one(spf: SpfOutput, envelope: &Envelope) -> String {
        let auth = AuthResults {
            spf: Some(spf),
            ..AuthResults::default()
        };
        let mut values = render("mx.example.net", envelope, &auth);
        assert_eq!(values.len(), 1);
        values.remove(0)
    }

    #[test]
    fn every_result() {
        let helo = envelope("mail.example.org", "alice@example.org");
        let cases = [
            (
                spf_pass(),
                "pass (mx.example.net: domain of alice@example.org designates 192.0.2.1 as permitted sender) receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"alice@example.org\"; helo=mail.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";",
            ),
            (
                spf_fail(),
                "fail (mx.example.net: domain of alice@spoofed.test does not designate 203.0.113.5 as permitted sender) receiver=mx.example.net; client-ip=203.0.113.5; envelope-from=\"alice@spoofed.test\"; helo=mail.example.org; identity=mailfrom; mechanism=-all;",
            ),
            (
                spf_softfail(),
                "softfail (mx.example.net: domain of transitioning bob@example.org does not designate 203.0.113.5 as permitted sender) receiver=mx.example.net; client-ip=203.0.113.5; envelope-from=\"bob@example.org\"; helo=mail.example.org; identity=mailfrom; mechanism=~all;",
            ),
            (
                spf_none(),
                "none (mx.example.net: domain of carol@no-spf.example does not designate permitted sender hosts) receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"carol@no-spf.example\"; helo=mail.example.org; identity=mailfrom;",
            ),
            (
                spf_temperror(),
                "temperror (mx.example.net: temporary error in processing during lookup of alice@example.org) receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"alice@example.org\"; helo=mail.example.org; identity=mailfrom; problem=\"DNS timeout looking up example.org TXT\";",
            ),
            (
                spf_permerror(),
                "permerror (mx.example.net: permanent error in processing during lookup of alice@example.org) receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"alice@example.org\"; helo=mail.example.org; identity=mailfrom; problem=\"syntax error at \\\"ip4:192.0.2.0/33)\\\"\";",
            ),
        ];
        for (spf, expected) in cases {
            assert_eq!(one(spf, &helo), expected);
        }
    }

    #[test]
    fn neutral_and_ipv6() {
        let spf = SpfOutput {
            result: SpfResult::Neutral,
            ip: "2001:db8::25".parse().unwrap(),
            mechanism: Some("?all".to_owned()),
            ..spf_pass()
        };
        assert_eq!(
            one(spf, &envelope("[2001:db8::25]", "alice@example.org")),
            "neutral (mx.example.net: 2001:db8::25 is neither permitted nor denied by domain of alice@example.org) receiver=mx.example.net; client-ip=\"2001:db8::25\"; envelope-from=\"alice@example.org\"; helo=\"[2001:db8::25]\"; identity=mailfrom; mechanism=?all;"
        );
    }

    #[test]
    fn null_sender_reports_the_helo_identity_once() {
        let auth = AuthResults {
            spf: Some(spf_null_sender()),
            spf_helo: Some(spf_null_sender()),
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx.example.net", &envelope("mail.example.org", ""), &auth),
            [
                "pass (mx.example.net: domain of postmaster@mail.example.org designates 192.0.2.1 as permitted sender) receiver=mx.example.net; client-ip=192.0.2.1; helo=mail.example.org; identity=helo; mechanism=a;"
            ]
        );
    }

    #[test]
    fn a_separate_helo_check_gets_its_own_field_when_its_domain_has_spf() {
        let with_record = AuthResults {
            spf: Some(spf_pass()),
            spf_helo: Some(spf_null_sender()),
            ..AuthResults::default()
        };
        let values = render(
            "mx.example.net",
            &envelope("mail.example.org", "alice@example.org"),
            &with_record,
        );
        assert_eq!(values.len(), 2);
        assert_eq!(
            values[1],
            "pass (mx.example.net: domain of postmaster@mail.example.org designates 192.0.2.1 as permitted sender) receiver=mx.example.net; client-ip=192.0.2.1; helo=mail.example.org; identity=helo; mechanism=a;"
        );

        let without_record = AuthResults {
            spf_helo: Some(SpfOutput {
                result: SpfResult::None,
                mechanism: None,
                ..spf_null_sender()
            }),
            ..with_record
        };
        let values = render(
            "mx.example.net",
            &envelope("mail.example.org", "alice@example.org"),
            &without_record,
        );
        assert_eq!(values.len(), 1);
    }

    #[test]
    fn nothing_without_spf() {
        assert!(render("mx", &Envelope::default(), &AuthResults::default()).is_empty());
    }
}
