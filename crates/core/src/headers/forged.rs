//! Finding Authentication-Results fields that claim to be ours before we wrote any.
//!
//! RFC 8601 §5 requires an MTA to delete fields that claim, by their authserv-id, to come
//! from inside its trust boundary but arrived from outside it; otherwise a sender could
//! forge our verdicts (`dkim=pass`) for the MUAs and filters that trust our id. This module only finds them; front-ends
//! remove them (or rename them, as Haraka does, to `Original-Authentication-Results`).
//!
//! The authserv-id is the field's first `value` (RFC 8601 §2.2: token or quoted-string),
//! after any CFWS, and before an optional version number and the first `;`. It is compared
//! ignoring ASCII case, like the host name it usually is. A field whose id cannot be read
//! claims nothing and is left alone.

use kanmon_auth::message::Message;

/// See [`super::forged_authentication_results`].
pub(crate) fn find(message: &Message<'_>, authserv_id: &str) -> Vec<usize> {
    message
        .fields("Authentication-Results")
        .enumerate()
        .filter(|(_, field)| claims(field.value(), authserv_id))
        .map(|(index, _)| index)
        .collect()
}

/// Whether the value's authserv-id is `authserv_id`, ignoring ASCII case.
pub(crate) fn claims(value: &[u8], authserv_id: &str) -> bool {
    authserv_id_of(value).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id.as_bytes()))
}

/// The authserv-id of an Authentication-Results value, quoted-pairs resolved.
fn authserv_id_of(value: &[u8]) -> Option<Vec<u8>> {
    let rest = skip_cfws(value);
    match rest.first()? {
        b'"' => quoted_string(rest.get(1..)?),
        _ => {
            let end = rest
                .iter()
                .position(|b| !is_token_byte(*b))
                .unwrap_or(rest.len());
            (end > 0).then(|| rest.get(..end).unwrap_or_default().to_vec())
        }
    }
}

/// RFC 2045 §5.1 token characters, with any 8-bit byte allowed so that an id in UTF-8
/// (RFC 8616) compares as written.
fn is_token_byte(b: u8) -> bool {
    (b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b)) || !b.is_ascii()
}

/// The content of a quoted-string whose opening quote is already consumed; `None` when it
/// never closes.
fn quoted_string(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match rest {
            [] => return None,
            [b'"', ..] => return Some(out),
            [b'\\', c, tail @ ..] => {
                out.push(*c);
                rest = tail;
            }
            [b'\r' | b'\n', tail @ ..] => rest = tail,
            [c, tail @ ..] => {
                out.push(*c);
                rest = tail;
            }
        }
    }
}

/// Skips whitespace, line breaks of folding, and comments (nested, with quoted-pairs)
/// (RFC 5322 §3.2.2).
fn skip_cfws(mut rest: &[u8]) -> &[u8] {
    loop {
        match rest {
            [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] => rest = tail,
            [b'(', tail @ ..] => rest = skip_comment(tail),
            _ => return rest,
        }
    }
}

/// Skips a comment whose `(` is already consumed; an unclosed one runs to the end.
fn skip_comment(mut rest: &[u8]) -> &[u8] {
    let mut depth = 1usize;
    loop {
        match rest {
            [] => return rest,
            [b'\\', _, tail @ ..] => rest = tail,
            [b'(', tail @ ..] => {
                depth += 1;
                rest = tail;
            }
            [b')', tail @ ..] => {
                depth -= 1;
                rest = tail;
                if depth == 0 {
                    return rest;
                }
            }
            [_, tail @ ..] => rest = tail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(raw: &str) -> Vec<usize> {
        let message = Message::parse(raw.as_bytes()).unwrap();
        find(&message, "mx.example.net")
    }

    #[test]
    fn finds_ours_among_others() {
        let raw = "Authentication-Results: mx.example.net; dkim=pass header.d=bank.example\r\n\
                   Received: from x by y\r\n\
                   Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=a@b.example\r\n\
                   authentication-results: MX.Example.NET; none\r\n\
                   From: a@b.example\r\n\
                   \r\n\
                   body\r\n";
        assert_eq!(found(raw), [0, 2]);
    }

    #[test]
    fn comments_versions_quotes_and_folding() {
        let raw = "Authentication-Results: (forged) mx.example.net 1; dkim=pass\r\n\
                   Authentication-Results: (a (nested\\) comment)) \"mx.example.net\"; spf=pass\r\n\
                   Authentication-Results:\r\n\tmx.example.net\r\n\t; dmarc=pass\r\n\
                   Authentication-Results: mx.example.net(comment); arc=pass\r\n\
                   Authentication-Results: \"mx.exa\\mple.net\"; arc=pass\r\n\
                   \r\n";
        assert_eq!(found(raw), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn look_alikes_are_not_ours() {
        let raw = "Authentication-Results: mx.example.net.evil.example; dkim=pass\r\n\
                   Authentication-Results: evil.mx.example.net; dkim=pass\r\n\
                   Authentication-Results: mx.example.netx; dkim=pass\r\n\
                   Authentication-Results: \"mx.example.net ; dkim=pass\r\n\
                   Authentication-Results: (mx.example.net) other.example; dkim=pass\r\n\
                   Authentication-Results: (unclosed mx.example.net; dkim=pass\r\n\
                   Authentication-Results:\r\n\
                   X-Authentication-Results: mx.example.net; dkim=pass\r\n\
                   \r\n";
        assert!(found(raw).is_empty());
    }

    #[test]
    fn no_authentication_results() {
        assert!(found("From: a@b.example\r\n\r\nbody\r\n").is_empty());
    }
}
