//! Verification (RFC 6376 §6): one output per DKIM-Signature field.
//!
//! The steps for each signature, in the RFC's order:
//! 1. parse and validate the field (§6.1.1), including expiry (`x=`);
//! 2. apply local policy that needs no key (RFC 8301 §3.1: `rsa-sha1`);
//! 3. fetch and check the key (§6.1.2), and the policy on its size (RFC 8301 §3.2);
//! 4. compare the body hash (§6.1.3), computed once per (canonicalisation, hash, `l=`) and
//!    shared between signatures;
//! 5. verify the signature over the selected header fields and the signature field itself.

use aws_lc_rs::digest;

use super::canon::{BodyHash, BodyHasher, Canonicalization, canonicalize_header};
use super::key::{self, KeyCache, KeyError, PublicKey};
use super::signature::{Claims, Signature, SignatureError};
use super::tag_list;
use super::{
    Algorithm, DkimOutput, DkimResult, HashAlgorithm, MIN_RSA_BITS, VerifyOptions, format_utc,
};
use crate::dns::Resolver;
use crate::message::{HeaderField, Message};

const FIELD_NAME: &str = "DKIM-Signature";

/// Verifies every DKIM-Signature of `message` at time `now` (Unix seconds).
///
/// Returns one output per signature, top first; a message without signatures gets a single
/// output with the result `none`, so an Authentication-Results writer can always iterate.
/// Signatures beyond [`VerifyOptions::max_signatures`] are reported `neutral` unchecked.
///
/// For one-off checks; a daemon uses [`DkimVerifier`], which parses each key once.
pub async fn verify<R: Resolver>(
    resolver: &R,
    message: &Message<'_>,
    options: &VerifyOptions,
    now: u64,
) -> Vec<DkimOutput> {
    verify_all(resolver, None, message, options, now).await
}

/// DKIM verification through one resolver, keeping the parsed form of the key records it
/// has seen.
///
/// Share one per process: the cache is keyed by the record text, so it never serves a
/// revoked or rotated key (the resolver's TTLs decide when a new text is fetched), and it is
/// bounded (entries are dropped wholesale when it is full).
pub struct DkimVerifier<R> {
    resolver: R,
    keys: KeyCache,
}

impl<R: Resolver> DkimVerifier<R> {
    /// A verifier with room for [`DkimVerifier::DEFAULT_CAPACITY`] parsed keys.
    pub fn new(resolver: R) -> Self {
        Self::with_capacity(resolver, Self::DEFAULT_CAPACITY)
    }

    /// Parsed keys kept by [`DkimVerifier::new`].
    pub const DEFAULT_CAPACITY: usize = key::DEFAULT_CAPACITY;

    /// A verifier keeping at most `capacity` parsed keys (0 keeps none).
    pub fn with_capacity(resolver: R, capacity: usize) -> Self {
        Self {
            resolver,
            keys: KeyCache::new(capacity),
        }
    }

    /// The resolver the checks use.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// As [`verify`].
    pub async fn verify(
        &self,
        message: &Message<'_>,
        options: &VerifyOptions,
        now: u64,
    ) -> Vec<DkimOutput> {
        verify_all(&self.resolver, Some(&self.keys), message, options, now).await
    }
}

async fn verify_all<R: Resolver>(
    resolver: &R,
    keys: Option<&KeyCache>,
    message: &Message<'_>,
    options: &VerifyOptions,
    now: u64,
) -> Vec<DkimOutput> {
    let fields: Vec<&HeaderField<'_>> = message.fields(FIELD_NAME).collect();
    if fields.is_empty() {
        return vec![DkimOutput::none()];
    }
    let mut body_hashes: Vec<(BodyKey, BodyHash)> = Vec::new();
    let mut outputs = Vec::with_capacity(fields.len());
    for (index, field) in fields.into_iter().enumerate() {
        let output = if index < options.max_signatures {
            let context = Context {
                resolver,
                keys,
                message,
                options,
                now,
            };
            verify_one(&context, field, &mut body_hashes).await
        } else {
            let mut output = claimed(field.value());
            output.result = DkimResult::Neutral;
            output.problem = Some(format!(
                "not verified: more than {} signatures",
                options.max_signatures
            ));
            output
        };
        outputs.push(output);
    }
    outputs
}

/// What a body hash depends on.
type BodyKey = (Canonicalization, HashAlgorithm, Option<u64>);

/// An output filled with what the field claims, result `permerror` until decided.
fn claimed(value: &[u8]) -> DkimOutput {
    match tag_list::parse(value) {
        Ok(tags) => claimed_from(&tags),
        Err(_) => claimed_from(&[]),
    }
}

fn claimed_from(tags: &[tag_list::Tag<'_>]) -> DkimOutput {
    let mut output = DkimOutput::none();
    output.result = DkimResult::PermError;
    let claims = Claims::read(tags);
    output.domain = claims.domain;
    output.selector = claims.selector;
    output.identity = claims.identity;
    output.algorithm = claims.algorithm;
    output.body_length = claims.body_length;
    output.header_b = claims.b;
    output
}

/// What every signature of one message is verified with.
struct Context<'a, 'm, R> {
    resolver: &'a R,
    keys: Option<&'a KeyCache>,
    message: &'a Message<'m>,
    options: &'a VerifyOptions,
    now: u64,
}

async fn verify_one<R: Resolver>(
    context: &Context<'_, '_, R>,
    field: &HeaderField<'_>,
    body_hashes: &mut Vec<(BodyKey, BodyHash)>,
) -> DkimOutput {
    let &Context {
        resolver,
        keys,
        message,
        options,
        now,
    } = context;
    let decide = |mut output: DkimOutput, result: DkimResult, problem: String| {
        output.result = result;
        output.problem = Some(problem);
        output
    };

    // 1. The field.
    let tags = match tag_list::parse(field.value()) {
        Ok(tags) => tags,
        Err(error) => {
            let problem = SignatureError::from(error).to_string();
            return decide(claimed_from(&[]), DkimResult::PermError, problem);
        }
    };
    let mut output = claimed_from(&tags);
    let signature = match Signature::parse(&tags) {
        Ok(signature) => signature,
        Err(problem) => return decide(output, DkimResult::PermError, problem.to_string()),
    };
    if let Some(expiration) = signature.expiration
        && expiration < now
    {
        let problem = format!("signature expired at {}", format_utc(expiration));
        return decide(output, DkimResult::PermError, problem);
    }

    // 2. Policy needing no key.
    if signature.algorithm == Algorithm::RsaSha1 && !options.allow_sha1 {
        return decide(
            output,
            DkimResult::Policy,
            "rsa-sha1 refused by policy".into(),
        );
    }

    // 3. The key.
    let record = match key::lookup(resolver, &signature.key_name(), keys).await {
        Ok(record) => record,
        Err(error @ KeyError::Dns { .. }) if error.is_temporary() => {
            return decide(output, DkimResult::TempError, error.to_string());
        }
        Err(error) => return decide(output, DkimResult::PermError, error.to_string()),
    };
    output.testing = record.testing;
    let key_type = record.key.key_type();
    if key_type != signature.algorithm.key_type() {
        let problem = format!(
            "key type {} does not match a={}",
            key_type.as_str(),
            signature.algorithm
        );
        return decide(output, DkimResult::PermError, problem);
    }
    let hash = signature.algorithm.hash();
    if !record.allows(hash) {
        let problem = format!("key record does not allow {}", hash.as_str());
        return decide(output, DkimResult::PermError, problem);
    }
    if record.strict && signature.identity_domain != signature.domain {
        let problem = format!(
            "key requires i= in {} exactly (t=s), not {}",
            signature.domain, signature.identity_domain
        );
        return decide(output, DkimResult::PermError, problem);
    }
    if let PublicKey::Rsa { bits, .. } = record.key {
        output.key_bits = Some(bits);
        let minimum = options.min_rsa_bits.max(MIN_RSA_BITS);
        if bits < minimum {
            let problem = format!("{bits}-bit RSA key refused by policy (minimum {minimum})");
            return decide(output, DkimResult::Policy, problem);
        }
    }

    // 4. The body.
    let body_key = (signature.body_canon, hash, signature.body_length);
    let position = match body_hashes.iter().position(|(key, _)| *key == body_key) {
        Some(position) => position,
        None => {
            let mut hasher = BodyHasher::new(body_key.0, body_key.1, body_key.2);
            hasher.update(message.body);
            body_hashes.push((body_key, hasher.finish()));
            body_hashes.len() - 1
        }
    };
    let Some((_, body_hash)) = body_hashes.get(position) else {
        return decide(output, DkimResult::TempError, "internal error".into());
    };
    if body_hash.digest.as_ref() != signature.body_hash.as_slice() {
        return decide(output, DkimResult::Fail, "body hash did not verify".into());
    }
    if let Some(l) = signature.body_length {
        output.unsigned_body_bytes = Some(body_hash.canonical_len.saturating_sub(l));
    }

    // 5. The header signature.
    let data = signed_data(message, field, &signature);
    let verified = match &record.key {
        PublicKey::Rsa { .. } => record.verifies(hash, &data, &signature.signature),
        PublicKey::Ed25519(_) => {
            // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the header data (PureEdDSA).
            let hashed = digest::digest(&digest::SHA256, &data);
            record.verifies(hash, hashed.as_ref(), &signature.signature)
        }
    };
    if verified {
        output.result = DkimResult::Pass;
        output
    } else {
        decide(output, DkimResult::Fail, "signature did not verify".into())
    }
}

/// The header data a signature covers (RFC 6376 §3.7): the fields named by `h=`, each
/// instance used once from the bottom up, then the signature field with `b=` emptied and
/// without its final CRLF.
pub(crate) fn signed_data(
    message: &Message<'_>,
    field: &HeaderField<'_>,
    signature: &Signature,
) -> Vec<u8> {
    let mut data = Vec::with_capacity(1024);
    select_headers(
        &mut data,
        &message.headers,
        &signature.signed_headers,
        signature.header_canon,
    );
    let value_start = field.raw.len() - field.value().len();
    let blank_start = value_start + signature.b_range.start;
    let blank_end = value_start + signature.b_range.end;
    let mut blanked = Vec::with_capacity(field.raw.len());
    blanked.extend_from_slice(field.raw.get(..blank_start).unwrap_or_default());
    blanked.extend_from_slice(field.raw.get(blank_end..).unwrap_or_default());
    append_signature_field(&mut data, signature.header_canon, field.name, &blanked);
    data
}

/// Appends the canonical header fields named by `names` (§5.4.2): for each name, the
/// bottom-most instance not used yet; a name with no instance left contributes nothing,
/// which is what makes oversigning work.
pub(crate) fn select_headers(
    out: &mut Vec<u8>,
    headers: &[HeaderField<'_>],
    names: &[String],
    canon: Canonicalization,
) {
    let mut used = vec![false; headers.len()];
    for name in names {
        let found =
            headers.iter().enumerate().rev().find(|(index, field)| {
                !used.get(*index).copied().unwrap_or(true) && field.is(name)
            });
        if let Some((index, field)) = found {
            if let Some(slot) = used.get_mut(index) {
                *slot = true;
            }
            canonicalize_header(out, canon, field.name, field.raw);
        }
    }
}

/// Appends a signature field (already with `b=` empty) canonicalised, without the CRLF.
pub(crate) fn append_signature_field(
    out: &mut Vec<u8>,
    canon: Canonicalization,
    name: &[u8],
    raw: &[u8],
) {
    canonicalize_header(out, canon, name, raw);
    out.truncate(out.len().saturating_sub(2));
}
