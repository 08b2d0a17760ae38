//! The Author Domain: the domain of the RFC5322.From address (RFC 7489 §3.1, §6.6.1;
//! RFC 9989 §5.3.1).
//!
//! A small reader of the RFC 5322 §3.4 address grammar, enough to find every mailbox's domain:
//! display names (atoms, quoted strings, encoded words), comments (nested, with quoted pairs),
//! angle brackets with an obsolete source route, groups, and address lists. It never fails on
//! odd input; what it cannot read as a mailbox is reported, not guessed at.
//!
//! Implementation note: this is deliberately not a full RFC 5322 parser. It finds `@` at the
//! top level of each mailbox (or inside its angle brackets) and takes the dot-atom after it,
//! which is what every DMARC implementation keys on; the local-part is not validated.

use crate::domain::is_valid_mail_domain;

/// Most distinct author domains evaluated for one message. RFC 9989 §11.5 warns that
/// evaluating every domain of a long From list is a denial-of-service vector and says to
/// limit it; real mail has one, and more than a handful is abuse.
pub const MAX_AUTHOR_DOMAINS: usize = 8;
/// Longest From field value read (all instances together). RFC 5322 §2.1.1 caps a line at
/// 998 octets; folded fields can be longer, but not legitimately by this much.
pub const MAX_FROM_LEN: usize = 16 * 1024;

/// Why no author domain could be taken from the From field(s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FromError {
    /// The message has no From field.
    #[error("no From header field")]
    Missing,
    /// The From field(s) name no mailbox (e.g. an empty group).
    #[error("no address in From")]
    NoAddress,
    /// A mailbox has no domain, or one that is not a valid mail domain.
    #[error("From address without a valid domain: {0}")]
    BadDomain(String),
    /// An internationalized domain that does not convert to A-labels (UTS #46 / IDNA2008),
    /// so no DNS name can be asked for it.
    #[error("invalid internationalized From domain: {0}")]
    Internationalized(String),
    /// More distinct domains than [`MAX_AUTHOR_DOMAINS`].
    #[error("more than {MAX_AUTHOR_DOMAINS} From domains")]
    TooMany,
    /// The field is longer than [`MAX_FROM_LEN`].
    #[error("From field longer than {MAX_FROM_LEN} octets")]
    TooLong,
}

/// The distinct author domains (lower case, in order of appearance) of all From fields of a
/// message. `values` are the field bodies after `From:`, folded or not. Any problem (a
/// mailbox without a valid domain, too many domains) is an error here; [`verify`] instead
/// evaluates the domains it could read and counts the problem as a `permerror` beside them.
///
/// [`verify`]: super::verify
///
/// ```
/// # use kanmon_auth::dmarc::author_domains;
/// let domains = author_domains(&["\"Doe, Jane\" (work) <jane@Mail.Example.COM>"]).unwrap();
/// assert_eq!(domains, ["mail.example.com"]);
/// ```
pub fn author_domains(values: &[&str]) -> Result<Vec<String>, FromError> {
    let authors = read_authors(values);
    match authors.problem {
        Some(problem) => Err(problem),
        None => Ok(authors.domains),
    }
}

/// What could be read from the From fields: the valid distinct domains (at most
/// [`MAX_AUTHOR_DOMAINS`]) and the first problem met, if any. When `domains` is empty,
/// `problem` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authors {
    pub(crate) domains: Vec<String>,
    pub(crate) problem: Option<FromError>,
}

/// Reads every From field, keeping going past bad mailboxes so that a bad address next to a
/// spoofed one cannot hide the spoofed one from evaluation (RFC 9989 §11.5).
pub(crate) fn read_authors(values: &[&str]) -> Authors {
    let mut authors = Authors {
        domains: Vec::new(),
        problem: None,
    };
    if values.is_empty() {
        authors.problem = Some(FromError::Missing);
        return authors;
    }
    let mut budget = MAX_FROM_LEN;
    'fields: for value in values {
        let value = if value.len() > budget {
            authors.problem.get_or_insert(FromError::TooLong);
            let mut end = budget;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            &value[..end]
        } else {
            value
        };
        budget -= value.len();
        for mailbox in mailboxes(&tokenize(value)) {
            match mailbox_domain(&mailbox) {
                Ok(domain) if authors.domains.contains(&domain) => {}
                Ok(_) if authors.domains.len() == MAX_AUTHOR_DOMAINS => {
                    authors.problem.get_or_insert(FromError::TooMany);
                    break 'fields;
                }
                Ok(domain) => authors.domains.push(domain),
                Err(problem) => {
                    authors.problem.get_or_insert(problem);
                }
            }
        }
    }
    if authors.domains.is_empty() {
        authors.problem.get_or_insert(FromError::NoAddress);
    }
    authors
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A run of atext and dots (display-name words, local-parts, domains).
    Word(String),
    /// A quoted string's content; never part of a domain.
    Quoted,
    /// A domain literal `[...]`.
    Literal(String),
    /// One of `<`, `>`, `@`, `,`, `:`, `;`.
    Special(char),
    /// Whitespace or a comment between words, which separates them.
    Space,
}

/// Splits a field body into tokens, dropping comments. Unbalanced quotes, comments and
/// literals run to the end of the input.
fn tokenize(value: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = value.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut word, &mut tokens);
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                tokens.push(Token::Quoted);
            }
            '(' => {
                flush(&mut word, &mut tokens);
                let mut depth = 1usize;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => {
                            chars.next();
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                tokens.push(Token::Space);
            }
            '[' => {
                flush(&mut word, &mut tokens);
                let mut literal = String::from("[");
                for q in chars.by_ref() {
                    literal.push(q);
                    if q == ']' {
                        break;
                    }
                }
                tokens.push(Token::Literal(literal));
            }
            '<' | '>' | '@' | ',' | ':' | ';' => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Special(c));
            }
            c if c.is_whitespace() => {
                flush(&mut word, &mut tokens);
                if tokens.last() != Some(&Token::Space) {
                    tokens.push(Token::Space);
                }
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// The address part of each mailbox: the tokens inside `<...>` when there are angle
/// brackets, else the whole element. Group names (`name:`) and the group end (`;`) separate
/// elements like commas do.
fn mailboxes(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut result = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut angle: Option<Vec<Token>> = None;
    let mut in_angle = false;
    let finish = |current: &mut Vec<Token>, angle: &mut Option<Vec<Token>>, out: &mut Vec<_>| {
        let element = match angle.take() {
            Some(inside) => inside,
            None => std::mem::take(current),
        };
        current.clear();
        if element.iter().any(|t| !matches!(t, Token::Space)) {
            out.push(element);
        }
    };
    for token in tokens {
        if in_angle {
            match token {
                Token::Special('>') => in_angle = false,
                other => angle.get_or_insert_with(Vec::new).push(other.clone()),
            }
            continue;
        }
        match token {
            Token::Special('<') => {
                in_angle = true;
                angle = Some(Vec::new());
            }
            Token::Special(',') | Token::Special(';') => {
                finish(&mut current, &mut angle, &mut result)
            }
            // A group's display name ends here; what came before it is not a mailbox.
            Token::Special(':') if angle.is_none() => current.clear(),
            other => current.push(other.clone()),
        }
    }
    finish(&mut current, &mut angle, &mut result);
    result
}

/// The domain after the last top-level `@` of one mailbox's address tokens. An obsolete
/// route (`@relay:user@host`) ends at its `:`, so only the part after the last `:` counts.
fn mailbox_domain(address: &[Token]) -> Result<String, FromError> {
    let address = match address.iter().rposition(|t| *t == Token::Special(':')) {
        Some(colon) => &address[colon + 1..],
        None => address,
    };
    let shown = || render(address);
    let at = address
        .iter()
        .rposition(|t| *t == Token::Special('@'))
        .ok_or_else(|| FromError::BadDomain(shown()))?;
    // Whitespace and comments may surround the dots of an obsolete domain (RFC 5322 §4.4)
    // but not split a label: "exa mple.com" is not a domain.
    let mut domain = String::new();
    let mut spaced = false;
    for token in &address[at + 1..] {
        match token {
            Token::Word(word) => {
                if spaced && !domain.is_empty() && !domain.ends_with('.') && !word.starts_with('.')
                {
                    return Err(FromError::BadDomain(shown()));
                }
                domain.push_str(word);
                spaced = false;
            }
            Token::Space => spaced = true,
            _ => return Err(FromError::BadDomain(shown())),
        }
    }
    let mut domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if !domain.is_ascii() {
        // RFC 9989 §5.3.1: a U-label domain is looked up by its A-label form (RFC 5891).
        domain = idna::domain_to_ascii(&domain)
            .map_err(|_| FromError::Internationalized(domain.clone()))?;
    }
    let atext = domain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if domain.is_empty() || !atext || !is_valid_mail_domain(&domain) {
        return Err(FromError::BadDomain(shown()));
    }
    Ok(domain)
}

/// The address as text again, for error messages.
fn render(address: &[Token]) -> String {
    let mut text = String::new();
    for token in address {
        match token {
            Token::Word(w) | Token::Literal(w) => text.push_str(w),
            Token::Quoted => text.push_str("\"...\""),
            Token::Special(c) => text.push(*c),
            Token::Space => {}
        }
    }
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Result<Vec<String>, FromError> {
        author_domains(&[value])
    }

    #[test]
    fn plain_and_named_addresses() {
        assert_eq!(one("alice@example.com").unwrap(), ["example.com"]);
        assert_eq!(one(" Alice <alice@example.com>").unwrap(), ["example.com"]);
        assert_eq!(
            one("\"Bob @ Example, Inc.\" <bob@Example.ORG.>").unwrap(),
            ["example.org"]
        );
        assert_eq!(
            one("=?utf-8?q?J=C3=B6rg?= <j@mail.example.de>").unwrap(),
            ["mail.example.de"]
        );
        assert_eq!(
            one("John Q. Public <jqp@example.net>").unwrap(),
            ["example.net"]
        );
    }

    #[test]
    fn comments_and_folding() {
        assert_eq!(
            one("alice(at home)@(the (nested) domain)example.com (Alice)").unwrap(),
            ["example.com"]
        );
        assert_eq!(
            one("Alice\r\n <alice@\r\n example.com>").unwrap(),
            ["example.com"]
        );
        assert_eq!(
            one("(evil@other.example) a@example.com").unwrap(),
            ["example.com"]
        );
        // A quoted local-part may contain @ and brackets.
        assert_eq!(
            one("\"a@b <c@evil.example>\"@example.com").unwrap(),
            ["example.com"]
        );
    }

    #[test]
    fn groups_routes_and_lists() {
        assert_eq!(
            one("Friends: a@one.example, B <b@two.example>;").unwrap(),
            ["one.example", "two.example"]
        );
        assert_eq!(
            one("<@relay.example:user@example.com>").unwrap(),
            ["example.com"]
        );
        assert_eq!(
            one("a@example.com, b@EXAMPLE.com, c@other.example").unwrap(),
            ["example.com", "other.example"]
        );
        assert_eq!(
            author_domains(&["a@example.com", "b@other.example"]).unwrap(),
            ["example.com", "other.example"]
        );
        assert_eq!(one("undisclosed-recipients:;"), Err(FromError::NoAddress));
    }

    #[test]
    fn malformed_from() {
        assert_eq!(author_domains(&[]), Err(FromError::Missing));
        assert_eq!(one(""), Err(FromError::NoAddress));
        assert!(matches!(one("Alice"), Err(FromError::BadDomain(_))));
        assert!(matches!(one("alice@"), Err(FromError::BadDomain(_))));
        assert!(matches!(
            one("alice@localhost"),
            Err(FromError::BadDomain(_))
        ));
        assert!(matches!(one("a@[192.0.2.1]"), Err(FromError::BadDomain(_))));
        assert!(matches!(
            one("a@exa mple.com"),
            Err(FromError::BadDomain(_))
        ));
        assert!(matches!(one("a@b..com"), Err(FromError::BadDomain(_))));
        assert_eq!(one("<a@example.com").unwrap(), ["example.com"]);
        assert!(one("\"unterminated <a@example.com>").is_err());
        assert_eq!(one("a@Bücher.example").unwrap(), ["xn--bcher-kva.example"]);
        assert!(matches!(
            one("a@b\u{fffd}x.example"),
            Err(FromError::Internationalized(_))
        ));
        let many: Vec<String> = (0..20).map(|i| format!("a@d{i}.example")).collect();
        assert_eq!(one(&many.join(", ")), Err(FromError::TooMany));
        assert_eq!(one(&"x".repeat(MAX_FROM_LEN + 1)), Err(FromError::TooLong));
    }

    #[test]
    fn lenient_reading_keeps_the_good_domains() {
        let authors = read_authors(&["root, ceo@bank.example, x@localhost"]);
        assert_eq!(authors.domains, ["bank.example"]);
        assert!(matches!(authors.problem, Some(FromError::BadDomain(_))));
        let many: Vec<String> = (0..20).map(|i| format!("a@d{i}.example")).collect();
        let authors = read_authors(&[&many.join(", ")]);
        assert_eq!(authors.domains.len(), MAX_AUTHOR_DOMAINS);
        assert_eq!(authors.problem, Some(FromError::TooMany));
        let long = format!("a@example.com, {}", "é".repeat(MAX_FROM_LEN));
        let authors = read_authors(&[&long]);
        assert_eq!(authors.domains, ["example.com"]);
        assert_eq!(authors.problem, Some(FromError::TooLong));
    }

    /// Random strings over the characters the grammar cares about; none may panic, and any
    /// domain returned must be a valid mail domain.
    #[test]
    fn never_panics_on_random_input() {
        let alphabet: Vec<char> = "aZ09.-_@<>,:;\"()[]\\ \t\r\n=?é\u{0}".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let authors = read_authors(&[&text, "x@example.com"]);
            assert!(
                authors
                    .domains
                    .iter()
                    .all(|d| is_valid_mail_domain(d) && !d.contains(' ')),
                "{text:?} gave {authors:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_junk() {
        for junk in [
            "<<<>>>",
            "@@@",
            ":::;;;",
            "(((",
            "\\",
            "\"\\",
            "[",
            "a@[",
            "<@:>",
            "@",
            ",,,",
            "\u{0}@\u{0}",
            "é@é.é",
        ] {
            let _ = one(junk);
        }
    }
}
