//! `[senders]` and `[[sender_rules]]` validated: each rule's domain normalised, its symbol
//! defined, its identities and action checked.

use super::error::ConfigErrors;
use super::raw::{RawSenderRule, RawSenders, SENDER_IDENTITIES};
use super::symbols::Definitions;
use crate::check::Mode;
use crate::verdict::Action;

/// The sender-domain rules, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct Senders {
    pub mode: Mode,
    /// Lowercased domains exempt from every rule, with their subdomains.
    pub whitelist: Vec<String>,
    pub rules: Vec<SenderRule>,
}

/// Which name of the sender a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SenderIdentity {
    /// The envelope sender's domain (SMTP MAIL FROM).
    MailFrom,
    /// The header From's domain.
    From,
    /// The HELO/EHLO name.
    Helo,
}

impl SenderIdentity {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderIdentity::MailFrom => "mail_from",
            SenderIdentity::From => "from",
            SenderIdentity::Helo => "helo",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "mail_from" => Some(SenderIdentity::MailFrom),
            "from" => Some(SenderIdentity::From),
            "helo" => Some(SenderIdentity::Helo),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SenderRule {
    /// Lowercased, without a trailing dot.
    pub domain: String,
    /// Whether the domains under `domain` match too (`domain_suffix`).
    pub subdomains: bool,
    /// In [`SenderIdentity`] order, without repeats.
    pub on: Vec<SenderIdentity>,
    pub symbol: &'static str,
    /// Reject or tempfail, carried out in `enforce` mode.
    pub action: Option<Action>,
}

impl SenderRule {
    /// Whether `domain` (lowercased) is this rule's domain or, for a suffix, under it.
    pub fn matches(&self, domain: &str) -> bool {
        covers(&self.domain, domain, self.subdomains)
    }

    /// `domain_suffix cyou` / `domain spam.example`, for evidence.
    pub fn describe(&self) -> String {
        let key = if self.subdomains {
            "domain_suffix"
        } else {
            "domain"
        };
        format!("{key} {}", self.domain)
    }
}

impl Senders {
    /// Whether `domain` (lowercased) is whitelisted.
    pub fn whitelisted(&self, domain: &str) -> Option<&str> {
        self.whitelist
            .iter()
            .find(|entry| covers(entry, domain, true))
            .map(String::as_str)
    }
}

/// `domain` equals `base`, or (with `subdomains`) ends with `.base`.
fn covers(base: &str, domain: &str, subdomains: bool) -> bool {
    domain == base
        || subdomains
            && domain.len() > base.len()
            && domain.ends_with(base)
            && domain.as_bytes()[domain.len() - base.len() - 1] == b'.'
}

pub(super) fn validate(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    senders: &RawSenders,
    rules: &[RawSenderRule],
) -> Senders {
    let whitelist = senders
        .whitelist
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            domain(text)
                .map_err(|e| errors.push(format!("senders.whitelist[{i}]"), e))
                .ok()
        })
        .collect();
    let rules = rules
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| rule(errors, definitions, &format!("sender_rules[{i}]"), raw))
        .collect();
    Senders {
        mode: senders.mode,
        whitelist,
        rules,
    }
}

fn rule(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    path: &str,
    raw: &RawSenderRule,
) -> Option<SenderRule> {
    let (key, text, subdomains) = match (&raw.domain, &raw.domain_suffix) {
        (Some(text), None) => ("domain", text, false),
        (None, Some(text)) => ("domain_suffix", text, true),
        _ => {
            errors.push(
                path,
                "give exactly one of domain (that domain only) or domain_suffix (it and every domain under it)",
            );
            return None;
        }
    };
    let domain = domain(text)
        .map_err(|e| errors.push(format!("{path}.{key}"), e))
        .ok();
    let mut on = Vec::new();
    for (i, word) in raw.on.iter().enumerate() {
        match SenderIdentity::parse(word) {
            Some(identity) if !on.contains(&identity) => on.push(identity),
            Some(_) => errors.push(format!("{path}.on[{i}]"), format!("{word} is listed twice")),
            None => errors.push(
                format!("{path}.on[{i}]"),
                format!(
                    "expected one of {}, found {word:?}",
                    SENDER_IDENTITIES.join(", ")
                ),
            ),
        }
    }
    on.sort();
    if raw.on.is_empty() {
        errors.push(
            format!("{path}.on"),
            "names no identity; the default is all of mail_from, from, helo",
        );
    }
    if let Some(action) = raw.action
        && !matches!(action, Action::Reject | Action::Tempfail)
    {
        errors.push(
            format!("{path}.action"),
            format!(
                "must be \"reject\" or \"tempfail\", not {:?}; a score tags through the thresholds",
                action.as_str()
            ),
        );
    }
    let domain = domain?;
    let (symbol_path, symbol) = match &raw.symbol {
        Some(symbol) => (format!("{path}.symbol"), symbol.clone()),
        None => {
            let Some(symbol) = default_symbol(&domain, subdomains) else {
                errors.push(
                    format!("{path}.{key}"),
                    "this domain makes no symbol name of A-Z, 0-9 and _; give the rule a symbol",
                );
                return None;
            };
            (format!("{path}.{key}"), symbol)
        }
    };
    let description = match raw.action {
        Some(action) => format!(
            "Sender rule: {key} {domain} in {} ({})",
            on_list(&on),
            action.as_str()
        ),
        None => format!("Sender rule: {key} {domain} in {}", on_list(&on)),
    };
    let symbol = definitions.define(errors, &symbol_path, &symbol, raw.score, description)?;
    Some(SenderRule {
        domain,
        subdomains,
        on,
        symbol,
        action: raw.action,
    })
}

fn on_list(on: &[SenderIdentity]) -> String {
    on.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
}

/// A domain as written in the file: lowercased, the trailing dot dropped, labels of
/// letters, digits and hyphens (or non-ASCII, for names written in Unicode).
fn domain(text: &str) -> Result<String, String> {
    let domain = text.trim().trim_end_matches('.').to_lowercase();
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || !c.is_ascii())
        });
    if valid {
        Ok(domain)
    } else {
        Err(format!(
            "{text:?} is not a domain name (labels of letters, digits and hyphens, such as cyou or spam.example)"
        ))
    }
}

/// `SENDER_SUFFIX_CYOU`, `SENDER_DOMAIN_SPAM_EXAMPLE`; `None` when the domain has
/// characters a symbol cannot (Unicode) or the name would be too long.
fn default_symbol(domain: &str, subdomains: bool) -> Option<String> {
    let prefix = if subdomains {
        "SENDER_SUFFIX_"
    } else {
        "SENDER_DOMAIN_"
    };
    let mut name = prefix.to_owned();
    for c in domain.chars() {
        match c {
            'a'..='z' | '0'..='9' => name.push(c.to_ascii_uppercase()),
            '.' | '-' => name.push('_'),
            _ => return None,
        }
    }
    (name.len() <= super::symbols::MAX_SYMBOL_LEN).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_covers_its_subdomains_at_label_boundaries_only() {
        assert!(covers("cyou", "cyou", true));
        assert!(covers("cyou", "spam.cyou", true));
        assert!(covers("cyou", "a.b.cyou", true));
        assert!(!covers("cyou", "xcyou", true));
        assert!(!covers("cyou", "cyou.example", true));
        assert!(!covers("spam.example", "a.spam.example", false));
        assert!(covers("spam.example", "spam.example", false));
    }

    #[test]
    fn default_symbols_are_made_from_the_domain() {
        assert_eq!(
            default_symbol("cyou", true).as_deref(),
            Some("SENDER_SUFFIX_CYOU")
        );
        assert_eq!(
            default_symbol("spam-mail.example", false).as_deref(),
            Some("SENDER_DOMAIN_SPAM_MAIL_EXAMPLE")
        );
        assert_eq!(default_symbol("例え.jp", true), None);
    }
}
