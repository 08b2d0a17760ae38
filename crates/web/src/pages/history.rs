//! `/history`: the latest messages kanmon decided about, newest first, each with its action,
//! score, the reason for the verdict and every symbol with its evidence — `kanmon history`
//! in a browser. `?queue_id=ID` and `?from=ADDR` (or `@domain`) search as its flags do.
//! Messages the daemon still keeps (`[stats] history_learnable`) get "learn as spam / ham"
//! buttons (`crate::learn`).

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use kanmon_core::history::{self, Bounds, Filter, HistoryEntry};
use kanmon_core::kanmon_auth::dkim::format_utc;
use kanmon_core::kanmon_auth::dns::Resolver;
use serde::Deserialize;

use crate::Web;
use crate::auth::PageContext;
use crate::html::escape;

/// Entries one page shows.
const PAGE: usize = 50;

/// The search form's fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    queue_id: String,
    #[serde(default)]
    from: String,
}

/// `GET /history`.
pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Query(search): Query<Search>,
    Extension(context): Extension<PageContext>,
) -> Html<String> {
    let body = body(&web, &search, &context).await;
    crate::html::page("History", "/history", &context, &body)
}

async fn body<R: Resolver + Clone + 'static>(
    web: &Web<R>,
    search: &Search,
    context: &PageContext,
) -> String {
    let engine = web.engine();
    let stats = &engine.config().stats;
    let filter = Filter {
        queue_id: Some(search.queue_id.trim().to_owned()).filter(|id| !id.is_empty()),
        from: Some(search.from.trim().to_owned()).filter(|from| !from.is_empty()),
    };
    let mut out = format!(
        "<form method=\"get\" action=\"/history\" class=\"search\">\
         <label>Queue id <input name=\"queue_id\" value=\"{}\"></label> \
         <label>Sender <input name=\"from\" value=\"{}\" placeholder=\"user@example.org or @example.org\"></label> \
         <button type=\"submit\">Search</button></form>",
        escape(&search.queue_id),
        escape(&search.from)
    );
    if stats.history_size == 0 {
        out.push_str(
            "<p class=\"note\">History is off (<code>[stats] history_size = 0</code>).</p>",
        );
        return out;
    }
    let bounds = Bounds {
        retention: stats.history_retention,
        size: stats.history_size,
    };
    let entries = match history::recent(&web.store, PAGE, &filter, bounds).await {
        Ok(entries) => entries,
        Err(e) => return out + &super::store_unavailable("the history", &e),
    };
    let _ = write!(
        out,
        "<p class=\"note\">The latest {} of the newest {} messages (newest first; times in UTC).</p>",
        entries.len(),
        stats.history_size
    );
    out.push_str(
        "<table id=\"history\"><thead><tr><th>Time</th><th>Queue id</th><th>Client</th>\
         <th>From → to</th><th>Action</th><th>Score</th><th>Why</th></tr></thead><tbody>",
    );
    let counter = engine.counter();
    for entry in &entries {
        let kept = stats.history_learnable > 0
            && entry
                .queue_id
                .as_deref()
                .is_some_and(|id| counter.kept_message(entry.time, id).is_some());
        row(&mut out, entry, kept.then_some(context));
    }
    if entries.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"none\">none</td></tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// One entry's row; `learnable` (the page's context) when its message is still kept and
/// can be learned from here.
fn row(out: &mut String, entry: &HistoryEntry, learnable: Option<&PageContext>) {
    let client = match (&entry.client_ip, &entry.client_name) {
        (Some(ip), Some(name)) => format!("{} [{ip}]", escape(name)),
        (Some(ip), None) => format!("[{ip}]"),
        (None, _) => "(local)".to_owned(),
    };
    let from = entry.mail_from.as_deref().map_or("", |f| f);
    let from = if from.is_empty() { "<>" } else { from };
    let mut why = String::new();
    if let Some(reason) = &entry.reason {
        let _ = write!(why, "<p>{}</p>", escape(reason));
    }
    if let Some(subject) = &entry.subject {
        let _ = write!(why, "<p class=\"note\">Subject: {}</p>", escape(subject));
    }
    if !entry.symbols.is_empty() {
        why.push_str("<details><summary>");
        let names: Vec<String> = entry
            .symbols
            .iter()
            .map(|s| format!("{}({:.2})", escape(&s.name), s.score))
            .collect();
        why.push_str(&names.join(" "));
        why.push_str("</summary><ul>");
        for symbol in &entry.symbols {
            let _ = write!(
                why,
                "<li><code>{}</code> {:.2}: {}</li>",
                escape(&symbol.name),
                symbol.score,
                escape(&symbol.reason)
            );
        }
        why.push_str("</ul></details>");
    }
    let learn = match (learnable, &entry.queue_id) {
        (Some(context), Some(queue_id)) => format!(
            "<form method=\"post\" action=\"/history/learn\" class=\"learn\">{}\
             <input type=\"hidden\" name=\"time\" value=\"{}\">\
             <input type=\"hidden\" name=\"queue_id\" value=\"{}\">\
             Learn as <button name=\"class\" value=\"spam\">spam</button> \
             <button name=\"class\" value=\"ham\">ham</button></form>",
            crate::html::csrf_field(context),
            entry.time,
            escape(queue_id)
        ),
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td class=\"action\">{}{}{learn}</td>\
         <td>{:.2} / {:.2}</td><td>{}</td></tr>",
        escape(&format_utc(entry.time)),
        escape(entry.queue_id.as_deref().unwrap_or("")),
        client,
        escape(from),
        escape(&entry.rcpts.join(", ")),
        escape(entry.action.as_str()),
        if entry.internal { " (outbound)" } else { "" },
        entry.score,
        entry.required,
        why
    );
}
