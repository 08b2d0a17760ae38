//! kanmon-web: the dashboard, Prometheus `/metrics` and the scan API, served by kanmon
//! itself (no CDN, no front-end build).
//!
//! Data flow: the daemon builds a [`Web`] from the engine of the moment (a closure over its
//! engine slot, so a reload's engine serves the next request), the [`Store`] and the
//! address it bound; [`Web::router`] is the axum application and [`serve`] runs it until
//! the daemon stops, with bounded connections (`limits.rs`).
//!
//! * pages (`pages/`): server-rendered HTML read from the store's hourly counters
//!   (`kanmon_core::stats`), the Bayes totals and the store's summary; CSS and the icon from
//!   `static/`, no script at all, so the Content-Security-Policy forbids every script;
//! * `/metrics` (`kanmon_metrics`): this process's counters and histograms;
//! * `POST /api/check` (`api.rs`): one scan, the JSON of `kanmon check --json`.
//!
//! Access (`auth.rs`, docs/web.md): on loopback without `password_hash` everything is open
//! to local users; with `password_hash` the pages need a login; off loopback the password is
//! required (config validation refuses to start without it) and `/api/*` and `/metrics`
//! need `api_token`. Every POST form carries a CSRF token checked before any handler runs.

mod api;
mod auth;
mod chart;
mod html;
mod learn;
mod limits;
mod login;
mod pages;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use kanmon_core::Engine;
use kanmon_core::kanmon_auth::dns::Resolver;
use kanmon_store::Store;

pub use auth::hash_password;

/// The engine in service now; the daemon's closure reads its engine slot.
pub type CurrentEngine<R> = Arc<dyn Fn() -> Arc<Engine<R>> + Send + Sync>;

/// Why the web server cannot start.
#[derive(Debug)]
pub enum WebError {
    /// `http.password_hash` passed the config's shape check but is not a valid PHC string.
    PasswordHash(String),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::PasswordHash(why) => write!(
                f,
                "http.password_hash: not a valid Argon2 PHC string ({why}); make one with `kanmon http hash-password`"
            ),
        }
    }
}

impl std::error::Error for WebError {}

/// What every request handler shares.
pub struct Web<R> {
    engines: CurrentEngine<R>,
    store: Store,
    /// Bound to a loopback address: the API and `/metrics` need no token.
    loopback: bool,
    sessions: auth::Sessions,
}

impl<R: Resolver + Clone + 'static> Web<R> {
    /// The web server for the engine `engines` returns, the store, and the address it is
    /// bound to. The password hash of the engine's configuration is checked now, so a bad
    /// one stops the daemon at start instead of failing every login.
    pub fn new(
        engines: CurrentEngine<R>,
        store: Store,
        bound: SocketAddr,
    ) -> Result<Self, WebError> {
        if let Some(hash) = &engines().config().http.password_hash {
            auth::parse_hash(hash).map_err(WebError::PasswordHash)?;
        }
        Ok(Web {
            engines,
            store,
            loopback: bound.ip().is_loopback(),
            sessions: auth::Sessions::default(),
        })
    }

    /// The application: every route behind the access guard.
    pub fn router(self) -> Router {
        let web = Arc::new(self);
        Router::new()
            .route("/", get(pages::overview::page::<R>))
            .route("/bayes", get(pages::bayes::page::<R>))
            .route("/dkim", get(pages::dkim::page::<R>))
            .route("/history", get(pages::history::page::<R>))
            .route("/history/learn", post(learn::learn::<R>))
            .route("/store", get(pages::store::page::<R>))
            .route("/login", get(login::page::<R>).post(login::login::<R>))
            .route("/logout", post(login::logout::<R>))
            .route("/static/{file}", get(pages::asset))
            .route("/metrics", get(metrics))
            .route("/api/check", post(api::check::<R>))
            .fallback(pages::not_found)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&web),
                auth::guard::<R>,
            ))
            .with_state(web)
    }

    fn engine(&self) -> Arc<Engine<R>> {
        (self.engines)()
    }
}

/// `GET /metrics`: the OpenMetrics text of this process's metrics.
async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        kanmon_metrics::global().encode(),
    )
}

/// Serves `web` on `listener` until `stop` completes; requests in progress then finish.
/// The connection limits are those of the configuration at start (`[http]
/// max_connections`, `idle_timeout_secs`; a change needs a restart, as `listen` does).
pub async fn serve<R: Resolver + Clone + 'static>(
    listener: tokio::net::TcpListener,
    web: Web<R>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let engine = web.engine();
    let http = &engine.config().http;
    let listener = limits::Limited::new(listener, http.max_connections, http.idle_timeout);
    axum::serve(listener, web.router())
        .with_graceful_shutdown(stop)
        .await
}
