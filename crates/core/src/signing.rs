//! Outbound DKIM signing: the keys of `[[dkim_keys]]` loaded, the `[[signing_table]]` looked
//! up on the header From address, and the DKIM-Signature fields made for a message.
//!
//! Keys are read when an engine is built ([`SigningKeys::load`]): at start, in the daemon
//! after the privilege drop (so what is checked is what `server.user` can read), and at
//! every reload. A key that is missing, unreadable, readable by others (or by its group
//! unless allowed) or not a key is an error naming the file; a reload with one keeps the
//! running engine. Key bytes never reach a log line or an error.
//!
//! Which mail is signed is the engine's business (outbound: `internal_hosts` or SASL); this
//! module answers for one message with a [`SigningOutcome`]: the fields, or why none. A
//! failure to sign leaves the message unsigned, never refused.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use kanmon_auth::dkim::{KeyAccess, KeyFileError, Signer, SigningKey};
use kanmon_auth::message::Message;

use crate::config::Signing;

/// The signers of a configuration, one per `[[dkim_keys]]` entry, in file order.
#[derive(Debug, Default)]
pub struct SigningKeys {
    signers: Vec<Arc<Signer>>,
}

/// A key that could not be loaded: which entry, which file, why. The message is whole (the
/// I/O error's text included), so it has no source to repeat it.
#[derive(Debug, thiserror::Error)]
#[error("dkim_keys[{index}] ({name}): {error}{advice}")]
pub struct KeyLoadError {
    pub index: usize,
    pub name: String,
    pub file: PathBuf,
    pub error: KeyFileError,
    /// What to run when the file exists but cannot be read.
    advice: String,
}

/// A DKIM-Signature field made for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSignature {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`.
    pub algorithm: &'static str,
    /// The whole field, `DKIM-Signature: v=1; …`, folded in the message's line ending and
    /// ending with one: byte for byte what was signed under `simple` header
    /// canonicalisation.
    pub field: String,
}

impl DkimSignature {
    /// The field's value after `DKIM-Signature:` (with its leading space), without the
    /// final line ending, its folds in `eol`: what a milter inserts.
    pub fn value_with(&self, eol: &str) -> String {
        let value = self
            .field
            .strip_prefix("DKIM-Signature:")
            .unwrap_or(&self.field);
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(value);
        value.replace("\r\n", "\n").replace('\n', eol)
    }
}

/// What signing did for an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SigningOutcome {
    /// The fields to add, on top, in this order.
    pub signatures: Vec<DkimSignature>,
    /// Why a key did not sign, or nothing was signed ("no signing_table entry for
    /// example.org").
    pub not_signed: Vec<String>,
}

impl fmt::Display for SigningOutcome {
    /// `d=example.com s=2026a a=rsa-sha256, …`, then `not signed: why; …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, signature) in self.signatures.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "d={} s={} a={}",
                signature.domain, signature.selector, signature.algorithm
            )?;
        }
        if !self.not_signed.is_empty() {
            if !self.signatures.is_empty() {
                f.write_str("; ")?;
            }
            write!(f, "not signed: {}", self.not_signed.join("; "))?;
        }
        Ok(())
    }
}

impl SigningKeys {
    /// The signers, one per `[[dkim_keys]]` entry in file order (the dashboard shows them).
    pub fn signers(&self) -> &[Arc<Signer>] {
        &self.signers
    }

    /// Reads every key of `config` as `owner` (`server.user`, named in the advice), checking
    /// who may read each file. Every key is tried; the first failure is returned.
    pub fn load(config: &Signing, owner: Option<&str>) -> Result<Self, Box<KeyLoadError>> {
        let access = KeyAccess {
            allow_group_readable: config.allow_group_readable_keys,
            owner: owner.map(str::to_owned),
        };
        let mut signers = Vec::with_capacity(config.keys.len());
        for (index, entry) in config.keys.iter().enumerate() {
            let key = SigningKey::load_with(&entry.file, &access).map_err(|error| {
                let advice = match &error {
                    KeyFileError::Io { source: io, .. }
                        if io.kind() == std::io::ErrorKind::PermissionDenied =>
                    {
                        let file = entry.file.display();
                        let mode = if access.allow_group_readable {
                            "640"
                        } else {
                            "600"
                        };
                        match owner {
                            Some(user) => format!(
                                " (permission denied); as root run: chown {user} {file} && chmod {mode} {file}"
                            ),
                            None => " (permission denied)".to_owned(),
                        }
                    }
                    KeyFileError::Io { source: io, .. } => format!(": {io}"),
                    _ => String::new(),
                };
                Box::new(KeyLoadError {
                    index,
                    name: entry.name.clone(),
                    file: entry.file.clone(),
                    error,
                    advice,
                })
            })?;
            let mut signer = Signer::new(key, &entry.domain, &entry.selector);
            signer.headers = config.headers.clone();
            signer.oversign_headers = config.oversign.clone();
            signer.header_canon = config.header_canon;
            signer.body_canon = config.body_canon;
            signer.expire_after = config.expire.map(|after| after.as_secs());
            signers.push(Arc::new(signer));
        }
        Ok(SigningKeys { signers })
    }

    /// Signs `message` as the first `[[signing_table]]` entry matching its From address
    /// says, at `now` (Unix seconds). Each key of the entry signs; one that fails is noted
    /// and the others still sign.
    pub fn sign(&self, config: &Signing, message: &Message<'_>, now: u64) -> SigningOutcome {
        let mut outcome = SigningOutcome::default();
        let Some(address) = from_address(message) else {
            outcome
                .not_signed
                .push("no From address to look up in signing_table".to_owned());
            return outcome;
        };
        let Some((_, rule)) = config.lookup(&address) else {
            let domain = address.rsplit_once('@').map_or(&*address, |(_, d)| d);
            outcome
                .not_signed
                .push(format!("no signing_table entry for {domain}"));
            return outcome;
        };
        for &index in &rule.keys {
            let Some(signer) = self.signers.get(index) else {
                continue;
            };
            match signer.sign(message, now) {
                Ok(field) => outcome.signatures.push(DkimSignature {
                    domain: signer.domain.clone(),
                    selector: signer.selector.clone(),
                    algorithm: signer.key().algorithm().as_str(),
                    field,
                }),
                Err(error) => outcome.not_signed.push(format!(
                    "d={} s={}: {error}",
                    signer.domain, signer.selector
                )),
            }
        }
        outcome
    }
}

/// The first From field's first address, `local@domain` (domain lower case), as OpenDKIM's
/// SigningTable looks it up; `None` when it has none that can be read.
pub fn from_address(message: &Message<'_>) -> Option<String> {
    let value = String::from_utf8_lossy(message.fields("from").next()?.value()).into_owned();
    let domain = kanmon_auth::dmarc::author_domains(&[value.as_str()])
        .ok()?
        .into_iter()
        .next()?;
    // The local part, for `user@example.com` entries: the addr-spec in angle brackets when
    // there are some, else the first mailbox; quotes removed.
    let mailbox = match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(',').next().unwrap_or_default(),
    };
    let local = mailbox
        .rsplit_once('@')
        .map(|(local, _)| local.trim().trim_matches('"'))
        .unwrap_or_default();
    let local = local.rsplit(':').next().unwrap_or_default().trim();
    Some(format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use kanmon_auth::dns::StaticResolver;

    use super::*;
    use crate::verdict::Action;
    use crate::{Config, Engine, Envelope};

    const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dkim/keys");

    /// An engine signing `*@example.com` with both test keys (copied, owner-only), with a
    /// rule refusing "forbidden" and one scoring "spammy" into rewrite_subject.
    fn engine(dir: &std::path::Path) -> Engine<StaticResolver> {
        let mut text = String::from(
            "[content]\nmode = \"enforce\"\n\
             [actions]\nrewrite_subject = 7.0\n\
             [[rules]]\nname = \"FORBIDDEN\"\non = \"body\"\npattern = \"forbidden\"\naction = \"reject\"\n\
             [[rules]]\nname = \"SPAMMY\"\non = \"body\"\npattern = \"spammy\"\nscore = 8.0\n",
        );
        for (name, file) in [
            ("rsa", "rsa2048.TEST-ONLY.pkcs8.pem"),
            ("ed", "ed25519.TEST-ONLY.pkcs8.pem"),
        ] {
            let path = dir.join(file);
            std::fs::copy(std::path::Path::new(KEYS).join(file), &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            text.push_str(&format!(
                "[[dkim_keys]]\nname = \"{name}\"\ndomain = \"example.com\"\nselector = \"{name}\"\nfile = \"{}\"\n",
                path.display()
            ));
        }
        text.push_str("[[signing_table]]\nfrom = \"*@example.com\"\nkeys = [\"rsa\", \"ed\"]\n");
        let config = Config::parse(&text).unwrap();
        let keys = SigningKeys::load(&config.signing, None).unwrap();
        Engine::new(config, StaticResolver::new()).with_signing_keys(keys)
    }

    fn envelope(ip: &str, sasl: Option<&str>) -> Envelope {
        Envelope {
            client_ip: Some(ip.parse().unwrap()),
            sasl_user: sasl.map(str::to_owned),
            ..Envelope::default()
        }
    }

    fn message(from: &str, body: &str) -> Vec<u8> {
        format!("From: {from}\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n{body}\r\n").into_bytes()
    }

    #[tokio::test]
    async fn outbound_mail_is_signed_inbound_is_not_and_every_refusal_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let ours = message("Ann <ann@example.com>", "hello");
        for outbound in [
            envelope("127.0.0.1", None),
            envelope("192.0.2.1", Some("ann")),
        ] {
            let verdict = engine.scan_message(&outbound, &ours).await;
            let signing = verdict.signing.expect("outbound");
            assert_eq!(
                signing.to_string(),
                "d=example.com s=rsa a=rsa-sha256, d=example.com s=ed a=ed25519-sha256"
            );
            assert!(
                signing.signatures[0]
                    .field
                    .starts_with("DKIM-Signature: v=1; a=rsa-sha256;")
            );
            assert!(signing.signatures[0].field.ends_with("\r\n"));
        }
        let inbound = engine
            .scan_message(&envelope("192.0.2.1", None), &ours)
            .await;
        assert!(inbound.signing.is_none());

        let outbound = envelope("127.0.0.1", None);
        for (raw, action, why) in [
            (
                message("a@example.org", "hello"),
                Action::Accept,
                "no signing_table entry for example.org",
            ),
            (
                message("a@example.com", "forbidden"),
                Action::Reject,
                "the message is refused (reject)",
            ),
            (
                message("a@example.com", "spammy"),
                Action::RewriteSubject,
                "the Subject is rewritten as spam (rewrite_subject)",
            ),
            (
                b"Subject: no author\r\n\r\nhello\r\n".to_vec(),
                Action::Accept,
                "no From address to look up in signing_table",
            ),
        ] {
            let verdict = engine.scan_message(&outbound, &raw).await;
            assert_eq!(verdict.action, action);
            let signing = verdict.signing.expect("outbound");
            assert!(signing.signatures.is_empty());
            assert_eq!(signing.not_signed, [why]);
        }
    }

    fn address(from: &str) -> Option<String> {
        let raw = format!("From: {from}\r\nSubject: s\r\n\r\nbody\r\n");
        from_address(&Message::parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn the_from_address_is_read_as_opendkim_looks_it_up() {
        assert_eq!(address("joe@Example.COM").unwrap(), "joe@example.com");
        assert_eq!(
            address("\"Doe, Joe\" <Joe.Doe@mail.example.com>").unwrap(),
            "Joe.Doe@mail.example.com"
        );
        assert_eq!(
            address("ann@example.org, bob@example.net").unwrap(),
            "ann@example.org"
        );
        assert_eq!(address("undisclosed-recipients:;"), None);
    }

    #[test]
    fn the_outcome_reads_in_a_log_line() {
        let outcome = SigningOutcome {
            signatures: vec![DkimSignature {
                domain: "example.com".into(),
                selector: "2026a".into(),
                algorithm: "rsa-sha256",
                field: "DKIM-Signature: v=1;\r\n b=x\r\n".into(),
            }],
            not_signed: vec!["d=example.com s=2026e: signing failed".into()],
        };
        assert_eq!(
            outcome.to_string(),
            "d=example.com s=2026a a=rsa-sha256; not signed: d=example.com s=2026e: signing failed"
        );
        assert_eq!(outcome.signatures[0].value_with("\n"), " v=1;\n b=x");
    }
}
