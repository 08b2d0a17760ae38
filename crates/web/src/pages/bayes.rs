//! `/bayes`: whether the classifier is ready — learned spam and ham against
//! `bayes.min_spam`/`min_ham`, the tokenizer the counts were learned with — the same facts
//! and sentence as `kanmon bayes stats`.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use kanmon_core::bayes::{learned_version, readiness};
use kanmon_core::check::Mode;
use kanmon_core::kanmon_auth::dns::Resolver;

use crate::Web;
use crate::auth::PageContext;
use crate::html::escape;

/// `GET /bayes`.
pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Html<String> {
    let body = body(&web).await;
    crate::html::page("Bayes", "/bayes", &context, &body)
}

async fn body<R: Resolver + Clone + 'static>(web: &Web<R>) -> String {
    let engine = web.engine();
    let bayes = &engine.config().bayes;
    let totals = match web.store.token_counts(&[]).await {
        Ok(read) => read.totals,
        Err(e) => return super::store_unavailable("the learned counts", &e),
    };
    let version = match learned_version(&web.store).await {
        Ok(version) => version,
        Err(e) => return super::store_unavailable("the tokenizer version", &e),
    };
    let params = &bayes.params;
    let ready = readiness(
        totals.spam,
        totals.ham,
        params.min_spam,
        params.min_ham,
        version.as_deref(),
    );
    let mut out = String::new();
    let mode = match bayes.mode {
        Mode::Off => "off: the classifier is not asked",
        Mode::Tag | Mode::Enforce => "tag: the classifier scores messages",
    };
    let _ = write!(
        out,
        "<dl class=\"facts\">\
         <dt>Mode</dt><dd>{mode}</dd>\
         <dt>Learned spam</dt><dd><span class=\"n\" id=\"learned-spam\">{}</span> (needs {})</dd>\
         <dt>Learned ham</dt><dd><span class=\"n\" id=\"learned-ham\">{}</span> (needs {})</dd>\
         <dt>Tokenizer</dt><dd>{}</dd>\
         <dt>Autolearn</dt><dd>{}</dd>\
         <dt>Ready</dt><dd id=\"ready\">{}</dd></dl>",
        totals.spam,
        params.min_spam,
        totals.ham,
        params.min_ham,
        escape(version.as_deref().unwrap_or("(nothing learned yet)")),
        match &bayes.autolearn {
            Some(t) => format!("on (spam at score ≥ {}, ham at ≤ {})", t.spam, t.ham),
            None => "off".to_owned(),
        },
        match &ready {
            Ok(()) => "yes".to_owned(),
            Err(why) => format!("no: {}", escape(why)),
        }
    );
    out.push_str(
        "<p class=\"note\">Teach it with <code>kanmon learn --spam DIR</code> and \
         <code>kanmon learn --ham DIR</code> (Maildir folders, mbox files or message files).</p>",
    );
    out
}
