//! The identity of a learned message: what makes learning the same message twice count once.
//!
//! Only what does not change in transit goes in: Message-ID, Date, From, Subject and the
//! body. Our own X-Spam-* fields, Delivered-To and local Received hops are added after the
//! scan, so the copy autolearned at SMTP time and the copy later learned from `.Spam/cur`
//! get the same digest. The body is in it so two different messages sharing a Message-ID
//! (list copies, lazy spamware) are not merged.

use aws_lc_rs::digest;

use crate::content::Content;

/// Bytes of SHA-256 kept: 128 bits, far from any chance collision.
pub const DIGEST_LEN: usize = 16;

const DOMAIN: &[u8] = b"kanmon-bayes-v1\0";

/// The digest of a message, from its decoded header fields and its raw body.
pub fn message_digest(content: &Content, raw: &[u8]) -> [u8; DIGEST_LEN] {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(DOMAIN);
    for name in ["message-id", "date", "from", "subject"] {
        let value = content
            .headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map_or("", |(_, value)| value.trim());
        context.update(value.as_bytes());
        context.update(b"\0");
    }
    for line in body(raw).split(|&b| b == b'\n') {
        let line = line.trim_ascii_end();
        context.update(line);
        context.update(b"\n");
    }
    let full = context.finish();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full.as_ref()[..DIGEST_LEN]);
    out
}

/// The body: after the first empty line, trailing blank lines removed; empty when the
/// message has no body.
fn body(raw: &[u8]) -> &[u8] {
    let start = find(raw, b"\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| find(raw, b"\n\n").map(|at| at + 2))
        .unwrap_or(raw.len());
    raw[start..].trim_ascii_end()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
