//! DKIM key records (RFC 6376 §3.6.1, RFC 8463 §4.2) and their lookup in the DNS.
//!
//! A record is a tag-list at `<selector>._domainkey.<domain>`. RSA keys (`k=rsa`, the
//! default) are DER: RFC 6376 §3.6.1 says SubjectPublicKeyInfo, but RSAPublicKey (PKCS#1) is
//! published too and accepted by OpenDKIM and dkimpy, so both are read. Ed25519 keys
//! (`k=ed25519`) are the raw 32 bytes (RFC 8463 §4.2).
//!
//! A parsed record holds its key already parsed by aws-lc ([`PreparedKey`]), and a
//! [`KeyCache`] keeps parsed records by their text, so verifying many messages from one
//! signer parses its key once (the parse is about a third of an RSA-2048 verification).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature as crypto;

use super::signature::decode_base64;
use super::tag_list;
use super::{HashAlgorithm, KeyType};
use crate::dns::{DnsError, Resolver, TxtRecords};
use crate::parse_cache::ParseCache;

/// Key records kept by [`KeyCache::new`]: one per selector in use by the senders a small MX
/// sees, with room to spare.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;
/// Longer records are parsed every time. An RSA-4096 record is about 750 bytes and RSA-8192
/// (aws-lc's maximum) about 1,450; nothing legitimate is longer.
const MAX_CACHED_LEN: usize = 2048;

/// A public key record that can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub(crate) key: PublicKey,
    /// `h=`: the hashes the key may be used with; `None` means any.
    pub(crate) hashes: Option<Vec<String>>,
    /// `t=y`: the domain is testing DKIM.
    pub(crate) testing: bool,
    /// `t=s`: `i=` must use exactly the `d=` domain, no subdomain.
    pub(crate) strict: bool,
    /// The key parsed by aws-lc for rsa-sha256 or Ed25519, when aws-lc accepts it.
    pub(crate) prepared: Option<PreparedKey>,
}

impl KeyRecord {
    /// Whether `h=` allows `hash`.
    pub(crate) fn allows(&self, hash: HashAlgorithm) -> bool {
        self.hashes
            .as_ref()
            .is_none_or(|hashes| hashes.iter().any(|h| h == hash.as_str()))
    }

    /// Whether `signature` is this key's signature of `data`: RSA PKCS#1 v1.5 with `hash`,
    /// or Ed25519 over `data` as given (RFC 8463 §3: the caller passes the SHA-256 hash of
    /// the header data). Size policy is the caller's; aws-lc refuses RSA keys outside 1,024
    /// to 8,192 bits.
    pub(crate) fn verifies(&self, hash: HashAlgorithm, data: &[u8], signature: &[u8]) -> bool {
        // The prepared key is for rsa-sha256 and Ed25519; rsa-sha1 (allowed only by local
        // policy) parses the key each time.
        match (&self.prepared, &self.key, hash) {
            (Some(prepared), PublicKey::Ed25519(_), _)
            | (Some(prepared), PublicKey::Rsa { .. }, HashAlgorithm::Sha256) => {
                return prepared.0.verify_sig(data, signature).is_ok();
            }
            _ => {}
        }
        match &self.key {
            PublicKey::Rsa { der, .. } => {
                let params = match hash {
                    HashAlgorithm::Sha1 => &crypto::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    HashAlgorithm::Sha256 => {
                        &crypto::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                    }
                };
                crypto::UnparsedPublicKey::new(params, der)
                    .verify(data, signature)
                    .is_ok()
            }
            PublicKey::Ed25519(public) => crypto::UnparsedPublicKey::new(&crypto::ED25519, public)
                .verify(data, signature)
                .is_ok(),
        }
    }
}

/// A public key as aws-lc parsed it, for RSA with SHA-256 or for Ed25519: verifying with it
/// skips the parse. Shared, since cached records are.
#[derive(Clone)]
pub(crate) struct PreparedKey(Arc<crypto::ParsedPublicKey>);

impl PreparedKey {
    fn new(key: &PublicKey) -> Option<Self> {
        let parsed = match key {
            PublicKey::Rsa { der, .. } => crypto::ParsedPublicKey::new(
                &crypto::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                der,
            ),
            PublicKey::Ed25519(public) => crypto::ParsedPublicKey::new(&crypto::ED25519, public),
        };
        parsed.ok().map(|parsed| Self(Arc::new(parsed)))
    }
}

/// Two prepared keys are equal when they hold the same key bytes.
impl PartialEq for PreparedKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_ref().as_ref() == other.0.as_ref().as_ref()
    }
}

impl Eq for PreparedKey {}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedKey")
    }
}

/// Parsed key records by their text ([`ParseCache`]).
pub(crate) struct KeyCache(ParseCache<Result<Arc<KeyRecord>, RecordProblem>>);

impl KeyCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self(ParseCache::new(capacity, MAX_CACHED_LEN))
    }

    /// Record `index` of `answer`, parsed.
    fn parse(&self, answer: &TxtRecords, index: usize) -> Result<Arc<KeyRecord>, RecordProblem> {
        let parsed = self
            .0
            .get_or_parse_record(answer, index, |text| parse(text).map(Arc::new));
        (*parsed).clone()
    }
}

/// The key material of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// An RSA key: its RSAPublicKey (PKCS#1) DER, whichever form was published, and its
    /// modulus size.
    Rsa { der: Vec<u8>, bits: usize },
    /// An Ed25519 key.
    Ed25519([u8; 32]),
}

impl PublicKey {
    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Rsa { .. } => KeyType::Rsa,
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }
}

/// Why no usable key was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    /// The lookup failed temporarily (`temperror`).
    #[error("key lookup for {name} failed: {error}")]
    Dns { name: String, error: DnsError },
    /// No record at the name (`permerror`, RFC 6376 §6.1.2 "no key for signature").
    #[error("no key record at {0}")]
    NoKey(String),
    /// `p=` is empty (§3.6.1: "An empty value means that this public key has been revoked").
    #[error("key {0} has been revoked")]
    Revoked(String),
    /// The record cannot be read.
    #[error("malformed key record at {name}: {problem}")]
    Malformed { name: String, problem: String },
}

impl KeyError {
    pub(crate) fn is_temporary(&self) -> bool {
        matches!(self, KeyError::Dns { error, .. } if error.is_temporary())
    }
}

/// Fetches and parses the key record at `name` (RFC 6376 §6.1.2), through `cache` when given.
/// When several TXT records are published the first is used, as OpenDKIM and dkimpy do
/// (§3.6.2.2 leaves it open).
pub(crate) async fn lookup<R: Resolver>(
    resolver: &R,
    name: &str,
    cache: Option<&KeyCache>,
) -> Result<Arc<KeyRecord>, KeyError> {
    let records = match resolver.txt(name).await {
        Ok(records) => records,
        Err(DnsError::NxDomain) => return Err(KeyError::NoKey(name.to_owned())),
        Err(error) => {
            return Err(KeyError::Dns {
                name: name.to_owned(),
                error,
            });
        }
    };
    let record = records
        .first()
        .ok_or_else(|| KeyError::NoKey(name.to_owned()))?;
    let parsed = match cache {
        Some(cache) => cache.parse(&records, 0),
        None => parse(record).map(Arc::new),
    };
    parsed.map_err(|problem| match problem {
        RecordProblem::Revoked => KeyError::Revoked(name.to_owned()),
        other => KeyError::Malformed {
            name: name.to_owned(),
            problem: other.to_string(),
        },
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordProblem {
    #[error("{0}")]
    TagList(#[from] tag_list::TagListError),
    #[error("v= must be DKIM1 and come first")]
    Version,
    #[error("unknown key type k={0}")]
    KeyType(String),
    #[error("no p= tag")]
    NoKey,
    #[error("key revoked")]
    Revoked,
    #[error("p= is not a valid {0} public key")]
    BadKey(&'static str),
    #[error("key is not for email (s={0})")]
    Service(String),
}

/// Parses a key record (RFC 6376 §3.6.1).
pub(crate) fn parse(record: &[u8]) -> Result<KeyRecord, RecordProblem> {
    let tags = tag_list::parse(record)?;
    // v= "MUST be the first tag in the record" when present.
    if let Some(position) = tags.iter().position(|tag| tag.name == "v")
        && (position != 0 || tags.first().is_none_or(|tag| tag.value != "DKIM1"))
    {
        return Err(RecordProblem::Version);
    }
    let get = |name| tag_list::get(&tags, name);
    let key_type = match get("k").unwrap_or("rsa") {
        "rsa" => KeyType::Rsa,
        "ed25519" => KeyType::Ed25519,
        other => return Err(RecordProblem::KeyType(other.to_owned())),
    };
    if let Some(services) = get("s")
        && !tag_list::colon_list(services).any(|s| s == "*" || s == "email")
    {
        return Err(RecordProblem::Service(services.to_owned()));
    }
    let flags: Vec<&str> = get("t")
        .map(|t| tag_list::colon_list(t).collect())
        .unwrap_or_default();
    let hashes = get("h").map(|h| tag_list::colon_list(h).map(str::to_owned).collect());
    let p = get("p").ok_or(RecordProblem::NoKey)?;
    let bytes = decode_base64(p).ok_or(RecordProblem::BadKey(key_type.as_str()))?;
    if bytes.is_empty() {
        return Err(RecordProblem::Revoked);
    }
    let key = match key_type {
        KeyType::Rsa => {
            let (pkcs1, bits) = rsa_public_key(&bytes).ok_or(RecordProblem::BadKey("rsa"))?;
            PublicKey::Rsa {
                der: pkcs1.to_vec(),
                bits,
            }
        }
        KeyType::Ed25519 => PublicKey::Ed25519(
            bytes
                .try_into()
                .map_err(|_| RecordProblem::BadKey("ed25519"))?,
        ),
    };
    Ok(KeyRecord {
        prepared: PreparedKey::new(&key),
        key,
        hashes,
        testing: flags.contains(&"y"),
        strict: flags.contains(&"s"),
    })
}

/// The RSAPublicKey (PKCS#1) element inside `der`, which may be that element itself (RFC
/// 8017 §A.1.1) or a SubjectPublicKeyInfo around it (RFC 5280 §4.1), and its modulus size in
/// bits; `None` if it is neither.
///
/// Only the structure is read here; aws-lc checks the key itself when verifying. Handing
/// aws-lc the PKCS#1 form spares it a failed parse attempt per verification.
fn rsa_public_key(der: &[u8]) -> Option<(&[u8], usize)> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    let (tag, outer, after) = der_element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (first_tag, first, rest) = der_element(outer)?;
    let (pkcs1, rsa_public_key) = match first_tag {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        INTEGER => (der.get(..der.len() - after.len())?, outer),
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }
        SEQUENCE => {
            // rsaEncryption, 1.2.840.113549.1.1.1
            const RSA_OID: &[u8] = &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ];
            if !first.starts_with(RSA_OID) {
                return None;
            }
            let (tag, bits, _) = der_element(rest)?;
            let (&unused, key) = bits.split_first()?;
            if tag != BIT_STRING || unused != 0 {
                return None;
            }
            let (tag, inner, after_inner) = der_element(key)?;
            if tag != SEQUENCE {
                return None;
            }
            (key.get(..key.len() - after_inner.len())?, inner)
        }
        _ => return None,
    };
    let (tag, modulus, rest) = der_element(rsa_public_key)?;
    let (exponent_tag, _, _) = der_element(rest)?;
    if tag != INTEGER || exponent_tag != INTEGER {
        return None;
    }
    let significant: &[u8] = {
        let zeros = modulus.iter().take_while(|&&b| b == 0).count();
        modulus.get(zeros..)?
    };
    let (&top, _) = significant.split_first()?;
    Some((pkcs1, significant.len() * 8 - top.leading_zeros() as usize))
}

/// One DER element: (tag, contents, what follows). Definite lengths only, as DER requires.
pub(crate) fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len_bytes, rest) = rest.split_at_checked(count)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (contents, after) = rest.split_at_checked(len)?;
    Some((tag, contents, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::StaticResolver;

    fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
        rsa_public_key(der).map(|(_, bits)| bits)
    }

    /// RFC 8463 Appendix A.2, the 1024-bit RSA key (SubjectPublicKeyInfo).
    const RFC8463_RSA: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    #[test]
    fn reads_rsa_and_ed25519_records() {
        let record = parse(format!("v=DKIM1; k=rsa; p={RFC8463_RSA}").as_bytes()).unwrap();
        assert!(matches!(record.key, PublicKey::Rsa { bits: 1024, .. }));
        assert!(!record.testing && !record.strict && record.hashes.is_none());

        let record = parse(
            b"v=DKIM1; k=ed25519; t=y:s; h=sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        )
        .unwrap();
        assert_eq!(record.key.key_type(), KeyType::Ed25519);
        assert!(record.testing && record.strict);
        assert!(record.allows(HashAlgorithm::Sha256));
        assert!(!record.allows(HashAlgorithm::Sha1));
    }

    #[test]
    fn reads_pkcs1_rsa_keys() {
        // The RSAPublicKey inside the SubjectPublicKeyInfo above starts at byte 22.
        let spki = decode_base64(RFC8463_RSA).unwrap();
        assert_eq!(rsa_modulus_bits(&spki[22..]), Some(1024));
        let (pkcs1, _) = rsa_public_key(&spki).unwrap();
        assert_eq!(pkcs1, &spki[22..]);
        assert_eq!(rsa_public_key(&spki[22..]).unwrap().0, &spki[22..]);
    }

    #[test]
    fn refuses_bad_records() {
        assert_eq!(
            parse(b"k=rsa; v=DKIM1; p=AAAA").unwrap_err(),
            RecordProblem::Version
        );
        assert_eq!(
            parse(b"v=DKIM2; p=AAAA").unwrap_err(),
            RecordProblem::Version
        );
        assert_eq!(parse(b"v=DKIM1; p=").unwrap_err(), RecordProblem::Revoked);
        assert_eq!(parse(b"v=DKIM1").unwrap_err(), RecordProblem::NoKey);
        assert!(matches!(
            parse(b"k=dsa; p=AAAA").unwrap_err(),
            RecordProblem::KeyType(_)
        ));
        assert!(matches!(
            parse(b"s=tls; p=AAAA").unwrap_err(),
            RecordProblem::Service(_)
        ));
        assert!(parse(format!("s=tls:email; p={RFC8463_RSA}").as_bytes()).is_ok());
        assert_eq!(parse(b"p=AAAA").unwrap_err(), RecordProblem::BadKey("rsa"));
        assert_eq!(
            parse(b"k=ed25519; p=AAAA").unwrap_err(),
            RecordProblem::BadKey("ed25519")
        );
        assert_eq!(parse(b"p=@@@").unwrap_err(), RecordProblem::BadKey("rsa"));
    }

    #[test]
    fn records_hold_a_prepared_key_and_are_cached_by_text() {
        let answer = |text: &str| -> TxtRecords { vec![text.as_bytes().into()].into() };
        let text = format!("v=DKIM1; k=rsa; p={RFC8463_RSA}");
        let record = parse(text.as_bytes()).unwrap();
        assert!(record.prepared.is_some());
        let cache = KeyCache::new(4);
        let first = cache.parse(&answer(&text), 0).unwrap();
        // The same text in another answer (a re-fetch after the TTL) shares the entry.
        assert!(Arc::ptr_eq(
            &first,
            &cache.parse(&answer(&text), 0).unwrap()
        ));
        assert_eq!(*first, record);
        // A different text (a rotated key, here with t=y) is a different entry.
        let rotated = cache.parse(&answer(&format!("{text}; t=y")), 0).unwrap();
        assert!(rotated.testing && !first.testing);
        assert_eq!(
            cache.parse(&answer("v=DKIM1; p="), 0).unwrap_err(),
            RecordProblem::Revoked
        );
    }

    #[test]
    fn der_reader_survives_garbage() {
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x30) as u8).collect();
            let _ = rsa_modulus_bits(&junk);
        }
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }

    #[tokio::test]
    async fn lookup_outcomes() {
        let zone = StaticResolver::new()
            .with_txt("a._domainkey.example.com", format!("p={RFC8463_RSA}"))
            .with_txt("revoked._domainkey.example.com", "v=DKIM1; p=")
            .with_failure("down._domainkey.example.com");
        assert!(
            lookup(&zone, "a._domainkey.example.com", None)
                .await
                .is_ok()
        );
        assert!(matches!(
            lookup(&zone, "b._domainkey.example.com", None).await,
            Err(KeyError::NoKey(_))
        ));
        assert!(matches!(
            lookup(&zone, "revoked._domainkey.example.com", None).await,
            Err(KeyError::Revoked(_))
        ));
        assert!(
            lookup(&zone, "down._domainkey.example.com", None)
                .await
                .unwrap_err()
                .is_temporary()
        );
    }
}
