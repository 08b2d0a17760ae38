//! Chain validation (RFC 8617 §5.2), in the RFC's order:
//!
//! 1. collect the ARC sets by instance (none: `none`; an instance outside 1 to 50: `fail`);
//! 2. the newest ARC-Seal must not say `cv=fail`;
//! 3. structure: exactly one AAR, AMS and AS per instance, instances 1..N without gaps,
//!    `cv=none` on instance 1 and `cv=pass` on every other;
//! 4. the newest AMS must verify (a DKIM signature over the message as it is now);
//! 5. and 6. "oldest-pass": the older AMSs are verified from N-1 down until one fails;
//! 7. every AS, from N down to 1, must verify over the ARC sets 1..=i.
//!
//! The first failure decides; later checks are reported `neutral` ("not checked").

use std::sync::Arc;

use super::header::{
    self, AAR, AMS, AS, Collected, Common, MessageSignature, SetFields, parse_message_signature,
    parse_seal,
};
use super::{ArcOutput, ArcResult, ArcSetOutput, ChainStatus, SignatureCheck};
use crate::dkim::canon::{BodyHash, BodyHasher, Canonicalization, canonicalize_header};
use crate::dkim::key::{self, KeyError, KeyRecord, PublicKey};
use crate::dkim::verify::{append_signature_field, select_headers};
use crate::dkim::{DkimResult, HashAlgorithm, MIN_RSA_BITS, format_utc};
use crate::dns::Resolver;
use crate::message::{HeaderField, Message};

/// Validates the ARC chain of `message` at time `now` (Unix seconds).
pub async fn validate<R: Resolver>(resolver: &R, message: &Message<'_>, now: u64) -> ArcOutput {
    let collected = match header::collect(message) {
        Ok(collected) => collected,
        Err(error) => {
            return ArcOutput {
                result: ArcResult::Fail,
                problem: Some(error.to_string()),
                ..ArcOutput::none()
            };
        }
    };
    let Some(&highest) = collected.keys().next_back() else {
        return ArcOutput::none();
    };
    let mut output = ArcOutput {
        result: ArcResult::Fail,
        sets: collected.iter().map(|(&i, set)| describe(i, set)).collect(),
        highest_instance: highest,
        oldest_pass: None,
        problem: None,
    };
    let mut run = Run {
        resolver,
        message,
        now,
        keys: Vec::new(),
        body_hashes: Vec::new(),
    };
    let result = run.chain(&collected, &mut output).await;
    match result {
        Ok(()) => output.result = ArcResult::Pass,
        Err((result, problem)) => {
            output.result = result;
            output.problem = Some(problem);
            output.oldest_pass = None;
        }
    }
    output
}

/// A set as found, before any signature is checked.
fn describe(instance: u32, set: &SetFields<'_, '_>) -> ArcSetOutput {
    let claim = |fields: &[&HeaderField<'_>]| {
        let (domain, selector) = fields
            .first()
            .map(|field| header::claims(field.value()))
            .unwrap_or_default();
        SignatureCheck::unchecked(&domain, &selector)
    };
    let authentication_results = set
        .results
        .first()
        .and_then(|field| header::results_instance(field.value()))
        .map(|(_, payload)| header::unfold(payload))
        .unwrap_or_default();
    ArcSetOutput {
        instance,
        cv: set
            .seals
            .first()
            .and_then(|field| header::seal_cv(field.value())),
        seal: claim(&set.seals),
        message_signature: claim(&set.message_signatures),
        remote_ip: header::remote_ip(&authentication_results),
        authentication_results,
    }
}

/// Why the chain did not pass: the result and the reason.
type Stop = (ArcResult, String);

/// What a body hash depends on (AMSs may differ in `c=` and `l=`).
type BodyKey = (Canonicalization, Option<u64>);

struct Run<'r, 'm, 'b, R> {
    resolver: &'r R,
    message: &'m Message<'b>,
    now: u64,
    keys: Vec<(String, Result<Arc<KeyRecord>, KeyError>)>,
    body_hashes: Vec<(BodyKey, BodyHash)>,
}

impl<R: Resolver> Run<'_, '_, '_, R> {
    async fn chain(
        &mut self,
        collected: &Collected<'_, '_>,
        output: &mut ArcOutput,
    ) -> Result<(), Stop> {
        let highest = output.highest_instance;
        let fail = |problem: String| (ArcResult::Fail, problem);

        // Step 2.
        if output.ended() {
            return Err(fail(format!(
                "ARC-Seal i={highest} says the chain had already failed (cv=fail)"
            )));
        }

        // Step 3.
        let mut complete = Vec::with_capacity(collected.len());
        for instance in 1..=highest {
            let set = collected
                .get(&instance)
                .ok_or_else(|| fail(format!("ARC set i={instance} is missing")))?;
            let fields = set.complete().ok_or_else(|| {
                fail(format!(
                    "ARC set i={instance} does not have exactly one each of {AAR}, {AMS} and {AS}"
                ))
            })?;
            let expected = if instance == 1 {
                ChainStatus::None
            } else {
                ChainStatus::Pass
            };
            let cv = output.set(instance).and_then(|set| set.cv);
            if cv != Some(expected) {
                let found = cv.map_or("unreadable", ChainStatus::as_str);
                return Err(fail(format!(
                    "ARC-Seal i={instance} has cv={found}, expected cv={expected}"
                )));
            }
            complete.push(fields);
        }

        // Step 4.
        let newest = self.check_message_signature(&complete, highest).await;
        let newest_result = newest.result;
        let problem = newest.reason();
        set_check(output, highest, |set| &mut set.message_signature, newest);
        if newest_result != DkimResult::Pass {
            return Err((
                stop_result(newest_result),
                format!("{AMS} i={highest} did not verify: {problem}"),
            ));
        }

        // Steps 5 and 6.
        let mut oldest_pass = 0;
        for instance in (1..highest).rev() {
            let check = self.check_message_signature(&complete, instance).await;
            let passed = check.result == DkimResult::Pass;
            set_check(output, instance, |set| &mut set.message_signature, check);
            if !passed {
                oldest_pass = instance + 1;
                break;
            }
        }
        output.oldest_pass = Some(oldest_pass);

        // Step 7.
        for instance in (1..=highest).rev() {
            let check = self.check_seal(&complete, instance).await;
            let result = check.result;
            let problem = check.reason();
            set_check(output, instance, |set| &mut set.seal, check);
            if result != DkimResult::Pass {
                return Err((
                    stop_result(result),
                    format!("{AS} i={instance} did not verify: {problem}"),
                ));
            }
        }
        Ok(())
    }

    async fn check_message_signature(
        &mut self,
        complete: &[[&HeaderField<'_>; 3]],
        instance: u32,
    ) -> SignatureCheck {
        let Some([_, field, _]) = instance_fields(complete, instance) else {
            return internal_error();
        };
        let (domain, selector) = header::claims(field.value());
        let mut check = SignatureCheck::unchecked(&domain, &selector);
        let signature = match parse_message_signature(field.value()) {
            Ok(signature) => signature,
            Err(problem) => return decide(check, DkimResult::PermError, problem),
        };
        let body = self.body_hash(&signature);
        if body.as_slice() != signature.body_hash.as_slice() {
            return decide(check, DkimResult::Fail, "body hash did not verify".into());
        }
        let mut data = Vec::with_capacity(1024);
        select_headers(
            &mut data,
            &self.message.headers,
            &signature.signed_headers,
            signature.header_canon,
        );
        append_signature_field(
            &mut data,
            signature.header_canon,
            field.name,
            &blank_b(field, &signature.common),
        );
        let (result, problem) = self.verify(&signature.common, &data).await;
        check.result = result;
        check.problem = problem;
        check
    }

    async fn check_seal(
        &mut self,
        complete: &[[&HeaderField<'_>; 3]],
        instance: u32,
    ) -> SignatureCheck {
        let Some([_, _, field]) = instance_fields(complete, instance) else {
            return internal_error();
        };
        let (domain, selector) = header::claims(field.value());
        let check = SignatureCheck::unchecked(&domain, &selector);
        let seal = match parse_seal(field.value()) {
            Ok(seal) => seal,
            Err(problem) => return decide(check, DkimResult::PermError, problem),
        };
        // RFC 8617 §5.1.1: the AS covers every ARC set from 1 to its own, in instance order
        // and AAR, AMS, AS within a set, with relaxed header canonicalisation; its own b=
        // is empty and its final CRLF left out.
        let mut data = Vec::with_capacity(2048);
        let count = instance as usize;
        for (index, set) in complete.iter().take(count).enumerate() {
            let fields = if index + 1 == count {
                set.get(..2).unwrap_or_default()
            } else {
                set.as_slice()
            };
            for field in fields {
                canonicalize_header(&mut data, Canonicalization::Relaxed, field.name, field.raw);
            }
        }
        append_signature_field(
            &mut data,
            Canonicalization::Relaxed,
            field.name,
            &blank_b(field, &seal.common),
        );
        let (result, problem) = self.verify(&seal.common, &data).await;
        SignatureCheck {
            result,
            problem,
            ..check
        }
    }

    fn body_hash(&mut self, signature: &MessageSignature) -> Vec<u8> {
        let key = (signature.body_canon, signature.body_length);
        if let Some((_, hash)) = self.body_hashes.iter().find(|(k, _)| *k == key) {
            return hash.digest.as_ref().to_vec();
        }
        let mut hasher = BodyHasher::new(key.0, HashAlgorithm::Sha256, key.1);
        hasher.update(self.message.body);
        let hash = hasher.finish();
        let digest = hash.digest.as_ref().to_vec();
        self.body_hashes.push((key, hash));
        digest
    }

    /// Expiry, key and signature checks shared by the AMS and the AS.
    async fn verify(&mut self, common: &Common, data: &[u8]) -> (DkimResult, Option<String>) {
        if let Some(expiration) = common.expiration
            && expiration < self.now
        {
            let problem = format!("signature expired at {}", format_utc(expiration));
            return (DkimResult::PermError, Some(problem));
        }
        let name = common.key_name();
        let index = match self.keys.iter().position(|(n, _)| *n == name) {
            Some(index) => index,
            None => {
                let record = key::lookup(self.resolver, &name, None).await;
                self.keys.push((name, record));
                self.keys.len() - 1
            }
        };
        let record = match self.keys.get(index).map(|(_, record)| record) {
            Some(Ok(record)) => record,
            Some(Err(error)) if error.is_temporary() => {
                return (DkimResult::TempError, Some(error.to_string()));
            }
            Some(Err(error)) => return (DkimResult::PermError, Some(error.to_string())),
            None => return (DkimResult::TempError, Some("internal error".into())),
        };
        if !record.allows(HashAlgorithm::Sha256) {
            return (
                DkimResult::PermError,
                Some("key record does not allow sha256".into()),
            );
        }
        let PublicKey::Rsa { bits, .. } = &record.key else {
            return (
                DkimResult::PermError,
                Some("key type ed25519 does not match a=rsa-sha256".into()),
            );
        };
        if *bits < MIN_RSA_BITS {
            let problem = format!("{bits}-bit RSA key refused by policy (minimum {MIN_RSA_BITS})");
            return (DkimResult::Policy, Some(problem));
        }
        if record.verifies(HashAlgorithm::Sha256, data, &common.signature) {
            (DkimResult::Pass, None)
        } else {
            (DkimResult::Fail, Some("signature did not verify".into()))
        }
    }
}

fn instance_fields<'h, 'm>(
    complete: &[[&'h HeaderField<'m>; 3]],
    instance: u32,
) -> Option<[&'h HeaderField<'m>; 3]> {
    complete.get((instance as usize).checked_sub(1)?).copied()
}

/// The field with its `b=` value removed (RFC 6376 §3.7, as RFC 8617 §4.1.2 and §4.1.3 use it).
fn blank_b(field: &HeaderField<'_>, common: &Common) -> Vec<u8> {
    let value_start = field.raw.len() - field.value().len();
    let start = value_start + common.b_range.start;
    let end = value_start + common.b_range.end;
    let mut blanked = Vec::with_capacity(field.raw.len());
    blanked.extend_from_slice(field.raw.get(..start).unwrap_or_default());
    blanked.extend_from_slice(field.raw.get(end..).unwrap_or_default());
    blanked
}

fn decide(mut check: SignatureCheck, result: DkimResult, problem: String) -> SignatureCheck {
    check.result = result;
    check.problem = Some(problem);
    check
}

fn internal_error() -> SignatureCheck {
    decide(
        SignatureCheck::unchecked("", ""),
        DkimResult::TempError,
        "internal error".into(),
    )
}

/// A transient failure leaves the chain undecided; anything else fails it.
fn stop_result(result: DkimResult) -> ArcResult {
    if result == DkimResult::TempError {
        ArcResult::TempError
    } else {
        ArcResult::Fail
    }
}

fn set_check(
    output: &mut ArcOutput,
    instance: u32,
    slot: impl FnOnce(&mut ArcSetOutput) -> &mut SignatureCheck,
    check: SignatureCheck,
) {
    if let Some(set) = output.sets.iter_mut().find(|set| set.instance == instance) {
        *slot(set) = check;
    }
}
