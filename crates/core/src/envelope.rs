//! What the SMTP session told us about a message, before and apart from its content.

use std::net::IpAddr;

/// The SMTP envelope and client facts a front-end collected. Every field is optional
/// because the CLI may know none of them; checks that need a missing one skip and say why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The SMTP client's address.
    pub client_ip: Option<IpAddr>,
    /// The client's verified reverse DNS name (Postfix `client_name`, milter
    /// `{client_name}`): a PTR name whose forward lookup gives the client's address back.
    pub client_name: ReverseName,
    /// The client's PTR name, not verified (Postfix `reverse_client_name`, milter
    /// `{client_ptr}`).
    pub client_ptr: ReverseName,
    /// The HELO/EHLO argument.
    pub helo: Option<String>,
    /// The MAIL FROM address without angle brackets; `Some("")` is the null reverse-path
    /// `<>` of a bounce, `None` means not known.
    pub mail_from: Option<String>,
    /// The RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// The SASL login name, when the client authenticated: its mail is ours.
    pub sasl_user: Option<String>,
    /// The MTA's queue id, for log lines.
    pub queue_id: Option<String>,
}

impl Envelope {
    /// The domain of the MAIL FROM address, lowercased; `None` for `<>` or when unknown.
    pub fn mail_from_domain(&self) -> Option<String> {
        let from = self.mail_from.as_deref()?;
        let (_, domain) = from.rsplit_once('@')?;
        let domain = domain.trim_end_matches('.');
        (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
    }
}

/// A name the MTA looked up for the client in reverse DNS.
///
/// Checks on the client's name (S25R, rDNS) must tell "the MTA looked and found nothing" —
/// evidence — from "nobody said" (the CLI without `--client-name`, a front-end that was not
/// sent the attribute) — no evidence at all. Postfix writes the first as the literal
/// `unknown` (postconf(5) `smtpd_client_restrictions`, SMTPD_POLICY_README), and an empty
/// value or a missing attribute for the second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReverseName {
    /// Nobody said whether the client has a name.
    #[default]
    NotTold,
    /// The MTA looked and found none (Postfix `unknown`). Postfix also says `unknown` after a
    /// temporary DNS failure, which it does not tell its milters and policy servers apart.
    Unknown,
    /// The name found, as the MTA gave it.
    Name(String),
}

impl ReverseName {
    /// A value as Postfix passes it: empty means not told; `unknown`, or a sendmail-style
    /// `[address]` (what a milter's connect event carries for a client without a name),
    /// means looked and found none.
    pub fn from_postfix(value: Option<&str>) -> ReverseName {
        match value.map(str::trim) {
            None | Some("") => ReverseName::NotTold,
            Some(v) if v.eq_ignore_ascii_case("unknown") || v.starts_with('[') => {
                ReverseName::Unknown
            }
            Some(v) => ReverseName::Name(v.to_owned()),
        }
    }

    /// The name, when there is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            ReverseName::Name(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_values_tell_unknown_from_not_told() {
        use ReverseName::*;
        assert_eq!(ReverseName::from_postfix(None), NotTold);
        assert_eq!(ReverseName::from_postfix(Some("")), NotTold);
        assert_eq!(ReverseName::from_postfix(Some("unknown")), Unknown);
        assert_eq!(ReverseName::from_postfix(Some("[192.0.2.1]")), Unknown);
        assert_eq!(
            ReverseName::from_postfix(Some("mx.example.org")),
            Name("mx.example.org".to_owned())
        );
    }
}
