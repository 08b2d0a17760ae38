//! Does a published key record fit a private key? (`kanmon dkim testkey`)
//!
//! The verifier's parser ([`key::parse`]) decides whether a record can be used; this module
//! turns its answer into what the person publishing the record needs: the tag at fault (the
//! `v=DKIM1; h=sha256; =rsa; p=...` record some `opendkim-genkey` versions wrote lacks the
//! `k` of `k=rsa`, and says so), a revoked key, or a key that is not the one on disk.

use super::KeyType;
use super::key::{self, PublicKey, RecordProblem};
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

/// Checks `record` (the TXT strings joined) against `key`.
pub fn check_record(record: &[u8], key: &SigningKey) -> RecordCheck {
    let parsed = match key::parse(record) {
        Ok(parsed) => parsed,
        Err(RecordProblem::Revoked) => return RecordCheck::Revoked,
        Err(problem) => return syntax(record, problem),
    };
    let published_type = parsed.key.key_type();
    let same_key = match (&parsed.key, key) {
        (PublicKey::Rsa { der, .. }, SigningKey::Rsa(private)) => {
            der.as_slice() == aws_lc_rs::signature::KeyPair::public_key(private).as_ref()
        }
        (PublicKey::Ed25519(public), SigningKey::Ed25519(private)) => {
            public.as_slice() == aws_lc_rs::signature::KeyPair::public_key(private).as_ref()
        }
        _ => {
            return RecordCheck::Mismatch(format!(
                "the record holds an {} key, the private key is {}",
                published_type.as_str(),
                key.algorithm().key_type().as_str()
            ));
        }
    };
    if !same_key {
        return RecordCheck::Mismatch(format!(
            "the record's {} public key (p=) is not the public half of this private key",
            published_type.as_str()
        ));
    }
    if !parsed.allows(key.algorithm().hash()) {
        return RecordCheck::Mismatch(format!(
            "the record's h= does not allow {}, the hash kanmon signs with",
            key.algorithm().hash().as_str()
        ));
    }
    RecordCheck::Matches {
        key_type: published_type,
        testing: parsed.testing,
    }
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
        match check_record(record.as_bytes(), &key) {
            RecordCheck::Syntax { tag, problem } => (tag, problem),
            other => panic!("{record}: {other:?}"),
        }
    }

    #[test]
    fn a_record_made_from_the_key_matches() {
        let rsa = generate_rsa(2048).unwrap().key;
        assert_eq!(
            check_record(rsa.dns_record().as_bytes(), &rsa),
            RecordCheck::Matches {
                key_type: KeyType::Rsa,
                testing: false
            }
        );
        let ed = generate_ed25519().unwrap().key;
        let record = format!("{}; t=y", ed.dns_record());
        assert_eq!(
            check_record(record.as_bytes(), &ed),
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
            check_record(other.dns_record().as_bytes(), &ed),
            RecordCheck::Mismatch(why) if why.contains("not the public half")
        ));
        let rsa = generate_rsa(2048).unwrap().key;
        assert_eq!(
            check_record(rsa.dns_record().as_bytes(), &ed),
            RecordCheck::Mismatch(
                "the record holds an rsa key, the private key is ed25519".to_owned()
            )
        );
        let sha1_only = format!("v=DKIM1; h=sha1; {}", &ed.dns_record()["v=DKIM1; ".len()..]);
        assert!(matches!(
            check_record(sha1_only.as_bytes(), &ed),
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

    #[test]
    fn an_empty_p_is_revoked() {
        let ed = generate_ed25519().unwrap().key;
        assert_eq!(
            check_record(b"v=DKIM1; k=ed25519; p=", &ed),
            RecordCheck::Revoked
        );
    }
}
