//! `[s25r]` validated: extra rules compiled, whitelist entries parsed, the whitelist file
//! read once at load (so a reload takes a changed file all-or-nothing, like the rest).

use std::net::IpAddr;

use ipnet::IpNet;

use super::error::ConfigErrors;
use super::network::parse_network;
use super::raw::RawS25r;
use super::regexp_table::{Pattern, parse_ok_table};
use crate::check::Mode;

/// S25R's settings, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct S25r {
    pub mode: Mode,
    /// `extra_rules`, in order.
    pub extra_rules: Vec<Pattern>,
    /// `whitelist`, then the lines of `whitelist_file`.
    pub whitelist: Vec<WhitelistEntry>,
    pub ipv4_only: bool,
}

/// One way a client escapes S25R, and where it was written (for the skip note).
#[derive(Debug, Clone, PartialEq)]
pub struct WhitelistEntry {
    pub matcher: WhitelistMatch,
    /// `s25r.whitelist[2]` or `/etc/postfix/white-list.txt line 14`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WhitelistMatch {
    /// The client address is in this network.
    Network(IpNet),
    /// The client name, or the client address as text, matches: what Postfix's
    /// `check_client_access regexp:` looks up (postconf(5)).
    Regex(Pattern),
}

impl WhitelistEntry {
    /// Whether the client (its verified name when it has one, its address when known)
    /// matches this entry.
    pub fn matches(&self, name: Option<&str>, ip: Option<IpAddr>) -> bool {
        match &self.matcher {
            WhitelistMatch::Network(net) => ip.is_some_and(|ip| net.contains(&ip)),
            WhitelistMatch::Regex(pattern) => {
                name.is_some_and(|n| pattern.is_match(n))
                    || ip.is_some_and(|ip| pattern.is_match(&ip.to_string()))
            }
        }
    }
}

pub(super) fn validate(errors: &mut ConfigErrors, raw: &RawS25r) -> S25r {
    let extra_rules = raw
        .extra_rules
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            Pattern::new(text)
                .map_err(|e| errors.push(format!("s25r.extra_rules[{i}]"), e))
                .ok()
        })
        .collect();
    let mut whitelist: Vec<WhitelistEntry> = raw
        .whitelist
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let source = format!("s25r.whitelist[{i}]");
            match whitelist_entry(text) {
                Ok(matcher) => Some(WhitelistEntry { matcher, source }),
                Err(e) => {
                    errors.push(source, e);
                    None
                }
            }
        })
        .collect();
    if !raw.whitelist_file.is_empty() {
        let path = &raw.whitelist_file;
        match std::fs::read_to_string(path) {
            Ok(text) => match parse_ok_table(&text) {
                Ok(entries) => whitelist.extend(entries.into_iter().map(|e| WhitelistEntry {
                    matcher: WhitelistMatch::Regex(e.pattern),
                    source: format!("{path} line {}", e.line),
                })),
                Err((line, e)) => {
                    errors.push("s25r.whitelist_file", format!("{path} line {line}: {e}"))
                }
            },
            Err(e) => errors.push("s25r.whitelist_file", format!("cannot read {path}: {e}")),
        }
    }
    S25r {
        mode: raw.mode,
        extra_rules,
        whitelist,
        ipv4_only: raw.ipv4_only,
    }
}

/// An entry that reads as an address or network is one (and a malformed network is an
/// error, not a regular expression that happens to compile); anything else is a regular
/// expression.
fn whitelist_entry(text: &str) -> Result<WhitelistMatch, String> {
    let looks_like_address = text.parse::<IpNet>().is_ok()
        || text.parse::<IpAddr>().is_ok()
        || text
            .split_once('/')
            .is_some_and(|(a, _)| a.parse::<IpAddr>().is_ok());
    if looks_like_address {
        parse_network(text).map(WhitelistMatch::Network)
    } else {
        Pattern::new(text).map(WhitelistMatch::Regex)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::Config;
    use super::*;

    #[test]
    fn whitelist_entries_are_networks_or_regexps() {
        let config = Config::parse(
            "[s25r]\nwhitelist = [\"192.0.2.0/24\", \"2001:db8::1\", \"^mail\\\\.example\\\\.com$\", \"^198\\\\.51\\\\.100\\\\.\"]\n",
        )
        .unwrap();
        let list = &config.s25r.whitelist;
        let v4 = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert!(list[0].matches(None, v4("192.0.2.200")));
        assert!(!list[0].matches(Some("192.0.2.200"), v4("198.51.100.1")));
        assert!(list[1].matches(None, v4("2001:db8::1")));
        assert!(list[2].matches(Some("MAIL.example.com"), None));
        assert!(!list[2].matches(Some("mail.example.com.evil.test"), None));
        // A regexp sees the address as text, as Postfix's regexp tables do.
        assert!(list[3].matches(Some("p1.dyn.example.net"), v4("198.51.100.9")));
        assert_eq!(list[3].source, "s25r.whitelist[3]");
    }

    #[test]
    fn bad_entries_name_their_key() {
        let errors = Config::parse(
            "[s25r]\nextra_rules = [\"ok\", \"(\"]\nwhitelist = [\"10.1.2.3/8\", \"[\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("s25r.extra_rules[1]: bad regular expression"),
            "{errors}"
        );
        assert!(
            errors.contains("s25r.whitelist[0]: \"10.1.2.3/8\" has bits set"),
            "{errors}"
        );
        assert!(
            errors.contains("s25r.whitelist[1]: bad regular expression"),
            "{errors}"
        );
    }

    #[test]
    fn whitelist_file_is_read_and_its_errors_name_file_and_line() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "# S25R white list\n/\\.example\\.jp$/ OK\n/^203\\.0\\.113\\.7$/ OK"
        )
        .unwrap();
        let path = file.path().display().to_string();
        let config = Config::parse(&format!(
            "[s25r]\nwhitelist = [\"192.0.2.1\"]\nwhitelist_file = {path:?}\n"
        ))
        .unwrap();
        let sources: Vec<&str> = config
            .s25r
            .whitelist
            .iter()
            .map(|e| e.source.as_str())
            .collect();
        assert_eq!(
            sources,
            [
                "s25r.whitelist[0]".to_owned(),
                format!("{path} line 2"),
                format!("{path} line 3")
            ]
        );

        writeln!(file, "/^(broken$/ OK").unwrap();
        let errors = Config::parse(&format!("[s25r]\nwhitelist_file = {path:?}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains(&format!(
                "line 2: s25r.whitelist_file: {path} line 4: bad regular expression"
            )),
            "{errors}"
        );

        let errors = Config::parse("[s25r]\nwhitelist_file = \"/nonexistent/white-list.txt\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("s25r.whitelist_file: cannot read /nonexistent/white-list.txt"),
            "{errors}"
        );
    }
}
