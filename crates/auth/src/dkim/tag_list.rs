//! The tag-list syntax shared by DKIM-Signature fields, DKIM key records and (later) the ARC
//! header fields (RFC 6376 §3.2, RFC 8617 §4.1).
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC
//! tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//! tval      =  1*VALCHAR          ; %x21-3A / %x3C-7E
//! ```
//!
//! The parser is strict where the grammar is: a tag name must start with a letter, a value
//! may hold only printable ASCII but `;`, an empty tag-spec (`a=1;;b=2`) is an error, and so
//! is a tag that appears twice (§3.2: "Tags with duplicate names MUST NOT occur within a
//! single tag-list"). It is lenient in one place: a bare LF counts as a line break inside
//! FWS, because messages read from files and pipes use LF endings.
//!
//! It borrows from its input and allocates only the list itself.

use std::ops::Range;

/// One `name=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag<'a> {
    /// The tag name, case-sensitive (§3.2: "Tags are case sensitive").
    pub(crate) name: &'a str,
    /// The value without surrounding whitespace; may contain folding whitespace inside.
    pub(crate) value: &'a str,
    /// Where the value lies in the input, from just after `=` to just before `;` (or the
    /// end), surrounding whitespace included. Blanking `b=` for signing and verifying removes
    /// exactly this range (RFC 6376 §3.7: the b= value "including all surrounding
    /// whitespace" is treated as the empty string).
    pub(crate) raw_value: Range<usize>,
}

/// Why a tag-list could not be read. Offsets are 0-based into the tag-list text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TagListError {
    /// A tag name that does not start with a letter, or a missing name.
    #[error("tag name expected at offset {0}")]
    NameExpected(usize),
    /// A name not followed by `=`.
    #[error("\"=\" expected at offset {0}")]
    EqualsExpected(usize),
    /// A byte not allowed in a value (control characters, 8-bit bytes).
    #[error("invalid character in the value of tag {0}")]
    InvalidValue(String),
    /// The same tag twice.
    #[error("duplicate tag {0}")]
    Duplicate(String),
}

/// Parses a tag-list. An input of only whitespace is an empty list.
pub(crate) fn parse(input: &[u8]) -> Result<Vec<Tag<'_>>, TagListError> {
    let mut tags: Vec<Tag<'_>> = Vec::with_capacity(12);
    let mut pos = skip_fws(input, 0);
    while pos < input.len() {
        // tag-name
        let name_start = pos;
        if !input.get(pos).is_some_and(u8::is_ascii_alphabetic) {
            return Err(TagListError::NameExpected(pos));
        }
        pos += 1;
        while input
            .get(pos)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            pos += 1;
        }
        let name = ascii(input, name_start..pos);
        pos = skip_fws(input, pos);
        if input.get(pos) != Some(&b'=') {
            return Err(TagListError::EqualsExpected(pos));
        }
        pos += 1;
        // tag-value, up to the next ";" or the end
        let raw_start = pos;
        let raw_end = input
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == b';'))
            .map_or(input.len(), |semi| pos + semi);
        let raw = input.get(raw_start..raw_end).unwrap_or_default();
        if !raw.iter().all(|&b| is_fws(b) || (0x21..=0x7e).contains(&b)) {
            return Err(TagListError::InvalidValue(name.to_owned()));
        }
        let leading = raw.iter().take_while(|&&b| is_fws(b)).count();
        let trailing = raw.iter().rev().take_while(|&&b| is_fws(b)).count();
        let value_end = raw_end - trailing;
        let value_start = (raw_start + leading).min(value_end);
        let value = ascii(input, value_start..value_end);
        if tags.iter().any(|tag| tag.name == name) {
            return Err(TagListError::Duplicate(name.to_owned()));
        }
        tags.push(Tag {
            name,
            value,
            raw_value: raw_start..raw_end,
        });
        pos = raw_end;
        if pos < input.len() {
            // at ";": a trailing one may be followed only by whitespace
            pos = skip_fws(input, pos + 1);
        }
    }
    Ok(tags)
}

/// The value of tag `name`, if present.
pub(crate) fn get<'a>(tags: &[Tag<'a>], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|tag| tag.name == name)
        .map(|tag| tag.value)
}

/// Splits a colon-separated value (`h=`, key `h=`, `s=`, `t=`) into trimmed items; FWS may
/// surround each colon (RFC 6376 §3.5 `sig-h-tag`).
pub(crate) fn colon_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(':')
        .map(|item| item.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n'))
}

/// Removes folding whitespace from a base64 value (RFC 6376 §3.5, `b=` and `bh=`; §3.6.1
/// `p=`), so it can be decoded.
pub(crate) fn strip_fws(value: &str) -> Vec<u8> {
    value.bytes().filter(|b| !b.is_ascii_whitespace()).collect()
}

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_fws(input: &[u8], mut pos: usize) -> usize {
    while input.get(pos).is_some_and(|&b| is_fws(b)) {
        pos += 1;
    }
    pos
}

/// The text of `range`, which the caller has checked is ASCII.
fn ascii(input: &[u8], range: Range<usize>) -> &str {
    input
        .get(range)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(input: &str) -> Vec<(String, String)> {
        parse(input.as_bytes())
            .unwrap()
            .into_iter()
            .map(|t| (t.name.to_owned(), t.value.to_owned()))
            .collect()
    }

    #[test]
    fn reads_tags_with_folding_whitespace() {
        assert_eq!(
            pairs(" v=1; a=rsa-sha256;\r\n\td = example.com ; h=from : to;\r\n b=abc\r\n def "),
            [
                ("v", "1"),
                ("a", "rsa-sha256"),
                ("d", "example.com"),
                ("h", "from : to"),
                ("b", "abc\r\n def"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn trailing_semicolon_and_empty_values() {
        assert_eq!(pairs("p=;"), [("p".to_owned(), String::new())]);
        assert_eq!(
            pairs("v=DKIM1; p= ;  "),
            [
                ("v".to_owned(), "DKIM1".to_owned()),
                ("p".to_owned(), String::new())
            ]
        );
        assert!(pairs("  ").is_empty());
    }

    #[test]
    fn raw_value_covers_surrounding_whitespace() {
        let input = b"a=1; b = xy z ; c=2";
        let tags = parse(input).unwrap();
        assert_eq!(&input[tags[1].raw_value.clone()], b" xy z ");
        assert_eq!(tags[1].value, "xy z");
        let input = b"bh=1; b=";
        let tags = parse(input).unwrap();
        assert_eq!(tags[1].raw_value, 8..8);
    }

    #[test]
    fn strict_errors() {
        assert_eq!(
            parse(b"a=1; a=2").unwrap_err(),
            TagListError::Duplicate("a".into())
        );
        assert_eq!(
            parse(b"a=1;;b=2").unwrap_err(),
            TagListError::NameExpected(4)
        );
        assert_eq!(parse(b"1a=2").unwrap_err(), TagListError::NameExpected(0));
        assert_eq!(parse(b"a 1").unwrap_err(), TagListError::EqualsExpected(2));
        assert_eq!(
            parse("n=caf\u{e9}".as_bytes()).unwrap_err(),
            TagListError::InvalidValue("n".into())
        );
        assert!(parse(b"a=\x01").is_err());
        // tag names are case-sensitive, so these are two different tags
        assert_eq!(parse(b"a=1; A=2").unwrap().len(), 2);
    }

    #[test]
    fn helpers() {
        assert_eq!(
            colon_list("from : To:\r\n subject").collect::<Vec<_>>(),
            ["from", "To", "subject"]
        );
        assert_eq!(strip_fws("ab\r\n cd\t="), b"abcd=");
    }
}
