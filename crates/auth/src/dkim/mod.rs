//! DKIM (RFC 6376, with RFC 8301 and RFC 8463): verify a message's signatures, and sign.
//!
//! [`verify`] checks every DKIM-Signature field of a [`Message`] and returns one
//! [`DkimOutput`] per signature: the result (`pass`, `fail`, `neutral`, `policy`,
//! `temperror`, `permerror`, or `none` when there is no signature), the claimed `d=`, `s=`,
//! `i=`, algorithm and `l=`, the `header.b` prefix for Authentication-Results (RFC 6008), the
//! key's testing flag, and a [`DkimOutput::reason`] an administrator can read. Keys come
//! through the [`Resolver`] trait and the time is a parameter, so results are reproducible.
//!
//! [`Signer`] produces a folded `DKIM-Signature:` field, ready to prepend, with RSA-SHA256 or
//! Ed25519-SHA256 ([`SigningKey`]).
//!
//! Policy (RFC 8301): `rsa-sha1` signatures and RSA keys shorter than 1,024 bits are refused
//! with the result `policy`; [`VerifyOptions`] can allow SHA-1 or raise the minimum key size.
//!
//! What it does not do:
//! * Decide anything. A `fail` is evidence; DMARC alignment and scoring live elsewhere.
//! * Cache DNS answers: the resolver does, and honours TTLs. [`DkimVerifier`] keeps only the
//!   parsed form of the key records the resolver hands it, keyed by their text, so that
//!   verifying many messages from one signer parses its key once.
//! * Verify partial-body signatures differently: `l=` is honoured as RFC 6376 §3.5 says and
//!   the unsigned remainder is reported ([`DkimOutput::unsigned_body_bytes`]) so a rule can
//!   weigh it.
//! * Sign with `rsa-sha1` (RFC 8301 §3.1 forbids it) or with RSA keys under 2,048 bits
//!   (aws-lc refuses to load them; RFC 8301 §3.2 recommends at least 2,048 for signers).
//!
//! The pieces ARC (RFC 8617) reuses are crate-visible: the tag-list parser ([`tag_list`]),
//! canonicalisation ([`canon`]), key lookup ([`key`]) and the signing primitives ([`sign`]).
//!
//! ```
//! # use kanmon_auth::{dns::StaticResolver, message::Message};
//! # use kanmon_auth::dkim::{verify, DkimResult, Signer, SigningKey, VerifyOptions};
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! // RFC 8032 §7.1 test 1 as a signing key, and its public half in the DNS.
//! let seed = [
//!     0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
//!     0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
//!     0x1c, 0xae, 0x7f, 0x60,
//! ];
//! let key = SigningKey::from_ed25519_seed(&seed).unwrap();
//! let zone = StaticResolver::new().with_txt(
//!     "brisbane._domainkey.example.com",
//!     "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
//! );
//! let raw = b"From: joe@example.com\r\nSubject: hi\r\n\r\nHello.\r\n";
//! let field = Signer::new(key, "example.com", "brisbane")
//!     .sign(&Message::parse(raw).unwrap(), 1_700_000_000)
//!     .unwrap();
//! let signed = [field.as_bytes(), raw].concat();
//! let outputs = verify(&zone, &Message::parse(&signed).unwrap(), &VerifyOptions::default(), 1_700_000_060).await;
//! assert_eq!(outputs[0].result, DkimResult::Pass);
//! assert_eq!(outputs[0].reason(), "signature verified");
//! # });
//! ```

pub(crate) mod canon;
pub(crate) mod key;
pub(crate) mod keygen;
pub(crate) mod record_check;
pub(crate) mod sign;
pub(crate) mod signature;
pub(crate) mod tag_list;
pub(crate) mod verify;

use std::fmt;

pub use canon::{BodyHash, BodyHasher, Canonicalization};
pub use keygen::{
    DEFAULT_RSA_BITS, GeneratedKey, KeyGenError, MAX_RSA_BITS, generate_ed25519, generate_rsa,
};
pub use record_check::{PublicHalf, RecordCheck, check_record};
pub use sign::{
    DEFAULT_SIGNED_HEADERS, KeyAccess, KeyFileError, LINE_LIMIT, SignError, Signer, SigningKey,
    check_key_file, check_key_file_mode,
};
pub use verify::{DkimVerifier, verify};

#[cfg(doc)]
use crate::{dns::Resolver, message::Message};

/// The results of a DKIM check (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The message has no signatures.
    None,
    /// The signature verified.
    Pass,
    /// The signature or the body hash did not verify.
    Fail,
    /// The signature was not checked (for instance, beyond the per-message limit).
    Neutral,
    /// The signature verified or could have, but local policy refuses it (RFC 8301).
    Policy,
    /// A transient failure (DNS); a later retry may succeed.
    TempError,
    /// The signature or its key record cannot be used.
    PermError,
}

impl DkimResult {
    /// The result's name as Authentication-Results writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimResult::None => "none",
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Neutral => "neutral",
            DkimResult::Policy => "policy",
            DkimResult::TempError => "temperror",
            DkimResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signing algorithm (`a=`, RFC 6376 §3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `rsa-sha1`, refused by default (RFC 8301 §3.1).
    RsaSha1,
    /// `rsa-sha256`.
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The name as `a=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => "rsa-sha1",
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "rsa-sha1" => Some(Algorithm::RsaSha1),
            "rsa-sha256" => Some(Algorithm::RsaSha256),
            "ed25519-sha256" => Some(Algorithm::Ed25519Sha256),
            _ => None,
        }
    }

    /// The hash half.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Algorithm::RsaSha1 => HashAlgorithm::Sha1,
            Algorithm::RsaSha256 | Algorithm::Ed25519Sha256 => HashAlgorithm::Sha256,
        }
    }

    /// The key type half.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::RsaSha1 | Algorithm::RsaSha256 => KeyType::Rsa,
            Algorithm::Ed25519Sha256 => KeyType::Ed25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hash algorithm for body and header hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1, for `rsa-sha1` only.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl HashAlgorithm {
    /// The name as key records' `h=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
        }
    }
}

/// A key type (`k=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA.
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl KeyType {
    /// The name as `k=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// Limits and local policy for [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept `rsa-sha1` signatures. RFC 8301 §3.1: verifiers "MUST NOT consider signatures
    /// using this algorithm to be valid"; the switch exists for measuring old mail. Default
    /// false.
    pub allow_sha1: bool,
    /// Smallest RSA key accepted, in bits. RFC 8301 §3.2: keys under 1,024 bits MUST NOT be
    /// considered valid; the default is that floor, and values below it are treated as it,
    /// since aws-lc cannot verify with smaller keys anyway.
    pub min_rsa_bits: usize,
    /// Most signatures verified per message; the rest are reported `neutral`. Each costs a
    /// DNS lookup and a public-key operation, so a message with hundreds of signatures is a
    /// cheap denial of service. Ten is the figure OpenDKIM's and mail-auth's users settle
    /// on; real mail carries one to three.
    pub max_signatures: usize,
}

/// RFC 8301 §3.2's floor for RSA keys.
pub const MIN_RSA_BITS: usize = 1024;

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            allow_sha1: false,
            min_rsa_bits: MIN_RSA_BITS,
            max_signatures: 10,
        }
    }
}

/// The outcome of one signature, with what Authentication-Results reports (RFC 8601 §2.7.1,
/// RFC 6008).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutput {
    /// The result.
    pub result: DkimResult,
    /// `d=` as written (empty when absent or for `none`).
    pub domain: String,
    /// `s=` as written.
    pub selector: String,
    /// `i=` as written, if present.
    pub identity: Option<String>,
    /// `a=`, if it names a known algorithm.
    pub algorithm: Option<Algorithm>,
    /// `l=`, if present: the signature covers only this much of the canonical body.
    pub body_length: Option<u64>,
    /// For a signature with `l=` whose body hash verified: canonical body bytes after the
    /// signed part (text that may have been appended after signing).
    pub unsigned_body_bytes: Option<u64>,
    /// The first characters of `b=`, for `header.b` (RFC 6008 §4: at least eight).
    pub header_b: String,
    /// The key record has `t=y`: the domain is testing DKIM (RFC 6376 §3.6.1).
    pub testing: bool,
    /// The RSA key size, once the key was read.
    pub key_bits: Option<usize>,
    /// What went wrong, for every result but `pass` and `none`.
    pub problem: Option<String>,
}

/// How many characters of `b=` go into `header.b`: RFC 6008 asks for at least 8; 12 keeps
/// two signatures by the same domain apart in practice.
pub(crate) const HEADER_B_LEN: usize = 12;

impl DkimOutput {
    /// The output for a message without signatures.
    pub(crate) fn none() -> Self {
        Self {
            result: DkimResult::None,
            domain: String::new(),
            selector: String::new(),
            identity: None,
            algorithm: None,
            body_length: None,
            unsigned_body_bytes: None,
            header_b: String::new(),
            testing: false,
            key_bits: None,
            problem: None,
        }
    }

    /// One line an administrator can read, e.g. "body hash did not verify".
    pub fn reason(&self) -> String {
        match self.result {
            DkimResult::None => "message has no DKIM signature".to_owned(),
            DkimResult::Pass => {
                let mut reason = "signature verified".to_owned();
                if let (Some(l), Some(unsigned)) = (self.body_length, self.unsigned_body_bytes) {
                    reason.push_str(&format!(
                        " (l={l}: {unsigned} body bytes after the signed part)"
                    ));
                }
                if self.testing {
                    reason.push_str(" (key in testing mode, t=y)");
                }
                reason
            }
            _ => self
                .problem
                .clone()
                .unwrap_or_else(|| self.result.to_string()),
        }
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for reasons.
pub fn format_utc(secs: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm, valid for every u64 day count we can get.
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_528_637_909), "2018-06-10T13:38:29Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
