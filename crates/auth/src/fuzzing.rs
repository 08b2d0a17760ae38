//! Entry points for the fuzz targets in `crates/auth/fuzz` (feature `fuzzing`): the parsers
//! that read bytes from the network, reachable without making them public API.

/// Parses `data` as an SPF record, and each of its space-separated words as a macro string in
/// both contexts.
pub fn spf_record(data: &[u8]) {
    crate::spf::fuzz_record(data);
}

/// Parses `data` as a DKIM tag-list, then as a DKIM-Signature and as a key record.
pub fn dkim_tag_list(data: &[u8]) {
    if let Ok(tags) = crate::dkim::tag_list::parse(data) {
        let _ = crate::dkim::signature::Signature::parse(&tags);
    }
    let _ = crate::dkim::key::parse(data);
}

/// Splits `data` as a message, canonicalises every header field both ways and hashes the
/// body both ways, in two chunks split at the first byte's value (to exercise the streaming
/// path); checks that relaxed canonical headers have no WSP before the final CRLF.
pub fn dkim_canonicalize(data: &[u8]) {
    use crate::dkim::{BodyHasher, Canonicalization, HashAlgorithm};
    let Ok(message) = crate::message::Message::parse(data) else {
        return;
    };
    for field in &message.headers {
        for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
            let mut out = Vec::new();
            crate::dkim::canon::canonicalize_header(&mut out, canon, field.name, field.raw);
            assert!(out.ends_with(b"\r\n"), "canonical header ends in CRLF");
            if canon == Canonicalization::Relaxed {
                let body = &out[..out.len() - 2];
                assert!(!body.ends_with(b" ") && !body.ends_with(b"\t"));
            }
        }
    }
    let split = usize::from(data.first().copied().unwrap_or(0)).min(message.body.len());
    for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
        let mut whole = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
        whole.update(message.body);
        let mut chunked = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
        chunked.update(&message.body[..split]);
        chunked.update(&message.body[split..]);
        let (whole, chunked) = (whole.finish(), chunked.finish());
        let same = whole.digest.as_ref() == chunked.digest.as_ref();
        assert!(same, "chunking changes the body hash");
        assert_eq!(whole.canonical_len, chunked.canonical_len);
    }
}
