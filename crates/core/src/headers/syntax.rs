//! The lexical pieces every header here is built from: tokens, quoted-strings, comments and
//! dot-atoms, written so that whatever the input, the output parses.
//!
//! Much of what goes into the headers comes from the sender: the MAIL FROM address, the HELO
//! name, a signature's `d=` and `s=`, a domain's SPF explanation. None of it is trusted to be
//! well formed. Every piece passes through one of the writers below, which
//! * drop control characters (CR and LF above all: a header value never breaks a line;
//!   folding is [`super::fold`]'s job),
//! * quote or escape what the grammar does not allow bare, and
//! * bound the length ([`MAX_VALUE_CHARS`], [`MAX_COMMENT_CHARS`]), so a hostile field cannot
//!   turn into a megabyte of header.

use std::borrow::Cow;

/// Longest value written, in characters. A domain name is at most 255 octets (RFC 1035
/// §2.3.4) and a reverse-path at most 256 (RFC 5321 §4.5.3.1.3), so no genuine identity is
/// cut; anything longer was invalid before it reached us, and is cut with "..." appended.
pub(crate) const MAX_VALUE_CHARS: usize = 256;

/// Longest comment text written, in characters: room for an SPF reason with a long domain
/// and mechanism, or a DKIM problem naming a key record, while keeping a domain owner's
/// explanation (RFC 7208 §6.2, up to a whole TXT record) from filling the header.
pub(crate) const MAX_COMMENT_CHARS: usize = 256;

/// RFC 2045 §5.1 `tspecials`: the characters a `token` may not contain.
const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";

/// RFC 5322 §3.2.3 `atext` besides letters and digits.
const ATEXT_SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";

/// Whether `text` is an RFC 2045 §5.1 `token`: printable US-ASCII without space or
/// `tspecials`. RFC 8601 §2.2 writes `value` as token / quoted-string.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !TSPECIALS.contains(&b))
}

/// Whether `text` is an RFC 5322 §3.2.3 `dot-atom-text`: atoms of `atext` joined by single
/// dots, none at either end.
pub(crate) fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(&b))
        })
}

/// Whether `text` is an RFC 6376 §3.5 `domain-name` as RFC 8601 §2.2 uses it in `pvalue`:
/// two or more labels of letters, digits and inner hyphens.
fn is_domain_name(text: &str) -> bool {
    let mut labels = 0;
    for label in text.split('.') {
        let bytes = label.as_bytes();
        let ends_ok = matches!(
            (bytes.first(), bytes.last()),
            (Some(first), Some(last)) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
        );
        if !ends_ok
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Whether `text` is one whole RFC 5322 §3.2.4 `quoted-string` (as a local-part such as
/// `"john doe"` is): quotes at both ends, none unescaped inside, every `\` escaping
/// something.
fn is_quoted_string(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return false,
            '\\' if chars.next().is_none() => return false,
            _ => {}
        }
    }
    true
}

/// Appends `text` as an RFC 8601 §2.2 `pvalue`: `value` (token / quoted-string) or
/// `[[local-part] "@"] domain-name`. Tokens and addresses (`alice@example.org`,
/// `@example.org`, `"john doe"@example.org`) are written bare, as OpenDKIM and Gmail write
/// them; anything else is quoted. Over-long input is cut ([`MAX_VALUE_CHARS`]).
///
/// Implementation note: python-authres (which dkimpy and Mailman use to read these fields)
/// drops a quoted `value` unless it is the last property of its method. The renderers
/// only produce quoted values for unusual input, and put the one usual case, `header.b`
/// with a `/`, last, as OpenDKIM does.
pub(crate) fn push_pvalue(out: &mut String, text: &str) {
    let text = bounded(clean(text), MAX_VALUE_CHARS);
    let bare = is_token(&text)
        || text.rsplit_once('@').is_some_and(|(local, domain)| {
            (local.is_empty() || is_dot_atom(local) || is_quoted_string(local))
                && is_domain_name(domain)
        });
    if bare {
        out.push_str(&text);
    } else {
        push_quoted(out, &text);
    }
}

/// Appends `text` as an RFC 7208 §9.1 `key-value-pair` value: `dot-atom / quoted-string`.
/// A host name or an IPv4 address is a dot-atom; an address with `@`, an IPv6 address (`:`)
/// or an address literal (`[...]`) is quoted.
pub(crate) fn push_dot_atom_or_quoted(out: &mut String, text: &str) {
    let text = bounded(clean(text), MAX_VALUE_CHARS);
    if is_dot_atom(&text) {
        out.push_str(&text);
    } else {
        push_quoted(out, &text);
    }
}

/// Appends an RFC 5322 §3.2.4 `quoted-string`: `"` and `\` escaped as quoted-pairs. Control
/// characters must already be gone ([`clean`]).
fn push_quoted(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends an RFC 5322 §3.2.2 `comment`, parentheses included, around `text`.
///
/// Parentheses in the text that pair up are kept, making a nested comment (as in
/// "203.0.113.5 is not permitted by spoofed.test (-all)"); unpaired ones and backslashes are
/// escaped as quoted-pairs, so the comment always ends where it should. Non-ASCII characters
/// become `?`: a comment is for people, and this keeps the field 7-bit for MTAs that are.
pub(crate) fn push_comment_text(out: &mut String, text: &str) {
    push_clean_comment(out, clean(text));
}

/// [`push_comment_text`] for text [`clean`] already went over.
fn push_clean_comment(out: &mut String, text: Cow<'_, str>) {
    let text = bounded(text, MAX_COMMENT_CHARS);
    // Which parentheses pair up, by byte offset (all of them are ASCII).
    let mut paired = Vec::new();
    let mut open = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => open.push(i),
            b')' => {
                if let Some(start) = open.pop() {
                    paired.push(start);
                    paired.push(i);
                }
            }
            _ => {}
        }
    }
    out.reserve(text.len() + 4);
    out.push('(');
    for (i, c) in text.char_indices() {
        if c == '\\' || (matches!(c, '(' | ')') && !paired.contains(&i)) {
            out.push('\\');
        }
        out.push(if c.is_ascii() { c } else { '?' });
    }
    out.push(')');
}

/// `text` with control characters (CR, LF, TAB, NUL, DEL, C1) replaced by spaces, runs of
/// whitespace collapsed to one, and the ends trimmed; borrowed when it already is.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    let is_clean = !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
        && !text.chars().any(char::is_control);
    if is_clean {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    Cow::Owned(out)
}

/// `text` cut to `max` characters, with "..." appended when something was cut.
fn bounded(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    // Fewer bytes than `max` means fewer characters too.
    if text.len() <= max {
        return text;
    }
    match text.char_indices().nth(max) {
        None => text,
        Some((end, _)) => {
            let mut out = text.get(..end).unwrap_or_default().to_owned();
            out.push_str("...");
            Cow::Owned(out)
        }
    }
}

/// Appends ` ptype.property=pvalue` to `out`, unless the value is empty: RFC 8601 makes
/// every property optional, and an empty one says nothing.
pub(crate) fn push_property(out: &mut String, name: &str, value: &str) {
    if !value.is_empty() {
        out.push(' ');
        out.push_str(name);
        out.push('=');
        push_pvalue(out, value);
    }
}

/// Appends ` (text)` to `out`, unless the text is empty.
pub(crate) fn push_comment(out: &mut String, text: &str) {
    let text = clean(text);
    if !text.is_empty() {
        out.push(' ');
        push_clean_comment(out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvalue(text: &str) -> String {
        let mut out = String::new();
        push_pvalue(&mut out, text);
        out
    }

    fn dot_atom_or_quoted(text: &str) -> String {
        let mut out = String::new();
        push_dot_atom_or_quoted(&mut out, text);
        out
    }

    fn comment(text: &str) -> String {
        let mut out = String::new();
        push_comment_text(&mut out, text);
        out
    }

    #[test]
    fn tokens_and_dot_atoms() {
        assert!(is_token("rsa-sha256"));
        assert!(is_token("AbCd+Ef12"));
        assert!(!is_token("AbCd/Ef12"));
        assert!(!is_token("a b"));
        assert!(!is_token(""));
        assert!(is_dot_atom("foo.example.com"));
        assert!(is_dot_atom("-all"));
        assert!(is_dot_atom("192.0.2.1"));
        assert!(!is_dot_atom("2001:db8::1"));
        assert!(!is_dot_atom("a..b"));
        assert!(!is_dot_atom(".a"));
        assert!(!is_dot_atom("[192.0.2.1]"));
    }

    #[test]
    fn pvalues_are_bare_only_when_the_grammar_allows() {
        assert_eq!(pvalue("example.com"), "example.com");
        assert_eq!(pvalue("alice@example.com"), "alice@example.com");
        assert_eq!(pvalue("@example.com"), "@example.com");
        assert_eq!(
            pvalue("bounce+x=y@mail.example.com"),
            "bounce+x=y@mail.example.com"
        );
        assert_eq!(pvalue("AbCd/Ef12+x"), "\"AbCd/Ef12+x\"");
        assert_eq!(pvalue("john doe@example.com"), "\"john doe@example.com\"");
        assert_eq!(
            pvalue("\"john doe\"@example.com"),
            "\"john doe\"@example.com"
        );
        assert_eq!(pvalue("\"a\\\"b\"@example.com"), "\"a\\\"b\"@example.com");
        assert_eq!(
            pvalue("\"a\"b\"@example.com"),
            "\"\\\"a\\\"b\\\"@example.com\""
        );
        assert_eq!(pvalue("a\"b@example.com"), "\"a\\\"b@example.com\"");
        assert_eq!(pvalue("alice@localhost"), "\"alice@localhost\"");
        assert_eq!(pvalue("alice@-bad.example"), "\"alice@-bad.example\"");
        assert_eq!(pvalue("x\r\nInjected: yes"), "\"x Injected: yes\"");
        assert_eq!(pvalue("bücher.example"), "\"bücher.example\"");
    }

    #[test]
    fn received_spf_values() {
        assert_eq!(dot_atom_or_quoted("foo.example.com"), "foo.example.com");
        assert_eq!(dot_atom_or_quoted("192.0.2.1"), "192.0.2.1");
        assert_eq!(dot_atom_or_quoted("2001:db8::1"), "\"2001:db8::1\"");
        assert_eq!(
            dot_atom_or_quoted("myname@example.com"),
            "\"myname@example.com\""
        );
        assert_eq!(dot_atom_or_quoted("[192.0.2.1]"), "\"[192.0.2.1]\"");
    }

    #[test]
    fn comments_keep_pairs_and_escape_the_rest() {
        assert_eq!(
            comment("203.0.113.5 is not permitted by spoofed.test (-all)"),
            "(203.0.113.5 is not permitted by spoofed.test (-all))"
        );
        assert_eq!(comment("a) b (c"), "(a\\) b \\(c)");
        assert_eq!(comment("((x)"), "(\\((x))");
        assert_eq!(comment("back\\slash"), "(back\\\\slash)");
        assert_eq!(comment("line\r\nbreak\tand  tab"), "(line break and tab)");
        assert_eq!(comment("ünï"), "(?n?)");
    }

    #[test]
    fn long_input_is_cut() {
        let long = "a".repeat(1000);
        assert_eq!(pvalue(&long).chars().count(), MAX_VALUE_CHARS + 3);
        assert!(pvalue(&long).ends_with("a..."));
        assert_eq!(comment(&long).chars().count(), MAX_COMMENT_CHARS + 3 + 2);
    }
}
