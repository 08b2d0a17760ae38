//! The page frame and the small pieces every page uses. Pages are plain HTML strings built
//! with [`escape`] around everything that came from the store or the configuration; there
//! is no template engine, no inline script and no `style` attribute (the CSP forbids both).

use std::fmt::Write;

use axum::response::Html;

use crate::auth::PageContext;

/// The navigation, in order: a new page is one line here and one route in `lib.rs`.
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/history", "History"),
    ("/bayes", "Bayes"),
    ("/dkim", "DKIM keys"),
    ("/store", "Store"),
];

/// `text` safe in element content and in double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: head, navigation (with "sign out" when there is a password), `body`.
pub(crate) fn page(title: &str, path: &str, context: &PageContext, body: &str) -> Html<String> {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · kanmon</title>\
         <link rel=\"stylesheet\" href=\"/static/kanmon.css\">\
         <link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\"></head>\
         <body><header><span class=\"brand\">kanmon</span><nav>",
        escape(title)
    );
    for (href, label) in NAV {
        let current = if *href == path {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
    }
    out.push_str("</nav>");
    if context.password && context.session.signed_in {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/logout\" class=\"signout\">{}<button>Sign out</button></form>",
            csrf_field(context)
        );
    }
    let _ = writeln!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        escape(title)
    );
    Html(out)
}

/// `text` as a URL query value (safe in an attribute as it is).
pub(crate) fn query_escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The hidden field every POST form carries (checked by `auth::guard`).
pub(crate) fn csrf_field(context: &PageContext) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&context.session.csrf)
    )
}

/// The login page, with `problem` above the form after a failed attempt.
pub(crate) fn login(context: &PageContext, problem: Option<&str>) -> Html<String> {
    let mut body = String::new();
    if let Some(problem) = problem {
        let _ = write!(
            body,
            "<p class=\"problem\" id=\"problem\">{}</p>",
            escape(problem)
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login\" class=\"login\">{}\
         <input type=\"text\" name=\"username\" value=\"kanmon\" autocomplete=\"username\" hidden>\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" autofocus required></label>\
         <button id=\"sign-in\">Sign in</button></form>",
        csrf_field(context)
    );
    page("Sign in", "/login", context, &body)
}

/// A table: a header row and rows of cells already escaped (numbers, or [`escape`]d text).
pub(crate) fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{id}\"><thead><tr>");
    for header in headers {
        let _ = write!(out, "<th>{header}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"none\">none</td></tr>",
            headers.len()
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A number cell that tests (and scripts) can find: `data-counter` is the store's counter
/// name, `data-window` the period it sums.
pub(crate) fn counted(counter: &str, window: &str, value: i64) -> String {
    format!(
        "<span class=\"n\" data-counter=\"{}\" data-window=\"{window}\">{value}</span>",
        escape(counter)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
