//! `[greylist]` validated: times as durations, bounds checked, and the whitelists in
//! postgrey's file forms (`postgrey_whitelist_clients`, `postgrey_whitelist_recipients`)
//! parsed once at load, so a reload takes a changed file all-or-nothing.
//!
//! Client entries (matched against the client's verified name and its address):
//! * `example.com` — that host name or any name below it (`mx1.example.com`);
//! * `/regex/` — a regular expression on the host name, case-insensitive;
//! * `192.0.2.7`, `2001:db8::1`, `192.0.2.0/24` — an address or network;
//! * `192.0.2` or `10.1` — postgrey's partial IPv4 address: every address it starts.
//!
//! Recipient entries (matched against the recipient address, lowercased):
//! * `postmaster@` — that local part at any domain;
//! * `user@example.com` — that address;
//! * `@example.com` — any address at exactly that domain;
//! * `example.com` — any address at that domain or a domain below it;
//! * `/regex/` — a regular expression on the whole address, case-insensitive.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};

use super::error::ConfigErrors;
use super::network::parse_network;
use super::raw::RawGreylist;
use super::regexp_table::Pattern;
use crate::check::Mode;

/// `greylist.delay_s` from 1 s to one day: 0 would let every retry through at once (no
/// greylisting at all), and a sender retrying on Postfix's default schedule
/// (`minimal_backoff_time` 300 s, doubling to `maximal_backoff_time` 4000 s) reaches any
/// delay under a day many times before giving up after five days.
pub(super) const DELAY_S: std::ops::RangeInclusive<u64> = 1..=86_400;

/// `greylist.ipv4_prefix` from 8 to 32 and `ipv6_prefix` from 16 to 128: a shorter
/// prefix would put unrelated networks (whole providers) into one triplet.
pub(super) const IPV4_PREFIX: std::ops::RangeInclusive<u8> = 8..=32;
pub(super) const IPV6_PREFIX: std::ops::RangeInclusive<u8> = 16..=128;

/// Which clients are greylisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GreylistOnly {
    /// Every client not whitelisted, as postgrey does.
    #[default]
    All,
    /// Only clients S25R suspects (S25R_GENERIC, S25R_UNKNOWN_CLIENT) or whose score before
    /// DATA reaches `min_score`: selective greylisting ("rgrey"), which spares the big
    /// senders whose retries come from another address of a large pool.
    Suspicious,
}

/// Greylisting's settings, ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Greylist {
    pub mode: Mode,
    /// A retry is accepted once this long has passed since the first attempt.
    pub delay: Duration,
    /// … and only within this long after the first attempt; later, it starts over.
    pub retry_window: Duration,
    /// A triplet that passed, and a client network's pass count, are remembered this long
    /// after they were last seen.
    pub max_age: Duration,
    /// Client networks that passed this many times are no longer greylisted; 0: never.
    pub auto_whitelist_after: u64,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    pub only: GreylistOnly,
    /// The score before DATA at which `only = "suspicious"` greylists a client.
    pub min_score: f64,
    /// `whitelist_clients`, then the entries of `whitelist_clients_file`.
    pub whitelist_clients: Vec<ClientEntry>,
    /// `whitelist_recipients`, then the entries of `whitelist_recipients_file`.
    pub whitelist_recipients: Vec<RecipientEntry>,
}

/// A client whitelist entry and where it was written (`greylist.whitelist_clients[0]`,
/// `/etc/kanmon/postgrey_whitelist_clients line 12`), for the hit's evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEntry {
    pub matcher: ClientMatch,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientMatch {
    /// The host name is this domain or below it (lowercase, no trailing dot).
    Domain(String),
    Regex(Pattern),
    Network(IpNet),
}

impl ClientEntry {
    /// Whether the client (its verified name when it has one, its address) matches.
    pub fn matches(&self, name: Option<&str>, ip: Option<IpAddr>) -> bool {
        match &self.matcher {
            ClientMatch::Domain(domain) => name.is_some_and(|n| within(n, domain)),
            ClientMatch::Regex(pattern) => name.is_some_and(|n| pattern.is_match(n)),
            ClientMatch::Network(net) => ip.is_some_and(|ip| net.contains(&ip)),
        }
    }
}

/// A recipient whitelist entry and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientEntry {
    pub matcher: RecipientMatch,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecipientMatch {
    /// `user@`: this local part, any domain.
    LocalPart(String),
    /// `user@example.com`.
    Address(String),
    /// `@example.com`: exactly this domain.
    ExactDomain(String),
    /// `example.com`: this domain or one below it.
    Domain(String),
    Regex(Pattern),
}

impl RecipientEntry {
    /// Whether `recipient` (lowercased) matches.
    pub fn matches(&self, recipient: &str) -> bool {
        let (local, domain) = recipient.rsplit_once('@').unwrap_or((recipient, ""));
        match &self.matcher {
            RecipientMatch::LocalPart(want) => local == want,
            RecipientMatch::Address(want) => recipient == want,
            RecipientMatch::ExactDomain(want) => domain == want,
            RecipientMatch::Domain(want) => within(domain, want),
            RecipientMatch::Regex(pattern) => pattern.is_match(recipient),
        }
    }
}

/// `name` is `domain` or a name below it, ignoring case and a trailing dot.
fn within(name: &str, domain: &str) -> bool {
    // Bytes, not characters: a name from the network need not be ASCII.
    let (name, domain) = (name.trim_end_matches('.').as_bytes(), domain.as_bytes());
    let Some(start) = name.len().checked_sub(domain.len()) else {
        return false;
    };
    name[start..].eq_ignore_ascii_case(domain) && (start == 0 || name[start - 1] == b'.')
}

pub(super) fn validate(errors: &mut ConfigErrors, raw: &RawGreylist) -> Greylist {
    if !DELAY_S.contains(&raw.delay_s) {
        errors.push(
            "greylist.delay_s",
            format!(
                "must be from {} to {} seconds, not {}",
                DELAY_S.start(),
                DELAY_S.end(),
                raw.delay_s
            ),
        );
    }
    if raw.retry_window_s <= raw.delay_s {
        errors.push(
            "greylist.retry_window_s",
            format!(
                "must be longer than greylist.delay_s ({} s), not {} s: no retry could ever pass",
                raw.delay_s, raw.retry_window_s
            ),
        );
    }
    if raw.max_age_s < raw.retry_window_s {
        errors.push(
            "greylist.max_age_s",
            format!(
                "must be at least greylist.retry_window_s ({} s), not {} s",
                raw.retry_window_s, raw.max_age_s
            ),
        );
    }
    for (path, value, range) in [
        ("greylist.ipv4_prefix", raw.ipv4_prefix, IPV4_PREFIX),
        ("greylist.ipv6_prefix", raw.ipv6_prefix, IPV6_PREFIX),
    ] {
        if !range.contains(&value) {
            errors.push(
                path,
                format!(
                    "must be from {} to {}, not {value}",
                    range.start(),
                    range.end()
                ),
            );
        }
    }
    if !raw.min_score.is_finite() {
        errors.push("greylist.min_score", "must be a finite number");
    }
    let mut whitelist_clients = entries(
        errors,
        "greylist.whitelist_clients",
        &raw.whitelist_clients,
        client_entry,
    );
    whitelist_clients.extend(file_entries(
        errors,
        "greylist.whitelist_clients_file",
        &raw.whitelist_clients_file,
        client_entry,
    ));
    let mut whitelist_recipients = entries(
        errors,
        "greylist.whitelist_recipients",
        &raw.whitelist_recipients,
        recipient_entry,
    );
    whitelist_recipients.extend(file_entries(
        errors,
        "greylist.whitelist_recipients_file",
        &raw.whitelist_recipients_file,
        recipient_entry,
    ));
    Greylist {
        mode: raw.mode,
        delay: Duration::from_secs(raw.delay_s),
        retry_window: Duration::from_secs(raw.retry_window_s),
        max_age: Duration::from_secs(raw.max_age_s),
        auto_whitelist_after: raw.auto_whitelist_after,
        ipv4_prefix: raw.ipv4_prefix,
        ipv6_prefix: raw.ipv6_prefix,
        only: raw.only,
        min_score: raw.min_score,
        whitelist_clients,
        whitelist_recipients,
    }
}

/// Something a whitelist entry can be built from, with where it was written.
trait Entry: Sized {
    type Matcher;
    fn new(matcher: Self::Matcher, source: String) -> Self;
}

impl Entry for ClientEntry {
    type Matcher = ClientMatch;
    fn new(matcher: ClientMatch, source: String) -> Self {
        ClientEntry { matcher, source }
    }
}

impl Entry for RecipientEntry {
    type Matcher = RecipientMatch;
    fn new(matcher: RecipientMatch, source: String) -> Self {
        RecipientEntry { matcher, source }
    }
}

fn entries<E: Entry>(
    errors: &mut ConfigErrors,
    path: &str,
    texts: &[String],
    parse: fn(&str) -> Result<E::Matcher, String>,
) -> Vec<E> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let source = format!("{path}[{i}]");
            match parse(text.trim()) {
                Ok(matcher) => Some(E::new(matcher, source)),
                Err(e) => {
                    errors.push(source, e);
                    None
                }
            }
        })
        .collect()
}

/// The entries of a postgrey whitelist file: one per line, `#` starts a comment, blank
/// lines skipped. Every bad line is reported with its number.
fn file_entries<E: Entry>(
    errors: &mut ConfigErrors,
    path: &str,
    file: &str,
    parse: fn(&str) -> Result<E::Matcher, String>,
) -> Vec<E> {
    if file.is_empty() {
        return Vec::new();
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            errors.push(path, format!("cannot read {file}: {e}"));
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        match parse(entry) {
            Ok(matcher) => found.push(E::new(matcher, format!("{file} line {}", index + 1))),
            Err(e) => errors.push(path, format!("{file} line {}: {e}", index + 1)),
        }
    }
    found
}

/// `/regex/` → its pattern; anything else → `None`.
fn regex(text: &str) -> Option<Result<Pattern, String>> {
    let inner = text.strip_prefix('/')?.strip_suffix('/')?;
    Some(Pattern::new(inner))
}

fn client_entry(text: &str) -> Result<ClientMatch, String> {
    if let Some(pattern) = regex(text) {
        return pattern.map(ClientMatch::Regex);
    }
    let looks_like_address = text.contains(':')
        || text
            .split('/')
            .next()
            .is_some_and(|a| a.parse::<IpAddr>().is_ok());
    if looks_like_address {
        return parse_network(text).map(ClientMatch::Network);
    }
    if let Some(net) = partial_ipv4(text) {
        return Ok(ClientMatch::Network(net));
    }
    domain(text).map(ClientMatch::Domain)
}

/// postgrey's `64.12.137`: one to three leading octets, standing for every address they
/// start.
fn partial_ipv4(text: &str) -> Option<IpNet> {
    let octets: Vec<u8> = text
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    if octets.is_empty() || octets.len() > 3 {
        return None;
    }
    let mut full = [0u8; 4];
    full[..octets.len()].copy_from_slice(&octets);
    let prefix = 8 * octets.len() as u8;
    Ipv4Net::new(Ipv4Addr::from(full), prefix)
        .ok()
        .map(IpNet::V4)
}

fn domain(text: &str) -> Result<String, String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "{text:?} is not a domain name, an address, a network or a /regex/"
        ))
    }
}

fn recipient_entry(text: &str) -> Result<RecipientMatch, String> {
    if let Some(pattern) = regex(text) {
        return pattern.map(RecipientMatch::Regex);
    }
    let text = text.to_ascii_lowercase();
    match text.rsplit_once('@') {
        None => domain(&text).map(RecipientMatch::Domain),
        Some(("", at)) => domain(at).map(RecipientMatch::ExactDomain),
        Some((local, "")) => Ok(RecipientMatch::LocalPart(local.to_owned())),
        Some((_, at)) => domain(at).map(|_| RecipientMatch::Address(text.clone())),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::Config;
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    /// Lines in the forms postgrey's own `postgrey_whitelist_clients` uses.
    #[test]
    fn client_file_in_postgrey_form() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "# postgrey whitelist for mail-server hostnames\n\
             \n\
             aol.com\n\
             /^mail\\d+\\.example\\.net$/   # a comment after an entry\n\
             12.5.136.141\n\
             64.12.137\n\
             198.51.100.0/24\n\
             2001:db8::/32\n"
        )
        .unwrap();
        let path = file.path().display().to_string();
        let config = Config::parse(&format!(
            "[greylist]\nwhitelist_clients = [\"Example.ORG.\"]\nwhitelist_clients_file = {path:?}\n"
        ))
        .unwrap();
        let list = &config.greylist.whitelist_clients;
        let sources: Vec<&str> = list.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(sources[0], "greylist.whitelist_clients[0]");
        assert_eq!(sources[1], format!("{path} line 3"));
        assert_eq!(list.len(), 7);
        let hit = |i: usize, name: Option<&str>, addr: &str| list[i].matches(name, ip(addr));
        assert!(hit(0, Some("mx.example.org"), "192.0.2.1"));
        assert!(hit(0, Some("example.org"), "192.0.2.1"));
        assert!(!hit(0, Some("badexample.org"), "192.0.2.1"));
        assert!(hit(1, Some("imo-m01.mx.AOL.com"), "192.0.2.1"));
        assert!(hit(2, Some("MAIL12.example.net"), "192.0.2.1"));
        assert!(!hit(2, Some("mail12.example.net.evil.test"), "192.0.2.1"));
        assert!(hit(3, None, "12.5.136.141"));
        assert!(!hit(3, None, "12.5.136.142"));
        assert!(hit(4, None, "64.12.137.9"));
        assert!(!hit(4, None, "64.12.138.9"));
        assert!(hit(5, None, "198.51.100.200"));
        assert!(hit(6, None, "2001:db8:1::5"));
    }

    /// Lines in the forms of postgrey's `postgrey_whitelist_recipients`.
    #[test]
    fn recipient_file_in_postgrey_form() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "# postgrey whitelist for mail recipients\n\
             postmaster@\n\
             abuse@example.org\n\
             @lists.example.org\n\
             example.net\n\
             /^noc[0-9]*@/\n"
        )
        .unwrap();
        let path = file.path().display().to_string();
        let config = Config::parse(&format!(
            "[greylist]\nwhitelist_recipients_file = {path:?}\n"
        ))
        .unwrap();
        let list = &config.greylist.whitelist_recipients;
        let first = |rcpt: &str| {
            list.iter()
                .find(|e| e.matches(rcpt))
                .map(|e| e.source.clone())
        };
        let line = |n: usize| Some(format!("{path} line {n}"));
        assert_eq!(first("postmaster@anything.test"), line(2));
        assert_eq!(first("abuse@example.org"), line(3));
        assert_eq!(first("abuse@example.com"), None);
        assert_eq!(first("dev@lists.example.org"), line(4));
        assert_eq!(first("dev@sub.lists.example.org"), None);
        assert_eq!(first("bob@example.net"), line(5));
        assert_eq!(first("bob@mx.example.net"), line(5));
        assert_eq!(first("bob@notexample.net"), None);
        assert_eq!(first("noc7@example.com"), line(6));
    }

    #[test]
    fn bad_entries_and_values_name_their_key() {
        let errors = Config::parse(
            "[greylist]\ndelay_s = 0\nretry_window_s = 0\nipv4_prefix = 4\nipv6_prefix = 200\n\
             whitelist_clients = [\"not a name\", \"/(/\", \"10.1.2.3/8\"]\n\
             whitelist_recipients = [\"@\"]\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "greylist.delay_s: must be from 1 to 86400 seconds, not 0",
            "greylist.retry_window_s: must be longer than greylist.delay_s",
            "greylist.ipv4_prefix: must be from 8 to 32, not 4",
            "greylist.ipv6_prefix: must be from 16 to 128, not 200",
            "greylist.whitelist_clients[0]: \"not a name\" is not a domain name",
            "greylist.whitelist_clients[1]: bad regular expression",
            "greylist.whitelist_clients[2]: \"10.1.2.3/8\" has bits set",
            "greylist.whitelist_recipients[0]:",
        ] {
            assert!(errors.contains(expected), "{expected}\n{errors}");
        }
        let errors = Config::parse("[greylist]\nwhitelist_clients_file = \"/nonexistent/wl\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("greylist.whitelist_clients_file: cannot read /nonexistent/wl"),
            "{errors}"
        );
    }
}
