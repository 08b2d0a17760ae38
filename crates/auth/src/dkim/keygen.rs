//! New signing keys (`kanmon dkim genkey`): RSA or Ed25519 from aws-lc, as the PEM text
//! [`SigningKey::from_pem`] reads back, with the key record to publish.
//!
//! Both kinds are written as PKCS#8 (`BEGIN PRIVATE KEY`, RFC 5208 / RFC 8410), the form
//! OpenSSL 1.1+ and OpenDKIM read too, so a key made here can be moved to another signer.
//!
//! RSA sizes (RFC 8301 §3.2: signers MUST use at least 1,024 bits and SHOULD use at least
//! 2,048; verifiers MUST be able to check 1,024 to 4,096): 2,048 (the default), 3,072 and
//! 4,096. Below 2,048 is refused, with the reason: aws-lc neither makes nor loads smaller RSA
//! private keys, so kanmon could not sign with one; above 4,096 is refused because verifiers
//! need not check such keys and the record no longer fits a 512-byte UDP answer.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::sign::SigningKey;

/// The RSA size used when none is asked for (RFC 8301 §3.2's SHOULD).
pub const DEFAULT_RSA_BITS: usize = 2048;
/// The largest RSA size offered: the top of the range RFC 8301 §3.2 requires verifiers to
/// check.
pub const MAX_RSA_BITS: usize = 4096;
/// The smallest RSA size any verifier accepts (RFC 8301 §3.2, kanmon's own verifier
/// included): smaller keys are refused outright, not merely discouraged.
pub(crate) const MIN_VERIFIABLE_RSA_BITS: usize = 1024;

/// A freshly made key: the key itself and its private half as PEM.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The key, ready to sign with and to give its [`SigningKey::dns_record`].
    pub key: SigningKey,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), LF line endings, 64 columns.
    pub pem: String,
}

/// Why no key was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyGenError {
    /// Below what any verifier accepts.
    #[error(
        "{0}-bit RSA keys are refused: verifiers ignore signatures made with keys under 1024 bits (RFC 8301 §3.2); use 2048"
    )]
    TooSmall(usize),
    /// 1,024 to 2,047 bits: verifiers still accept such keys, but kanmon cannot sign with them.
    #[error(
        "{0}-bit RSA keys cannot be used by kanmon: its crypto library (aws-lc) makes and loads only RSA private keys of 2048 bits or more. Verifiers, kanmon's included, still accept 1024-bit keys (RFC 8301 §3.2), but they are breakable and RFC 8301 says to sign with 2048; if a DNS panel limits record length, publish the 2048-bit record as several strings (the .txt file) or use --algorithm ed25519"
    )]
    BelowSignerMinimum(usize),
    /// Above [`MAX_RSA_BITS`].
    #[error(
        "{0}-bit RSA keys are refused: verifiers need only check keys up to 4096 bits (RFC 8301 §3.2)"
    )]
    TooLarge(usize),
    /// Not one of the sizes aws-lc makes.
    #[error("RSA keys of {0} bits cannot be made; choose 2048, 3072 or 4096")]
    UnsupportedSize(usize),
    /// The crypto library failed.
    #[error("key generation failed in the crypto library")]
    Crypto,
}

/// Makes an RSA key of `bits` bits (2,048, 3,072 or 4,096).
pub fn generate_rsa(bits: usize) -> Result<GeneratedKey, KeyGenError> {
    let size = match bits {
        0..MIN_VERIFIABLE_RSA_BITS => return Err(KeyGenError::TooSmall(bits)),
        MIN_VERIFIABLE_RSA_BITS..DEFAULT_RSA_BITS => {
            return Err(KeyGenError::BelowSignerMinimum(bits));
        }
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        bits if bits > MAX_RSA_BITS => return Err(KeyGenError::TooLarge(bits)),
        _ => return Err(KeyGenError::UnsupportedSize(bits)),
    };
    let key = RsaKeyPair::generate(size).map_err(|_| KeyGenError::Crypto)?;
    let der: Pkcs8V1Der<'_> = key.as_der().map_err(|_| KeyGenError::Crypto)?;
    let pem = pem("PRIVATE KEY", der.as_ref());
    Ok(GeneratedKey {
        key: SigningKey::Rsa(key),
        pem,
    })
}

/// Makes an Ed25519 key (RFC 8463).
pub fn generate_ed25519() -> Result<GeneratedKey, KeyGenError> {
    let key = Ed25519KeyPair::generate().map_err(|_| KeyGenError::Crypto)?;
    // PKCS#8 v1 (private key only): what `openssl genpkey -algorithm ed25519` writes.
    let der: Pkcs8V1Der<'_> = key.as_der().map_err(|_| KeyGenError::Crypto)?;
    let pem = pem("PRIVATE KEY", der.as_ref());
    Ok(GeneratedKey {
        key: SigningKey::Ed25519(key),
        pem,
    })
}

/// PEM armour (RFC 7468 §2): base64 in lines of 64 characters.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is a whole string.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::Algorithm;
    use crate::dkim::key::{PublicKey, parse};

    #[test]
    fn rsa_keys_read_back_and_match_their_record() {
        let made = generate_rsa(2048).unwrap();
        assert!(made.pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(made.pem.lines().all(|line| line.len() <= 64));
        let loaded = SigningKey::from_pem(made.pem.as_bytes()).unwrap();
        assert_eq!(loaded.algorithm(), Algorithm::RsaSha256);
        assert_eq!(loaded.dns_record(), made.key.dns_record());
        let record = parse(made.key.dns_record().as_bytes()).unwrap();
        assert!(matches!(record.key, PublicKey::Rsa { bits: 2048, .. }));
        assert!(made.key.dns_record().starts_with("v=DKIM1; k=rsa; p="));
    }

    #[test]
    fn ed25519_keys_read_back_and_match_their_record() {
        let made = generate_ed25519().unwrap();
        let loaded = SigningKey::from_pem(made.pem.as_bytes()).unwrap();
        assert_eq!(loaded.algorithm(), Algorithm::Ed25519Sha256);
        assert_eq!(loaded.dns_record(), made.key.dns_record());
        assert!(made.key.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
        assert!(parse(made.key.dns_record().as_bytes()).is_ok());
        // Two keys are two keys.
        assert_ne!(
            generate_ed25519().unwrap().key.dns_record(),
            made.key.dns_record()
        );
    }

    #[test]
    fn rsa_sizes_outside_the_range_are_refused_with_the_reason() {
        assert_eq!(generate_rsa(512).unwrap_err(), KeyGenError::TooSmall(512));
        assert_eq!(
            generate_rsa(1024).unwrap_err(),
            KeyGenError::BelowSignerMinimum(1024)
        );
        assert!(
            generate_rsa(1024)
                .unwrap_err()
                .to_string()
                .contains("aws-lc")
        );
        assert_eq!(generate_rsa(8192).unwrap_err(), KeyGenError::TooLarge(8192));
        assert_eq!(
            generate_rsa(2500).unwrap_err(),
            KeyGenError::UnsupportedSize(2500)
        );
    }

    #[test]
    fn larger_rsa_keys_are_made() {
        let made = generate_rsa(3072).unwrap();
        let record = parse(made.key.dns_record().as_bytes()).unwrap();
        assert!(matches!(record.key, PublicKey::Rsa { bits: 3072, .. }));
    }
}
