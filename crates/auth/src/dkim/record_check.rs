//! Does a published key record fit a private key? (`kanmon dkim testkey`)
//!
//! The verifier's parser ([`key::parse`]) decides whether a record can be used; this module
//! turns its answer into what the person publishing the record needs: the tag at fault (the
//! `v=DKIM1; h=sha256; =rsa; p=...` record some `opendkim-genkey` versions wrote lacks the
//! `k` of `k=rsa`, and says so), a revoked key, or a key that is not the one on disk.
//!
//! The private key is compared through its public half ([`PublicHalf`]), which can also be
//! read from an RSA key kanmon cannot sign with (under 2,048 bits, as older `opendkim-genkey`
//! made by default), so such a key can still be checked before it is replaced.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::KeyType;
use super::key::{self, PublicKey, RecordProblem, der_element};
use super::sign::SigningKey;
use super::tag_list::TagListError;

/// What the record at a selector says about a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCheck {
    /// The record publishes this key's public half, usable for email with SHA-256.
    Matches {
        /// The key type the record declares.
        key_type: KeyType,
        /// `t=y`: verifiers are asked to treat failures leniently (RFC 6376 §3.6.1).
        testing: bool,
    },
    /// A valid record, but for another key (or for a use kanmon's signatures cannot have).
    Mismatch(String),
    /// `p=` is empty: the key was withdrawn (RFC 6376 §3.6.1).
    Revoked,
    /// The record cannot be read; `tag` names the tag at fault when there is one.
    Syntax {
        tag: Option<String>,
        problem: String,
    },
}

/// The public half of a private key, to compare with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicHalf(Half);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Half {
    /// Modulus and public exponent, without leading zero bytes.
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
        bits: usize,
    },
    Ed25519(Vec<u8>),
}

const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;
/// rsaEncryption, 1.2.840.113549.1.1.1, as a DER element.
const RSA_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

impl PublicHalf {
    /// The public half of a key kanmon can sign with.
    pub fn of(key: &SigningKey) -> Self {
        use aws_lc_rs::signature::KeyPair;
        match key {
            SigningKey::Rsa(private) => {
                let public = private.public_key().as_ref();
                // aws-lc's public key is an RSAPublicKey, which always reads.
                let (modulus, exponent) = rsa_numbers(public).unwrap_or_default();
                Self(Half::Rsa {
                    bits: bit_len(modulus),
                    modulus: modulus.to_vec(),
                    exponent: exponent.to_vec(),
                })
            }
            SigningKey::Ed25519(private) => {
                Self(Half::Ed25519(private.public_key().as_ref().to_vec()))
            }
        }
    }

    /// The public half of an RSA private key of any size, PEM or DER, PKCS#1 or PKCS#8:
    /// for keys [`SigningKey`] refuses because aws-lc does not load them (under 2,048 bits).
    /// Only the structure is read; the key is never used.
    pub fn from_rsa_private_key(bytes: &[u8]) -> Option<Self> {
        let text = bytes.trim_ascii();
        let der = if text.starts_with(b"-----BEGIN") {
            pem_body(text)?
        } else {
            bytes.to_vec()
        };
        let rsa_private_key = pkcs8_rsa(&der).unwrap_or(&der);
        // RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... } (RFC 8017 §A.1.2)
        let (tag, fields, _) = der_element(rsa_private_key)?;
        let (version_tag, _, rest) = der_element(fields)?;
        let (modulus_tag, modulus, rest) = der_element(rest)?;
        let (exponent_tag, exponent, _) = der_element(rest)?;
        if tag != SEQUENCE || [version_tag, modulus_tag, exponent_tag] != [INTEGER; 3] {
            return None;
        }
        let (modulus, exponent) = (unsigned(modulus), unsigned(exponent));
        (!modulus.is_empty()).then(|| {
            Self(Half::Rsa {
                bits: bit_len(modulus),
                modulus: modulus.to_vec(),
                exponent: exponent.to_vec(),
            })
        })
    }

    /// The RSA modulus size, for an RSA key.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.0 {
            Half::Rsa { bits, .. } => Some(*bits),
            Half::Ed25519(_) => None,
        }
    }

    fn key_type(&self) -> KeyType {
        match self.0 {
            Half::Rsa { .. } => KeyType::Rsa,
            Half::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Whether the record's key is this one.
    fn is(&self, published: &PublicKey) -> bool {
        match (&self.0, published) {
            (
                Half::Rsa {
                    modulus, exponent, ..
                },
                PublicKey::Rsa { der, .. },
            ) => rsa_numbers(der)
                .is_some_and(|(n, e)| n == modulus.as_slice() && e == exponent.as_slice()),
            (Half::Ed25519(ours), PublicKey::Ed25519(theirs)) => {
                ours.as_slice() == theirs.as_slice()
            }
            _ => false,
        }
    }
}

/// Checks `record` (the TXT strings joined) against the key whose public half is `key`.
/// Both algorithms kanmon signs with hash with SHA-256, so that is what `h=` must allow.
pub fn check_record(record: &[u8], key: &PublicHalf) -> RecordCheck {
    let parsed = match key::parse(record) {
        Ok(parsed) => parsed,
        Err(RecordProblem::Revoked) => return RecordCheck::Revoked,
        Err(problem) => return syntax(record, problem),
    };
    let published_type = parsed.key.key_type();
    if published_type != key.key_type() {
        return RecordCheck::Mismatch(format!(
            "the record holds an {} key, the private key is {}",
            published_type.as_str(),
            key.key_type().as_str()
        ));
    }
    if !key.is(&parsed.key) {
        return RecordCheck::Mismatch(format!(
            "the record's {} public key (p=) is not the public half of this private key",
            published_type.as_str()
        ));
    }
    if !parsed.allows(super::HashAlgorithm::Sha256) {
        return RecordCheck::Mismatch(
            "the record's h= does not allow sha256, the hash kanmon signs with".to_owned(),
        );
    }
    RecordCheck::Matches {
        key_type: published_type,
        testing: parsed.testing,
    }
}

/// Modulus and exponent of an RSAPublicKey (RFC 8017 §A.1.1), without leading zeros.
fn rsa_numbers(pkcs1: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, fields, _) = der_element(pkcs1)?;
    let (modulus_tag, modulus, rest) = der_element(fields)?;
    let (exponent_tag, exponent, _) = der_element(rest)?;
    (tag == SEQUENCE && modulus_tag == INTEGER && exponent_tag == INTEGER)
        .then(|| (unsigned(modulus), unsigned(exponent)))
}

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (RFC 5208 §5) for rsaEncryption.
fn pkcs8_rsa(der: &[u8]) -> Option<&[u8]> {
    let (tag, fields, _) = der_element(der)?;
    let (version_tag, _, rest) = der_element(fields)?;
    let (algorithm_tag, algorithm, rest) = der_element(rest)?;
    let (key_tag, key, _) = der_element(rest)?;
    (tag == SEQUENCE
        && version_tag == INTEGER
        && algorithm_tag == SEQUENCE
        && algorithm.starts_with(RSA_OID)
        && key_tag == OCTET_STRING)
        .then_some(key)
}

/// The DER inside PEM armour (any label).
fn pem_body(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let (_, rest) = text.split_once("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    let (body, _) = rest.split_once(format!("-----END {label}-----").as_str())?;
    STANDARD
        .decode(body.split_ascii_whitespace().collect::<String>())
        .ok()
}

fn unsigned(integer: &[u8]) -> &[u8] {
    let zeros = integer.iter().take_while(|&&b| b == 0).count();
    integer.get(zeros..).unwrap_or_default()
}

fn bit_len(unsigned: &[u8]) -> usize {
    unsigned
        .first()
        .map_or(0, |top| unsigned.len() * 8 - top.leading_zeros() as usize)
}

/// The tag and a readable problem for a record the parser refused.
fn syntax(record: &[u8], problem: RecordProblem) -> RecordCheck {
    let tagged = |tag: &str, problem: String| RecordCheck::Syntax {
        tag: Some(tag.to_owned()),
        problem,
    };
    match problem {
        RecordProblem::TagList(TagListError::NameExpected(offset)) => {
            let spec = tag_spec_at(record, offset);
            if let Some(value) = spec.strip_prefix('=').map(str::trim) {
                let hint = if matches!(value, "rsa" | "ed25519") {
                    format!("; it should read k={value} (a known opendkim-genkey bug drops the k)")
                } else {
                    String::new()
                };
                return tagged(
                    "k",
                    format!("\"{spec}\" has no tag name before \"=\"{hint}"),
                );
            }
            RecordCheck::Syntax {
                tag: None,
                problem: format!("\"{spec}\" does not start with a tag name (a letter)"),
            }
        }
        RecordProblem::TagList(TagListError::EqualsExpected(offset)) => {
            let spec = tag_spec_at(record, name_start(record, offset));
            RecordCheck::Syntax {
                tag: None,
                problem: format!("\"{spec}\" is not name=value"),
            }
        }
        RecordProblem::TagList(TagListError::InvalidValue(name)) => {
            let problem = format!("the value of {name}= holds a character not allowed there");
            tagged(&name, problem)
        }
        RecordProblem::TagList(TagListError::Duplicate(name)) => {
            let problem = format!("{name}= appears twice");
            tagged(&name, problem)
        }
        RecordProblem::Version => tagged(
            "v",
            "v= must be DKIM1 and be the first tag, or be left out".to_owned(),
        ),
        RecordProblem::KeyType(k) => {
            tagged("k", format!("k={k} is not a key type (rsa or ed25519)"))
        }
        RecordProblem::NoKey => tagged("p", "there is no p= tag with the public key".to_owned()),
        RecordProblem::BadKey(kind) => {
            let hint = if kind == "rsa" && !has_tag(record, "k") {
                " (there is no k= tag, so the key is read as rsa)"
            } else {
                ""
            };
            tagged("p", format!("p= is not a valid {kind} public key{hint}"))
        }
        RecordProblem::Service(services) => {
            tagged("s", format!("s={services} does not include email or *"))
        }
        // Handled by the caller; kept for completeness.
        RecordProblem::Revoked => tagged("p", "p= is empty".to_owned()),
    }
}

/// The tag-spec starting at `offset`, up to the next `;`, trimmed.
fn tag_spec_at(record: &[u8], offset: usize) -> String {
    let rest = record.get(offset..).unwrap_or_default();
    let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    String::from_utf8_lossy(rest.get(..end).unwrap_or_default())
        .trim()
        .to_owned()
}

/// Where the tag-spec holding `offset` starts: after the previous `;`.
fn name_start(record: &[u8], offset: usize) -> usize {
    let before = record.get(..offset).unwrap_or_default();
    before
        .iter()
        .rposition(|&b| b == b';')
        .map_or(0, |semi| semi + 1)
}

/// Whether the record has a tag named `name` (a rough look, for hints only).
fn has_tag(record: &[u8], name: &str) -> bool {
    String::from_utf8_lossy(record)
        .split(';')
        .any(|spec| spec.split_once('=').is_some_and(|(n, _)| n.trim() == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::keygen::{generate_ed25519, generate_rsa};

    fn syntax_of(record: &str) -> (Option<String>, String) {
        let key = generate_ed25519().unwrap().key;
        match check_record(record.as_bytes(), &PublicHalf::of(&key)) {
            RecordCheck::Syntax { tag, problem } => (tag, problem),
            other => panic!("{record}: {other:?}"),
        }
    }

    #[test]
    fn a_record_made_from_the_key_matches() {
        let rsa = generate_rsa(2048).unwrap().key;
        assert_eq!(
            check_record(rsa.dns_record().as_bytes(), &PublicHalf::of(&rsa)),
            RecordCheck::Matches {
                key_type: KeyType::Rsa,
                testing: false
            }
        );
        let ed = generate_ed25519().unwrap().key;
        let record = format!("{}; t=y", ed.dns_record());
        assert_eq!(
            check_record(record.as_bytes(), &PublicHalf::of(&ed)),
            RecordCheck::Matches {
                key_type: KeyType::Ed25519,
                testing: true
            }
        );
    }

    #[test]
    fn another_key_does_not_match() {
        let ed = generate_ed25519().unwrap().key;
        let other = generate_ed25519().unwrap().key;
        assert!(matches!(
            check_record(other.dns_record().as_bytes(), &PublicHalf::of(&ed)),
            RecordCheck::Mismatch(why) if why.contains("not the public half")
        ));
        let rsa = generate_rsa(2048).unwrap().key;
        assert_eq!(
            check_record(rsa.dns_record().as_bytes(), &PublicHalf::of(&ed)),
            RecordCheck::Mismatch(
                "the record holds an rsa key, the private key is ed25519".to_owned()
            )
        );
        let sha1_only = format!("v=DKIM1; h=sha1; {}", &ed.dns_record()["v=DKIM1; ".len()..]);
        assert!(matches!(
            check_record(sha1_only.as_bytes(), &PublicHalf::of(&ed)),
            RecordCheck::Mismatch(why) if why.contains("h=")
        ));
    }

    #[test]
    fn the_opendkim_genkey_record_without_k_is_named() {
        let (tag, problem) = syntax_of("v=DKIM1; h=sha256; =rsa; p=MIIBIjANBgkq");
        assert_eq!(tag.as_deref(), Some("k"));
        assert_eq!(
            problem,
            "\"=rsa\" has no tag name before \"=\"; it should read k=rsa (a known opendkim-genkey bug drops the k)"
        );
    }

    #[test]
    fn other_syntax_errors_name_their_tag() {
        assert_eq!(syntax_of("v=DKIM1; k=dsa; p=AAAA").0.as_deref(), Some("k"));
        assert_eq!(syntax_of("k=rsa; v=DKIM1; p=AAAA").0.as_deref(), Some("v"));
        assert_eq!(syntax_of("v=DKIM1; k=rsa").0.as_deref(), Some("p"));
        assert_eq!(syntax_of("v=DKIM1; p=A; p=B").0.as_deref(), Some("p"));
        assert_eq!(syntax_of("v=DKIM1; s=tls; p=AAAA").0.as_deref(), Some("s"));
        let (tag, problem) = syntax_of("v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert_eq!(tag.as_deref(), Some("p"));
        assert!(problem.contains("no k= tag"), "{problem}");
        assert_eq!(
            syntax_of("v=DKIM1; kx p=AAAA"),
            (None, "\"kx p=AAAA\" is not name=value".to_owned())
        );
    }

    /// RFC 8301's floor: a 1,024-bit key (testdata/dkim-rfc, made by OpenSSL) that aws-lc
    /// will not load is still compared, as PKCS#8 and as the PKCS#1 inside it.
    #[test]
    fn rsa_keys_kanmon_cannot_sign_with_are_still_compared() {
        let pem = include_bytes!("../../../../testdata/dkim-rfc/rsa1024.pem");
        assert!(SigningKey::from_pem(pem).is_err());
        let half = PublicHalf::from_rsa_private_key(pem).unwrap();
        assert_eq!(half.rsa_bits(), Some(1024));
        let record = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDLtFKH3YQ1cYyxbA2txTX2uOi1N5rtO1pyyRgSOAyUqvd2eDC1gdAi6zwPQZWj8y96vWiNGu4DTQdiVCOiSdvb9+YQ9MqdKJ3U/L40Xr+SXmt1IP/gDpXUbXwsjBlPsTrMXVXuDAqClh+E3ApIp+vL+0U70Jsp0t9OifSaBMV95QIDAQAB";
        assert!(matches!(
            check_record(record.as_bytes(), &half),
            RecordCheck::Matches { .. }
        ));
        let der = pem_body(pem).unwrap();
        let pkcs1 = pkcs8_rsa(&der).unwrap();
        assert_eq!(PublicHalf::from_rsa_private_key(pkcs1), Some(half.clone()));
        // A 2,048-bit key read both ways has the same public half.
        let made = generate_rsa(2048).unwrap();
        assert_eq!(
            PublicHalf::from_rsa_private_key(made.pem.as_bytes()),
            Some(PublicHalf::of(&made.key))
        );
        assert_eq!(PublicHalf::from_rsa_private_key(b"not a key"), None);
        assert_eq!(
            PublicHalf::from_rsa_private_key(generate_ed25519().unwrap().pem.as_bytes()),
            None
        );
    }

    #[test]
    fn an_empty_p_is_revoked() {
        let ed = generate_ed25519().unwrap().key;
        assert_eq!(
            check_record(b"v=DKIM1; k=ed25519; p=", &PublicHalf::of(&ed)),
            RecordCheck::Revoked
        );
    }
}
