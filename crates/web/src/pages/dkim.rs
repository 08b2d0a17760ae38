//! `/dkim`: the signing keys (`[[dkim_keys]]`) the running engine loaded, which
//! `[[signing_table]]` entries use each, and whether the DNS publishes each key's public half —
//! `kanmon dkim testkey`'s verdicts, asked through the engine's resolver (so a cached answer
//! may be up to its TTL old; `testkey` asks afresh). All records are asked at once.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use futures_util::future::join_all;
use kanmon_core::kanmon_auth::dkim::{PublicHalf, RecordCheck, Signer, SigningKey, check_record};
use kanmon_core::kanmon_auth::dns::{DnsError, Resolver};

use crate::Web;
use crate::auth::PageContext;
use crate::html::escape;

/// `GET /dkim`.
pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Html<String> {
    let body = body(&web).await;
    crate::html::page("DKIM keys", "/dkim", &context, &body)
}

/// What the DNS says about one key, as a CSS class and a sentence.
struct Status {
    class: &'static str,
    text: String,
}

async fn body<R: Resolver + Clone + 'static>(web: &Web<R>) -> String {
    let engine = web.engine();
    let signing = &engine.config().signing;
    if signing.keys.is_empty() {
        return "<p class=\"note\">No <code>[[dkim_keys]]</code> are configured: kanmon signs \
                nothing. <code>kanmon dkim genkey</code> makes a key and prints the entry to \
                add (docs/dkim.md).</p>"
            .to_owned();
    }
    let signers = engine.signing_keys().signers();
    let resolver = engine.resolver();
    let statuses = join_all(
        signers
            .iter()
            .map(|signer| status(resolver, Arc::clone(signer))),
    )
    .await;
    let mut out = String::from(
        "<table id=\"dkim-keys\"><thead><tr><th>Key</th><th>Record</th><th>Algorithm</th>\
         <th>Used by</th><th>DNS</th></tr></thead><tbody>",
    );
    for (index, (entry, status)) in signing.keys.iter().zip(&statuses).enumerate() {
        let used_by: Vec<String> = signing
            .table
            .iter()
            .filter(|rule| rule.keys.contains(&index))
            .map(|rule| escape(&rule.from))
            .collect();
        let algorithm = signers
            .get(index)
            .map_or_else(String::new, |signer| describe(signer.key()));
        let _ = write!(
            out,
            "<tr><td>{}<br><small>{}</small></td><td><code>{}._domainkey.{}</code></td>\
             <td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&entry.name),
            escape(&entry.file.display().to_string()),
            escape(&entry.selector),
            escape(&entry.domain),
            escape(&algorithm),
            if used_by.is_empty() {
                "(no signing_table entry)".to_owned()
            } else {
                used_by.join("<br>")
            },
            status.class,
            escape(&status.text)
        );
    }
    out.push_str("</tbody></table>");
    out.push_str(
        "<p class=\"note\">Answers come through kanmon's DNS cache; <code>kanmon dkim testkey \
         --domain D --selector S</code> asks afresh. Rotating a key: docs/dkim.md.</p>",
    );
    out
}

fn describe(key: &SigningKey) -> String {
    let algorithm = key.algorithm().as_str();
    match PublicHalf::of(key).rsa_bits() {
        Some(bits) => format!("{algorithm} ({bits}-bit)"),
        None => algorithm.to_owned(),
    }
}

/// `testkey`'s verdict on the record of `signer`'s selector and domain.
async fn status<R: Resolver>(resolver: &R, signer: Arc<Signer>) -> Status {
    let name = format!("{}._domainkey.{}", signer.selector, signer.domain);
    let records = match resolver.txt(&name).await {
        Ok(records) => records,
        Err(DnsError::NxDomain) => {
            return Status {
                class: "problem",
                text: "no record (NXDOMAIN): not published, or not propagated yet".to_owned(),
            };
        }
        Err(error) => {
            return Status {
                class: "problem",
                text: format!("DNS error: {error}"),
            };
        }
    };
    let Some(record) = records.first() else {
        return Status {
            class: "problem",
            text: "no TXT record: not published, or not propagated yet".to_owned(),
        };
    };
    match check_record(record, &PublicHalf::of(signer.key())) {
        RecordCheck::Matches { testing, .. } => Status {
            class: "ok",
            text: if testing {
                "OK: the record publishes this key (t=y: testing)".to_owned()
            } else {
                "OK: the record publishes this key".to_owned()
            },
        },
        RecordCheck::Mismatch(why) => Status {
            class: "problem",
            text: format!("does not match: {why}"),
        },
        RecordCheck::Revoked => Status {
            class: "problem",
            text: "revoked: p= is empty".to_owned(),
        },
        RecordCheck::Syntax { tag, problem } => Status {
            class: "problem",
            text: match tag {
                Some(tag) => format!("syntax error in tag {tag}: {problem}"),
                None => format!("syntax error: {problem}"),
            },
        },
    }
}
