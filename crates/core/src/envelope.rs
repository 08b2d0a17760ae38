//! What the SMTP session told us about a message, before and apart from its content.

use std::net::IpAddr;

/// The SMTP envelope and client facts a front-end collected. Every field is optional
/// because the CLI may know none of them; checks that need a missing one skip and say why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The SMTP client's address.
    pub client_ip: Option<IpAddr>,
    /// The client's verified reverse DNS name (Postfix `client_name`), if it has one.
    pub client_name: Option<String>,
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
