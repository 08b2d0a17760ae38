//! The zone lines test cases are written in: one record per line, `name TYPE value`, as a
//! reader of a zone file would expect, without TTLs or classes.
//!
//! ```text
//! example.org.                TXT    "v=spf1 ip4:192.0.2.0/24 -all"
//! sel._domainkey.example.org  TXT    "v=DKIM1; k=ed25519; " "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
//! example.org                 MX     10 mx.example.org
//! mx.example.org              A      192.0.2.10
//! 10.2.0.192.in-addr.arpa     PTR    mx.example.org
//! broken.example.org          SERVFAIL
//! ```
//!
//! A TXT value is one or more quoted strings (joined as the DNS joins them, with `\"` and `\\`
//! escapes) or bare text up to the end of the line. `SERVFAIL` makes every question for the
//! name fail; `SILENT` leaves every question for it unanswered (the resolver times out).
//! `#` starts a comment line.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::server::{Entry, Value, Zone, zone_key};

/// A zone line that could not be read, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ZoneError {}

/// Reads zone lines into a [`Zone`]; records of one name keep their order.
pub fn parse_zone(text: &str) -> Result<Zone, ZoneError> {
    let mut zone = Zone::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| ZoneError {
            line: index + 1,
            message,
        };
        let (name, rest) = split_word(line);
        let (kind, value) = split_word(rest);
        let entry = parse_entry(kind, value).map_err(fail)?;
        zone.entry(zone_key(name.as_bytes()))
            .or_default()
            .push(entry);
    }
    Ok(zone)
}

fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (text, ""),
    }
}

fn parse_entry(kind: &str, value: &str) -> Result<Entry, String> {
    let record = match kind.to_ascii_uppercase().as_str() {
        "SERVFAIL" => return Ok(Entry::Timeout),
        "SILENT" => return Ok(Entry::Silent),
        "TXT" => Value::Txt(txt_strings(value)?),
        "A" => Value::A(
            value
                .parse::<Ipv4Addr>()
                .map_err(|e| format!("A {value:?}: {e}"))?,
        ),
        "AAAA" => Value::Aaaa(
            value
                .parse::<Ipv6Addr>()
                .map_err(|e| format!("AAAA {value:?}: {e}"))?,
        ),
        "MX" => {
            let (preference, exchange) = split_word(value);
            let preference = preference
                .parse::<u16>()
                .map_err(|e| format!("MX preference {preference:?}: {e}"))?;
            if exchange.is_empty() {
                return Err("MX needs a preference and an exchange".to_owned());
            }
            Value::Mx(preference, exchange.to_owned())
        }
        "PTR" => Value::Ptr(non_empty(value, "PTR")?),
        "CNAME" => Value::Cname(non_empty(value, "CNAME")?),
        "" => return Err("no record type".to_owned()),
        other => return Err(format!("unknown record type {other:?}")),
    };
    Ok(Entry::Record(record))
}

fn non_empty(value: &str, kind: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{kind} needs a target name"));
    }
    Ok(value.to_owned())
}

/// `"a" "b"` is two character-strings; bare text is one.
fn txt_strings(value: &str) -> Result<Vec<Vec<u8>>, String> {
    if !value.starts_with('"') {
        return Ok(vec![value.as_bytes().to_vec()]);
    }
    let mut strings = Vec::new();
    let mut chars = value.chars();
    loop {
        match chars.next() {
            None => break,
            Some(c) if c.is_whitespace() => continue,
            Some('"') => {}
            Some(c) => return Err(format!("text outside quotes at {c:?}")),
        }
        let mut string = String::new();
        loop {
            match chars.next() {
                None => return Err("unterminated quoted string".to_owned()),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some(c) => string.push(c),
                    None => return Err("dangling backslash".to_owned()),
                },
                Some(c) => string.push(c),
            }
        }
        strings.push(string.into_bytes());
    }
    Ok(strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_record_type_in_order() {
        let zone = parse_zone(
            "# comment\n\
             Example.ORG. TXT \"v=spf1 \" \"-all\"\n\
             example.org MX 10 mx.example.org\n\
             mx.example.org A 192.0.2.10\n\
             mx.example.org AAAA 2001:db8::10\n\
             10.2.0.192.in-addr.arpa PTR mx.example.org\n\
             alias.example.org CNAME example.org\n\
             bare.example.org TXT v=DMARC1; p=reject\n\
             down.example.org SERVFAIL\n\
             gone.example.org SILENT\n",
        )
        .unwrap();
        let org = &zone[b"example.org".as_slice()];
        assert!(
            matches!(&org[0], Entry::Record(Value::Txt(s)) if s == &[b"v=spf1 ".to_vec(), b"-all".to_vec()])
        );
        assert!(matches!(&org[1], Entry::Record(Value::Mx(10, x)) if x == "mx.example.org"));
        assert!(matches!(
            &zone[b"bare.example.org".as_slice()][0],
            Entry::Record(Value::Txt(s)) if s == &[b"v=DMARC1; p=reject".to_vec()]
        ));
        assert!(matches!(
            zone[b"down.example.org".as_slice()][0],
            Entry::Timeout
        ));
        assert!(matches!(
            zone[b"gone.example.org".as_slice()][0],
            Entry::Silent
        ));
        assert_eq!(zone.len(), 7);
    }

    #[test]
    fn names_the_line_of_a_bad_record() {
        let error = parse_zone("a.example TXT ok\nb.example A 300.1.1.1\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.starts_with("A \"300.1.1.1\""), "{error}");
        assert_eq!(
            parse_zone("x SRV 1").unwrap_err().message,
            "unknown record type \"SRV\""
        );
        assert_eq!(
            parse_zone("x TXT \"open").unwrap_err().message,
            "unterminated quoted string"
        );
    }
}
