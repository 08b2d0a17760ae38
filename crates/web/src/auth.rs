//! Who may use the web server, and the CSRF check of every form.
//!
//! * Pages: a session cookie (`kanmon_session`: random, HttpOnly, SameSite=Strict) is given
//!   to every browser, signed in or not, because it carries the CSRF token of its forms.
//!   With `http.password_hash` set, a page needs a signed-in session: `/login` checks the
//!   password once (Argon2 is slow on purpose, too slow for every request) and gives a new
//!   session id, so an id planted before the login is worth nothing after it.
//! * POST to a page: the guard reads the form (at most [`MAX_FORM_BYTES`]) and compares its
//!   `csrf` field with the session's token before any handler runs, so a form added later
//!   is protected without remembering to be.
//! * `/api/*` and `/metrics` are for programs: off loopback they need
//!   `Authorization: Bearer <http.api_token>`; on loopback they are open, but a browser
//!   request from another site (`Sec-Fetch-Site`, `Origin`) is refused, so a web page cannot
//!   make the user's browser post messages to the local API.
//!
//! Secrets are compared in constant time and never logged or shown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kanmon_core::kanmon_auth::dns::Resolver;
use tokio::sync::Semaphore;

use crate::Web;

pub(crate) const SESSION_COOKIE: &str = "kanmon_session";

/// How long a session lasts without a new login: a working day.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; the oldest goes first. Each browser that loads a page gets one,
/// so the number is bounded against a client that never sends its cookie back.
const MAX_SESSIONS: usize = 1024;

/// Largest form body a page accepts: forms carry a token and a password, not data.
pub(crate) const MAX_FORM_BYTES: usize = 16 * 1024;

/// The headers of every page: no script may run (there is none), nothing is framed or
/// loaded from elsewhere, forms post only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One browser's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
    pub(crate) signed_in: bool,
}

/// What a page handler knows of the request's session.
#[derive(Debug, Clone)]
pub(crate) struct PageContext {
    pub(crate) session: Session,
    /// `http.password_hash` is set: the pages show a "sign out" button.
    pub(crate) password: bool,
}

/// The sessions in memory (a restart signs everyone out), and the one login being checked.
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, (Session, Instant)>>,
    pub(crate) logins: Semaphore,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            open: Mutex::default(),
            logins: Semaphore::new(1),
        }
    }
}

impl Sessions {
    fn find(&self, id: &str) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.get(id) {
            Some((session, until)) if *until > Instant::now() => Some(session.clone()),
            Some(_) => {
                open.remove(id);
                None
            }
            None => None,
        }
    }

    pub(crate) fn start(&self, signed_in: bool) -> Result<Session, getrandom::Error> {
        let session = Session {
            id: random_token()?,
            csrf: random_token()?,
            signed_in,
        };
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, (_, until)| *until > now);
        // Full: the oldest session goes, one not signed in first, so a client that never
        // sends its cookie back cannot sign the administrator out.
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, (session, until))| (session.signed_in, *until))
                .map(|(id, _)| id.clone())
        {
            open.remove(&oldest);
        }
        open.insert(
            session.id.clone(),
            (session.clone(), now + SESSION_LIFETIME),
        );
        Ok(session)
    }

    pub(crate) fn end(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// 256 random bits from the system's generator, as hex.
fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The PHC string of `password` with a fresh salt and Argon2id's default parameters
/// (m = 19 MiB, t = 2, p = 1: OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(hash.to_string())
}

/// Checks that `hash` is a PHC string of an Argon2 variant.
pub(crate) fn parse_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!("{} is not Argon2", parsed.algorithm.as_str()));
    }
    Ok(())
}

/// Equal without telling, by its timing, how much of a guess was right.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

pub(crate) fn session_cookie(id: &str, max_age: Duration) -> HeaderValue {
    let text = format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("kanmon_session=; Max-Age=0"))
}

pub(crate) fn refusal(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Runs before every handler: machine routes need the token (off loopback), pages need a
/// session (signed in when there is a password), page POSTs need the session's CSRF token.
pub(crate) async fn guard<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/static/") {
        return with_page_headers(next.run(request).await);
    }
    if path == "/metrics" || path.starts_with("/api/") {
        if let Err(refused) = machine_access(&web, &request) {
            return refused;
        }
        let mut response = next.run(request).await;
        response.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        return response;
    }
    let password = web.engine().config().http.password_hash.is_some();
    let found = cookie(request.headers(), SESSION_COOKIE).and_then(|id| web.sessions.find(id));
    let (session, new) = match found {
        Some(session) => (session, false),
        None => match web.sessions.start(false) {
            Ok(session) => (session, true),
            Err(e) => {
                tracing::error!(error = %e, "web: no random numbers for a session");
                return refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        },
    };
    let response = if password && !session.signed_in && path != "/login" {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            Redirect::to("/login").into_response()
        } else {
            refusal(StatusCode::UNAUTHORIZED, "sign in first")
        }
    } else {
        match csrf_checked(request, &session).await {
            Ok(mut request) => {
                request.extensions_mut().insert(PageContext {
                    session: session.clone(),
                    password,
                });
                next.run(request).await
            }
            Err(refused) => refused,
        }
    };
    let mut response = with_page_headers(response);
    if new && !response.headers().contains_key(header::SET_COOKIE) {
        response.headers_mut().insert(
            header::SET_COOKIE,
            session_cookie(&session.id, SESSION_LIFETIME),
        );
    }
    response
}

/// A POST's form must carry the session's CSRF token; the body read for the check is put
/// back for the handler. Other methods change nothing and pass.
async fn csrf_checked(request: Request, session: &Session) -> Result<Request, Response> {
    if request.method() != Method::POST {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(refusal(StatusCode::PAYLOAD_TOO_LARGE, "form too large"));
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value);
    match token {
        Some(token) if same_secret(token.as_bytes(), session.csrf.as_bytes()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refusal(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or out of date: reload the page and try again",
        )),
    }
}

fn machine_access<R: Resolver + Clone + 'static>(
    web: &Web<R>,
    request: &Request,
) -> Result<(), Response> {
    if web.loopback {
        return if cross_site(request.headers()) {
            Err(refusal(
                StatusCode::FORBIDDEN,
                "cross-site requests to the API are refused",
            ))
        } else {
            Ok(())
        };
    }
    let Some(token) = web.engine().config().http.api_token.clone() else {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "http.api_token is not set: off loopback, /api and /metrics are refused",
        ));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match given {
        Some(given) if same_secret(given.trim().as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(refusal(StatusCode::FORBIDDEN, "wrong token")),
        None => {
            let mut refused = refusal(
                StatusCode::UNAUTHORIZED,
                "a token is required: Authorization: Bearer <http.api_token>",
            );
            refused
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Err(refused)
        }
    }
}

/// A browser's request made by a page of another origin.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some(site) if site != "same-origin" && site != "none") {
        return true;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        _ => false,
    }
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        parse_hash(&hash).unwrap();
        assert!(crate::login::verify(&hash, "correct horse"));
        assert!(!crate::login::verify(&hash, "correct horsE"));
        assert!(parse_hash("$argon2id$v=19$nonsense").is_err());
    }

    #[test]
    fn a_flood_of_new_sessions_evicts_the_anonymous_ones_first() {
        let sessions = Sessions::default();
        let admin = sessions.start(true).unwrap();
        for _ in 0..MAX_SESSIONS * 2 {
            sessions.start(false).unwrap();
        }
        assert!(sessions.find(&admin.id).is_some_and(|s| s.signed_in));
        let open = sessions.open.lock().unwrap().len();
        assert_eq!(open, MAX_SESSIONS);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }

    #[test]
    fn other_origins_are_cross_site() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_static(v));
            }
            map
        };
        assert!(!cross_site(&headers(&[])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8025"),
            ("host", "127.0.0.1:8025")
        ])));
        assert!(cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8025")
        ])));
    }
}
