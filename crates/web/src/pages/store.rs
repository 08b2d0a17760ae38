//! `/store`: the store's health — a timed round trip, and what it holds (`Store::summary`,
//! as `kanmon store stats` prints it). The location never shows a password: the summary
//! gives the Redis URL without it.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use kanmon_core::kanmon_auth::dns::Resolver;

use crate::Web;
use crate::auth::PageContext;
use crate::html::escape;

/// A key no one writes: reading it is the cheapest round trip every backend has.
const PING_KEY: &str = "web:ping";

/// `GET /store`.
pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Html<String> {
    let body = body(&web).await;
    crate::html::page("Store", "/store", &context, &body)
}

async fn body<R: Resolver + Clone + 'static>(web: &Web<R>) -> String {
    let started = Instant::now();
    let ping = web.store.get(PING_KEY).await;
    let round_trip = started.elapsed();
    let mut out = String::new();
    match ping {
        Ok(_) => {
            let _ = write!(
                out,
                "<p class=\"ok\" id=\"ping\">The store answers: a read took {:.2} ms.</p>",
                round_trip.as_secs_f64() * 1000.0
            );
        }
        Err(e) => return super::store_unavailable("a test read", &e),
    }
    let summary = match web.store.summary().await {
        Ok(summary) => summary,
        Err(e) => return out + &super::store_unavailable("the summary", &e),
    };
    let _ = write!(
        out,
        "<dl class=\"facts\">\
         <dt>Backend</dt><dd id=\"backend\">{}</dd>\
         <dt>Location</dt><dd>{}</dd>\
         <dt>Size</dt><dd>{}</dd>\
         <dt>Bayes tokens</dt><dd class=\"n\">{}</dd>\
         <dt>Learned messages</dt><dd class=\"n\">{}</dd>\
         <dt>Greylist entries</dt><dd class=\"n\">{}</dd>\
         <dt>Statistics counters (name × hour)</dt><dd class=\"n\" id=\"stat-counters\">{}</dd>\
         <dt>Records</dt><dd class=\"n\">{}</dd>\
         <dt>Values</dt><dd class=\"n\">{}</dd></dl>",
        escape(summary.backend),
        escape(&summary.location),
        summary.bytes.map_or_else(
            || "unknown".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / 1_048_576.0)
        ),
        summary.tokens,
        summary.digests,
        summary.greylist,
        summary.stat_counters,
        summary.records,
        summary.values,
    );
    out
}
