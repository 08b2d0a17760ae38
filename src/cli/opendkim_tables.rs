//! OpenDKIM's KeyTable, SigningTable and host lists, read and turned into kanmon's
//! `internal_hosts`, `[[dkim_keys]]` and `[[signing_table]]` (opendkim.conf(5)).
//!
//! * KeyTable: `NAME DOMAIN:SELECTOR:KEY` per line. A DOMAIN of `%` means "the sender's
//!   domain": kanmon's keys have a fixed `d=`, so such a key becomes one `[[dkim_keys]]` entry
//!   per domain the SigningTable names for it. KEY is a file when it starts with `/` (a
//!   relative `./` path depends on opendkim's working directory); anything else is the key
//!   itself, which kanmon does not take inline.
//! * SigningTable: `PATTERN NAME` per line, first match wins. As a `refile:` dataset the
//!   patterns are globs (`*@example.com`, `*@*`); as a plain `file:` they are looked up
//!   literally (`user@example.com`, `example.com`), so a `*` there never matched anything.
//!   Lines with the same pattern (OpenDKIM's MultipleSignatures) become one entry with
//!   several keys.
//! * TrustedHosts / InternalHosts: addresses, CIDR blocks (also `addr/netmask`) and host
//!   names, `!` for exceptions. kanmon's `internal_hosts` holds networks only, so names and
//!   exceptions are reported, not converted.
//!
//! Whatever cannot be carried over becomes a `# not carried over: WHAT because WHY` line in
//! the output, never a silent drop.

use std::fmt::Write as _;
use std::net::IpAddr;

/// How a SigningTable was given to OpenDKIM, which decides how its patterns match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    /// `refile:`: patterns are globs.
    Refile,
    /// `file:` (or a bare path): patterns are looked up literally.
    Plain,
}

/// One input file's text and the name it is reported under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// Shown in comments: the dataset as given (`refile:/etc/opendkim/SigningTable`).
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
}

/// What was read, converted.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub(crate) internal_hosts: Vec<String>,
    /// Whether any host list was given: without one kanmon's default stays.
    pub(crate) hosts_given: bool,
    pub(crate) keys: Vec<Key>,
    pub(crate) entries: Vec<Entry>,
    /// `# not carried over: ...` lines, by section.
    pub(crate) hosts_skipped: Vec<String>,
    pub(crate) keys_skipped: Vec<String>,
    pub(crate) entries_skipped: Vec<String>,
    /// Conversions that may not mean the same: `# note: ...` lines.
    pub(crate) notes: Vec<String>,
}

/// A `[[dkim_keys]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) file: String,
    /// The KeyTable entry it comes from.
    pub(crate) origin: String,
}

/// A `[[signing_table]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) from: String,
    pub(crate) keys: Vec<String>,
}

/// A KeyTable line as read.
#[derive(Debug, Clone)]
struct KeyTableEntry {
    name: String,
    domain: String,
    selector: String,
    /// The file, when KEY is an absolute path.
    file: Result<String, String>,
    line: usize,
    used: bool,
}

/// The lines of a table that carry data: (1-based number, text without comment).
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or_default().trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// Converts the tables. `hosts` are the TrustedHosts / InternalHosts files given.
pub(crate) fn convert(
    key_table: Source<'_>,
    signing_table: Source<'_>,
    kind: TableKind,
    hosts: &[Source<'_>],
) -> Converted {
    let mut out = Converted {
        hosts_given: !hosts.is_empty(),
        ..Converted::default()
    };
    for source in hosts {
        convert_hosts(source, &mut out);
    }
    let mut table = read_key_table(key_table, &mut out.keys_skipped);
    for (line, text) in data_lines(signing_table.text) {
        let mut words = text.split_whitespace();
        let (Some(pattern), names) = (words.next(), words.collect::<Vec<_>>()) else {
            continue;
        };
        let spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let at = format!("{} line {line} \"{spaced}\"", signing_table.name);
        let names: Vec<&str> = names.iter().flat_map(|n| n.split(',')).collect();
        if names.is_empty() {
            out.entries_skipped
                .push(format!("{at} because it names no KeyTable entry"));
            continue;
        }
        let from = match convert_pattern(pattern, kind) {
            Ok(from) => from,
            Err(why) => {
                out.entries_skipped.push(format!("{at} because {why}"));
                continue;
            }
        };
        let mut keys = Vec::new();
        for name in names {
            match resolve_key(&mut table, name, &from, key_table.name, &mut out.keys) {
                Ok(key) => keys.push(key),
                Err(why) => out.entries_skipped.push(format!("{at} because {why}")),
            }
        }
        if keys.is_empty() {
            continue;
        }
        match out.entries.iter_mut().find(|entry| entry.from == from) {
            Some(entry) => {
                for key in keys {
                    if !entry.keys.contains(&key) {
                        out.notes.push(format!(
                            "{at} adds {key} to the entry for {from}: OpenDKIM signed with both only with MultipleSignatures yes; drop it if that was off"
                        ));
                        entry.keys.push(key);
                    }
                }
            }
            None => out.entries.push(Entry { from, keys }),
        }
    }
    for entry in table.iter().filter(|entry| !entry.used) {
        out.keys_skipped.push(format!(
            "{} line {} \"{}\" because no SigningTable entry uses it",
            key_table.name, entry.line, entry.name
        ));
    }
    out
}

fn read_key_table(source: Source<'_>, skipped: &mut Vec<String>) -> Vec<KeyTableEntry> {
    let mut table = Vec::new();
    for (line, text) in data_lines(source.text) {
        let at = format!("{} line {line}", source.name);
        let Some((name, value)) = text.split_once(char::is_whitespace) else {
            skipped.push(format!(
                "{at} \"{text}\" because it has no DOMAIN:SELECTOR:KEY"
            ));
            continue;
        };
        let mut parts = value.trim().splitn(3, ':');
        let (Some(domain), Some(selector), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            skipped.push(format!(
                "{at} \"{name}\" because \"{}\" is not DOMAIN:SELECTOR:KEY",
                value.trim()
            ));
            continue;
        };
        let file = if key.starts_with('/') {
            Ok(key.to_owned())
        } else if key.starts_with("./") || key.starts_with("../") {
            Err(format!(
                "its key file {key} is relative to opendkim's working directory; give kanmon the absolute path"
            ))
        } else {
            Err("its key is written inline and kanmon reads keys from files; put it in a file (mode 0600)".to_owned())
        };
        table.push(KeyTableEntry {
            name: name.to_owned(),
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_owned(),
            file,
            line,
            used: false,
        });
    }
    table
}

/// The kanmon key for KeyTable entry `name` used by pattern `from`: added to `keys` on first
/// use (per domain, for a `%` key).
fn resolve_key(
    table: &mut [KeyTableEntry],
    name: &str,
    from: &str,
    key_table: &str,
    keys: &mut Vec<Key>,
) -> Result<String, String> {
    let entry = table
        .iter_mut()
        .find(|entry| entry.name == name)
        .ok_or_else(|| format!("{key_table} has no entry named {name}"))?;
    entry.used = true;
    let file = entry
        .file
        .clone()
        .map_err(|why| format!("KeyTable entry {name}: {why}"))?;
    let domain = if entry.domain == "%" {
        pattern_domain(from).ok_or_else(|| {
            format!(
                "KeyTable entry {name} signs as the sender's domain (%), and the pattern covers more than one domain while a kanmon key has one d=; list the domains one by one"
            )
        })?
    } else {
        entry.domain.clone()
    };
    let origin = if entry.domain == "%" {
        format!("{key_table} line {} ({name}, % = {domain})", entry.line)
    } else {
        format!("{key_table} line {} ({name})", entry.line)
    };
    if let Some(existing) = keys
        .iter()
        .find(|key| key.domain == domain && key.selector == entry.selector && key.file == file)
    {
        return Ok(existing.name.clone());
    }
    let base = format!("{domain}-{}", entry.selector);
    let mut key_name = base.clone();
    let mut n = 2;
    while keys.iter().any(|key| key.name == key_name) {
        key_name = format!("{base}-{n}");
        n += 1;
    }
    keys.push(Key {
        name: key_name.clone(),
        domain,
        selector: entry.selector.clone(),
        file,
        origin,
    });
    Ok(key_name)
}

/// The one domain a kanmon pattern covers, if it covers exactly one.
fn pattern_domain(from: &str) -> Option<String> {
    let domain = from.rsplit_once('@').map_or(from, |(_, domain)| domain);
    (!domain.is_empty() && !domain.contains('*') && !domain.starts_with('.'))
        .then(|| domain.to_owned())
}

/// A SigningTable pattern as a kanmon `from` pattern, or why it has none.
fn convert_pattern(pattern: &str, kind: TableKind) -> Result<String, String> {
    let pattern = pattern.to_ascii_lowercase();
    if !pattern.contains('*') {
        return Ok(pattern);
    }
    if kind == TableKind::Plain {
        return Err(
            "a plain (file:) SigningTable matches \"*\" literally, so OpenDKIM never used this line; read it as refile: if a wildcard was meant".to_owned(),
        );
    }
    if pattern == "*" || pattern == "*@*" {
        return Ok("*".to_owned());
    }
    let (local, domain) = match pattern.rsplit_once('@') {
        Some((local, domain)) => (Some(local), domain),
        None => (None, pattern.as_str()),
    };
    let domain_is_plain = |d: &str| !d.is_empty() && !d.contains('*');
    let converted = match (local, domain.strip_prefix("*.")) {
        // *@example.com
        (Some("*"), None) if domain_is_plain(domain) => Some(format!("*@{domain}")),
        // *@*.example.com, and *.example.com matched against the domain alone
        (Some("*") | None, Some(parent)) if domain_is_plain(parent) => {
            Some(format!("*@*.{parent}"))
        }
        _ => None,
    };
    converted.ok_or_else(|| {
        format!(
            "kanmon's signing_table takes user@domain, *@domain, *@*.domain, domain, .domain and *, not the glob {pattern}"
        )
    })
}

/// Reads one host list into `out`.
fn convert_hosts(source: &Source<'_>, out: &mut Converted) {
    for (line, text) in data_lines(source.text) {
        for host in text.split([',', ' ', '\t']).filter(|h| !h.is_empty()) {
            let at = format!("{} line {line} \"{host}\"", source.name);
            match convert_host(host) {
                Ok(network) => {
                    if !out.internal_hosts.contains(&network) {
                        out.internal_hosts.push(network);
                    }
                }
                Err(why) => out.hosts_skipped.push(format!("{at} because {why}")),
            }
        }
    }
}

/// An address or network in the form `internal_hosts` takes, or why it cannot be one.
fn convert_host(host: &str) -> Result<String, String> {
    if host.starts_with('!') {
        return Err(
            "kanmon's internal_hosts has no exceptions: a network listed above that holds this host makes it internal (its mail signed, not verified); split that network around it"
                .to_owned(),
        );
    }
    let (address, prefix) = match host.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (host, None),
    };
    let address = address.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = address.parse::<IpAddr>() else {
        let why = if host.eq_ignore_ascii_case("localhost") {
            "kanmon matches client addresses, not host names; localhost is 127.0.0.1 and ::1"
        } else {
            "kanmon matches client addresses, not host names; list this host's addresses (or its network) instead"
        };
        return Err(why.to_owned());
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let Some(prefix) = prefix else {
        return Ok(ip.to_string());
    };
    let bits = match prefix.parse::<u8>() {
        Ok(bits) if bits <= max => bits,
        Ok(_) => return Err(format!("/{prefix} is longer than the address")),
        Err(_) => netmask_bits(prefix, ip)
            .ok_or_else(|| format!("{prefix} is neither a prefix length nor a netmask"))?,
    };
    let mut network = String::new();
    let _ = write!(network, "{ip}/{bits}");
    Ok(network)
}

/// The prefix length of a contiguous IPv4 netmask (`255.255.255.0` → 24).
fn netmask_bits(mask: &str, ip: IpAddr) -> Option<u8> {
    let (IpAddr::V4(_), Ok(IpAddr::V4(mask))) = (ip, mask.parse::<IpAddr>()) else {
        return None;
    };
    let mask = u32::from(mask);
    let bits = mask.leading_ones();
    (mask.checked_shl(bits).unwrap_or(0) == 0).then_some(bits as u8)
}

/// The TOML to paste, with a header naming the sources.
pub(crate) fn render(converted: &Converted, sources: &[String]) -> String {
    let mut out = String::from("# Converted from OpenDKIM by `kanmon import opendkim`:\n");
    for source in sources {
        let _ = writeln!(out, "#   {source}");
    }
    if converted.hosts_given {
        out.push_str(
            "\n# Clients whose mail is signed rather than verified (OpenDKIM InternalHosts).\n\
             # A top-level key: it goes above the first [table] of kanmon.toml, and replaces\n\
             # the default [\"127.0.0.0/8\", \"::1\"].\n",
        );
        out.push_str("internal_hosts = [");
        if !converted.internal_hosts.is_empty() {
            out.push('\n');
            for host in &converted.internal_hosts {
                let _ = writeln!(out, "    \"{host}\",");
            }
        }
        out.push_str("]\n");
        skipped_lines(&mut out, &converted.hosts_skipped);
    }
    if !converted.keys.is_empty() {
        out.push_str(
            "\n# kanmon signs only with RSA keys of 2048 bits or more and with Ed25519 keys; check\n\
             # each key below with `kanmon dkim testkey` (it names a 1024-bit key as one to replace).\n",
        );
    }
    for key in &converted.keys {
        let _ = write!(
            out,
            "\n# {}\n[[dkim_keys]]\nname = {}\ndomain = {}\nselector = {}\nfile = {}\n",
            comment_text(&key.origin),
            quoted(&key.name),
            quoted(&key.domain),
            quoted(&key.selector),
            quoted(&key.file),
        );
    }
    if !converted.keys_skipped.is_empty() {
        out.push('\n');
        skipped_lines(&mut out, &converted.keys_skipped);
    }
    for entry in &converted.entries {
        let keys: Vec<String> = entry.keys.iter().map(|k| quoted(k)).collect();
        let _ = write!(
            out,
            "\n[[signing_table]]\nfrom = {}\nkeys = [{}]\n",
            quoted(&entry.from),
            keys.join(", ")
        );
    }
    if !converted.entries_skipped.is_empty() || !converted.notes.is_empty() {
        out.push('\n');
        skipped_lines(&mut out, &converted.entries_skipped);
        for note in &converted.notes {
            let _ = writeln!(out, "# note: {}", comment_text(note));
        }
    }
    out
}

fn skipped_lines(out: &mut String, skipped: &[String]) {
    for line in skipped {
        let _ = writeln!(out, "# not carried over: {}", comment_text(line));
    }
}

/// Text safe inside a `#` comment: one line, no control characters.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    crate::cli::dkim::toml_string(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refile_patterns_map_to_kanmon_patterns() {
        let refile = |p| convert_pattern(p, TableKind::Refile);
        assert_eq!(refile("*@Example.com").unwrap(), "*@example.com");
        assert_eq!(refile("*@*").unwrap(), "*");
        assert_eq!(refile("*").unwrap(), "*");
        assert_eq!(refile("*@*.example.com").unwrap(), "*@*.example.com");
        assert_eq!(refile("*.example.com").unwrap(), "*@*.example.com");
        assert_eq!(refile("info@example.com").unwrap(), "info@example.com");
        assert_eq!(refile("example.com").unwrap(), "example.com");
        assert!(refile("*@example.*").is_err());
        assert!(refile("news*@example.com").is_err());
        assert!(convert_pattern("*@example.com", TableKind::Plain).is_err());
        assert_eq!(
            convert_pattern("user@example.com", TableKind::Plain).unwrap(),
            "user@example.com"
        );
    }

    #[test]
    fn hosts_become_networks_and_names_are_reported() {
        assert_eq!(convert_host("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(convert_host("192.168.1.0/24").unwrap(), "192.168.1.0/24");
        assert_eq!(convert_host("10.0.0.0/255.255.0.0").unwrap(), "10.0.0.0/16");
        assert_eq!(convert_host("[2001:db8::]/32").unwrap(), "2001:db8::/32");
        assert!(convert_host("10.0.0.0/255.0.255.0").is_err());
        assert!(convert_host("10.0.0.0/33").is_err());
        assert!(
            convert_host("mail.example.com")
                .unwrap_err()
                .contains("host names")
        );
        assert!(
            convert_host("localhost")
                .unwrap_err()
                .contains("127.0.0.1 and ::1")
        );
        assert!(
            convert_host("!192.168.1.5")
                .unwrap_err()
                .contains("exceptions")
        );
    }

    #[test]
    fn percent_keys_take_the_domain_of_each_pattern() {
        let keys = Source {
            name: "KeyTable",
            text: "shared %:mail:/keys/mail.private\n",
        };
        let signing = Source {
            name: "SigningTable",
            text: "*@a.example a\n*@b.example shared\n*@a.example shared\n*@* shared\n",
        };
        let converted = convert(keys, signing, TableKind::Refile, &[]);
        let names: Vec<(&str, &str)> = converted
            .keys
            .iter()
            .map(|k| (k.name.as_str(), k.domain.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("b.example-mail", "b.example"),
                ("a.example-mail", "a.example")
            ]
        );
        assert_eq!(
            converted.entries,
            [
                Entry {
                    from: "*@b.example".into(),
                    keys: vec!["b.example-mail".into()]
                },
                Entry {
                    from: "*@a.example".into(),
                    keys: vec!["a.example-mail".into()]
                },
            ]
        );
        // "a" is not in the KeyTable; "*@*" with a % key has no single domain.
        assert_eq!(
            converted.entries_skipped.len(),
            2,
            "{:?}",
            converted.entries_skipped
        );
        assert!(converted.entries_skipped[0].contains("has no entry named a"));
        assert!(converted.entries_skipped[1].contains("sender's domain (%)"));
    }
}
