//! The SPF record grammar (RFC 7208 §4.5, §5, §6 and the ABNF of §12).
//!
//! Parsing is strict and complete: a record with any syntax error anywhere is rejected before
//! evaluation starts, because RFC 7208 §4.6 makes it a `permerror` even when an earlier
//! mechanism would have matched (suite test `detect-errors-anywhere`). Valid but unusual
//! records (unknown modifiers, `:` or `/` inside a domain-spec) are accepted.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::SpfResult;
use super::macros::{Context, MacroError, MacroString};

/// One parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) directives: Vec<Directive>,
    pub(crate) redirect: Option<MacroString>,
    pub(crate) explanation: Option<MacroString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) qualifier: Qualifier,
    pub(crate) mechanism: Mechanism,
    /// The term as written, for Received-SPF `mechanism=` and for reasons.
    pub(crate) text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    pub(crate) fn result(self) -> SpfResult {
        match self {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mechanism {
    All,
    Include(MacroString),
    A {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Mx {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Ptr(Option<MacroString>),
    Ip4 {
        network: Ipv4Addr,
        prefix: u8,
    },
    Ip6 {
        network: Ipv6Addr,
        prefix: u8,
    },
    Exists(MacroString),
}

impl Mechanism {
    /// Whether evaluating this mechanism queries the DNS, and so counts against the limit of
    /// 10 such terms (RFC 7208 §4.6.4).
    pub(crate) fn queries_dns(&self) -> bool {
        !matches!(
            self,
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. }
        )
    }
}

/// Prefix lengths for `a` and `mx`: one applied to IPv4 clients, one to IPv6 clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DualCidr {
    pub(crate) v4: u8,
    pub(crate) v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        Self { v4: 32, v6: 128 }
    }
}

/// Why a record is not valid SPF; every variant is a `permerror`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("not an SPF record (no \"v=spf1\")")]
    NotSpf,
    #[error("record contains a character that is not printable ASCII")]
    NonAscii,
    #[error("unknown mechanism '{0}'")]
    UnknownMechanism(String),
    #[error("invalid term '{0}'")]
    InvalidTerm(String),
    #[error("invalid modifier name in '{0}'")]
    InvalidModifierName(String),
    #[error("modifier '{0}' appears twice")]
    DuplicateModifier(&'static str),
    #[error("'{term}': {source}")]
    Macro { term: String, source: MacroError },
    #[error("'{0}': domain must end in a valid top-level label or a macro")]
    InvalidDomainEnd(String),
    #[error("'{0}': invalid CIDR prefix length")]
    InvalidCidr(String),
    #[error("'{0}': invalid IP address")]
    InvalidAddress(String),
}

/// Whether a TXT record claims to be SPF: "v=spf1" followed by a space or nothing
/// (RFC 7208 §4.5; the version is matched case-insensitively).
pub(crate) fn is_spf_record(txt: &[u8]) -> bool {
    txt.len() >= 6
        && txt[..6].eq_ignore_ascii_case(b"v=spf1")
        && txt.get(6).is_none_or(|&b| b == b' ')
}

impl Record {
    /// Parses a record; anything [`is_spf_record`] does not accept is `NotSpf`.
    pub(crate) fn parse(txt: &[u8]) -> Result<Self, RecordError> {
        if !is_spf_record(txt) {
            return Err(RecordError::NotSpf);
        }
        // Terms are separated by spaces only; tabs, CR, LF and 8-bit bytes are errors
        // (suite tests `badip4`, `control-char-policy`, `non-ascii-*`).
        if !txt.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            return Err(RecordError::NonAscii);
        }
        let text = std::str::from_utf8(txt).map_err(|_| RecordError::NonAscii)?;
        let mut record = Record {
            directives: Vec::new(),
            redirect: None,
            explanation: None,
        };
        for term in text[6..].split(' ').filter(|t| !t.is_empty()) {
            record.add_term(term)?;
        }
        Ok(record)
    }

    fn add_term(&mut self, term: &str) -> Result<(), RecordError> {
        let name_end = term
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
            .unwrap_or(term.len());
        if term[name_end..].starts_with('=') {
            return self.add_modifier(term, &term[..name_end], &term[name_end + 1..]);
        }
        let (qualifier, body) = match term.as_bytes()[0] {
            b'+' => (Qualifier::Pass, &term[1..]),
            b'-' => (Qualifier::Fail, &term[1..]),
            b'~' => (Qualifier::SoftFail, &term[1..]),
            b'?' => (Qualifier::Neutral, &term[1..]),
            _ => (Qualifier::Pass, term),
        };
        let mechanism = parse_mechanism(term, body)?;
        self.directives.push(Directive {
            qualifier,
            mechanism,
            text: term.to_owned(),
        });
        Ok(())
    }

    fn add_modifier(&mut self, term: &str, name: &str, value: &str) -> Result<(), RecordError> {
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(RecordError::InvalidModifierName(term.to_owned()));
        }
        let (slot, known) = if name.eq_ignore_ascii_case("redirect") {
            (&mut self.redirect, "redirect")
        } else if name.eq_ignore_ascii_case("exp") {
            (&mut self.explanation, "exp")
        } else {
            // Unknown modifiers are ignored, but must still be valid macro strings (RFC 7208
            // §6; suite test `unknown-modifier-syntax`).
            MacroString::parse(value, Context::DomainSpec).map_err(|source| {
                RecordError::Macro {
                    term: term.to_owned(),
                    source,
                }
            })?;
            return Ok(());
        };
        if slot.is_some() {
            return Err(RecordError::DuplicateModifier(known));
        }
        *slot = Some(parse_domain_spec(term, value)?);
        Ok(())
    }
}

fn parse_mechanism(term: &str, body: &str) -> Result<Mechanism, RecordError> {
    let name_end = body
        .bytes()
        .position(|b| b == b':' || b == b'/')
        .unwrap_or(body.len());
    let (name, rest) = body.split_at(name_end);
    // Mechanism names are case-insensitive (RFC 7208 §4.6.1); none is longer than 7 bytes.
    let mut lower = [0u8; 8];
    let name = match lower.get_mut(..name.len()) {
        Some(buf) => {
            buf.copy_from_slice(name.as_bytes());
            buf.make_ascii_lowercase();
            std::str::from_utf8(buf).unwrap_or_default()
        }
        None => return Err(RecordError::UnknownMechanism(term.to_owned())),
    };
    // `rest` is empty, or starts with ':' (an argument) or '/' (a CIDR suffix).
    let argument = rest.strip_prefix(':');
    let invalid = || RecordError::InvalidTerm(term.to_owned());
    match name {
        "all" if rest.is_empty() => Ok(Mechanism::All),
        "include" => Ok(Mechanism::Include(parse_domain_spec(
            term,
            argument.ok_or_else(invalid)?,
        )?)),
        "exists" => Ok(Mechanism::Exists(parse_domain_spec(
            term,
            argument.ok_or_else(invalid)?,
        )?)),
        "ptr" => match argument {
            Some(spec) => Ok(Mechanism::Ptr(Some(parse_domain_spec(term, spec)?))),
            None if rest.is_empty() => Ok(Mechanism::Ptr(None)),
            None => Err(invalid()),
        },
        "a" | "mx" => {
            let (domain, cidr) = match argument {
                Some(arg) => {
                    let (spec, cidr) = split_dual_cidr(term, arg)?;
                    (Some(parse_domain_spec(term, spec)?), cidr)
                }
                None => {
                    let (spec, cidr) = split_dual_cidr(term, rest)?;
                    if !spec.is_empty() {
                        return Err(invalid());
                    }
                    (None, cidr)
                }
            };
            Ok(if name == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            })
        }
        "ip4" => {
            let arg = argument.ok_or_else(invalid)?;
            let (address, prefix) = split_prefix(term, arg, 32)?;
            let network = address
                .parse()
                .map_err(|_| RecordError::InvalidAddress(term.to_owned()))?;
            Ok(Mechanism::Ip4 {
                network,
                prefix: prefix.unwrap_or(32),
            })
        }
        "ip6" => {
            let arg = argument.ok_or_else(invalid)?;
            let (address, prefix) = split_prefix(term, arg, 128)?;
            let network = address
                .parse()
                .map_err(|_| RecordError::InvalidAddress(term.to_owned()))?;
            Ok(Mechanism::Ip6 {
                network,
                prefix: prefix.unwrap_or(128),
            })
        }
        "all" => Err(invalid()),
        _ => Err(RecordError::UnknownMechanism(term.to_owned())),
    }
}

/// Splits `domain-spec dual-cidr-length` (RFC 7208 §5.3): an optional "/N" (0–32) followed by
/// an optional "//M" (0–128) at the end.
fn split_dual_cidr<'t>(term: &str, text: &'t str) -> Result<(&'t str, DualCidr), RecordError> {
    let mut cidr = DualCidr::default();
    let mut rest = text;
    if let Some((before, digits)) = trailing_prefix(rest)
        && let Some(before_v6) = before.strip_suffix('/')
    {
        cidr.v6 = parse_prefix(term, digits, 128)?;
        rest = before_v6;
    }
    if let Some((before, digits)) = trailing_prefix(rest) {
        if before.ends_with('/') {
            // "a/24/64" or "a///64": a single slash before the IPv6 length, or a stray one.
            return Err(RecordError::InvalidCidr(term.to_owned()));
        }
        cidr.v4 = parse_prefix(term, digits, 32)?;
        rest = before;
    }
    Ok((rest, cidr))
}

/// Splits "address/N" for `ip4` and `ip6`.
fn split_prefix<'t>(
    term: &str,
    text: &'t str,
    max: u8,
) -> Result<(&'t str, Option<u8>), RecordError> {
    match text.split_once('/') {
        None => Ok((text, None)),
        Some((address, digits)) => Ok((address, Some(parse_prefix(term, digits, max)?))),
    }
}

/// `"/" 1*DIGIT` at the end of `text`: returns what precedes the slash and the digits.
fn trailing_prefix(text: &str) -> Option<(&str, &str)> {
    let digits_start = text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let digits = &text[digits_start..];
    let before = text[..digits_start].strip_suffix('/')?;
    (!digits.is_empty()).then_some((before, digits))
}

/// A prefix length: no leading zeros, at most `max` (RFC 7208 §12 `ip4-cidr-length`).
fn parse_prefix(term: &str, digits: &str, max: u8) -> Result<u8, RecordError> {
    let invalid = || RecordError::InvalidCidr(term.to_owned());
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) || digits.len() > 3 {
        return Err(invalid());
    }
    let value: u8 = digits.parse().map_err(|_| invalid())?;
    if value > max {
        return Err(invalid());
    }
    Ok(value)
}

/// A `domain-spec`: a macro string whose end is a macro or "." followed by a valid top label
/// and an optional trailing dot (RFC 7208 §7.1).
fn parse_domain_spec(term: &str, spec: &str) -> Result<MacroString, RecordError> {
    let macro_string =
        MacroString::parse(spec, Context::DomainSpec).map_err(|source| RecordError::Macro {
            term: term.to_owned(),
            source,
        })?;
    if macro_string.ends_with_expansion() {
        return Ok(macro_string);
    }
    let tail = macro_string.literal_tail();
    let tail = tail.strip_suffix('.').unwrap_or(tail);
    match tail.rsplit_once('.') {
        Some((_, top)) if is_toplabel(top) => Ok(macro_string),
        _ => Err(RecordError::InvalidDomainEnd(term.to_owned())),
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`:
/// letters and digits with inner hyphens, and never all digits unless a hyphen is present.
fn is_toplabel(label: &str) -> bool {
    let bytes = label.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.iter().any(|b| b.is_ascii_alphabetic() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Record, RecordError> {
        Record::parse(text.as_bytes())
    }

    #[test]
    fn recognises_spf_records() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1\t-all"));
        assert!(!is_spf_record(b"spf2.0/pra"));
    }

    #[test]
    fn parses_every_mechanism() {
        let record = parse(
            "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/26 \
             ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.bl.example \
             redirect=_spf.example.net exp=explain.%{d}",
        )
        .unwrap();
        assert_eq!(record.directives.len(), 10);
        assert_eq!(record.directives[1].qualifier, Qualifier::Fail);
        assert_eq!(
            record.directives[3].mechanism,
            Mechanism::A {
                domain: Some(MacroString::parse("mail.example.com", Context::DomainSpec).unwrap()),
                cidr: DualCidr { v4: 24, v6: 64 },
            }
        );
        assert_eq!(
            record.directives[4].mechanism,
            Mechanism::Mx {
                domain: None,
                cidr: DualCidr { v4: 26, v6: 128 }
            }
        );
        assert!(record.redirect.is_some() && record.explanation.is_some());
    }

    #[test]
    fn accepts_unusual_but_valid_records() {
        assert!(parse("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all").is_ok());
        assert!(parse("v=spf1 a:foo:bar/baz.example.com").is_ok());
        assert!(parse("v=spf1 a:foo.example.xn--zckzah -all").is_ok());
        assert!(parse("v=spf1 a:%{H} -all").is_ok());
        assert!(parse("v=spf1 a  -all ").is_ok());
        assert!(parse("v=spf1 default=pass").is_ok());
        assert!(parse("v=spf1").is_ok());
    }

    #[test]
    fn rejects_invalid_records() {
        for bad in [
            "v=spf1 ip4:1.2.3.4 -all moo",
            "v=spf1 moo.cow/far_out=man:dog/cat",
            "v=spf1 redirect:t2.example.com",
            "v=spf1 a:foo-bar -all",
            "v=spf1 all.",
            "v=spf1 all:foo",
            "v=spf1 all/8",
            "v=spf1 ptr/0",
            "v=spf1 a/33",
            "v=spf1 a//129",
            "v=spf1 a/24/64",
            "v=spf1 a:",
            "v=spf1 a:111.222.33.44",
            "v=spf1 a:abc.123",
            "v=spf1 a:example.-com",
            "v=spf1 a:museum",
            "v=spf1 a:museum.",
            "v=spf1 a:example.com:8080",
            "v=spf1 include:",
            "v=spf1 include:example.com/24",
            "v=spf1 exists",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4:1.2.3.4/32//64",
            "v=spf1 ip4",
            "v=spf1 ip6:::1/129",
            "v=spf1 ip6",
            "v=spf1 ip6:1.2.3.4",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 foo=%abc",
            "v=spf1 exp=a.example.com exp=b.example.com",
            "v=spf1 redirect=",
            "v=spf1 -all exp=%{r}.example.com",
            "v=spf1 exists:foo%.sbl.example.com",
            "v=spf1 a:ctrl.example.com\rptr -all",
            "v=spf1 \u{80}a:example.net",
            "v=spf1 ip4:192.0.2.5\n include:x.example.com",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
