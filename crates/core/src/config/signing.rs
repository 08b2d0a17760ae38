//! `[signing]`, `[[dkim_keys]]` and `[[signing_table]]` validated: which keys exist, which
//! header From addresses they sign for, and how.
//!
//! The table keeps OpenDKIM's SigningTable meaning (with `refile:`): each entry's `from` is a
//! glob on the From address (`*` matches any run of characters), compared without regard to
//! case, and the first entry that matches, in file order, decides. Two short forms are
//! OpenDKIM's too: `example.com` means `*@example.com`, `.example.com` means
//! `*@*.example.com`. Key files are not read here: [`crate::signing`] loads them when an
//! engine is built, so a reload reads them again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kanmon_auth::dkim::Canonicalization;
use kanmon_auth::domain::is_valid_mail_domain;

use super::error::ConfigErrors;
use super::raw::{RawDkimKey, RawSigning, RawSigningEntry};

/// Longest `x=` distance accepted: a year. Longer is no expiry at all in practice, and a
/// typo such as `300d` for `30d` should not pass silently.
pub const MAX_EXPIRE: Duration = Duration::from_secs(366 * 86_400);

/// The validated signing settings. Signing happens only when [`Signing::table`] has entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Signing {
    pub header_canon: Canonicalization,
    pub body_canon: Canonicalization,
    /// Field names signed (each as often as it occurs), lower case.
    pub headers: Vec<String>,
    /// Field names signed once more than they occur, lower case.
    pub oversign: Vec<String>,
    /// `x=` this long after `t=`; `None`: no `x=`.
    pub expire: Option<Duration>,
    pub allow_group_readable_keys: bool,
    /// `[[dkim_keys]]`, in file order.
    pub keys: Vec<DkimKey>,
    /// `[[signing_table]]`, in file order.
    pub table: Vec<SigningRule>,
}

/// One `[[dkim_keys]]` entry: a private key and where its public half is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub name: String,
    /// `d=`, lower case.
    pub domain: String,
    /// `s=`, lower case.
    pub selector: String,
    pub file: PathBuf,
}

/// One `[[signing_table]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningRule {
    /// The pattern as written, for log lines.
    pub from: String,
    pub pattern: FromPattern,
    /// Indexes into [`Signing::keys`], in the order written: each signs the message.
    pub keys: Vec<usize>,
}

/// A From-address glob in lower case, short forms expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromPattern(String);

impl FromPattern {
    /// Reads `text` as the table's `from` accepts it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err("is empty: write *@example.com, example.com or *".to_owned());
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{text:?} contains whitespace"));
        }
        let glob = if text == "*" || text.contains('@') {
            text
        } else if let Some(parent) = text.strip_prefix('.') {
            format!("*@*.{parent}")
        } else {
            format!("*@{text}")
        };
        let domain = match glob.split_once('@') {
            Some((_, domain)) if domain.contains('@') => {
                return Err(format!("{glob:?} has more than one @"));
            }
            Some((_, domain)) => domain,
            None => return Ok(FromPattern(glob)),
        };
        // The domain part must be a domain once its wildcards are made concrete.
        let concrete = domain.replace('*', "x");
        if !is_valid_mail_domain(&concrete) && concrete != "x" {
            return Err(format!(
                "{glob:?}: {domain:?} is not a domain (or a glob of one, such as *.example.com)"
            ));
        }
        Ok(FromPattern(glob))
    }

    /// The glob, short forms expanded (`*@example.com`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `address` (`local@domain`, any case) matches.
    pub fn matches(&self, address: &str) -> bool {
        glob_matches(self.0.as_bytes(), address.to_ascii_lowercase().as_bytes())
    }
}

/// `*`-only glob matching (OpenDKIM's `refile:`), iterative with one backtrack point, so it
/// is linear in practice and never recursive.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl Signing {
    /// Whether any mail is signed.
    pub fn enabled(&self) -> bool {
        !self.table.is_empty()
    }

    /// Signs nothing and needs no key: for final delivery (`kanmon deliver`), which runs as
    /// the recipient and has nothing left to sign.
    pub fn turn_off(&mut self) {
        self.keys.clear();
        self.table.clear();
    }

    /// The first table entry matching the From `address`, with its index.
    pub fn lookup(&self, address: &str) -> Option<(usize, &SigningRule)> {
        self.table
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.pattern.matches(address))
    }
}

pub(super) fn validate(
    errors: &mut ConfigErrors,
    raw: &RawSigning,
    raw_keys: &[RawDkimKey],
    raw_table: &[RawSigningEntry],
) -> Signing {
    let (header_canon, body_canon) = canonicalization(errors, &raw.canonicalization);
    let headers = field_names(errors, "signing.headers", &raw.headers);
    let oversign = field_names(errors, "signing.oversign", &raw.oversign);
    let expire = expire(errors, &raw.expire);
    let keys = keys(errors, raw_keys);
    let by_name: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| (key.name.as_str(), index))
        .collect();
    let mut table = Vec::new();
    for (index, entry) in raw_table.iter().enumerate() {
        let path = format!("signing_table[{index}]");
        let pattern = FromPattern::parse(&entry.from)
            .map_err(|why| errors.push(format!("{path}.from"), why))
            .ok();
        if entry.keys.is_empty() {
            errors.push(
                format!("{path}.keys"),
                "is empty: name one or more [[dkim_keys]] entries",
            );
        }
        let mut indexes = Vec::new();
        for (k, name) in entry.keys.iter().enumerate() {
            match by_name.get(name.as_str()) {
                Some(&key) if indexes.contains(&key) => errors.push(
                    format!("{path}.keys[{k}]"),
                    format!("{name:?} is listed twice"),
                ),
                Some(&key) => indexes.push(key),
                None => errors.push(
                    format!("{path}.keys[{k}]"),
                    format!("no [[dkim_keys]] entry is named {name:?}"),
                ),
            }
        }
        if let Some(pattern) = pattern {
            table.push(SigningRule {
                from: entry.from.trim().to_owned(),
                pattern,
                keys: indexes,
            });
        }
    }
    Signing {
        header_canon,
        body_canon,
        headers,
        oversign,
        expire,
        allow_group_readable_keys: raw.allow_group_readable_keys,
        keys,
        table,
    }
}

/// `header/body`, each `simple` or `relaxed` (`relaxed/relaxed`), as `[signing]` and
/// `kanmon dkim sign` take it.
pub fn parse_canonicalization(text: &str) -> Option<(Canonicalization, Canonicalization)> {
    let word = |w: &str| match w.trim() {
        "simple" => Some(Canonicalization::Simple),
        "relaxed" => Some(Canonicalization::Relaxed),
        _ => None,
    };
    let (header, body) = text.split_once('/')?;
    Some((word(header)?, word(body)?))
}

fn canonicalization(errors: &mut ConfigErrors, text: &str) -> (Canonicalization, Canonicalization) {
    parse_canonicalization(text).unwrap_or_else(|| {
        errors.push(
            "signing.canonicalization",
            format!(
                "{text:?} is not header/body, each simple or relaxed (such as \"relaxed/relaxed\")"
            ),
        );
        (Canonicalization::Relaxed, Canonicalization::Relaxed)
    })
}

fn field_names(errors: &mut ConfigErrors, key: &str, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let lower = name.trim().to_ascii_lowercase();
        // RFC 5322 §3.6.8: printable ASCII but the colon.
        if lower.is_empty() || !lower.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            errors.push(
                format!("{key}[{index}]"),
                format!("{name:?} is not a header field name"),
            );
        } else if lower == "dkim-signature" {
            errors.push(
                format!("{key}[{index}]"),
                "DKIM-Signature is signed by its own b= rule (RFC 6376 §3.7), not listed",
            );
        } else if !out.contains(&lower) {
            out.push(lower);
        }
    }
    out
}

/// A signature lifetime, a number and `s`, `m`, `h`, `d` or `w` (`30d`), from 1 s to
/// [`MAX_EXPIRE`].
pub fn parse_expire(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (at, unit) = text.char_indices().last()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let after = Duration::from_secs(text[..at].parse::<u64>().ok()?.checked_mul(scale)?);
    (!after.is_zero() && after <= MAX_EXPIRE).then_some(after)
}

fn expire(errors: &mut ConfigErrors, text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let parsed = parse_expire(text);
    if parsed.is_none() {
        errors.push(
            "signing.expire",
            format!(
                "{text:?} is not a time from 1s to 366d (a number and s, m, h, d or w, such as \"30d\"), or \"\" for no x="
            ),
        );
    }
    parsed
}

fn keys(errors: &mut ConfigErrors, raw: &[RawDkimKey]) -> Vec<DkimKey> {
    let mut keys: Vec<DkimKey> = Vec::new();
    for (index, key) in raw.iter().enumerate() {
        let path = format!("dkim_keys[{index}]");
        let name = key.name.trim();
        if name.is_empty() {
            errors.push(
                format!("{path}.name"),
                "is empty: the signing table names keys by it",
            );
        } else if let Some(first) = keys.iter().position(|k| k.name == name) {
            errors.push(
                format!("{path}.name"),
                format!("{name:?} is already dkim_keys[{first}].name"),
            );
        }
        let domain = key.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !is_valid_mail_domain(&domain) {
            errors.push(
                format!("{path}.domain"),
                format!("{:?} is not a domain name (d=)", key.domain),
            );
        }
        let selector = key.selector.trim().to_ascii_lowercase();
        // RFC 6376 §3.1: sub-domain *("." sub-domain); a label of letters, digits, hyphens.
        let selector_ok = !selector.is_empty()
            && selector.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !selector_ok {
            errors.push(
                format!("{path}.selector"),
                format!(
                    "{:?} is not a selector (labels of letters, digits and hyphens, such as 2026a)",
                    key.selector
                ),
            );
        }
        if key.file.trim().is_empty() {
            errors.push(format!("{path}.file"), "is empty: the private key's path");
        }
        keys.push(DkimKey {
            name: name.to_owned(),
            domain,
            selector,
            file: PathBuf::from(key.file.trim()),
        });
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn pattern(text: &str) -> FromPattern {
        FromPattern::parse(text).unwrap()
    }

    #[test]
    fn patterns_have_opendkim_meaning() {
        let domain = pattern("*@Example.com");
        assert!(domain.matches("joe@example.COM"));
        assert!(!domain.matches("joe@sub.example.com"));
        assert!(!domain.matches("joe@badexample.com"));
        assert_eq!(pattern("example.com"), domain);
        let user = pattern("joe@example.com");
        assert!(user.matches("Joe@Example.com") && !user.matches("ann@example.com"));
        let subdomains = pattern(".example.com");
        assert_eq!(subdomains.as_str(), "*@*.example.com");
        assert!(subdomains.matches("a@mail.example.com"));
        assert!(subdomains.matches("a@x.y.example.com"));
        assert!(!subdomains.matches("a@example.com"));
        assert!(!subdomains.matches("a@evilexample.com"));
        assert!(pattern("*").matches("anyone@anywhere.example"));
        assert!(pattern("*-bounces@*.example.org").matches("list-bounces@lists.example.org"));
        assert!(!pattern("*-bounces@*.example.org").matches("list@lists.example.org"));
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in ["", "a b@example.com", "a@b@example.com", "*@exa_mple..com"] {
            assert!(FromPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs_do_not_backtrack_without_end() {
        let text = "a".repeat(5_000);
        assert!(!glob_matches(b"*a*a*a*a*a*a*b", text.as_bytes()));
    }

    const KEYS: &str = r#"
[[dkim_keys]]
name = "rsa"
domain = "Example.com"
selector = "2026a"
file = "/etc/kanmon/keys/example.com/2026a.private"

[[dkim_keys]]
name = "ed"
domain = "example.com"
selector = "2026e"
file = "/etc/kanmon/keys/example.com/2026e.private"
"#;

    #[test]
    fn first_matching_entry_wins_and_keys_resolve() {
        let config = Config::parse(&format!(
            "{KEYS}
[signing]
canonicalization = \"simple/relaxed\"
expire = \"30d\"
oversign = [\"From\", \"subject\"]

[[signing_table]]
from = \"ceo@example.com\"
keys = [\"rsa\"]

[[signing_table]]
from = \"*@example.com\"
keys = [\"rsa\", \"ed\"]
"
        ))
        .unwrap();
        let signing = &config.signing;
        assert!(signing.enabled());
        assert_eq!(signing.header_canon, Canonicalization::Simple);
        assert_eq!(signing.body_canon, Canonicalization::Relaxed);
        assert_eq!(signing.expire, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(signing.oversign, ["from", "subject"]);
        assert_eq!(signing.keys[0].domain, "example.com");
        assert_eq!(signing.lookup("CEO@example.com").unwrap().1.keys, [0]);
        assert_eq!(signing.lookup("ann@example.com").unwrap().1.keys, [0, 1]);
        assert!(signing.lookup("ann@example.org").is_none());
    }

    #[test]
    fn mistakes_name_the_entry_and_key() {
        let errors = Config::parse(&format!(
            "{KEYS}
[[dkim_keys]]
name = \"rsa\"
domain = \"not a domain\"
selector = \"_bad\"
file = \"\"

[signing]
canonicalization = \"relaxed\"
expire = \"30 days\"
headers = [\"from\", \"Bad:Name\"]

[[signing_table]]
from = \"a@b@example.com\"
keys = []

[[signing_table]]
from = \"*\"
keys = [\"ed\", \"rsa2026\", \"ed\"]
"
        ))
        .unwrap_err()
        .to_string();
        for expected in [
            "dkim_keys[2].name: \"rsa\" is already dkim_keys[0].name",
            "dkim_keys[2].domain: \"not a domain\" is not a domain name",
            "dkim_keys[2].selector: \"_bad\" is not a selector",
            "dkim_keys[2].file: is empty",
            "signing.canonicalization: \"relaxed\" is not header/body",
            "signing.expire: \"30 days\" is not a time",
            "signing.headers[1]: \"Bad:Name\" is not a header field name",
            "signing_table[0].from: \"a@b@example.com\" has more than one @",
            "signing_table[0].keys: is empty",
            "signing_table[1].keys[1]: no [[dkim_keys]] entry is named \"rsa2026\"",
            "signing_table[1].keys[2]: \"ed\" is listed twice",
        ] {
            assert!(errors.contains(expected), "{expected}\nin:\n{errors}");
        }
    }

    #[test]
    fn default_signs_nothing() {
        let config = Config::default();
        assert!(!config.signing.enabled());
        assert_eq!(config.signing.oversign, ["from"]);
        assert_eq!(
            (config.signing.header_canon, config.signing.body_canon),
            (Canonicalization::Relaxed, Canonicalization::Relaxed)
        );
    }
}
