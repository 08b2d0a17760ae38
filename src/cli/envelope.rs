//! The envelope of a message handed over after SMTP (`filter`, `deliver`): from flags, or
//! from the environment Postfix's local(8) gives a command (`mailbox_command`, a `.forward`
//! pipe, procmail run from either), where a flag is not given.
//!
//! local(8) "EXTERNAL COMMAND DELIVERY" exports `SENDER`, `RECIPIENT`, `CLIENT_ADDRESS`,
//! `CLIENT_HELO`, `CLIENT_HOSTNAME` and `SASL_USERNAME`; pipe(8) exports none of them and
//! passes `${sender}`, `${client_address}`… in argv instead, which are these flags.
//! Values are lenient: an empty or `unknown` address (a local submission) is no address,
//! and one that does not parse is ignored with a warning rather than refusing the mail.

use std::net::IpAddr;

use clap::Args;
use kanmon_core::{Envelope, ReverseName};

#[derive(Debug, Args)]
pub(crate) struct EnvelopeArgs {
    /// The SMTP client's IP address (default: $CLIENT_ADDRESS).
    #[arg(long)]
    ip: Option<String>,
    /// The HELO/EHLO name the client gave (default: $CLIENT_HELO).
    #[arg(long)]
    helo: Option<String>,
    /// The client's verified reverse DNS name, "unknown" when none (default: $CLIENT_HOSTNAME).
    #[arg(long)]
    client_name: Option<String>,
    /// The MAIL FROM address; "" or "<>" is the null sender (default: $SENDER).
    #[arg(long)]
    from: Option<String>,
    /// A RCPT TO address, repeat for several (default: $RECIPIENT).
    #[arg(long)]
    rcpt: Vec<String>,
    /// The SASL login of an authenticated client (default: $SASL_USERNAME).
    #[arg(long)]
    sasl_user: Option<String>,
}

impl EnvelopeArgs {
    /// The one recipient (`--rcpt` given once, else $RECIPIENT), brackets removed.
    pub(crate) fn recipient(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        match self.rcpt.as_slice() {
            [one] => Some(strip_brackets(one).to_owned()),
            [] => env("RECIPIENT").map(|r| strip_brackets(&r).to_owned()),
            _ => None,
        }
        .filter(|r| !r.is_empty())
    }

    /// The envelope, each field from its flag, else from `env` (the process environment).
    pub(crate) fn envelope(self, env: impl Fn(&str) -> Option<String>) -> Envelope {
        let given = |flag: Option<String>, var: &str| flag.or_else(|| env(var));
        let non_empty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let ip = non_empty(given(self.ip, "CLIENT_ADDRESS")).and_then(|ip| parse_ip(&ip));
        let mut rcpt = self.rcpt;
        if rcpt.is_empty() {
            rcpt.extend(non_empty(env("RECIPIENT")));
        }
        Envelope {
            client_ip: ip,
            client_name: ReverseName::from_postfix(
                given(self.client_name, "CLIENT_HOSTNAME").as_deref(),
            ),
            client_ptr: ReverseName::NotTold,
            helo: non_empty(given(self.helo, "CLIENT_HELO")),
            mail_from: given(self.from, "SENDER").map(|from| strip_brackets(&from).to_owned()),
            rcpt_to: rcpt.iter().map(|r| strip_brackets(r).to_owned()).collect(),
            sasl_user: non_empty(given(self.sasl_user, "SASL_USERNAME")),
            queue_id: None,
        }
    }
}

/// An address as Postfix writes it: `unknown` for none, IPv6 possibly with its `IPv6:`
/// prefix or in brackets.
fn parse_ip(value: &str) -> Option<IpAddr> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("unknown") {
        return None;
    }
    let bare = value.trim_start_matches('[').trim_end_matches(']');
    let bare = bare
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
        .map_or(bare, |_| bare.get(5..).unwrap_or_default());
    let parsed = bare.parse().ok();
    if parsed.is_none() {
        tracing::warn!(value, "client address not understood; scanned without it");
    }
    parsed
}

fn strip_brackets(address: &str) -> &str {
    let address = address.trim();
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> EnvelopeArgs {
        EnvelopeArgs {
            ip: None,
            helo: None,
            client_name: None,
            from: None,
            rcpt: Vec::new(),
            sasl_user: None,
        }
    }

    #[test]
    fn postfix_local_environment_fills_what_flags_leave_out() {
        let env = |name: &str| {
            let value = match name {
                "CLIENT_ADDRESS" => "203.0.113.5",
                "CLIENT_HELO" => "mx.sender.example",
                "CLIENT_HOSTNAME" => "unknown",
                "SENDER" => "alice@sender.example",
                "RECIPIENT" => "bob@example.org",
                "SASL_USERNAME" => "",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let args = EnvelopeArgs {
            helo: Some("given.example".to_owned()),
            ..none()
        };
        let envelope = args.envelope(env);
        assert_eq!(envelope.client_ip, "203.0.113.5".parse().ok());
        assert_eq!(envelope.helo.as_deref(), Some("given.example"));
        assert_eq!(envelope.client_name, ReverseName::Unknown);
        assert_eq!(envelope.mail_from.as_deref(), Some("alice@sender.example"));
        assert_eq!(envelope.rcpt_to, ["bob@example.org"]);
        assert_eq!(envelope.sasl_user, None);
    }

    #[test]
    fn pipe_macros_for_a_local_submission_mean_no_client() {
        let args = EnvelopeArgs {
            ip: Some(String::new()),
            helo: Some(String::new()),
            client_name: Some(String::new()),
            from: Some(String::new()),
            ..none()
        };
        let envelope = args.envelope(|_| None);
        assert_eq!(envelope.client_ip, None);
        assert_eq!(envelope.helo, None);
        assert_eq!(envelope.client_name, ReverseName::NotTold);
        assert_eq!(envelope.mail_from.as_deref(), Some(""), "the null sender");
    }

    #[test]
    fn addresses_as_postfix_writes_them() {
        assert_eq!(parse_ip("192.0.2.1"), "192.0.2.1".parse().ok());
        assert_eq!(parse_ip("IPv6:2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("unknown"), None);
        assert_eq!(parse_ip("not an address"), None);
    }
}
