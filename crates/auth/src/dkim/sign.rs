//! Signing (RFC 6376 §5): private keys, and the DKIM-Signature field a [`Signer`] writes.
//!
//! Keys: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), PEM or DER;
//! Ed25519 as PKCS#8 or the raw 32-byte seed (binary, or base64 as in RFC 8463 §A.1).
//! [`SigningKey::load`] refuses a file others may read ([`check_key_file`], with the `chmod`
//! and `chown` to run): a DKIM key lets whoever holds it send mail as the domain.
//!
//! The field is folded to lines of at most [`LINE_LIMIT`] characters (RFC 5322 §2.1.1's
//! SHOULD) wherever a tag allows it, and `b=` is folded too. It uses the message's own line
//! ending, so it can be prepended to the message as it is.

use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::canon::{BodyHasher, Canonicalization};
use super::verify::{append_signature_field, select_headers};
use super::{Algorithm, HashAlgorithm};
use crate::message::Message;

/// Longest line the signer writes (RFC 5322 §2.1.1: "SHOULD be no more than 78 characters").
pub const LINE_LIMIT: usize = 78;

/// The header fields signed by default: those RFC 6376 §5.4.1 lists as SHOULD-sign, plus the
/// MIME and mailing-list fields whose change alters what the reader sees or does.
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &[
    "from",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

/// A private key to sign with.
#[derive(Debug)]
pub enum SigningKey {
    /// An RSA key of 2,048 to 8,192 bits; signs `rsa-sha256`.
    Rsa(RsaKeyPair),
    /// An Ed25519 key; signs `ed25519-sha256`.
    Ed25519(Ed25519KeyPair),
}

/// Why a private key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is readable by others than its owner (and, unless allowed, its group).
    #[error("key file {path} is {who} (mode {mode:o}); run: {fix}")]
    Exposed {
        path: PathBuf,
        mode: u32,
        /// "readable by other users" or "readable by its group".
        who: &'static str,
        /// The commands that make it safe, e.g. `chown kanmon FILE && chmod 600 FILE`.
        fix: String,
    },
    /// The PEM armour is broken or holds something else.
    #[error("not a usable PEM private key: {0}")]
    Pem(&'static str),
    /// The key is not an RSA (2,048 to 8,192 bits) or Ed25519 private key.
    #[error("not an RSA (2048-8192 bits) or Ed25519 private key")]
    Unsupported,
}

/// Who may own and read a private key file: what [`check_key_file`] enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyAccess {
    /// Accept a key its group may read (`root:kanmon 0640`), as OpenDKIM's
    /// `RequireSafeKeys no` would; never one other users may read.
    pub allow_group_readable: bool,
    /// The user the daemon reads keys as (`server.user`), named in the `chown` advice.
    pub owner: Option<String>,
}

impl KeyAccess {
    /// The commands that make `path` safe under this policy.
    fn fix(&self, path: &Path) -> String {
        let file = path.display();
        let chmod = if self.allow_group_readable {
            format!("chmod 640 {file}")
        } else {
            format!("chmod 600 {file}")
        };
        match &self.owner {
            Some(owner) => format!("chown {owner} {file} && {chmod}"),
            None => chmod,
        }
    }
}

/// Refuses a key file other users may read (mode & 0o004), or its group may read (0o040)
/// unless [`KeyAccess::allow_group_readable`]: a DKIM key lets whoever holds it send mail as
/// the domain. The error says the `chmod` (and `chown`) to run. On systems without Unix
/// permissions it only checks that the file exists.
pub fn check_key_file(path: &Path, access: &KeyAccess) -> Result<(), KeyFileError> {
    let metadata = std::fs::metadata(path).map_err(|source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        let who = if mode & 0o007 != 0 {
            Some("readable by other users")
        } else if mode & 0o070 != 0 && !access.allow_group_readable {
            Some("readable by its group")
        } else {
            None
        };
        if let Some(who) = who {
            return Err(KeyFileError::Exposed {
                path: path.to_owned(),
                mode,
                who,
                fix: access.fix(path),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (metadata, access);
    Ok(())
}

/// [`check_key_file`] with the strict default: only the owner may read the key.
pub fn check_key_file_mode(path: &Path) -> Result<(), KeyFileError> {
    check_key_file(path, &KeyAccess::default())
}

impl SigningKey {
    /// Reads a key file that only its owner may read ([`check_key_file_mode`]): PEM, DER, a
    /// raw 32-byte Ed25519 seed, or such a seed in base64.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        Self::load_with(path, &KeyAccess::default())
    }

    /// Reads a key file after checking it against `access` ([`check_key_file`]). The key's
    /// bytes never appear in an error.
    pub fn load_with(path: &Path, access: &KeyAccess) -> Result<Self, KeyFileError> {
        check_key_file(path, access)?;
        let bytes = std::fs::read(path).map_err(|source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Reads a key in any of the formats [`SigningKey::load`] accepts.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyFileError> {
        let text = bytes.trim_ascii();
        if text.starts_with(b"-----BEGIN") {
            return Self::from_pem(text);
        }
        if bytes.len() == 32 {
            return Self::from_ed25519_seed(bytes);
        }
        if let Ok(seed) = STANDARD.decode(text)
            && seed.len() == 32
        {
            return Self::from_ed25519_seed(&seed);
        }
        Self::from_der(bytes)
    }

    /// Reads a PEM key: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or Ed25519).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyFileError> {
        let text = std::str::from_utf8(pem).map_err(|_| KeyFileError::Pem("not text"))?;
        let (label, rest) = text
            .split_once("-----BEGIN ")
            .and_then(|(_, rest)| rest.split_once("-----"))
            .ok_or(KeyFileError::Pem("no BEGIN line"))?;
        let end = format!("-----END {label}-----");
        let (body, _) = rest
            .split_once(end.as_str())
            .ok_or(KeyFileError::Pem("no matching END line"))?;
        let der = STANDARD
            .decode(body.split_ascii_whitespace().collect::<String>())
            .map_err(|_| KeyFileError::Pem("invalid base64"))?;
        match label {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(SigningKey::Rsa)
                .map_err(|_| KeyFileError::Unsupported),
            "PRIVATE KEY" => Self::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => Err(KeyFileError::Pem("encrypted keys are not supported")),
            _ => Err(KeyFileError::Pem("not a private key")),
        }
    }

    /// Reads a DER key: PKCS#8 (RSA or Ed25519) or PKCS#1 RSA.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyFileError> {
        if let Ok(key) = RsaKeyPair::from_pkcs8(der) {
            return Ok(SigningKey::Rsa(key));
        }
        if let Ok(key) = Ed25519KeyPair::from_pkcs8(der) {
            return Ok(SigningKey::Ed25519(key));
        }
        RsaKeyPair::from_der(der)
            .map(SigningKey::Rsa)
            .map_err(|_| KeyFileError::Unsupported)
    }

    /// An Ed25519 key from its 32-byte seed (the private key of RFC 8032 §5.1.5).
    pub fn from_ed25519_seed(seed: &[u8]) -> Result<Self, KeyFileError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(SigningKey::Ed25519)
            .map_err(|_| KeyFileError::Unsupported)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Rsa(_) => Algorithm::RsaSha256,
            SigningKey::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The key record to publish at `<selector>._domainkey.<domain>`.
    pub fn dns_record(&self) -> String {
        match self {
            SigningKey::Rsa(key) => {
                // aws-lc gives the RSAPublicKey (PKCS#1); wrap it in a SubjectPublicKeyInfo as
                // RFC 6376 §3.6.1 asks.
                let spki = spki_for_rsa(key.public_key().as_ref());
                format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(spki))
            }
            SigningKey::Ed25519(key) => format!(
                "v=DKIM1; k=ed25519; p={}",
                STANDARD.encode(key.public_key().as_ref())
            ),
        }
    }

    /// Signs the header data (RFC 6376 §3.7; RFC 8463 §3 for Ed25519, which signs its
    /// SHA-256 hash).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut signature,
                )
                .map_err(|_| SignError::Crypto)?;
                Ok(signature)
            }
            SigningKey::Ed25519(key) => {
                let hashed = digest::digest(&digest::SHA256, data);
                Ok(key.sign(hashed.as_ref()).as_ref().to_vec())
            }
        }
    }
}

/// A DER SubjectPublicKeyInfo around an RSAPublicKey.
fn spki_for_rsa(pkcs1: &[u8]) -> Vec<u8> {
    fn der_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    // SEQUENCE { OID rsaEncryption, NULL }
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    der_len(&mut bit_string, pkcs1.len() + 1);
    bit_string.push(0);
    bit_string.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(&mut out, ALGORITHM.len() + bit_string.len());
    out.extend_from_slice(ALGORITHM);
    out.extend_from_slice(&bit_string);
    out
}

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// RFC 6376 §5.4: From MUST be signed, so a message without one cannot be.
    #[error("message has no From field")]
    NoFrom,
    /// The signing operation failed.
    #[error("signing failed")]
    Crypto,
}

/// Signs messages for one domain and selector.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `i=`, if one should be written.
    pub identity: Option<String>,
    /// The fields to sign, in lower case; From is added if missing.
    pub headers: Vec<String>,
    /// Sign every listed field once more than it occurs, so that none can be added; without
    /// this, only From is oversigned (a second From is the classic way to show a reader a
    /// different author than the one DKIM and DMARC checked).
    pub oversign: bool,
    /// Fields (lower case) signed once more than they occur, whatever [`Signer::oversign`]
    /// says; signed even when not in [`Signer::headers`].
    pub oversign_headers: Vec<String>,
    /// Header canonicalisation; default relaxed.
    pub header_canon: Canonicalization,
    /// Body canonicalisation; default relaxed.
    pub body_canon: Canonicalization,
    /// Write `x=` this many seconds after `t=`.
    pub expire_after: Option<u64>,
    /// Write `l=` with the body length (off by default: it lets anyone append text).
    pub body_length: bool,
}

impl Signer {
    /// A signer with the default header list, relaxed/relaxed, no `x=` and no `l=`.
    pub fn new(key: SigningKey, domain: &str, selector: &str) -> Self {
        Self {
            key,
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            identity: None,
            headers: DEFAULT_SIGNED_HEADERS
                .iter()
                .map(|&h| h.to_owned())
                .collect(),
            oversign: false,
            oversign_headers: Vec::new(),
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            expire_after: None,
            body_length: false,
        }
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The `h=` list for `message`: each configured name as often as it occurs, From (and,
    /// with [`Signer::oversign`], every name) once more.
    pub fn signed_headers(&self, message: &Message<'_>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut listed: Vec<String> = self
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if !listed.iter().any(|h| h == "from") {
            listed.insert(0, "from".to_owned());
        }
        let oversigned: Vec<String> = self
            .oversign_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        listed.extend(oversigned.iter().cloned());
        for (index, name) in listed.iter().enumerate() {
            if listed
                .get(..index)
                .is_some_and(|before| before.contains(name))
            {
                continue;
            }
            let present = message.fields(name).count();
            let extra = usize::from(self.oversign || name == "from" || oversigned.contains(name));
            for _ in 0..present + extra {
                names.push(name.clone());
            }
        }
        names
    }

    /// Signs `message` at time `now` (Unix seconds) and returns the DKIM-Signature field,
    /// folded and ending with the message's line ending, to be prepended to the message.
    pub fn sign(&self, message: &Message<'_>, now: u64) -> Result<String, SignError> {
        if message.fields("from").next().is_none() {
            return Err(SignError::NoFrom);
        }
        let mut hasher = BodyHasher::new(self.body_canon, HashAlgorithm::Sha256, None);
        hasher.update(message.body);
        let body = hasher.finish();
        let names = self.signed_headers(message);

        let eol = message.line_ending.as_str();
        let mut field = Folder::new("DKIM-Signature: v=1;", eol);
        field.push(&format!("a={};", self.key.algorithm()));
        field.push(&format!(
            "c={}/{};",
            self.header_canon.as_str(),
            self.body_canon.as_str()
        ));
        field.push(&format!("d={};", self.domain));
        field.push(&format!("s={};", self.selector));
        if let Some(identity) = &self.identity {
            field.push(&format!("i={identity};"));
        }
        field.push(&format!("t={now};"));
        if let Some(after) = self.expire_after {
            field.push(&format!("x={};", now.saturating_add(after)));
        }
        if self.body_length {
            field.push(&format!("l={};", body.canonical_len));
        }
        let count = names.len();
        for (index, name) in names.iter().enumerate() {
            let piece = match (index == 0, index + 1 == count) {
                (true, true) => format!("h={name};"),
                (true, false) => format!("h={name}:"),
                (false, true) => format!("{name};"),
                (false, false) => format!("{name}:"),
            };
            if index == 0 {
                field.push(&piece);
            } else {
                field.glue(&piece);
            }
        }
        field.push(&format!("bh={};", STANDARD.encode(body.digest.as_ref())));
        field.push("b=");

        let mut data = Vec::with_capacity(1024);
        select_headers(&mut data, &message.headers, &names, self.header_canon);
        append_signature_field(
            &mut data,
            self.header_canon,
            b"DKIM-Signature",
            field.text.as_bytes(),
        );
        let signature = self.key.sign(&data)?;
        field.fold_value(&STANDARD.encode(signature));
        field.text.push_str(eol);
        Ok(field.text)
    }
}

/// Builds a folded header field (shared with ARC sealing).
pub(crate) struct Folder<'a> {
    pub(crate) text: String,
    line_len: usize,
    eol: &'a str,
}

impl<'a> Folder<'a> {
    pub(crate) fn new(start: &str, eol: &'a str) -> Self {
        Self {
            text: start.to_owned(),
            line_len: start.len(),
            eol,
        }
    }

    /// Appends " token", folding before it if the line would be too long.
    pub(crate) fn push(&mut self, token: &str) {
        if self.line_len + 1 + token.len() > LINE_LIMIT {
            self.text.push_str(self.eol);
            self.line_len = 0;
        }
        self.text.push(' ');
        self.text.push_str(token);
        self.line_len += 1 + token.len();
    }

    /// Appends "token" directly, or folds before it if the line would be too long.
    pub(crate) fn glue(&mut self, token: &str) {
        if self.line_len + token.len() > LINE_LIMIT {
            self.text.push_str(self.eol);
            self.text.push(' ');
            self.line_len = 1;
        }
        self.text.push_str(token);
        self.line_len += token.len();
    }

    /// Appends a base64 value, filling lines and folding between them.
    pub(crate) fn fold_value(&mut self, value: &str) {
        let mut rest = value;
        while !rest.is_empty() {
            let room = LINE_LIMIT.saturating_sub(self.line_len);
            if room == 0 {
                self.text.push_str(self.eol);
                self.text.push(' ');
                self.line_len = 1;
                continue;
            }
            let (piece, after) = rest.split_at(room.min(rest.len()));
            self.text.push_str(piece);
            self.line_len += piece.len();
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 test 1 secret key.
    const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

    fn ed25519() -> SigningKey {
        SigningKey::from_bytes(SEED.as_bytes()).unwrap()
    }

    #[test]
    fn seed_key_publishes_the_rfc8463_record() {
        assert_eq!(
            ed25519().dns_record(),
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
    }

    #[test]
    fn header_list_counts_and_oversigns() {
        let raw =
            b"From: a@example.com\r\nTo: b@example.com\r\nTo: c@example.com\r\nSubject: s\r\n\r\n";
        let message = Message::parse(raw).unwrap();
        let mut signer = Signer::new(ed25519(), "example.com", "s");
        signer.headers = vec!["To".into(), "subject".into(), "cc".into(), "to".into()];
        assert_eq!(
            signer.signed_headers(&message),
            ["from", "from", "to", "to", "subject"]
        );
        signer.oversign = true;
        assert_eq!(
            signer.signed_headers(&message),
            ["from", "from", "to", "to", "to", "subject", "subject", "cc"]
        );
    }

    #[test]
    fn field_is_folded_to_78_columns() {
        let raw = b"From: a@example.com\nSubject: s\n\nbody\n";
        let message = Message::parse(raw).unwrap();
        let mut signer = Signer::new(ed25519(), "example.com", "sel");
        signer.oversign = true;
        let field = signer.sign(&message, 1_700_000_000).unwrap();
        assert!(field.ends_with('\n') && !field.contains('\r'));
        for line in field.lines() {
            assert!(line.len() <= LINE_LIMIT, "{line:?}");
        }
        assert!(field.starts_with(
            "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\n s=sel; t=1700000000;"
        ));
    }

    #[test]
    fn refuses_messages_without_from() {
        let message = Message::parse(b"Subject: s\r\n\r\n").unwrap();
        let signer = Signer::new(ed25519(), "example.com", "sel");
        assert_eq!(signer.sign(&message, 0), Err(SignError::NoFrom));
    }

    #[test]
    fn pem_errors() {
        assert!(matches!(
            SigningKey::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(KeyFileError::Pem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            Err(KeyFileError::Pem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            Err(KeyFileError::Unsupported)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn exposed_key_files_are_refused_with_the_commands_to_fix_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kanmon-dkim-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed.key");
        std::fs::write(&path, SEED).unwrap();
        let file = path.display();
        let set = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        set(0o644).unwrap();
        let error = SigningKey::load(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("key file {file} is readable by other users (mode 644); run: chmod 600 {file}")
        );
        assert!(!error.to_string().contains(SEED));
        set(0o640).unwrap();
        let kanmon = KeyAccess {
            allow_group_readable: false,
            owner: Some("kanmon".to_owned()),
        };
        assert_eq!(
            SigningKey::load_with(&path, &kanmon)
                .unwrap_err()
                .to_string(),
            format!(
                "key file {file} is readable by its group (mode 640); run: chown kanmon {file} && chmod 600 {file}"
            )
        );
        let group_allowed = KeyAccess {
            allow_group_readable: true,
            ..kanmon.clone()
        };
        assert!(SigningKey::load_with(&path, &group_allowed).is_ok());
        set(0o604).unwrap();
        assert_eq!(
            SigningKey::load_with(&path, &group_allowed)
                .unwrap_err()
                .to_string(),
            format!(
                "key file {file} is readable by other users (mode 604); run: chown kanmon {file} && chmod 640 {file}"
            )
        );
        set(0o600).unwrap();
        assert!(SigningKey::load(&path).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn oversigned_headers_are_signed_once_more_even_when_not_listed() {
        let raw = b"From: a@example.com\r\nReply-To: r@example.com\r\nSubject: s\r\n\r\n";
        let message = Message::parse(raw).unwrap();
        let mut signer = Signer::new(ed25519(), "example.com", "s");
        signer.headers = vec!["subject".into()];
        signer.oversign_headers = vec!["Reply-To".into(), "subject".into()];
        assert_eq!(
            signer.signed_headers(&message),
            ["from", "from", "subject", "subject", "reply-to", "reply-to"]
        );
    }
}
