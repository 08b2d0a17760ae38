//! The three ARC header fields (RFC 8617 §4.1), collected by instance and parsed.
//!
//! ARC-Message-Signature and ARC-Seal are DKIM-style tag-lists ([`tag_list`]); the
//! ARC-Authentication-Results value is `i=N;` followed by an Authentication-Results payload
//! (RFC 8617 §4.1.1), so only its instance prefix is read here.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{ChainStatus, MAX_INSTANCE};
use crate::dkim::signature::{decode_base64, is_field_name, parse_canonicalization, parse_number};
use crate::dkim::tag_list::{self, Tag};
use crate::dkim::{Algorithm, Canonicalization};
use crate::domain;
use crate::message::{HeaderField, Message};

pub(crate) const AAR: &str = "ARC-Authentication-Results";
pub(crate) const AMS: &str = "ARC-Message-Signature";
pub(crate) const AS: &str = "ARC-Seal";

/// Most digits read in an `i=` value: enough for [`MAX_INSTANCE`] with room for leading
/// zeros; longer values are refused rather than parsed.
const MAX_INSTANCE_DIGITS: usize = 4;

/// The ARC header fields of one instance, in message order (top first).
#[derive(Debug, Default)]
pub(crate) struct SetFields<'h, 'm> {
    pub(crate) results: Vec<&'h HeaderField<'m>>,
    pub(crate) message_signatures: Vec<&'h HeaderField<'m>>,
    pub(crate) seals: Vec<&'h HeaderField<'m>>,
}

impl<'h, 'm> SetFields<'h, 'm> {
    /// The three fields, when there is exactly one of each (RFC 8617 §5.2 step 3.1).
    pub(crate) fn complete(&self) -> Option<[&'h HeaderField<'m>; 3]> {
        match (
            self.results.as_slice(),
            self.message_signatures.as_slice(),
            self.seals.as_slice(),
        ) {
            ([aar], [ams], [seal]) => Some([aar, ams, seal]),
            _ => None,
        }
    }
}

/// The message's ARC fields grouped by instance, or the first field whose instance cannot
/// be read.
pub(crate) type Collected<'h, 'm> = BTreeMap<u32, SetFields<'h, 'm>>;

/// Why the ARC fields could not be grouped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CollectError {
    #[error("{0} field without a readable i= tag")]
    NoInstance(&'static str),
    #[error("{name} has i={instance}, outside 1 to {MAX_INSTANCE} (RFC 8617 §4.2.1)")]
    OutOfRange {
        name: &'static str,
        instance: String,
    },
}

/// Groups the ARC fields of `message` by instance (RFC 8617 §5.2 step 1).
pub(crate) fn collect<'h, 'm>(message: &'h Message<'m>) -> Result<Collected<'h, 'm>, CollectError> {
    let mut sets: Collected<'h, 'm> = BTreeMap::new();
    for field in &message.headers {
        let name = if field.is(AAR) {
            AAR
        } else if field.is(AMS) {
            AMS
        } else if field.is(AS) {
            AS
        } else {
            continue;
        };
        let value = if name == AAR {
            results_instance(field.value()).map(|(value, _)| value)
        } else {
            tag_list::parse(field.value())
                .ok()
                .and_then(|tags| tag_list::get(&tags, "i").map(str::to_owned))
        };
        let value = value.ok_or(CollectError::NoInstance(name))?;
        let instance = parse_instance(&value).ok_or_else(|| CollectError::OutOfRange {
            name,
            instance: value.clone(),
        })?;
        let set = sets.entry(instance).or_default();
        match name {
            AAR => set.results.push(field),
            AMS => set.message_signatures.push(field),
            _ => set.seals.push(field),
        }
    }
    Ok(sets)
}

fn parse_instance(value: &str) -> Option<u32> {
    if value.is_empty()
        || value.len() > MAX_INSTANCE_DIGITS
        || !value.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    value
        .parse()
        .ok()
        .filter(|i| (1..=MAX_INSTANCE).contains(i))
}

/// Reads `[FWS] "i" [FWS] "=" [FWS] digits [FWS] ";"` at the start of an AAR value (RFC 8617
/// §4.1.1) and returns the digits and the payload after the semicolon.
pub(crate) fn results_instance(value: &[u8]) -> Option<(String, &[u8])> {
    let text = trim_fws_start(value);
    let text = text
        .strip_prefix(b"i")
        .or_else(|| text.strip_prefix(b"I"))?;
    let text = trim_fws_start(text).strip_prefix(b"=")?;
    let text = trim_fws_start(text);
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = text.split_at(digits);
    let rest = trim_fws_start(rest).strip_prefix(b";")?;
    Some((String::from_utf8_lossy(number).into_owned(), rest))
}

fn trim_fws_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    bytes.get(skip..).unwrap_or_default()
}

/// An AAR payload unfolded, with runs of whitespace as one space and no whitespace at the
/// ends; bytes that are not UTF-8 are replaced.
pub(crate) fn unfold(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload)
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `smtp.remote-ip` from an (unfolded) AAR payload.
pub(crate) fn remote_ip(payload: &str) -> Option<String> {
    const PROPERTY: &str = "smtp.remote-ip=";
    let lower = payload.to_ascii_lowercase();
    let start = lower.find(PROPERTY)? + PROPERTY.len();
    let value: String = payload
        .get(start..)?
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '(' | ')'))
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The tags every ARC signature has (RFC 8617 §4.1.2, §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Common {
    pub(crate) signature: Vec<u8>,
    /// `d=`, in lower case.
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) expiration: Option<u64>,
    /// Where the `b=` value lies in the field's value.
    pub(crate) b_range: Range<usize>,
}

impl Common {
    pub(crate) fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// An ARC-Message-Signature that is well-formed (RFC 8617 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageSignature {
    pub(crate) common: Common,
    pub(crate) body_hash: Vec<u8>,
    pub(crate) header_canon: Canonicalization,
    pub(crate) body_canon: Canonicalization,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) body_length: Option<u64>,
}

/// An ARC-Seal that is well-formed (RFC 8617 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seal {
    pub(crate) common: Common,
    pub(crate) cv: ChainStatus,
}

/// `d=` and `s=` as written, for reporting even a broken field.
pub(crate) fn claims(value: &[u8]) -> (String, String) {
    match tag_list::parse(value) {
        Ok(tags) => (
            tag_list::get(&tags, "d").unwrap_or_default().to_owned(),
            tag_list::get(&tags, "s").unwrap_or_default().to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

/// The `cv=` of an ARC-Seal, if readable.
pub(crate) fn seal_cv(value: &[u8]) -> Option<ChainStatus> {
    let tags = tag_list::parse(value).ok()?;
    ChainStatus::parse(tag_list::get(&tags, "cv")?)
}

fn parse_common(tags: &[Tag<'_>]) -> Result<Common, String> {
    let get = |name: &str| tag_list::get(tags, name);
    let require = |name: &str| {
        tag_list::get(tags, name).ok_or(format!("signature lacks the required {name}= tag"))
    };
    let algorithm = require("a")?;
    // RFC 8617 §4.1.2 and §4.1.3 take a= from DKIM, and rsa-sha256 is the only algorithm
    // ARC implementations share (dkimpy refuses ed25519-sha256; RFC 8301 forbids rsa-sha1).
    if Algorithm::parse(algorithm) != Some(Algorithm::RsaSha256) {
        return Err(format!(
            "a={algorithm} is not usable for ARC (only rsa-sha256)"
        ));
    }
    let signature = decode_base64(require("b")?)
        .filter(|b| !b.is_empty())
        .ok_or("invalid b= value")?;
    let domain = require("d")?.to_ascii_lowercase();
    if !domain::is_queryable(&domain) || domain.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err("invalid d= value".into());
    }
    let selector = require("s")?.to_owned();
    if selector.is_empty()
        || selector.bytes().any(|b| b.is_ascii_whitespace())
        || !domain::is_queryable(&selector)
    {
        return Err("invalid s= value".into());
    }
    let number = |name: &'static str| {
        get(name)
            .map(parse_number)
            .transpose()
            .map_err(|()| format!("invalid {name}= value"))
    };
    let timestamp = number("t")?;
    let expiration = number("x")?;
    if let (Some(t), Some(x)) = (timestamp, expiration)
        && x < t
    {
        return Err("x= is earlier than t=".into());
    }
    let b_range = tags
        .iter()
        .find(|tag| tag.name == "b")
        .map(|tag| tag.raw_value.clone())
        .unwrap_or_default();
    Ok(Common {
        signature,
        domain,
        selector,
        expiration,
        b_range,
    })
}

/// Validates an ARC-Message-Signature value.
pub(crate) fn parse_message_signature(value: &[u8]) -> Result<MessageSignature, String> {
    let tags = tag_list::parse(value).map_err(|e| format!("malformed signature: {e}"))?;
    let common = parse_common(&tags)?;
    let get = |name: &str| tag_list::get(&tags, name);
    let body_hash = get("bh")
        .and_then(decode_base64)
        .filter(|bh| bh.len() == 32)
        .ok_or("missing or invalid bh= value")?;
    // RFC 8617 §4.1.2: "syntax and semantics ... identical to DKIM-Signature", so an
    // absent c= means simple/simple (RFC 6376 §3.5). dkimpy assumes relaxed/relaxed; every
    // sealer we know writes c= explicitly.
    let (header_canon, body_canon) = match get("c") {
        None => (Canonicalization::Simple, Canonicalization::Simple),
        Some(c) => parse_canonicalization(c).ok_or_else(|| format!("unknown c={c}"))?,
    };
    let signed_headers: Vec<String> = tag_list::colon_list(get("h").ok_or("missing h= tag")?)
        .map(str::to_ascii_lowercase)
        .collect();
    if signed_headers.iter().any(|name| !is_field_name(name)) {
        return Err("invalid h= value".into());
    }
    if !signed_headers.iter().any(|name| name == "from") {
        return Err("h= does not include From".into());
    }
    // RFC 8617 §4.1.2: the AMS MUST NOT sign ARC-Seal fields.
    if signed_headers.iter().any(|name| name == "arc-seal") {
        return Err("h= includes ARC-Seal".into());
    }
    let body_length = get("l")
        .map(parse_number)
        .transpose()
        .map_err(|()| "invalid l= value")?;
    Ok(MessageSignature {
        common,
        body_hash,
        header_canon,
        body_canon,
        signed_headers,
        body_length,
    })
}

/// Validates an ARC-Seal value.
pub(crate) fn parse_seal(value: &[u8]) -> Result<Seal, String> {
    let tags = tag_list::parse(value).map_err(|e| format!("malformed seal: {e}"))?;
    let common = parse_common(&tags)?;
    // RFC 8617 §4.1.3: h= is not allowed in an ARC-Seal; its presence fails the seal.
    if tag_list::get(&tags, "h").is_some() {
        return Err("ARC-Seal has an h= tag".into());
    }
    let cv = tag_list::get(&tags, "cv").ok_or("seal lacks the required cv= tag")?;
    let cv = ChainStatus::parse(cv).ok_or_else(|| format!("invalid cv={cv}"))?;
    Ok(Seal { common, cv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_results_instance() {
        assert_eq!(
            results_instance(b" i=2; mx.example.net; spf=pass"),
            Some(("2".to_owned(), &b" mx.example.net; spf=pass"[..]))
        );
        assert_eq!(
            results_instance(b"\r\n\ti = 17 ;x").map(|(i, _)| i),
            Some("17".to_owned())
        );
        assert_eq!(results_instance(b" mx.example.net; i=2"), None);
        assert_eq!(results_instance(b" i=2 mx"), None);
        assert_eq!(results_instance(b""), None);
    }

    #[test]
    fn instances_are_bounded() {
        assert_eq!(parse_instance("1"), Some(1));
        assert_eq!(parse_instance("050"), Some(50));
        assert_eq!(parse_instance("51"), None);
        assert_eq!(parse_instance("0"), None);
        assert_eq!(parse_instance("99999999999999999999"), None);
        assert_eq!(parse_instance("-1"), None);
    }

    #[test]
    fn finds_the_remote_ip() {
        assert_eq!(
            remote_ip(
                "mx.example.net; spf=pass smtp.mailfrom=a@b.example; arc=none smtp.Remote-IP=192.0.2.1;"
            ),
            Some("192.0.2.1".to_owned())
        );
        assert_eq!(
            remote_ip("mx; arc=pass (x) smtp.remote-ip=2001:db8::1"),
            Some("2001:db8::1".to_owned())
        );
        assert_eq!(remote_ip("mx; spf=pass"), None);
    }

    #[test]
    fn refuses_malformed_seals() {
        let good = "i=1; a=rsa-sha256; cv=none; d=example.com; s=sel; t=1; b=AAAA";
        assert!(parse_seal(good.as_bytes()).is_ok());
        for (bad, problem) in [
            (good.replace("cv=none", "cv=maybe"), "invalid cv=maybe"),
            (
                good.replace("cv=none; ", ""),
                "seal lacks the required cv= tag",
            ),
            (format!("{good}; h=from"), "ARC-Seal has an h= tag"),
            (
                good.replace("rsa-sha256", "ed25519-sha256"),
                "a=ed25519-sha256 is not usable for ARC (only rsa-sha256)",
            ),
            (good.replace("b=AAAA", "b="), "invalid b= value"),
            (good.replace("d=example.com", "d=a..b"), "invalid d= value"),
            (format!("{good}; x=0"), "x= is earlier than t="),
        ] {
            assert_eq!(parse_seal(bad.as_bytes()).unwrap_err(), problem, "{bad}");
        }
    }

    #[test]
    fn refuses_malformed_message_signatures() {
        let bh = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
        let good = format!(
            "i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from:to; bh={bh}; b=AAAA"
        );
        let parsed = parse_message_signature(good.as_bytes()).unwrap();
        assert_eq!(parsed.signed_headers, ["from", "to"]);
        assert_eq!(parsed.header_canon, Canonicalization::Relaxed);
        for (bad, problem) in [
            (
                good.replace("h=from:to", "h=to"),
                "h= does not include From",
            ),
            (
                good.replace("h=from:to", "h=from:ARC-Seal"),
                "h= includes ARC-Seal",
            ),
            (good.replace(bh, "AAAA"), "missing or invalid bh= value"),
            (good.replace("relaxed/relaxed", "fancy"), "unknown c=fancy"),
            (
                good.replace("s=sel; ", ""),
                "signature lacks the required s= tag",
            ),
        ] {
            assert_eq!(
                parse_message_signature(bad.as_bytes()).unwrap_err(),
                problem,
                "{bad}"
            );
        }
        let simple = good.replace("c=relaxed/relaxed; ", "");
        let parsed = parse_message_signature(simple.as_bytes()).unwrap();
        assert_eq!(parsed.body_canon, Canonicalization::Simple);
    }
}
