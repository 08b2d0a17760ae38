//! `POST /history/learn`: learns a message from the history view as spam or ham, as
//! `kanmon learn --spam|--ham` would learn its file (same tokens, same digest, so learning
//! it again later from `.Spam/cur` counts once). Only messages the daemon still keeps in
//! memory can be learned (`[stats] history_learnable`); the guard in `auth.rs` has checked
//! the form's CSRF token before this runs.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kanmon_core::bayes;
use kanmon_core::kanmon_auth::dkim::format_utc;
use kanmon_core::kanmon_auth::dns::Resolver;
use kanmon_store::{Class, Timestamp};
use serde::Deserialize;

use crate::Web;
use crate::auth::PageContext;
use crate::html::{self, escape};

/// The form of each history row's learn buttons.
#[derive(Debug, Deserialize)]
pub(crate) struct LearnForm {
    time: Timestamp,
    queue_id: String,
    class: Class,
}

/// `POST /history/learn`.
pub(crate) async fn learn<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
    Form(form): Form<LearnForm>,
) -> Response {
    let (status, text) = outcome(&web, &form).await;
    let mut body = format!("<p id=\"learned\">{}</p>", escape(&text));
    let _ = write!(
        body,
        "<p><a href=\"/history?queue_id={}\">Back to the message</a> · <a href=\"/history\">History</a></p>",
        html::query_escape(&form.queue_id)
    );
    (status, html::page("Learn", "/history", &context, &body)).into_response()
}

/// What happened, said for the page.
async fn outcome<R: Resolver + Clone + 'static>(
    web: &Web<R>,
    form: &LearnForm,
) -> (StatusCode, String) {
    let engine = web.engine();
    let message = format!("the message {} of {}", form.queue_id, format_utc(form.time));
    if engine.config().stats.history_learnable == 0 {
        return (
            StatusCode::NOT_FOUND,
            "Learning from the history is off: [stats] history_learnable = 0.".to_owned(),
        );
    }
    let Some(raw) = engine.counter().kept_message(form.time, &form.queue_id) else {
        return (
            StatusCode::NOT_FOUND,
            format!(
                "Not learned: {message} is no longer kept in memory (only the latest {} are, until a restart). Learn its file with `kanmon learn --{}`.",
                engine.config().stats.history_learnable,
                form.class.as_str()
            ),
        );
    };
    let options = engine.config().bayes.tokenizer.clone();
    let learnable =
        match tokio::task::spawn_blocking(move || bayes::learn_tokens(&raw, &options)).await {
            Ok(learnable) => learnable,
            Err(e) => {
                tracing::warn!(error = %e, "web: tokenizing a kept message failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Not learned: see the log.".to_owned(),
                );
            }
        };
    let learned = async {
        if let Err(why) = bayes::claim_version(&web.store).await? {
            return Ok(Err(why));
        }
        let old = web
            .store
            .relabel(&learnable.digest, Some(form.class), &learnable.keys)
            .await?;
        Ok::<_, kanmon_store::StoreError>(Ok(old))
    }
    .await;
    let class = form.class.as_str();
    match learned {
        Ok(Ok(Some(old))) if old == form.class => (
            StatusCode::OK,
            format!("Already learned as {class}: {message}."),
        ),
        Ok(Ok(old)) => {
            tracing::info!(queue_id = %form.queue_id, class, "web: message learned from the history");
            let moved = old.map_or(String::new(), |old| format!(" (was {})", old.as_str()));
            (
                StatusCode::OK,
                format!(
                    "Learned as {class}{moved}: {message}, {} tokens.",
                    learnable.keys.len()
                ),
            )
        }
        Ok(Err(why)) => (StatusCode::CONFLICT, format!("Not learned: {why}")),
        Err(e) => {
            tracing::warn!(error = %e, "web: learning from the history failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Not learned: the store did not answer ({e})."),
            )
        }
    }
}
