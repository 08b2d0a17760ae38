//! `POST /api/check`: one scan of a raw message, answered with the JSON `kanmon check
//! --json` prints (`kanmon_core::report::Report`, docs/check-json.md), so other MTAs and
//! scripts can use kanmon.
//!
//! The envelope comes from query parameters or `X-Kanmon-*` headers (a parameter wins over
//! the header of the same name; recipients from both are kept): `ip`, `helo`,
//! `client_name`, `client_ptr`, `from`, `rcpt` (repeatable; the header may list several,
//! comma-separated), `sasl_user`, `queue_id`. The body is read up to one byte past
//! `limits.max_message_bytes`, as `kanmon check` reads a file: a larger message is scanned
//! by its envelope alone and the report says so.
//!
//! The scan is the daemon's, with its store: it counts in the statistics and may autolearn
//! as mail from Postfix does — the API is a way in for mail, not a test bench.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use kanmon_core::kanmon_auth::dns::Resolver;
use kanmon_core::report::Report;
use kanmon_core::{Envelope, ReverseName};

use crate::Web;

/// Time a scan may take beyond the engine's own `limits.scan_timeout_ms` before the
/// request is answered with an error (the daemon's front-ends allow the same).
const GRACE: Duration = Duration::from_secs(2);

/// `POST /api/check`.
pub(crate) async fn check<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let engine = web.engine();
    let envelope = match envelope(query.as_deref().unwrap_or(""), &headers) {
        Ok(envelope) => envelope,
        Err(problem) => return error(StatusCode::BAD_REQUEST, &problem),
    };
    let limit = engine.config().limits.max_message_bytes;
    let raw = match read_bounded(body, limit.saturating_add(1)).await {
        Ok(raw) => raw,
        Err(problem) => return error(StatusCode::BAD_REQUEST, &problem),
    };
    let budget = engine.config().limits.scan_timeout + GRACE;
    let scan = tokio::spawn(async move {
        let verdict = engine.scan_message(&envelope, &raw).await;
        serde_json::to_string_pretty(&Report::new(&verdict))
    });
    match tokio::time::timeout(budget, scan).await {
        Ok(Ok(Ok(mut json))) => {
            json.push('\n');
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Ok(Ok(Err(e))) => {
            kanmon_metrics::error("api_scan");
            tracing::error!(error = %e, "api: the report could not be written");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        Ok(Err(_panicked)) => {
            kanmon_metrics::error("api_scan");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        Err(_) => {
            kanmon_metrics::error("api_scan");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the scan took longer than {} ms", budget.as_millis()),
            )
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string() + "\n";
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The first `cap` bytes of the body; the rest is not read.
async fn read_bounded(body: Body, cap: usize) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut stream = body.into_data_stream();
    while raw.len() < cap {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let room = cap - raw.len();
                raw.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Some(Err(e)) => return Err(format!("the message could not be read: {e}")),
            None => break,
        }
    }
    Ok(raw)
}

/// The envelope from the query string and the `X-Kanmon-*` headers.
fn envelope(query: &str, headers: &HeaderMap) -> Result<Envelope, String> {
    let header = |name: &str| {
        headers
            .get(format!("x-kanmon-{name}"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some((unknown, _)) = fields.iter().find(|(k, _)| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown parameter {unknown:?}; the envelope's are {}",
            FIELDS.join(", ")
        ));
    }
    let mut value = |name: &str| -> Option<String> {
        let from_query = fields
            .iter()
            .rposition(|(k, _)| k == name)
            .map(|i| fields.remove(i).1);
        from_query.or_else(|| header(&name.replace('_', "-")))
    };
    let ip = match value("ip") {
        Some(ip) => Some(
            ip.trim()
                .parse()
                .map_err(|_| format!("ip: {ip:?} is not an IP address"))?,
        ),
        None => None,
    };
    let helo = value("helo");
    let client_name = value("client_name");
    let client_ptr = value("client_ptr");
    let mail_from = value("from").map(|from| strip_brackets(&from).to_owned());
    let sasl_user = value("sasl_user");
    let queue_id = value("queue_id");
    let mut rcpt_to: Vec<String> = headers
        .get_all("x-kanmon-rcpt")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|r| strip_brackets(r).to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    rcpt_to.extend(
        fields
            .iter()
            .filter(|(k, _)| k == "rcpt")
            .map(|(_, r)| strip_brackets(r).to_owned()),
    );
    Ok(Envelope {
        client_ip: ip,
        client_name: ReverseName::from_postfix(client_name.as_deref()),
        client_ptr: ReverseName::from_postfix(client_ptr.as_deref()),
        helo,
        mail_from,
        rcpt_to,
        sasl_user,
        queue_id,
    })
}

/// The query parameters (and, with `-` for `_`, the `X-Kanmon-` headers) the API reads.
const FIELDS: &[&str] = &[
    "ip",
    "helo",
    "client_name",
    "client_ptr",
    "from",
    "rcpt",
    "sasl_user",
    "queue_id",
];

/// `<a@b>` → `a@b`, as `kanmon check --from` takes it.
fn strip_brackets(address: &str) -> &str {
    let address = address.trim();
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn query_and_headers_make_the_envelope() {
        let mut headers = HeaderMap::new();
        headers.insert("x-kanmon-helo", HeaderValue::from_static("mx.example"));
        headers.insert(
            "x-kanmon-rcpt",
            HeaderValue::from_static("<a@example.org>, b@example.org"),
        );
        headers.insert("x-kanmon-ip", HeaderValue::from_static("192.0.2.9"));
        let given = envelope(
            "ip=192.0.2.1&from=%3Cme%40example.com%3E&rcpt=c%40example.org",
            &headers,
        )
        .unwrap();
        assert_eq!(given.client_ip, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(given.helo.as_deref(), Some("mx.example"));
        assert_eq!(given.mail_from.as_deref(), Some("me@example.com"));
        assert_eq!(
            given.rcpt_to,
            ["a@example.org", "b@example.org", "c@example.org"]
        );
        assert!(
            envelope("ipp=1", &HeaderMap::new())
                .unwrap_err()
                .contains("unknown parameter \"ipp\"")
        );
        assert!(
            envelope("ip=nonsense", &HeaderMap::new())
                .unwrap_err()
                .contains("not an IP address")
        );
    }
}
