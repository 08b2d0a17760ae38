//! What a message says once decoded: subject, addresses, text, URLs and domains.
//!
//! Derived from the raw message with mail-parser, once per message and only when a check asks
//! ([`crate::scan::Scan::content`]), since the authentication checks never need it. Text
//! parts arrive as UTF-8 whatever their transfer encoding (base64, quoted-printable) and
//! charset (ISO-2022-JP, Shift_JIS, EUC-JP, ISO-8859-x, UTF-16, Windows-1252, …; mail-parser's
//! `full_encoding` feature); HTML parts are converted to text, and their links (`href`,
//! `src`), which that conversion drops, are added to the URLs. Header values are decoded
//! (RFC 2047 encoded-words, in every field that is not structured) and unfolded, as the
//! content rules match them.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use mail_parser::{Address, Header, HeaderName, HeaderValue, MessageParser, PartType};

use crate::envelope::Envelope;

/// Most URLs collected from one message: a URL blocklist asks about each, and real mail
/// carries tens; a message with thousands is built to make us do work.
pub const MAX_URLS: usize = 1_000;

/// The decoded facts of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    /// Every header field, top first, name and value decoded to UTF-8 (RFC 2047
    /// encoded-words, charsets) and unfolded: what header rules match against.
    pub headers: Vec<(String, String)>,
    /// The Subject, decoded (RFC 2047 encoded-words).
    pub subject: Option<String>,
    /// The addresses of the From field.
    pub from: Vec<String>,
    /// Each text body part as UTF-8 (HTML converted to text), at most
    /// `limits.max_mime_parts` of them.
    pub text_parts: Vec<String>,
    /// Whether parts were left out because of that limit.
    pub parts_truncated: bool,
    /// URLs found in the text, in order, without duplicates, at most [`MAX_URLS`].
    pub urls: Vec<String>,
    /// Lowercased domains the message names: From and Reply-To addresses, the envelope
    /// sender, and the hosts of its URLs.
    pub domains: BTreeSet<String>,
}

impl Content {
    /// Decodes `raw`; a message mail-parser cannot read at all gives empty content.
    pub fn derive(raw: &[u8], envelope: &Envelope, max_parts: usize) -> Content {
        let mut content = Content::default();
        if let Some(domain) = envelope.mail_from_domain() {
            content.domains.insert(domain);
        }
        let Some(message) = PARSER.parse(raw) else {
            return content;
        };
        content.headers = message
            .headers()
            .iter()
            .map(|header| (header.name().to_owned(), decoded_value(header, raw)))
            .collect();
        content.subject = message.subject().map(str::to_owned);
        content.from = addresses(message.from());
        for address in content.from.iter().chain(&addresses(message.reply_to())) {
            if let Some((_, domain)) = address.rsplit_once('@') {
                content.domains.insert(domain.to_ascii_lowercase());
            }
        }
        let count = message.text_body_count().max(message.html_body_count());
        content.parts_truncated = count > max_parts;
        for index in 0..count.min(max_parts) {
            // Prefer the text alternative; body_text converts HTML when it is the only one.
            if let Some(text) = message.body_text(index) {
                content.text_parts.push(text.into_owned());
            }
        }
        let links: Vec<String> = (0..message.html_body_count().min(max_parts))
            .filter_map(|index| message.html_part(index as u32))
            .filter_map(|part| match &part.body {
                PartType::Html(html) => Some(html_links(html)),
                _ => None,
            })
            .flatten()
            .collect();
        let text_urls = content.text_parts.iter().flat_map(|text| find_urls(text));
        for url in text_urls.chain(links.iter().map(String::as_str)) {
            if content.urls.len() >= MAX_URLS {
                break;
            }
            if !content.urls.iter().any(|u| u == url) {
                if let Some(host) = url_host(url) {
                    content.domains.insert(host);
                }
                content.urls.push(url.to_owned());
            }
        }
        content
    }
}

/// mail-parser's default header parsers, except that every field it does not parse into
/// parts is decoded as text (RFC 2047), where by default unknown fields (`X-Mailer`,
/// `Thread-Topic`) stay raw; and message identifiers stay as written, angle brackets
/// included, as Postfix header_checks patterns (`/^Message-ID:.*example.jp>/`) expect.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .header_text(HeaderName::Subject)
        .header_text(HeaderName::Comments)
        .header_comma_separated(HeaderName::Keywords)
        .header_comma_separated(HeaderName::ContentLanguage)
        .header_received(HeaderName::Received)
        .header_raw(HeaderName::MessageId)
        .header_raw(HeaderName::InReplyTo)
        .header_raw(HeaderName::References)
        .header_raw(HeaderName::ResentMessageId)
        .header_raw(HeaderName::ReturnPath)
        .header_raw(HeaderName::ContentId)
        .header_raw(HeaderName::MimeVersion)
        .default_header_text()
});

/// The `href` and `src` URLs of an HTML part (http, https and `www.` ones), entities
/// `&amp;` undone, in order.
fn html_links(html: &str) -> Vec<String> {
    let bytes = html.as_bytes();
    let mut links = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let name_len = if starts_with_ignore_case(&bytes[at..], b"href") {
            4
        } else if starts_with_ignore_case(&bytes[at..], b"src") {
            3
        } else {
            at += 1;
            continue;
        };
        let attribute_start = at == 0 || bytes[at - 1].is_ascii_whitespace();
        at += name_len;
        if !attribute_start {
            continue;
        }
        let mut value_at = at;
        while bytes.get(value_at).is_some_and(u8::is_ascii_whitespace) {
            value_at += 1;
        }
        if bytes.get(value_at) != Some(&b'=') {
            continue;
        }
        value_at += 1;
        while bytes.get(value_at).is_some_and(u8::is_ascii_whitespace) {
            value_at += 1;
        }
        let (value_start, end_byte) = match bytes.get(value_at) {
            Some(&quote @ (b'"' | b'\'')) => (value_at + 1, Some(quote)),
            _ => (value_at, None),
        };
        let value_len = bytes[value_start..]
            .iter()
            .position(|&b| match end_byte {
                Some(quote) => b == quote,
                None => b.is_ascii_whitespace() || b == b'>',
            })
            .unwrap_or(bytes.len() - value_start);
        at = value_start + value_len;
        let Some(value) = html.get(value_start..at) else {
            continue;
        };
        let value = value.trim().replace("&amp;", "&");
        if let Some(url) = find_urls(&value).next()
            && value.starts_with(url)
        {
            links.push(url.to_owned());
        }
    }
    links
}

/// A header value as text: decoded for the kinds mail-parser decodes (text, addresses,
/// dates), the raw text unfolded for structured ones it parses into parts (Content-Type,
/// Received), whose parameters are not encoded-words.
fn decoded_value(header: &Header<'_>, raw: &[u8]) -> String {
    match &header.value {
        HeaderValue::Text(text) => unfold(text.trim()),
        HeaderValue::TextList(list) => unfold(&list.join(", ")),
        HeaderValue::Address(address) => address
            .iter()
            .map(|addr| match (addr.name(), addr.address()) {
                (Some(name), Some(address)) => format!("{name} <{address}>"),
                (None, Some(address)) => address.to_owned(),
                (Some(name), None) => name.to_owned(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        HeaderValue::DateTime(date) => date.to_rfc822(),
        HeaderValue::ContentType(_) | HeaderValue::Received(_) | HeaderValue::Empty => {
            let start = header.offset_start as usize;
            let end = header.offset_end as usize;
            let text = raw.get(start..end).unwrap_or_default();
            String::from_utf8_lossy(text)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// RFC 5322 §2.2.3: unfolding removes the line breaks and keeps the white space after them.
fn unfold(text: &str) -> String {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], "")
    } else {
        text.to_owned()
    }
}

fn addresses(field: Option<&Address<'_>>) -> Vec<String> {
    field
        .map(|address| {
            address
                .iter()
                .filter_map(|addr| addr.address())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `http://`, `https://` and bare `www.` URLs in running text, ending at whitespace,
/// quotes or brackets, without trailing sentence punctuation.
pub(crate) fn find_urls(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() {
            let start = pos;
            let rest = &bytes[start..];
            let scheme = starts_with_ignore_case(rest, b"https://")
                || starts_with_ignore_case(rest, b"http://");
            let www = starts_with_ignore_case(rest, b"www.")
                && (start == 0
                    || !bytes[start - 1].is_ascii_alphanumeric()
                        && bytes[start - 1] != b'.'
                        && bytes[start - 1] != b'/');
            if !scheme && !www {
                pos += 1;
                continue;
            }
            let len = rest
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b"\"'<>(){}|\\^`".contains(&b))
                .unwrap_or(rest.len());
            let mut end = start + len;
            // Sentence punctuation and a closing bracket that no IPv6 literal opened.
            while end > start
                && (b".,;:!?".contains(&bytes[end - 1])
                    || bytes[end - 1] == b']' && !bytes[start..end].contains(&b'['))
            {
                end -= 1;
            }
            pos = start + len.max(1);
            if let Some(url) = text.get(start..end)
                && url_host(url).is_some()
            {
                return Some(url);
            }
        }
        None
    })
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The lowercased host of a URL found by [`find_urls`], if it has a plausible one.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    if let Some(literal) = host.strip_prefix('[') {
        let literal = literal.split(']').next()?;
        return literal
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string());
    }
    let host = host.split(':').next()?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let plausible = host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b >= 0x80);
    plausible.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_urls_in_running_text() {
        let text = "See https://Example.COM/a?b=1, or www.example.net. Not: ftp://x.org, \
                    mailto:a@b.c, <http://[2001:db8::1]/x> and (http://user@host.example:8080/).";
        let urls: Vec<&str> = find_urls(text).collect();
        assert_eq!(
            urls,
            [
                "https://Example.COM/a?b=1",
                "www.example.net",
                "http://[2001:db8::1]/x",
                "http://user@host.example:8080/"
            ]
        );
        let hosts: Vec<String> = urls.iter().filter_map(|u| url_host(u)).collect();
        assert_eq!(
            hosts,
            [
                "example.com",
                "www.example.net",
                "2001:db8::1",
                "host.example"
            ]
        );
    }

    #[test]
    fn decodes_encoded_parts_and_charsets() {
        let raw = b"From: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= <alice@Example.ORG>\r\n\
            Reply-To: bob@example.net\r\n\
            Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\
            Content-Transfer-Encoding: 7bit\r\n\r\n\
            \x1b$B%F%9%H\x1b(B http://spam.example/x\r\n\
            --b\r\nContent-Type: text/html; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n\
            PHA+PGEgaHJlZj0iaHR0cHM6Ly9saW5rLmV4YW1wbGUvIj5odHRwczovL2xpbmsuZXhhbXBsZS88L2E+PC9wPg==\r\n\
            --b--\r\n";
        let envelope = Envelope {
            mail_from: Some("bounce@Mail.Example.COM".to_owned()),
            ..Envelope::default()
        };
        let content = Content::derive(raw, &envelope, 10);
        let headers: Vec<(&str, &str)> = content
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers[..4],
            [
                ("From", "テスト <alice@Example.ORG>"),
                ("Reply-To", "bob@example.net"),
                ("Subject", "café"),
                ("MIME-Version", "1.0"),
            ]
        );
        assert_eq!(headers[4], ("Content-Type", "multipart/mixed; boundary=b"));
        assert_eq!(content.subject.as_deref(), Some("café"));
        assert_eq!(content.from, ["alice@Example.ORG"]);
        assert!(
            content.text_parts[0].starts_with("テスト"),
            "{:?}",
            content.text_parts
        );
        assert_eq!(
            content.urls,
            ["http://spam.example/x", "https://link.example/"]
        );
        let domains: Vec<&str> = content.domains.iter().map(String::as_str).collect();
        assert_eq!(
            domains,
            [
                "example.net",
                "example.org",
                "link.example",
                "mail.example.com",
                "spam.example"
            ]
        );
    }

    #[test]
    fn html_links_are_urls_and_quoted_printable_does_not_split_them() {
        let raw = b"Message-ID: <a.b@xxxxx.jp>\r\n\
            X-Mailer: =?UTF-8?B?5LiA?=\r\n\
            Thread-Topic: folded\r\n  twice\r\n\
            Content-Type: multipart/alternative; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n\
            see http://qp.example/a/very/long/pa=\r\nth?x=3D1 now\r\n\
            --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
            <a HREF = \"https://link.example/?a=1&amp;b=2\">x</a> <img src=http://img.example/i.png>\r\n\
            <a data-href=\"http://not.example/\">y</a> <a href=\"mailto:a@b.example\">z</a>\r\n\
            <a href='http://qp.example/a/very/long/path?x=1'>dup</a>\r\n\
            --b--\r\n";
        let content = Content::derive(raw, &Envelope::default(), 10);
        assert_eq!(
            content.urls,
            [
                "http://qp.example/a/very/long/path?x=1",
                "https://link.example/?a=1&b=2",
                "http://img.example/i.png"
            ]
        );
        let value = |name: &str| {
            content
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        // Identifiers as written; unknown fields decoded; values unfolded.
        assert_eq!(value("Message-ID"), Some("<a.b@xxxxx.jp>"));
        assert_eq!(value("X-Mailer"), Some("一"));
        assert_eq!(value("Thread-Topic"), Some("folded twice"));
    }

    /// Charsets beyond those of the rules cases (testdata/cases/rules-*.case), as 8-bit
    /// parts; the bytes are Python's codecs' encoding of each text.
    #[test]
    fn more_charsets_become_utf8() {
        let samples: [(&str, &[u8], &str); 10] = [
            ("ISO-8859-2", b"\xa3\xf3\x64\xbc", "Łódź"),
            ("ISO-8859-5", b"\xbf\xe0\xd8\xd2\xd5\xe2", "Привет"),
            (
                "ISO-8859-7",
                b"\xc3\xe5\xe9\xdc\x20\xf3\xef\xf5",
                "Γειά σου",
            ),
            (
                "ISO-8859-9",
                b"\xdd\x73\x74\x61\x6e\x62\x75\x6c",
                "İstanbul",
            ),
            ("UTF-16BE", b"\x65\xe5\x67\x2c", "日本"),
            (
                "windows-1252",
                b"\x93\x71\x75\x6f\x74\x65\x64\x94\x20\x80",
                "“quoted” €",
            ),
            ("KOI8-R", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
            ("GB2312", b"\xd6\xd0\xce\xc4", "中文"),
            ("EUC-KR", b"\xc7\xd1\xb1\xb9\xbe\xee", "한국어"),
            ("Big5", b"\xa4\xa4\xa4\xe5", "中文"),
        ];
        for (charset, bytes, text) in samples {
            let mut raw = format!(
                "Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            )
            .into_bytes();
            raw.extend_from_slice(bytes);
            let content = Content::derive(&raw, &Envelope::default(), 10);
            assert_eq!(content.text_parts, [text], "{charset}");
        }
    }

    #[test]
    fn part_limit_is_reported() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for i in 0..5 {
            raw.extend_from_slice(
                format!("--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n").as_bytes(),
            );
        }
        raw.extend_from_slice(b"--b--\r\n");
        let content = Content::derive(&raw, &Envelope::default(), 3);
        assert_eq!(content.text_parts.len(), 3);
        assert!(content.parts_truncated);
    }
}
