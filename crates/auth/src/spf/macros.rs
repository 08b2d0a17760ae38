//! SPF macro strings (RFC 7208 §7): parsed once with the record, expanded per check.
//!
//! A macro string is literal text with `%{...}` expansions and the escapes `%%`, `%_`, `%-`.
//! The grammar is checked when the record is parsed, so a record with a bad macro is a
//! `permerror` whether or not evaluation would have reached it (RFC 7208 §4.6).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::ops::Range;

use crate::domain;

/// Where a macro string appears; the letters `c`, `r` and `t` are allowed only in the text of
/// an explanation (RFC 7208 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    DomainSpec,
    Explanation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MacroString {
    tokens: Vec<Token>,
    /// For a string without expansions: where [`query_name`] finds the name to ask for in
    /// the literal text, or `None` when it has none. Worked out once at parse time, since
    /// most domain-specs (`include:_spf.example.net`) are literal and evaluated per message.
    literal_name: Option<Option<Range<usize>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Expand(Expansion),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expansion {
    letter: Letter,
    /// Upper-case letter: URL-escape the result (RFC 7208 §7.3).
    escape: bool,
    /// Keep only this many right-hand parts; never zero.
    keep: Option<usize>,
    reverse: bool,
    /// Characters that split the value into parts; "." when none were given.
    delimiters: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    Sender,
    LocalPart,
    SenderDomain,
    Domain,
    Ip,
    ValidatedName,
    IpVersion,
    Helo,
    ClientIp,
    Receiver,
    Timestamp,
}

/// Why a macro string does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MacroError {
    #[error("'%' must start %{{...}}, %%, %_ or %-")]
    BadEscape,
    #[error("unterminated macro")]
    Unterminated,
    #[error("unknown macro letter '{0}'")]
    UnknownLetter(char),
    #[error("macro letter '{0}' is only allowed in explanations")]
    ExplanationOnly(char),
    #[error("invalid macro transformer '{0}'")]
    BadTransformer(String),
    #[error("invalid character {0:?} in macro string")]
    BadChar(char),
}

/// The facts macros expand to, for one `check_host()` evaluation.
pub(crate) struct Values<'a> {
    pub(crate) sender: &'a str,
    pub(crate) local_part: &'a str,
    pub(crate) sender_domain: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) ip: IpAddr,
    pub(crate) helo: &'a str,
    pub(crate) receiver: &'a str,
    pub(crate) now: u64,
    /// The `%{p}` value, looked up beforehand when [`MacroString::uses_validated_name`].
    pub(crate) validated_name: Option<&'a str>,
}

impl MacroString {
    pub(crate) fn parse(text: &str, context: Context) -> Result<Self, MacroError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '%' {
                let allowed =
                    matches!(c, '\x21'..='\x7e') || (c == ' ' && context == Context::Explanation);
                if !allowed {
                    return Err(MacroError::BadChar(c));
                }
                literal.push(c);
                continue;
            }
            match chars.next().map(|(_, c)| c) {
                Some('%') => literal.push('%'),
                Some('_') => literal.push(' '),
                Some('-') => literal.push_str("%20"),
                Some('{') => {
                    let body_start = at + 2;
                    let end = text[body_start..]
                        .find('}')
                        .ok_or(MacroError::Unterminated)?;
                    let body = &text[body_start..body_start + end];
                    // Skip the body and the closing brace.
                    while chars.next_if(|&(i, _)| i <= body_start + end).is_some() {}
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(Token::Expand(Expansion::parse(body, context)?));
                }
                _ => return Err(MacroError::BadEscape),
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        let literal_name = match tokens.as_slice() {
            [] => Some(None),
            [Token::Literal(text)] => Some(query_name(text).map(|name| {
                let start = name.as_ptr() as usize - text.as_ptr() as usize;
                start..start + name.len()
            })),
            _ => None,
        };
        Ok(Self {
            tokens,
            literal_name,
        })
    }

    /// Whether the string ends with a `%{...}` expansion, which RFC 7208 §7.1 accepts as the
    /// end of a domain-spec in place of a literal top label.
    pub(crate) fn ends_with_expansion(&self) -> bool {
        matches!(self.tokens.last(), Some(Token::Expand(_)))
    }

    /// The literal text after the last expansion (all of it when there is none).
    pub(crate) fn literal_tail(&self) -> &str {
        match self.tokens.last() {
            Some(Token::Literal(text)) => text,
            _ => "",
        }
    }

    /// For a literal string (no `%{...}`, so it expands to itself): `query_name` of it,
    /// without expanding anything. `None` for a string with expansions.
    pub(crate) fn literal_name(&self) -> Option<Option<&str>> {
        let range = self.literal_name.as_ref()?;
        Some(match (range, self.tokens.first()) {
            (Some(range), Some(Token::Literal(text))) => text.get(range.clone()),
            _ => None,
        })
    }

    pub(crate) fn uses_validated_name(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Expand(e) if e.letter == Letter::ValidatedName))
    }

    pub(crate) fn expand(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Expand(expansion) => expansion.expand_into(values, &mut out),
            }
        }
        out
    }
}

impl Expansion {
    fn parse(body: &str, context: Context) -> Result<Self, MacroError> {
        let mut chars = body.chars();
        let first = chars
            .next()
            .ok_or(MacroError::BadTransformer(String::new()))?;
        let letter = match first.to_ascii_lowercase() {
            's' => Letter::Sender,
            'l' => Letter::LocalPart,
            'o' => Letter::SenderDomain,
            'd' => Letter::Domain,
            'i' => Letter::Ip,
            'p' => Letter::ValidatedName,
            'v' => Letter::IpVersion,
            'h' => Letter::Helo,
            'c' => Letter::ClientIp,
            'r' => Letter::Receiver,
            't' => Letter::Timestamp,
            _ => return Err(MacroError::UnknownLetter(first)),
        };
        if matches!(
            letter,
            Letter::ClientIp | Letter::Receiver | Letter::Timestamp
        ) && context != Context::Explanation
        {
            return Err(MacroError::ExplanationOnly(first));
        }
        let rest = chars.as_str();
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, rest) = rest.split_at(digits_end);
        let keep = match digits {
            "" => None,
            // The number of parts to keep "MUST be nonzero" (RFC 7208 §7.3); a huge one keeps all.
            n => match n.parse::<usize>() {
                Ok(0) => return Err(MacroError::BadTransformer(body.to_owned())),
                Ok(n) => Some(n),
                Err(_) => Some(usize::MAX),
            },
        };
        let (reverse, delimiters) = match rest.strip_prefix(['r', 'R']) {
            Some(after) => (true, after),
            None => (false, rest),
        };
        if !delimiters.chars().all(|c| ".-+,/_=".contains(c)) {
            return Err(MacroError::BadTransformer(body.to_owned()));
        }
        Ok(Self {
            letter,
            escape: first.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters: if delimiters.is_empty() {
                ".".into()
            } else {
                delimiters.into()
            },
        })
    }

    fn expand_into(&self, values: &Values<'_>, out: &mut String) {
        let raw = self.value(values);
        let mut parts: Vec<&str> = raw.split(|c| self.delimiters.contains(c)).collect();
        if self.reverse {
            parts.reverse();
        }
        if let Some(keep) = self.keep {
            let skip = parts.len().saturating_sub(keep);
            parts.drain(..skip);
        }
        let joined = parts.join(".");
        if self.escape {
            url_escape_into(&joined, out);
        } else {
            out.push_str(&joined);
        }
    }

    fn value(&self, values: &Values<'_>) -> String {
        match self.letter {
            Letter::Sender => values.sender.to_owned(),
            Letter::LocalPart => values.local_part.to_owned(),
            Letter::SenderDomain => values.sender_domain.to_owned(),
            Letter::Domain => values.domain.to_owned(),
            Letter::Ip => dotted_ip(values.ip),
            Letter::ValidatedName => values.validated_name.unwrap_or("unknown").to_owned(),
            Letter::IpVersion => match values.ip {
                IpAddr::V4(_) => "in-addr".into(),
                IpAddr::V6(_) => "ip6".into(),
            },
            Letter::Helo => values.helo.to_owned(),
            Letter::ClientIp => values.ip.to_string(),
            Letter::Receiver => values.receiver.to_owned(),
            Letter::Timestamp => values.now.to_string(),
        }
    }
}

/// The name a domain-spec's expansion asks for: without a trailing dot, labels removed from
/// the left until it fits (RFC 7208 §7.3), and only if the DNS can carry it.
pub(crate) fn query_name(expanded: &str) -> Option<&str> {
    let name = expanded.strip_suffix('.').unwrap_or(expanded);
    let name = domain::truncate_left(name);
    domain::is_queryable(name).then_some(name)
}

/// `%{i}`: dotted quad for IPv4, 32 dot-separated nibbles for IPv6 (RFC 7208 §7.3).
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                }
            }
            out
        }
    }
}

/// Escapes everything but RFC 3986 "unreserved" characters as `%XX`.
fn url_escape_into(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ip: &str) -> Values<'static> {
        Values {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            receiver: "mx.example.net",
            now: 1_700_000_000,
            validated_name: None,
        }
    }

    fn expand(text: &str, ip: &str) -> String {
        MacroString::parse(text, Context::Explanation)
            .unwrap()
            .expand(&values(ip))
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc7208_section_7_4_examples() {
        let v4 = "192.0.2.3";
        assert_eq!(expand("%{s}", v4), "strong-bad@email.example.com");
        assert_eq!(expand("%{o}", v4), "email.example.com");
        assert_eq!(expand("%{d}", v4), "email.example.com");
        assert_eq!(expand("%{d4}", v4), "email.example.com");
        assert_eq!(expand("%{d3}", v4), "email.example.com");
        assert_eq!(expand("%{d2}", v4), "example.com");
        assert_eq!(expand("%{d1}", v4), "com");
        assert_eq!(expand("%{dr}", v4), "com.example.email");
        assert_eq!(expand("%{d2r}", v4), "example.email");
        assert_eq!(expand("%{l}", v4), "strong-bad");
        assert_eq!(expand("%{l-}", v4), "strong.bad");
        assert_eq!(expand("%{lr}", v4), "strong-bad");
        assert_eq!(expand("%{lr-}", v4), "bad.strong");
        assert_eq!(expand("%{l1r-}", v4), "strong");
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", v4),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            expand("%{lr-}.lp._spf.%{d2}", v4),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(
            expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v4),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v4),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            expand("%{d2}.trusted-domains.example.net", v4),
            "example.com.trusted-domains.example.net"
        );
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_url_encoding() {
        assert_eq!(expand("a%%b%_c%-d", "192.0.2.3"), "a%b c%20d");
        assert_eq!(
            expand("%{S}", "192.0.2.3"),
            "strong-bad%40email.example.com"
        );
        assert_eq!(
            expand("%{c} at %{t}", "2001:db8::1"),
            "2001:db8::1 at 1700000000"
        );
    }

    #[test]
    fn grammar_errors() {
        let parse = |t| MacroString::parse(t, Context::DomainSpec);
        assert_eq!(parse("%(ir).x"), Err(MacroError::BadEscape));
        assert_eq!(parse("foo%"), Err(MacroError::BadEscape));
        assert_eq!(parse("%{d"), Err(MacroError::Unterminated));
        assert_eq!(parse("%{a}"), Err(MacroError::UnknownLetter('a')));
        assert_eq!(parse("%{r}.x"), Err(MacroError::ExplanationOnly('r')));
        assert!(matches!(parse("%{d0}"), Err(MacroError::BadTransformer(_))));
        assert!(matches!(
            parse("%{d2x}"),
            Err(MacroError::BadTransformer(_))
        ));
        assert_eq!(parse("a b"), Err(MacroError::BadChar(' ')));
        assert!(MacroString::parse("%{r} says hi", Context::Explanation).is_ok());
    }
}
