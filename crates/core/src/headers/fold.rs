//! Folding a header field for writing (RFC 5322 §2.2.3).
//!
//! The convention: every [`Header`](crate::verdict::Header) value the renderers return is one
//! line, with no CR or LF, so tests, JSON output and logs see exactly what was decided. A
//! writer folds when it writes, with [`fold`] (a whole field, CRLF, for the CLI's `filter`
//! and `deliver`) or [`fold_value`] (the value alone, with the line ending it needs; a milter
//! passes `LineEnding::Lf`, as OpenDKIM passes "\n\t" to `smfi_insheader`, and Postfix turns
//! it into CRLF on the wire).
//!
//! How: lines are kept within [`LINE_WIDTH`] characters where possible (RFC 5322 §2.1.1
//! "SHOULD be no more than 78 characters"), breaking greedily at
//! * a space outside quoted-strings, which the fold replaces ("\r\n\t" stands where " " was;
//!   unfolding gives a TAB, which RFC 5322 §3.2.2 treats the same as the space);
//! * a space after `;` outside quoted-strings and comments, always, once the field does not
//!   fit on one line: each Authentication-Results method, Received-SPF key and symbol then
//!   gets a line of its own, as OpenDKIM and rspamd lay them out;
//! * after a comma with no space after it, outside quoted-strings, only inside a word too
//!   long for a line of its own: the fold then adds a TAB the value did not have, as
//!   SpamAssassin's own wrapping does for a long `tests=A,B,C`.
//!
//! Quoted-strings are never broken, so a folded value unfolds to the same quoted text. A run
//! with no break point stays whole, however long: every value the renderers write is
//! bounded, so such a run stays far below RFC 5322's hard limit of 998.

use std::borrow::Cow;

use kanmon_auth::message::LineEnding;

/// Where lines are broken, in characters (RFC 5322 §2.1.1).
pub const LINE_WIDTH: usize = 78;

/// The whole field, `Name: value`, folded with CRLF + TAB and without a final line ending.
///
/// ```
/// # use kanmon_core::headers::fold;
/// assert_eq!(
///     fold("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom=alice@example.org; dkim=none; dmarc=none header.from=example.org"),
///     "Authentication-Results: mx.example.net;\r\n\tspf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=none;\r\n\tdmarc=none header.from=example.org",
/// );
/// ```
pub fn fold(name: &str, value: &str) -> String {
    format!("{name}: {}", fold_value(name, value, LineEnding::Crlf))
}

/// The value alone, folded as if written after `Name: `, with `line_ending` + TAB at each
/// fold.
pub fn fold_value(name: &str, value: &str, line_ending: LineEnding) -> String {
    // Values never hold line breaks; should one slip through, it must not end the field.
    let value = if value.contains(['\r', '\n']) {
        Cow::Owned(value.replace(['\r', '\n'], " "))
    } else {
        Cow::Borrowed(value)
    };
    let pieces = split(&value);
    let prefix = width(name) + 2;
    let fits_one_line = prefix + width(&value) <= LINE_WIDTH;
    let mut out = String::with_capacity(value.len() + 16);
    let fold = |out: &mut String| {
        out.push_str(line_ending.as_str());
        out.push('\t');
    };
    let mut column = prefix;
    let mut rest = pieces.as_slice();
    // A word runs from one whitespace break to the next; its comma breaks are used only
    // when the whole word does not fit on a line of its own.
    while let Some((first, tail)) = rest.split_first() {
        let commas = tail
            .iter()
            .take_while(|piece| piece.before == Break::AfterComma)
            .count();
        let (word, next) = rest.split_at(1 + commas);
        rest = next;
        let word_width: usize = word.iter().map(|piece| width(piece.text)).sum();
        let breaks = match first.before {
            Break::None => false,
            // A break before nothing would leave a line of only whitespace (RFC 5322 §3.2.2).
            _ if word_width == 0 => false,
            Break::AfterSemicolon(_) if !fits_one_line => true,
            _ => column + first.before.width() + word_width > LINE_WIDTH && column > 1,
        };
        if breaks {
            fold(&mut out);
            column = 1;
        } else {
            if let Break::Space(c) | Break::AfterSemicolon(c) = first.before {
                out.push(c);
            }
            column += first.before.width();
        }
        for (index, piece) in word.iter().enumerate() {
            let piece_width = width(piece.text);
            if index > 0 && column + piece_width > LINE_WIDTH && column > 1 {
                fold(&mut out);
                column = 1;
            }
            out.push_str(piece.text);
            column += piece_width;
        }
    }
    out
}

/// Columns `text` takes: its characters (bytes, for the usual ASCII).
fn width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// What stands before a piece of the value, and where a fold may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// The start of the value.
    None,
    /// One whitespace character, replaced by the fold.
    Space(char),
    /// Whitespace after a `;` outside comments and quoted-strings.
    AfterSemicolon(char),
    /// Directly after a comma with no whitespace; a fold here adds whitespace, so it is
    /// used only inside a word too long for a line.
    AfterComma,
}

impl Break {
    /// Columns it takes when not folded.
    fn width(self) -> usize {
        match self {
            Break::Space(_) | Break::AfterSemicolon(_) => 1,
            Break::None | Break::AfterComma => 0,
        }
    }
}

/// A stretch of the value with no break point inside.
struct Piece<'a> {
    before: Break,
    text: &'a str,
}

/// Cuts the value at every break point, tracking quoted-strings (no break inside),
/// comments (no `;` break inside) and quoted-pairs. Works on bytes: every character that
/// matters is ASCII, and no byte of a multi-byte UTF-8 character is, so each cut falls on
/// a character boundary.
fn split(value: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::with_capacity(16);
    let mut before = Break::None;
    let mut start = 0;
    let mut in_quotes = false;
    let mut comment_depth = 0usize;
    let mut escaped = false;
    let mut previous = 0u8;
    for (i, b) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            previous = b;
            continue;
        }
        let cut = match b {
            b'\\' if in_quotes || comment_depth > 0 => {
                escaped = true;
                None
            }
            b'"' if comment_depth == 0 => {
                in_quotes = !in_quotes;
                None
            }
            b'(' if !in_quotes => {
                comment_depth += 1;
                None
            }
            b')' if !in_quotes => {
                comment_depth = comment_depth.saturating_sub(1);
                None
            }
            b' ' | b'\t' if !in_quotes => {
                let c = char::from(b);
                Some(if previous == b';' && comment_depth == 0 {
                    Break::AfterSemicolon(c)
                } else {
                    Break::Space(c)
                })
            }
            _ if previous == b',' && !in_quotes => {
                pieces.push(Piece {
                    before,
                    text: value.get(start..i).unwrap_or_default(),
                });
                before = Break::AfterComma;
                start = i;
                None
            }
            _ => None,
        };
        if let Some(kind) = cut {
            pieces.push(Piece {
                before,
                text: value.get(start..i).unwrap_or_default(),
            });
            before = kind;
            start = i + 1;
        }
        previous = b;
    }
    pieces.push(Piece {
        before,
        text: value.get(start..).unwrap_or_default(),
    });
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_fields_stay_on_one_line() {
        assert_eq!(
            fold("X-Spam-Status", "No, score=0.0 required=6.0 tests=none"),
            "X-Spam-Status: No, score=0.0 required=6.0 tests=none"
        );
        assert_eq!(fold("X-Spam-Level", ""), "X-Spam-Level: ");
    }

    #[test]
    fn authentication_results_fold_one_method_per_line() {
        let value = "mx.example.net; spf=fail (203.0.113.5 is not permitted by spoofed.test (-all)) smtp.mailfrom=alice@spoofed.test; dkim=none; dmarc=fail (p=reject dis=reject) header.from=spoofed.test; arc=none";
        assert_eq!(
            fold("Authentication-Results", value),
            "Authentication-Results: mx.example.net;\r\n\
             \tspf=fail (203.0.113.5 is not permitted by spoofed.test (-all))\r\n\
             \tsmtp.mailfrom=alice@spoofed.test;\r\n\
             \tdkim=none;\r\n\
             \tdmarc=fail (p=reject dis=reject) header.from=spoofed.test;\r\n\
             \tarc=none"
        );
    }

    #[test]
    fn semicolons_inside_comments_and_quotes_are_not_break_points() {
        let value = "mx.example.net; dkim=fail (2048-bit key; body hash did not verify) header.d=example.com header.b=\"a; b c\"";
        assert_eq!(
            fold("Authentication-Results", value),
            "Authentication-Results: mx.example.net;\r\n\
             \tdkim=fail (2048-bit key; body hash did not verify) header.d=example.com\r\n\
             \theader.b=\"a; b c\""
        );
    }

    #[test]
    fn long_test_lists_break_after_commas_as_spamassassin_does() {
        // A list that fits on a line of its own moves there whole.
        let value = "Yes, score=14.2 required=6.0 tests=ARC_INVALID,DKIM_INVALID,DMARC_REJECT,SPF_FAIL,SPF_HELO_FAIL autolearn=disabled version=0.1.0";
        assert_eq!(
            fold("X-Spam-Status", value),
            "X-Spam-Status: Yes, score=14.2 required=6.0\r\n\
             \ttests=ARC_INVALID,DKIM_INVALID,DMARC_REJECT,SPF_FAIL,SPF_HELO_FAIL\r\n\
             \tautolearn=disabled version=0.1.0"
        );
        // One that does not (78 characters, 79 with the TAB) is broken after a comma.
        let value = "Yes, score=14.2 required=6.0 tests=ARC_INVALID,DKIM_INVALID,DKIM_SIGNED,DMARC_REJECT,SPF_FAIL,SPF_HELO_FAIL autolearn=disabled version=0.1.0";
        assert_eq!(
            fold("X-Spam-Status", value),
            "X-Spam-Status: Yes, score=14.2 required=6.0\r\n\
             \ttests=ARC_INVALID,DKIM_INVALID,DKIM_SIGNED,DMARC_REJECT,SPF_FAIL,\r\n\
             \tSPF_HELO_FAIL autolearn=disabled version=0.1.0"
        );
        let very_long = format!(
            "No, score=0.0 required=6.0 tests={}",
            ["ABCDEFGHIJKL"; 12].join(",")
        );
        for line in fold("X-Spam-Status", &very_long).split("\r\n") {
            assert!(line.chars().count() <= LINE_WIDTH, "{line}");
        }
    }

    #[test]
    fn milter_values_fold_with_lf_and_unfold_to_the_same_words() {
        let value = "pass (mx.example.net: domain of alice@example.org designates 192.0.2.1 as permitted sender) receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"alice@example.org\"; helo=mail.example.org; identity=mailfrom;";
        let folded = fold_value("Received-SPF", value, LineEnding::Lf);
        assert!(!folded.contains('\r'));
        assert_eq!(folded.replace("\n\t", " "), value);
        for line in format!("Received-SPF: {folded}").split('\n') {
            assert!(line.chars().count() <= LINE_WIDTH, "{line}");
        }
    }

    #[test]
    fn quoted_strings_are_never_broken() {
        let value = format!("x; a=\"{}\"", "word ".repeat(30).trim_end());
        let folded = fold("X-Test", &value);
        assert_eq!(
            folded,
            format!("X-Test: x;\r\n\ta=\"{}\"", "word ".repeat(30).trim_end())
        );
    }

    #[test]
    fn stray_line_breaks_become_spaces() {
        assert_eq!(
            fold("X-Test", "a\r\nInjected: yes"),
            "X-Test: a  Injected: yes"
        );
    }
}
