//! The header fields kanmon adds, rendered in one place from the verdict.
//!
//! [`render`] returns them top first, in this order, each when `[headers]` enables it:
//! 1. `Authentication-Results` (RFC 8601; `authentication_results.rs`),
//! 2. `Received-SPF` (RFC 7208 §9.1; `received_spf.rs`), for the MAIL FROM identity and, when
//!    its domain publishes SPF, a separately checked HELO,
//! 3. `X-Spam-Checker-Version`, `X-Spam-Flag`, `X-Spam`, `X-Spam-Score`, `X-Spam-Level`,
//!    `X-Spam-Status`, as SpamAssassin and its successors write them (`spam_status.rs`),
//! 4. the symbols header, named by `symbols_header` (`symbols.rs`).
//!
//! Convention: a [`Header`] value is one line: no CR, no LF, nothing a sender put in the
//! message or envelope can break out of (`syntax.rs` quotes, escapes and bounds every
//! piece). Writers fold when they write, with [`fold`] or [`fold_value`], which break at
//! the 78th column with a TAB continuation.
//!
//! [`forged_authentication_results`] finds the fields a message brought with it that claim
//! our authserv-id, for front-ends to remove (RFC 8601 §5).

mod authentication_results;
#[cfg(test)]
mod fixtures;
mod fold;
mod forged;
mod received_spf;
mod spam_status;
mod symbols;
mod syntax;

use crate::bayes::autolearn::Autolearn;
use kanmon_auth::message::Message;
use kanmon_auth::spf::{Identity, SpfOutput};

pub use fold::{LINE_WIDTH, fold, fold_value};
pub use spam_status::is_spam_field;

use crate::auth::AuthResults;
use crate::config::Config;
use crate::envelope::Envelope;
use crate::symbol::ScoredHit;
use crate::verdict::{Action, Header};

/// Everything the headers say.
pub struct HeaderContext<'a> {
    pub config: &'a Config,
    pub envelope: &'a Envelope,
    pub auth: &'a AuthResults,
    pub action: Action,
    pub score: f64,
    pub required: f64,
    pub hits: &'a [ScoredHit],
    /// What autolearn does with the message (`autolearn=` in X-Spam-Status).
    pub autolearn: Autolearn,
}

/// The header fields to add, top first, values unfolded.
pub fn render(context: &HeaderContext<'_>) -> Vec<Header> {
    let config = &context.config;
    let enabled = &config.headers;
    let mut headers = Vec::with_capacity(8);
    if enabled.authentication_results {
        headers.push(Header::new(
            "Authentication-Results",
            authentication_results::render(&config.authserv_id, context.auth),
        ));
    }
    headers.extend(received_spf(config, context.envelope, context.auth));
    if enabled.spam_status {
        let facts = spam_status::SpamFacts {
            authserv_id: &config.authserv_id,
            action: context.action,
            score: context.score,
            required: context.required,
            tests: context.hits.iter().map(|hit| hit.name).collect(),
            autolearn: context.autolearn,
        };
        for (name, value) in spam_status::render(&facts) {
            headers.push(Header::new(name, value));
        }
    }
    if !enabled.symbols_header.is_empty() {
        headers.push(Header::new(
            &enabled.symbols_header,
            symbols::render(
                context.action,
                context.score,
                context.required,
                context.hits,
            ),
        ));
    }
    headers
}

/// The `Received-SPF` fields alone, as [`render`] writes them (none when `[headers]`
/// disables them): what the policy server prepends at RCPT TO.
pub fn received_spf(config: &Config, envelope: &Envelope, auth: &AuthResults) -> Vec<Header> {
    if !config.headers.received_spf {
        return Vec::new();
    }
    received_spf::render(&config.authserv_id, envelope, auth)
        .into_iter()
        .map(|value| Header::new("Received-SPF", value))
        .collect()
}

/// Indexes, among the message's Authentication-Results fields (top first, from 0), of those
/// that claim `authserv_id`, ignoring case, comments and a version number.
pub fn forged_authentication_results(message: &Message<'_>, authserv_id: &str) -> Vec<usize> {
    forged::find(message, authserv_id)
}

/// Whether an Authentication-Results value (as written, folded or not) claims
/// `authserv_id`, by the same reading as [`forged_authentication_results`]: what `filter`
/// and `deliver` use to find an earlier kanmon's field in a message they rewrite.
pub fn claims_authserv_id(value: &[u8], authserv_id: &str) -> bool {
    forged::claims(value, authserv_id)
}

/// The HELO check's result when it says something the MAIL FROM result does not: with a
/// null reverse-path the "MAIL FROM" result already is the HELO identity's (RFC 7208 §2.4),
/// and repeating it would report one check as two.
fn separate_helo(auth: &AuthResults) -> Option<&SpfOutput> {
    let helo = auth.spf_helo.as_ref()?;
    match &auth.spf {
        Some(spf)
            if spf.identity == Identity::Helo && spf.domain.eq_ignore_ascii_case(&helo.domain) =>
        {
            None
        }
        _ => Some(helo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use fixtures::full_auth;

    fn config(edit: impl FnOnce(&mut RawConfig)) -> Config {
        let mut raw = RawConfig {
            authserv_id: "mx.example.net".to_owned(),
            ..RawConfig::default()
        };
        edit(&mut raw);
        Config::from_raw(raw).unwrap()
    }

    fn hits() -> Vec<ScoredHit> {
        [
            ("SPF_FAIL", 1.0),
            ("DKIM_SIGNED", 0.1),
            ("DKIM_VALID", -0.1),
            ("DMARC_REJECT", 2.0),
        ]
        .into_iter()
        .map(|(name, score)| ScoredHit {
            name,
            score,
            reason: String::new(),
        })
        .collect()
    }

    fn rendered(config: &Config, action: Action) -> Vec<Header> {
        let envelope = Envelope {
            client_ip: "203.0.113.5".parse().ok(),
            helo: Some("mail.spoofed.test".to_owned()),
            mail_from: Some("alice@spoofed.test".to_owned()),
            ..Envelope::default()
        };
        let hits = hits();
        render(&HeaderContext {
            config,
            envelope: &envelope,
            auth: &full_auth(),
            action,
            score: 3.0,
            required: 6.0,
            autolearn: Autolearn::Disabled,
            hits: &hits,
        })
    }

    /// The whole block for a spoofed message, folded as a writer would write it.
    #[test]
    fn a_spoofed_message() {
        let headers = rendered(&config(|_| {}), Action::Reject);
        let text: String = headers
            .iter()
            .map(|h| fold(&h.name, &h.value) + "\r\n")
            .collect();
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(
            text,
            format!(
                "Authentication-Results: mx.example.net;\r\n\
                 \tspf=fail (203.0.113.5 is not permitted by spoofed.test (-all))\r\n\
                 \tsmtp.mailfrom=alice@spoofed.test;\r\n\
                 \tdkim=pass (2048-bit key) header.d=example.com header.i=@example.com\r\n\
                 \theader.a=rsa-sha256 header.s=sel1 header.b=\"AbCd/Ef12+gh\";\r\n\
                 \tdmarc=fail (p=reject dis=reject) header.from=spoofed.test;\r\n\
                 \tarc=none\r\n\
                 Received-SPF: fail (mx.example.net: domain of alice@spoofed.test does not\r\n\
                 \tdesignate 203.0.113.5 as permitted sender) receiver=mx.example.net;\r\n\
                 \tclient-ip=203.0.113.5;\r\n\
                 \tenvelope-from=\"alice@spoofed.test\";\r\n\
                 \thelo=mail.spoofed.test;\r\n\
                 \tidentity=mailfrom;\r\n\
                 \tmechanism=-all;\r\n\
                 X-Spam-Checker-Version: kanmon {v} on mx.example.net\r\n\
                 X-Spam-Flag: YES\r\n\
                 X-Spam: Yes\r\n\
                 X-Spam-Score: 3.0\r\n\
                 X-Spam-Level: ***\r\n\
                 X-Spam-Status: Yes, score=3.0 required=6.0\r\n\
                 \ttests=DKIM_SIGNED,DKIM_VALID,DMARC_REJECT,SPF_FAIL autolearn=disabled\r\n\
                 \tversion={v}\r\n\
                 X-Kanmon-Symbols: action=reject score=3.00 required=6.00;\r\n\
                 \tDMARC_REJECT(2.00);\r\n\
                 \tSPF_FAIL(1.00);\r\n\
                 \tDKIM_SIGNED(0.10);\r\n\
                 \tDKIM_VALID(-0.10)\r\n"
            )
        );
        for header in &headers {
            assert!(!header.value.contains(['\r', '\n']), "{header:?}");
        }
    }

    #[test]
    fn each_header_can_be_switched_off() {
        let names = |config: &Config| -> Vec<String> {
            rendered(config, Action::Accept)
                .into_iter()
                .map(|h| h.name)
                .collect()
        };
        assert_eq!(
            names(&config(|_| {})),
            [
                "Authentication-Results",
                "Received-SPF",
                "X-Spam-Checker-Version",
                "X-Spam-Score",
                "X-Spam-Level",
                "X-Spam-Status",
                "X-Kanmon-Symbols"
            ]
        );
        let none = config(|raw| {
            raw.headers.authentication_results = false;
            raw.headers.received_spf = false;
            raw.headers.spam_status = false;
            raw.headers.symbols_header = String::new();
        });
        assert!(names(&none).is_empty());
        let renamed = config(|raw| {
            raw.headers.authentication_results = false;
            raw.headers.received_spf = false;
            raw.headers.spam_status = false;
            raw.headers.symbols_header = "X-Spam-Report".to_owned();
        });
        assert_eq!(names(&renamed), ["X-Spam-Report"]);
    }

    #[test]
    fn outbound_mail_says_none() {
        let config = config(|_| {});
        let envelope = Envelope::default();
        let headers = render(&HeaderContext {
            config: &config,
            envelope: &envelope,
            auth: &AuthResults::default(),
            action: Action::Accept,
            score: 0.0,
            required: 6.0,
            autolearn: Autolearn::Disabled,
            hits: &[],
        });
        assert_eq!(headers[0].value, "mx.example.net; none");
        assert_eq!(headers[1].name, "X-Spam-Checker-Version");
    }
}
