//! One message under examination: the envelope, the raw message, and the facts derived from
//! them once, which every check reads.

use std::sync::OnceLock;

use kanmon_auth::message::Message;

use crate::auth::AuthResults;
use crate::content::Content;
use crate::envelope::Envelope;

/// The envelope and message of one scan, with derived facts.
pub struct Scan<'a> {
    /// What the SMTP session told us.
    pub envelope: &'a Envelope,
    /// The raw message; empty before DATA (policy front-end, milter before end of message).
    pub raw: &'a [u8],
    /// The message split into header fields and body, as the authentication protocols read
    /// it; `None` before DATA, or when the header section could not be read.
    pub message: Option<Message<'a>>,
    /// Whether the mail comes from our own networks or an authenticated user (outbound).
    pub internal: bool,
    /// SPF, DKIM, ARC and DMARC results, derived before the checks run.
    pub auth: AuthResults,
    /// Current time, Unix seconds.
    pub now: u64,
    max_mime_parts: usize,
    content: OnceLock<Content>,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(
        envelope: &'a Envelope,
        raw: &'a [u8],
        message: Option<Message<'a>>,
        internal: bool,
        now: u64,
        max_mime_parts: usize,
    ) -> Self {
        Self {
            envelope,
            raw,
            message,
            internal,
            auth: AuthResults::default(),
            now,
            max_mime_parts,
            content: OnceLock::new(),
        }
    }

    /// The author domains of the From field(s), lowercased: as DMARC read them when it ran,
    /// else read from the fields; empty before DATA or when no From domain can be read.
    pub fn author_domains(&self) -> Vec<String> {
        if let Some(dmarc) = &self.auth.dmarc
            && !dmarc.from_domain.is_empty()
        {
            return vec![dmarc.from_domain.clone()];
        }
        let Some(message) = self.message.as_ref() else {
            return Vec::new();
        };
        let values = crate::auth::from_values(message);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        kanmon_auth::dmarc::author_domains(&values).unwrap_or_default()
    }

    /// The decoded content (subject, text parts, URLs, domains), derived on first use: the
    /// authentication checks never pay for MIME decoding.
    pub fn content(&self) -> &Content {
        self.content
            .get_or_init(|| Content::derive(self.raw, self.envelope, self.max_mime_parts))
    }
}
