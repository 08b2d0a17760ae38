//! `[rbl]`, `[[dnsbl]]`, `[[rhsbl]]` and `[[uribl]]` validated: zones checked, answer
//! patterns parsed, and every symbol an entry names defined (with its score and a
//! description written from the entry) through [`Definitions`].
//!
//! How an answer (an A record of `<question>.<zone>`) reads, in this order:
//! 1. outside 127.0.0.0/8, in 127.255.255.0/24 (Spamhaus: typo, public resolver, over the
//!    limit), or among the entry's `blocked` answers: the list refused the query: the
//!    entry's `*_BLOCKED` symbol (score 0), never a listing;
//! 2. every `codes` entry it matches gives that entry's symbol;
//! 3. matched by none: the entry's `symbol` if it has one, else nothing.

use std::net::Ipv4Addr;

use super::error::ConfigErrors;
use super::raw::{RawCode, RawList, RawRbl, RawRhsbl};
use super::symbols::Definitions;
use crate::check::Mode;

/// `rbl.max_uri_domains` at most 100: each domain is one question per `[[uribl]]` list, and
/// real mail names a handful; past that a message only makes us do work (SpamAssassin's
/// `uridnsbl_max_domains` default is 20).
pub const MAX_URI_DOMAINS: usize = 100;

/// The DNS lists, ready to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct Rbl {
    pub mode: Mode,
    pub max_uri_domains: usize,
    /// Asked about the client address.
    pub dnsbl: Vec<DnsList>,
    /// Asked about the sender's domains.
    pub rhsbl: Vec<DnsList>,
    /// Asked about the domains of the message's URLs.
    pub uribl: Vec<DnsList>,
}

/// One list.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsList {
    /// Lowercase, without the trailing dot.
    pub zone: String,
    /// Hit by an answer no code maps (by every answer when there are no codes).
    pub symbol: Option<&'static str>,
    pub codes: Vec<Code>,
    /// The entry's own "query refused" answers.
    pub blocked: Vec<AnswerPattern>,
    pub blocked_symbol: &'static str,
    pub enforce: bool,
    /// Which domains an `[[rhsbl]]` list is asked about (all for the other kinds).
    pub identities: Identities,
}

/// The domains an `[[rhsbl]]` list is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identities {
    pub mail_from: bool,
    pub from: bool,
    pub helo: bool,
}

/// Answers mapped to one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub matcher: CodeMatch,
    pub symbol: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CodeMatch {
    Answers(Vec<AnswerPattern>),
    /// Any of these bits of the answer's last three octets (SURBL, URIBL multi lists).
    Mask(u32),
}

/// One form of `answers` and `blocked`: an address, a range `a-b`, or octets with `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerPattern {
    Range(Ipv4Addr, Ipv4Addr),
    Octets([Option<u8>; 4]),
}

/// What one answer means for a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The list refused the query.
    Blocked,
    /// Listed, with these symbols (none when no code maps it and the entry has no symbol).
    Listed(Vec<&'static str>),
}

impl AnswerPattern {
    pub fn matches(&self, answer: Ipv4Addr) -> bool {
        match self {
            AnswerPattern::Range(low, high) => (*low..=*high).contains(&answer),
            AnswerPattern::Octets(octets) => octets
                .iter()
                .zip(answer.octets())
                .all(|(want, got)| want.is_none_or(|want| want == got)),
        }
    }
}

impl CodeMatch {
    fn matches(&self, answer: Ipv4Addr) -> bool {
        match self {
            CodeMatch::Answers(patterns) => patterns.iter().any(|p| p.matches(answer)),
            CodeMatch::Mask(mask) => u32::from(answer) & 0x00ff_ffff & mask != 0,
        }
    }
}

impl DnsList {
    /// What `answer` means (see the module documentation for the order).
    pub fn read(&self, answer: Ipv4Addr) -> Reading {
        let [first, second, third, _] = answer.octets();
        let refused = first != 127
            || (second, third) == (255, 255)
            || self.blocked.iter().any(|p| p.matches(answer));
        if refused {
            return Reading::Blocked;
        }
        let mut symbols: Vec<&'static str> = self
            .codes
            .iter()
            .filter(|code| code.matcher.matches(answer))
            .map(|code| code.symbol)
            .collect();
        if symbols.is_empty() {
            symbols.extend(self.symbol);
        }
        Reading::Listed(symbols)
    }
}

/// The three kinds of list, for key paths and descriptions.
#[derive(Clone, Copy)]
enum Kind {
    Dnsbl,
    Rhsbl,
    Uribl,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Dnsbl => "dnsbl",
            Kind::Rhsbl => "rhsbl",
            Kind::Uribl => "uribl",
        }
    }

    /// What a listing says, after the zone: "zen.spamhaus.org lists the client".
    fn lists(self) -> &'static str {
        match self {
            Kind::Dnsbl => "lists the client",
            Kind::Rhsbl => "lists a sender domain",
            Kind::Uribl => "lists a domain of the message's URLs",
        }
    }
}

pub(super) fn validate(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    rbl: &RawRbl,
    dnsbl: &[RawList],
    rhsbl: &[RawRhsbl],
    uribl: &[RawList],
) -> Rbl {
    if rbl.max_uri_domains > MAX_URI_DOMAINS {
        errors.push(
            "rbl.max_uri_domains",
            format!(
                "must be at most {MAX_URI_DOMAINS}, not {}",
                rbl.max_uri_domains
            ),
        );
    }
    let mut lists = |kind: Kind, raws: Vec<(RawList, Option<&[String]>)>| -> Vec<DnsList> {
        raws.iter()
            .enumerate()
            .filter_map(|(i, (raw, identities))| {
                let path = format!("{}[{i}]", kind.key());
                list(errors, definitions, kind, &path, raw, *identities)
            })
            .collect()
    };
    let dnsbl = lists(
        Kind::Dnsbl,
        dnsbl.iter().map(|l| (l.clone(), None)).collect(),
    );
    let rhsbl = lists(
        Kind::Rhsbl,
        rhsbl
            .iter()
            .map(|l| (l.list(), Some(l.identities.as_slice())))
            .collect(),
    );
    let uribl = lists(
        Kind::Uribl,
        uribl.iter().map(|l| (l.clone(), None)).collect(),
    );
    Rbl {
        mode: rbl.mode,
        max_uri_domains: rbl.max_uri_domains,
        dnsbl,
        rhsbl,
        uribl,
    }
}

fn list(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    kind: Kind,
    path: &str,
    raw: &RawList,
    identities: Option<&[String]>,
) -> Option<DnsList> {
    let errors_before = errors.0.len();
    let zone = raw.zone.trim_end_matches('.').to_ascii_lowercase();
    if !kanmon_auth::domain::is_valid_mail_domain(&zone) {
        errors.push(
            format!("{path}.zone"),
            format!(
                "{:?} is not a DNS zone such as \"zen.spamhaus.org\"",
                raw.zone
            ),
        );
    }
    let identities = self::identities(errors, path, identities);
    let mut scores = Vec::new();
    let symbol = match (&raw.symbol, raw.score) {
        (Some(name), Some(score)) => {
            scores.push(score);
            let description = format!("{zone} {}", kind.lists());
            definitions.define(errors, &format!("{path}.symbol"), name, score, description)
        }
        (Some(_), None) => {
            errors.push(format!("{path}.score"), "give the symbol a score");
            None
        }
        (None, Some(_)) => {
            errors.push(format!("{path}.symbol"), "name the symbol the score is for");
            None
        }
        (None, None) => {
            if raw.codes.is_empty() {
                errors.push(
                    format!("{path}.symbol"),
                    "name a symbol (and score), or map answers to symbols with codes",
                );
            }
            None
        }
    };
    let codes: Vec<Code> = raw
        .codes
        .iter()
        .enumerate()
        .filter_map(|(i, code)| {
            let path = format!("{path}.codes[{i}]");
            scores.extend(code.score);
            self::code(errors, definitions, kind, &zone, &path, code)
        })
        .collect();
    let blocked = patterns(errors, &format!("{path}.blocked"), &raw.blocked);
    let blocked_name = match (&raw.blocked_symbol, &raw.symbol) {
        (Some(name), _) => Some(name.clone()),
        (None, Some(symbol)) => Some(format!("{symbol}_BLOCKED")),
        (None, None) => {
            errors.push(
                format!("{path}.blocked_symbol"),
                "name the symbol of a refused query (the entry has no symbol to derive it from)",
            );
            None
        }
    };
    let blocked_symbol = blocked_name.and_then(|name| {
        let description = format!(
            "{zone} refused the query (answered 127.255.255.x, outside 127/8, or a blocked answer): not a listing"
        );
        definitions.define(
            errors,
            &format!("{path}.blocked_symbol"),
            &name,
            0.0,
            description,
        )
    });
    if raw.enforce && scores.iter().any(|&score| score < 0.0) {
        errors.push(
            format!("{path}.enforce"),
            "a list with negative scores is a whitelist: it cannot refuse mail",
        );
    }
    if errors.0.len() > errors_before {
        return None;
    }
    Some(DnsList {
        zone,
        symbol,
        codes,
        blocked,
        blocked_symbol: blocked_symbol?,
        enforce: raw.enforce,
        identities,
    })
}

fn identities(errors: &mut ConfigErrors, path: &str, given: Option<&[String]>) -> Identities {
    let Some(given) = given else {
        return Identities {
            mail_from: true,
            from: true,
            helo: true,
        };
    };
    let mut identities = Identities {
        mail_from: false,
        from: false,
        helo: false,
    };
    for (i, word) in given.iter().enumerate() {
        match word.as_str() {
            "mail_from" => identities.mail_from = true,
            "from" => identities.from = true,
            "helo" => identities.helo = true,
            other => errors.push(
                format!("{path}.identities[{i}]"),
                format!("expected one of \"mail_from\", \"from\", \"helo\", found {other:?}"),
            ),
        }
    }
    if given.is_empty() {
        errors.push(
            format!("{path}.identities"),
            "name at least one of \"mail_from\", \"from\", \"helo\"",
        );
    }
    identities
}

fn code(
    errors: &mut ConfigErrors,
    definitions: &mut Definitions,
    kind: Kind,
    zone: &str,
    path: &str,
    raw: &RawCode,
) -> Option<Code> {
    let matcher = match (raw.answers.is_empty(), raw.mask) {
        (false, None) => {
            CodeMatch::Answers(patterns(errors, &format!("{path}.answers"), &raw.answers))
        }
        (true, Some(mask)) if mask != 0 && mask <= 0x00ff_ffff => CodeMatch::Mask(mask),
        (true, Some(mask)) => {
            errors.push(
                format!("{path}.mask"),
                format!("{mask} selects no bits of an answer's last three octets"),
            );
            return None;
        }
        (false, Some(_)) => {
            errors.push(path, "give answers or a mask, not both");
            return None;
        }
        (true, None) => {
            errors.push(path, "give the answers (or the mask) this code maps");
            return None;
        }
    };
    let (Some(name), Some(score)) = (&raw.symbol, raw.score) else {
        errors.push(path, "give the code a symbol and a score");
        return None;
    };
    let which = match &matcher {
        CodeMatch::Answers(_) => raw.answers.join(", "),
        CodeMatch::Mask(mask) => format!("mask {mask}"),
    };
    let description = format!("{zone} {} ({which})", kind.lists());
    let symbol = definitions.define(errors, &format!("{path}.symbol"), name, score, description)?;
    Some(Code { matcher, symbol })
}

fn patterns(errors: &mut ConfigErrors, path: &str, texts: &[String]) -> Vec<AnswerPattern> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            pattern(text)
                .map_err(|e| errors.push(format!("{path}[{i}]"), e))
                .ok()
        })
        .collect()
}

/// `127.0.0.2`, `127.0.0.4-127.0.0.7` or `127.0.*.3`.
fn pattern(text: &str) -> Result<AnswerPattern, String> {
    let bad = || {
        format!(
            "{text:?} is not an answer: an address (127.0.0.2), a range (127.0.0.4-127.0.0.7) or octets with * (127.0.*.3)"
        )
    };
    if let Some((low, high)) = text.split_once('-') {
        let low: Ipv4Addr = low.trim().parse().map_err(|_| bad())?;
        let high: Ipv4Addr = high.trim().parse().map_err(|_| bad())?;
        if low > high {
            return Err(format!("{text:?}: the range ends before it starts"));
        }
        return Ok(AnswerPattern::Range(low, high));
    }
    if let Ok(address) = text.parse::<Ipv4Addr>() {
        return Ok(AnswerPattern::Range(address, address));
    }
    let mut octets = [None; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next().ok_or_else(bad)?;
        *octet = match part {
            "*" => None,
            digits => Some(digits.parse::<u8>().map_err(|_| bad())?),
        };
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(AnswerPattern::Octets(octets))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn answer_patterns() {
        let exact = pattern("127.0.0.2").unwrap();
        assert!(exact.matches(ip("127.0.0.2")) && !exact.matches(ip("127.0.0.3")));
        let range = pattern("127.0.0.4-127.0.0.7").unwrap();
        assert!(range.matches(ip("127.0.0.4")) && range.matches(ip("127.0.0.7")));
        assert!(!range.matches(ip("127.0.0.8")));
        let wild = pattern("127.0.*.3").unwrap();
        assert!(wild.matches(ip("127.0.15.3")) && !wild.matches(ip("127.0.15.2")));
        for bad in [
            "127.0.0",
            "127.0.0.256",
            "127.0.0.9-127.0.0.2",
            "x",
            "127.0.0.1.1",
        ] {
            assert!(pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_lists_read_their_documented_answers() {
        let config = Config::default();
        let zen = &config.rbl.dnsbl[0];
        assert_eq!(zen.zone, "zen.spamhaus.org");
        assert_eq!(
            zen.read(ip("127.0.0.2")),
            Reading::Listed(vec!["RCVD_IN_SBL"])
        );
        assert_eq!(
            zen.read(ip("127.0.0.9")),
            Reading::Listed(vec!["RCVD_IN_SBL"])
        );
        assert_eq!(
            zen.read(ip("127.0.0.5")),
            Reading::Listed(vec!["RCVD_IN_XBL"])
        );
        assert_eq!(
            zen.read(ip("127.0.0.11")),
            Reading::Listed(vec!["RCVD_IN_PBL"])
        );
        assert_eq!(zen.read(ip("127.0.0.8")), Reading::Listed(vec![]));
        assert_eq!(zen.read(ip("127.255.255.254")), Reading::Blocked);
        assert_eq!(zen.read(ip("192.0.2.1")), Reading::Blocked);
        let dnswl = &config.rbl.dnsbl[2];
        assert_eq!(
            dnswl.read(ip("127.0.15.3")),
            Reading::Listed(vec!["RCVD_IN_DNSWL_HI"])
        );
        assert_eq!(dnswl.read(ip("127.0.0.255")), Reading::Blocked);
        let uribl = &config.rbl.uribl[2];
        assert_eq!(uribl.zone, "multi.uribl.com");
        assert_eq!(
            uribl.read(ip("127.0.0.10")),
            Reading::Listed(vec!["URIBL_BLACK", "URIBL_RED"])
        );
        assert_eq!(uribl.read(ip("127.0.0.1")), Reading::Blocked);
        assert_eq!(config.score("RCVD_IN_DNSWL_MED"), -2.0);
        assert_eq!(config.score("URIBL_BLOCKED"), 0.0);
    }

    #[test]
    fn the_simplest_entry_and_its_derived_blocked_symbol() {
        let config = Config::parse(
            "[[dnsbl]]\nzone = \"bl.spamcop.net.\"\nsymbol = \"RCVD_IN_SPAMCOP\"\nscore = 4.0\n",
        )
        .unwrap();
        assert_eq!(
            config.rbl.dnsbl.len(),
            1,
            "a file's lists replace the defaults"
        );
        let list = &config.rbl.dnsbl[0];
        assert_eq!(list.zone, "bl.spamcop.net");
        assert_eq!(
            list.read(ip("127.0.0.3")),
            Reading::Listed(vec!["RCVD_IN_SPAMCOP"])
        );
        assert_eq!(list.blocked_symbol, "RCVD_IN_SPAMCOP_BLOCKED");
        assert_eq!(config.score("RCVD_IN_SPAMCOP"), 4.0);
        assert_eq!(
            config.rbl.uribl.len(),
            3,
            "the other kinds keep their defaults"
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        let errors = Config::parse(
            "[rbl]\nmax_uri_domains = 1000\n\
             [[dnsbl]]\nzone = \"nodot\"\nsymbol = \"A_LIST\"\n\
             [[dnsbl]]\nzone = \"wl.example\"\nenforce = true\n\
             codes = [{ answers = [\"127.0.0.x\"], symbol = \"WL_X\", score = 1.0 },\n\
             { mask = 2, answers = [\"127.0.0.2\"], symbol = \"WL_Y\", score = 1.0 },\n\
             { answers = [\"127.0.0.3\"], symbol = \"WL_Z\", score = -1.0 }]\n\
             [[rhsbl]]\nzone = \"rhs.example\"\nsymbol = \"RHS\"\nscore = 1.0\nidentities = [\"envelope\"]\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "rbl.max_uri_domains: must be at most 100",
            "dnsbl[0].zone: \"nodot\" is not a DNS zone",
            "dnsbl[0].score: give the symbol a score",
            "dnsbl[1].codes[0].answers[0]: \"127.0.0.x\" is not an answer",
            "dnsbl[1].codes[1]: give answers or a mask, not both",
            "dnsbl[1].blocked_symbol: name the symbol of a refused query",
            "dnsbl[1].enforce: a list with negative scores is a whitelist",
            "rhsbl[0].identities[0]: expected one of",
        ] {
            assert!(errors.contains(expected), "{expected} not in {errors}");
        }
    }
}
