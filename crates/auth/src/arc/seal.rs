//! Sealing (RFC 8617 §5.1): the next ARC set for a message.
//!
//! The steps, in the RFC's order:
//! 1. a chain whose newest seal says `cv=fail` gets no further set ([`SealError::ChainEnded`]);
//! 2. the ARC-Authentication-Results field: `i=N+1;` and this hop's payload;
//! 3. the ARC-Message-Signature: a relaxed/relaxed rsa-sha256 DKIM-style signature;
//! 4. the ARC-Seal, with `cv=` from the chain's validation, over every ARC set and the new
//!    one, or over the new set alone when the chain failed (§5.1.2).
//!
//! Fields are folded to [`LINE_LIMIT`](crate::dkim::LINE_LIMIT) columns where they have whitespace to fold at, and
//! use the message's line ending, so they can be prepended as they are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::header::{self, AAR, AMS, AS};
use super::{ArcOutput, ArcResult, ChainStatus, MAX_INSTANCE};
use crate::dkim::canon::{BodyHasher, Canonicalization, canonicalize_header};
use crate::dkim::sign::Folder;
use crate::dkim::verify::{append_signature_field, select_headers};
use crate::dkim::{DEFAULT_SIGNED_HEADERS, HashAlgorithm, SigningKey};
use crate::message::Message;

#[cfg(doc)]
use super::validate;

/// Header fields the AMS never signs: the ARC fields themselves (RFC 8617 §4.1.2 forbids
/// ARC-Seal, and the others change at every hop), Authentication-Results (RFC 8617 §4.1.2:
/// likely to be removed downstream) and DKIM-Signature (dkimpy refuses to sign or accept it,
/// "SHOULD NOT be signed").
pub const UNSIGNABLE_HEADERS: &[&str] = &[
    "arc-authentication-results",
    "arc-message-signature",
    "arc-seal",
    "authentication-results",
    "dkim-signature",
];

/// Why no ARC set was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// RFC 8617 defines only rsa-sha256 for ARC, and dkimpy refuses Ed25519 seals.
    #[error("ARC seals need an RSA key (RFC 8617 defines only rsa-sha256)")]
    KeyNotRsa,
    /// RFC 8617 §5.1 step 1: the newest seal already says `cv=fail`.
    #[error("the ARC chain already ended with cv=fail at i={0}; no set is added")]
    ChainEnded(u32),
    /// The chain already has [`MAX_INSTANCE`] sets.
    #[error("the ARC chain already has {0} sets (the most RFC 8617 §4.2.1 allows)")]
    TooManySets(u32),
    /// The chain's validation ended in `temperror`; sealing now would stamp a `cv=` that may
    /// be wrong. Retry later, or pass the message on unsealed.
    #[error("the ARC chain could not be validated (temperror); not sealing")]
    ChainUnknown,
    /// The chain validation does not belong to this message.
    #[error("the ARC chain validation does not match the message")]
    ChainMismatch,
    /// The message has no From field (the AMS must sign it, as DKIM's must).
    #[error("message has no From field")]
    NoFrom,
    /// The Authentication-Results payload is empty or has control characters.
    #[error("invalid Authentication-Results payload: {0}")]
    InvalidResults(&'static str),
    /// A header field the AMS must not sign was configured ([`UNSIGNABLE_HEADERS`]).
    #[error("the ARC-Message-Signature must not sign {0}")]
    UnsignableHeader(String),
    /// The signing operation failed.
    #[error("signing failed")]
    Crypto,
}

/// A new ARC set, each field folded and ending with the message's line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSet {
    /// The instance written (`i=`).
    pub instance: u32,
    /// The `cv=` written in the seal.
    pub cv: ChainStatus,
    /// The ARC-Seal field.
    pub seal: String,
    /// The ARC-Message-Signature field.
    pub message_signature: String,
    /// The ARC-Authentication-Results field.
    pub authentication_results: String,
}

impl ArcSet {
    /// The three fields in the order they are usually prepended (ARC-Seal on top), as
    /// dkimpy and OpenARC write them.
    pub fn header_block(&self) -> String {
        [
            self.seal.as_str(),
            &self.message_signature,
            &self.authentication_results,
        ]
        .concat()
    }
}

/// Seals messages for one domain and selector with an RSA key.
#[derive(Debug)]
pub struct Sealer {
    key: SigningKey,
    /// `d=` of the AMS and AS.
    pub domain: String,
    /// `s=` of the AMS and AS.
    pub selector: String,
    /// The fields the AMS signs, in lower case; From is added if missing, and oversigned.
    /// Default: [`DEFAULT_SIGNED_HEADERS`].
    pub headers: Vec<String>,
}

impl Sealer {
    /// A sealer with the default header list; refuses an Ed25519 key.
    pub fn new(key: SigningKey, domain: &str, selector: &str) -> Result<Self, SealError> {
        if !matches!(key, SigningKey::Rsa(_)) {
            return Err(SealError::KeyNotRsa);
        }
        Ok(Self {
            key,
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            headers: DEFAULT_SIGNED_HEADERS
                .iter()
                .map(|&h| h.to_owned())
                .collect(),
        })
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The AMS `h=` list for `message`: each configured name as often as it occurs, From once
    /// more so that a second From cannot be added unnoticed.
    pub fn signed_headers(&self, message: &Message<'_>) -> Result<Vec<String>, SealError> {
        let mut listed: Vec<String> = Vec::with_capacity(self.headers.len() + 1);
        listed.push("from".to_owned());
        for name in &self.headers {
            let name = name.to_ascii_lowercase();
            if UNSIGNABLE_HEADERS.contains(&name.as_str()) {
                return Err(SealError::UnsignableHeader(name));
            }
            if !listed.contains(&name) {
                listed.push(name);
            }
        }
        let mut names = Vec::new();
        for name in listed {
            let count = message.fields(&name).count() + usize::from(name == "from");
            names.extend(std::iter::repeat_n(name, count));
        }
        Ok(names)
    }

    /// Writes the next ARC set for `message` at time `now` (Unix seconds).
    ///
    /// `chain` is [`validate`]'s output for the same message as received; `results` is this
    /// hop's Authentication-Results payload, authserv-id first (`mx.example.net; spf=pass
    /// smtp.mailfrom=...`). When it has no `arc=` result one is appended from `chain`, as
    /// the AAR should carry this hop's chain verdict (RFC 8617 §4.1.1). Runs of whitespace
    /// in it become single spaces (relaxed canonicalisation does the same).
    pub fn seal(
        &self,
        message: &Message<'_>,
        chain: &ArcOutput,
        results: &str,
        now: u64,
    ) -> Result<ArcSet, SealError> {
        // Step 1, and the limits.
        if chain.ended() {
            return Err(SealError::ChainEnded(chain.highest_instance));
        }
        let cv = chain.cv().ok_or(SealError::ChainUnknown)?;
        if chain.highest_instance >= MAX_INSTANCE {
            return Err(SealError::TooManySets(chain.highest_instance));
        }
        let instance = chain.highest_instance + 1;
        if message.fields("from").next().is_none() {
            return Err(SealError::NoFrom);
        }
        let names = self.signed_headers(message)?;
        let payload = payload_with_arc(results, chain.result)?;
        let eol = message.line_ending.as_str();

        // Step 2: ARC-Authentication-Results.
        let mut aar = Folder::new(&format!("{AAR}: i={instance};"), eol);
        for word in payload.split(' ') {
            aar.push(word);
        }

        // Step 3: ARC-Message-Signature.
        let mut hasher = BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None);
        hasher.update(message.body);
        let body = hasher.finish();
        let mut ams = Folder::new(&format!("{AMS}: i={instance};"), eol);
        ams.push("a=rsa-sha256;");
        ams.push("c=relaxed/relaxed;");
        self.push_identity(&mut ams, now);
        push_header_list(&mut ams, &names);
        ams.push(&format!("bh={};", STANDARD.encode(body.digest.as_ref())));
        ams.push("b=");
        let mut data = Vec::with_capacity(1024);
        select_headers(
            &mut data,
            &message.headers,
            &names,
            Canonicalization::Relaxed,
        );
        append_signature_field(
            &mut data,
            Canonicalization::Relaxed,
            AMS.as_bytes(),
            ams.text.as_bytes(),
        );
        ams.fold_value(&self.sign(&data)?);

        // Step 4: ARC-Seal.
        let mut seal = Folder::new(&format!("{AS}: i={instance};"), eol);
        seal.push("a=rsa-sha256;");
        seal.push(&format!("cv={cv};"));
        self.push_identity(&mut seal, now);
        seal.push("b=");
        let mut data = Vec::with_capacity(4096);
        if cv != ChainStatus::Fail {
            // §5.1.1: every earlier set, in instance order, AAR, AMS, AS within each.
            let collected = header::collect(message).map_err(|_| SealError::ChainMismatch)?;
            for earlier in 1..instance {
                let fields = collected
                    .get(&earlier)
                    .and_then(|set| set.complete())
                    .ok_or(SealError::ChainMismatch)?;
                for field in fields {
                    canonicalize_header(
                        &mut data,
                        Canonicalization::Relaxed,
                        field.name,
                        field.raw,
                    );
                }
            }
            if collected.len() as u32 != instance - 1 {
                return Err(SealError::ChainMismatch);
            }
        }
        // §5.1.2: a failed chain's seal covers only its own set.
        for (name, field) in [(AAR, &aar), (AMS, &ams)] {
            canonicalize_header(
                &mut data,
                Canonicalization::Relaxed,
                name.as_bytes(),
                field.text.as_bytes(),
            );
        }
        append_signature_field(
            &mut data,
            Canonicalization::Relaxed,
            AS.as_bytes(),
            seal.text.as_bytes(),
        );
        seal.fold_value(&self.sign(&data)?);

        let finish = |folder: Folder<'_>| {
            let mut text = folder.text;
            text.push_str(eol);
            text
        };
        Ok(ArcSet {
            instance,
            cv,
            seal: finish(seal),
            message_signature: finish(ams),
            authentication_results: finish(aar),
        })
    }

    fn push_identity(&self, field: &mut Folder<'_>, now: u64) {
        field.push(&format!("d={};", self.domain));
        field.push(&format!("s={};", self.selector));
        field.push(&format!("t={now};"));
    }

    fn sign(&self, data: &[u8]) -> Result<String, SealError> {
        let signature = self.key.sign(data).map_err(|_| SealError::Crypto)?;
        Ok(STANDARD.encode(signature))
    }
}

/// `h=a:b:c;`, folded between names.
fn push_header_list(field: &mut Folder<'_>, names: &[String]) {
    let count = names.len();
    for (index, name) in names.iter().enumerate() {
        let separator = if index + 1 == count { ';' } else { ':' };
        if index == 0 {
            field.push(&format!("h={name}{separator}"));
        } else {
            field.glue(&format!("{name}{separator}"));
        }
    }
}

/// The payload with whitespace runs collapsed and an `arc=` result appended when it has none.
fn payload_with_arc(results: &str, chain: ArcResult) -> Result<String, SealError> {
    if results
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != ' ')
    {
        return Err(SealError::InvalidResults("control characters"));
    }
    let words: Vec<&str> = results.split_ascii_whitespace().collect();
    if words.is_empty() || words.first().is_some_and(|w| w.starts_with(';')) {
        return Err(SealError::InvalidResults("no authserv-id"));
    }
    let payload = words.join(" ");
    let (authserv_id, rest) = payload.split_once(';').unwrap_or((&payload, ""));
    let has_arc = rest.split(';').any(|resinfo| {
        resinfo
            .trim()
            .split_once('=')
            .is_some_and(|(method, _)| method.trim().eq_ignore_ascii_case("arc"))
    });
    if has_arc {
        return Ok(payload);
    }
    let arc = format!("arc={}", chain.as_str());
    let rest = rest.trim().trim_end_matches(';').trim_end();
    Ok(if rest.is_empty() || rest.eq_ignore_ascii_case("none") {
        format!("{authserv_id}; {arc}")
    } else {
        format!("{authserv_id}; {rest}; {arc}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_gets_an_arc_result() {
        let payload = |text| payload_with_arc(text, ArcResult::Pass);
        assert_eq!(
            payload("mx.example.net;  spf=pass\r\n smtp.mailfrom=a@example.com").unwrap_err(),
            SealError::InvalidResults("control characters")
        );
        assert_eq!(
            payload("mx.example.net;  spf=pass\t smtp.mailfrom=a@example.com;").unwrap(),
            "mx.example.net; spf=pass smtp.mailfrom=a@example.com; arc=pass"
        );
        assert_eq!(
            payload("mx.example.net; none").unwrap(),
            "mx.example.net; arc=pass"
        );
        assert_eq!(
            payload("mx.example.net").unwrap(),
            "mx.example.net; arc=pass"
        );
        assert_eq!(
            payload("mx.example.net; ARC=fail (x); dkim=pass").unwrap(),
            "mx.example.net; ARC=fail (x); dkim=pass"
        );
        assert_eq!(
            payload("   ").unwrap_err(),
            SealError::InvalidResults("no authserv-id")
        );
    }

    #[test]
    fn ed25519_keys_are_refused() {
        let seed = [7u8; 32];
        let key = SigningKey::from_ed25519_seed(&seed).unwrap();
        assert_eq!(
            Sealer::new(key, "example.com", "arc").unwrap_err(),
            SealError::KeyNotRsa
        );
    }
}
