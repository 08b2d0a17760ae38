//! The DKIM-Signature header field (RFC 6376 §3.5), parsed and checked.
//!
//! Parsing happens in two steps so that even a broken signature can be reported with the
//! domain and selector it claims: [`Claims`] reads the identifying tags without judging them,
//! then [`Signature::parse`] validates everything a verifier needs.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::canon::Canonicalization;
use super::tag_list::{self, Tag};
use super::{Algorithm, HEADER_B_LEN, HashAlgorithm};
use crate::domain;

/// Longest `l=` and `t=`/`x=` values read: RFC 6376 §3.5 allows 76 and 12 digits; `u64`
/// holds 19, which covers every body and every date that matters. Longer values are refused.
const MAX_DIGITS: usize = 19;

/// What a signature claims about itself, read without validation, for reporting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) identity: Option<String>,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) body_length: Option<u64>,
    /// The first [`HEADER_B_LEN`] characters of `b=`, without whitespace.
    pub(crate) b: String,
}

impl Claims {
    pub(crate) fn read(tags: &[Tag<'_>]) -> Self {
        let get = |name| tag_list::get(tags, name);
        Self {
            domain: get("d").unwrap_or_default().to_owned(),
            selector: get("s").unwrap_or_default().to_owned(),
            identity: get("i").map(str::to_owned),
            algorithm: get("a").and_then(Algorithm::parse),
            body_length: get("l").and_then(|l| parse_number(l).ok()),
            b: get("b")
                .map(|b| {
                    b.bytes()
                        .filter(|c| !c.is_ascii_whitespace())
                        .take(HEADER_B_LEN)
                        .map(char::from)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A DKIM-Signature that is well-formed and consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(crate) algorithm: Algorithm,
    pub(crate) signature: Vec<u8>,
    pub(crate) body_hash: Vec<u8>,
    pub(crate) header_canon: Canonicalization,
    pub(crate) body_canon: Canonicalization,
    /// `d=`, in lower case.
    pub(crate) domain: String,
    pub(crate) selector: String,
    /// The domain part of `i=` (or `d=`), in lower case.
    pub(crate) identity_domain: String,
    /// `h=`, in order, in lower case.
    pub(crate) signed_headers: Vec<String>,
    pub(crate) body_length: Option<u64>,
    pub(crate) timestamp: Option<u64>,
    pub(crate) expiration: Option<u64>,
    /// Where the `b=` value lies in the field's value (after the colon).
    pub(crate) b_range: Range<usize>,
}

/// Why a DKIM-Signature is malformed (a `permerror`, RFC 6376 §6.1.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    #[error("malformed signature: {0}")]
    TagList(#[from] tag_list::TagListError),
    #[error("signature lacks the required {0}= tag")]
    Missing(&'static str),
    #[error("unsupported signature version v={0}")]
    Version(String),
    #[error("unknown signing algorithm a={0}")]
    Algorithm(String),
    #[error("unknown canonicalization c={0}")]
    Canonicalization(String),
    #[error("invalid {0}= value")]
    Invalid(&'static str),
    #[error("h= does not include From")]
    FromNotSigned,
    #[error("i= domain {identity} is not {domain} or a subdomain of it")]
    IdentityMismatch { identity: String, domain: String },
    #[error("unsupported query method q={0}")]
    QueryMethod(String),
    #[error("x= is earlier than t=")]
    ExpiresBeforeSigned,
}

impl Signature {
    /// Validates a parsed tag-list (RFC 6376 §3.5, §6.1.1).
    pub(crate) fn parse(tags: &[Tag<'_>]) -> Result<Self, SignatureError> {
        let get = |name| tag_list::get(tags, name);
        let require = |name| get(name).ok_or(SignatureError::Missing(name));

        let version = require("v")?;
        if version != "1" {
            return Err(SignatureError::Version(version.to_owned()));
        }
        let algorithm = require("a")?;
        let algorithm = Algorithm::parse(algorithm)
            .ok_or_else(|| SignatureError::Algorithm(algorithm.into()))?;
        let signature = decode_base64(require("b")?).ok_or(SignatureError::Invalid("b"))?;
        if signature.is_empty() {
            return Err(SignatureError::Invalid("b"));
        }
        let body_hash = decode_base64(require("bh")?).ok_or(SignatureError::Invalid("bh"))?;
        if body_hash.len() != algorithm.hash().digest_algorithm().output_len() {
            return Err(SignatureError::Invalid("bh"));
        }
        let (header_canon, body_canon) = match get("c") {
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => parse_canonicalization(c)
                .ok_or_else(|| SignatureError::Canonicalization(c.to_owned()))?,
        };

        let domain = require("d")?.to_ascii_lowercase();
        if !domain::is_queryable(&domain) || domain.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(SignatureError::Invalid("d"));
        }
        let selector = require("s")?.to_owned();
        if selector.is_empty()
            || selector.bytes().any(|b| b.is_ascii_whitespace())
            || !domain::is_queryable(&selector)
        {
            return Err(SignatureError::Invalid("s"));
        }

        let signed_headers: Vec<String> = tag_list::colon_list(require("h")?)
            .map(str::to_ascii_lowercase)
            .collect();
        if signed_headers.iter().any(|name| !is_field_name(name)) {
            return Err(SignatureError::Invalid("h"));
        }
        if !signed_headers.iter().any(|name| name == "from") {
            return Err(SignatureError::FromNotSigned);
        }

        // §3.5 i=: "The domain part of the address MUST be the same as, or a subdomain of,
        // the value of the d= tag."
        let identity_domain = match get("i") {
            None => domain.clone(),
            Some(identity) => {
                let (_, at_domain) = identity
                    .rsplit_once('@')
                    .ok_or(SignatureError::Invalid("i"))?;
                let at_domain = at_domain.to_ascii_lowercase();
                let within = at_domain == domain
                    || at_domain
                        .strip_suffix(domain.as_str())
                        .is_some_and(|prefix| prefix.ends_with('.'));
                if !within {
                    return Err(SignatureError::IdentityMismatch {
                        identity: at_domain,
                        domain,
                    });
                }
                at_domain
            }
        };

        let body_length = get("l")
            .map(parse_number)
            .transpose()
            .map_err(|()| SignatureError::Invalid("l"))?;
        // §3.5 q=: a colon-separated list of which dns/txt is the only method defined.
        if let Some(q) = get("q")
            && !tag_list::colon_list(q).any(|method| method.eq_ignore_ascii_case("dns/txt"))
        {
            return Err(SignatureError::QueryMethod(q.to_owned()));
        }
        let timestamp = get("t")
            .map(parse_number)
            .transpose()
            .map_err(|()| SignatureError::Invalid("t"))?;
        let expiration = get("x")
            .map(parse_number)
            .transpose()
            .map_err(|()| SignatureError::Invalid("x"))?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x < t
        {
            return Err(SignatureError::ExpiresBeforeSigned);
        }
        let b_range = tags
            .iter()
            .find(|tag| tag.name == "b")
            .map(|tag| tag.raw_value.clone())
            .unwrap_or_default();

        Ok(Self {
            algorithm,
            signature,
            body_hash,
            header_canon,
            body_canon,
            domain,
            selector,
            identity_domain,
            signed_headers,
            body_length,
            timestamp,
            expiration,
            b_range,
        })
    }

    /// The DNS name of the key record (RFC 6376 §3.6.2.1).
    pub(crate) fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// `c=`: "header/body", or "header" alone meaning simple body (RFC 6376 §3.5).
pub(crate) fn parse_canonicalization(c: &str) -> Option<(Canonicalization, Canonicalization)> {
    let (header, body) = c.split_once('/').unwrap_or((c, "simple"));
    Some((
        Canonicalization::parse(header)?,
        Canonicalization::parse(body)?,
    ))
}

/// A base64 value with folding whitespace removed; `None` if it is not base64.
pub(crate) fn decode_base64(value: &str) -> Option<Vec<u8>> {
    if value.bytes().any(|b| b.is_ascii_whitespace()) {
        STANDARD.decode(tag_list::strip_fws(value)).ok()
    } else {
        STANDARD.decode(value).ok()
    }
}

pub(crate) fn parse_number(digits: &str) -> Result<u64, ()> {
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(());
    }
    digits.parse().map_err(|_| ())
}

pub(crate) fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

impl HashAlgorithm {
    pub(crate) fn digest_algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlgorithm::Sha1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BH: &str = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

    fn parse(value: &str) -> Result<Signature, SignatureError> {
        Signature::parse(&tag_list::parse(value.as_bytes()).unwrap())
    }

    fn with(extra: &str) -> String {
        format!("v=1; a=rsa-sha256; d=example.com; s=sel; h=From:To; bh={BH}; b=AAAA; {extra}")
    }

    #[test]
    fn reads_a_complete_signature() {
        let sig = parse(&with(
            "c=relaxed; i=user@Mail.Example.COM; l=12; q=dns/txt; t=100; x=200; z=ignored; foo=bar",
        ))
        .unwrap();
        assert_eq!(sig.algorithm, Algorithm::RsaSha256);
        assert_eq!(
            (sig.header_canon, sig.body_canon),
            (Canonicalization::Relaxed, Canonicalization::Simple)
        );
        assert_eq!(sig.identity_domain, "mail.example.com");
        assert_eq!(sig.signed_headers, ["from", "to"]);
        assert_eq!(sig.body_length, Some(12));
        assert_eq!((sig.timestamp, sig.expiration), (Some(100), Some(200)));
        assert_eq!(sig.key_name(), "sel._domainkey.example.com");
    }

    #[test]
    fn refuses_malformed_signatures() {
        let base = format!("a=rsa-sha256; d=example.com; s=sel; h=from; bh={BH}; b=AAAA");
        assert_eq!(parse(&base), Err(SignatureError::Missing("v")));
        assert_eq!(
            parse(&format!("v=2; {base}")),
            Err(SignatureError::Version("2".into()))
        );
        assert!(matches!(
            parse(&with("").replace("rsa-sha256", "rsa-md5")),
            Err(SignatureError::Algorithm(_))
        ));
        assert_eq!(
            parse(&with("").replace("h=From:To", "h=To")),
            Err(SignatureError::FromNotSigned)
        );
        assert!(matches!(
            parse(&with("i=user@example.org")),
            Err(SignatureError::IdentityMismatch { .. })
        ));
        assert!(matches!(
            parse(&with("i=user@badexample.com")),
            Err(SignatureError::IdentityMismatch { .. })
        ));
        assert_eq!(parse(&with("i=nouser")), Err(SignatureError::Invalid("i")));
        assert_eq!(
            parse(&with("t=200; x=100")),
            Err(SignatureError::ExpiresBeforeSigned)
        );
        assert_eq!(parse(&with("l=-1")), Err(SignatureError::Invalid("l")));
        assert_eq!(
            parse(&with("l=99999999999999999999999")),
            Err(SignatureError::Invalid("l"))
        );
        assert!(matches!(
            parse(&with("q=http")),
            Err(SignatureError::QueryMethod(_))
        ));
        assert!(matches!(
            parse(&with("c=fancy/simple")),
            Err(SignatureError::Canonicalization(_))
        ));
        assert_eq!(
            parse(&with("").replace(BH, "AAAA")),
            Err(SignatureError::Invalid("bh"))
        );
        assert_eq!(
            parse(&with("").replace("b=AAAA", "b=!!")),
            Err(SignatureError::Invalid("b"))
        );
        assert_eq!(
            parse(&with("").replace("d=example.com", "d=a..b")),
            Err(SignatureError::Invalid("d"))
        );
    }

    #[test]
    fn claims_survive_invalid_signatures() {
        let tags =
            tag_list::parse(b"v=9; d=Example.com; s=sel; a=ed25519-sha256; b=ab\r\n cd").unwrap();
        let claims = Claims::read(&tags);
        assert_eq!(claims.domain, "Example.com");
        assert_eq!(claims.algorithm, Some(Algorithm::Ed25519Sha256));
        assert_eq!(claims.b, "abcd");
    }
}
