//! The login form: `GET /login`, `POST /login` (the password checked once, a new session
//! id given), `POST /logout`. The guard in `auth.rs` has already checked each form's CSRF
//! token when these run.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kanmon_core::kanmon_auth::dns::Resolver;
use serde::Deserialize;

use crate::Web;
use crate::auth::{PageContext, SESSION_LIFETIME, refusal, session_cookie};
use crate::html;

/// A failed login waits this long before its answer, so guessing is slow even with
/// parallel connections (logins are checked one at a time).
const FAILED_LOGIN_DELAY: Duration = Duration::from_secs(1);

pub(crate) fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// `GET /login`.
pub(crate) async fn page<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Response {
    if web.engine().config().http.password_hash.is_none() || context.session.signed_in {
        return Redirect::to("/").into_response();
    }
    html::login(&context, None).into_response()
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    password: String,
}

/// `POST /login` (its CSRF token already checked by `auth::guard`).
pub(crate) async fn login<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(hash) = web.engine().config().http.password_hash.clone() else {
        return Redirect::to("/").into_response();
    };
    let Ok(_one_at_a_time) = web.sessions.logins.acquire().await else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    let right = tokio::task::spawn_blocking(move || verify(&hash, &form.password))
        .await
        .unwrap_or(false);
    if !right {
        tracing::warn!("web: a login with a wrong password");
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        let mut page = html::login(&context, Some("Wrong password.")).into_response();
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    web.sessions.end(&context.session.id);
    let session = match web.sessions.start(true) {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "web: no random numbers for a session");
            return refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    tracing::info!("web: signed in");
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&session.id, SESSION_LIFETIME),
    );
    response
}

/// `POST /logout`.
pub(crate) async fn logout<R: Resolver + Clone + 'static>(
    State(web): State<Arc<Web<R>>>,
    Extension(context): Extension<PageContext>,
) -> Response {
    web.sessions.end(&context.session.id);
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", Duration::ZERO));
    response
}
