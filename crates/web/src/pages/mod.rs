//! The dashboard's pages, one file each, and the files they link to (`static/`).
//!
//! A page reads what it shows at request time (the store's counters and summary, the
//! engine's configuration): nothing is cached, so two MX hosts sharing one Redis show the
//! same numbers, and the numbers are at most `stats::FLUSH_INTERVAL` (2 s) behind the mail.

pub(crate) mod bayes;
pub(crate) mod dkim;
pub(crate) mod history;
pub(crate) mod overview;
pub(crate) mod store;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The files pages link to, built into the binary.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "kanmon.css",
        "text/css; charset=utf-8",
        include_str!("../../static/kanmon.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// `GET /static/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => not_found().await,
    }
}

pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

/// The sentence a page shows instead of its numbers when the store did not answer; the
/// error itself goes to the log (it may name a host or a path).
fn store_unavailable(what: &str, error: &kanmon_store::StoreError) -> String {
    tracing::warn!(%error, "web: cannot read {what} from the store");
    format!(
        "<p class=\"problem\">The store did not answer ({}); see the log.</p>",
        crate::html::escape(what)
    )
}
