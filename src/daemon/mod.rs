//! `kanmon serve`: the long-running daemon with the milter and policy front-ends.
//!
//! Start-up order, each step failing with an error that names its key:
//! 1. open the listeners (`[milter] listen`, `[policy] listen`) as the starting user;
//! 2. started as root: give the unix sockets to `server.user` (and the embedded store's
//!    directory, when it has to be made), then become that user for good — before any
//!    thread exists, so every thread has the new identity;
//! 3. start the runtime, open the store (`[store]`: the file is created as the daemon's
//!    user), build the engine (its resolver), serve; expired store entries are removed in
//!    the background every [`STORE_EXPIRY_INTERVAL`], and the message counts gathered in
//!    memory are written every [`FLUSH_INTERVAL`] and at shutdown.
//!
//! Signals: SIGHUP reloads the configuration all-or-nothing (a file with any error is refused
//! with its error chain logged, and the old configuration keeps serving; new transactions
//! take the new engine, transactions in progress finish on the one they began with).
//! Listener, user and store changes need a restart, and the log says so. SIGTERM or SIGINT stops
//! accepting, lets each connection finish the message in progress (connections between
//! messages close at once), waits up to `server.drain_timeout_ms`, and exits.

mod listener;
pub(crate) mod privileges;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kanmon_core::Config;
use kanmon_core::config::Listen;
use kanmon_core::stats::{Counter, FLUSH_INTERVAL};
use kanmon_store::Store;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, watch};

use crate::frontend::milter::{MilterSession, negotiation};
use crate::frontend::policy::PolicyService;
use crate::frontend::{EngineSlot, ScanEngine};
use listener::{Bound, Listener, Stream, accept_loop, bind, drain, stopped};
use privileges::{become_user, is_root, lookup_user, prepare_store_dir};

/// How often the milter tells Postfix a slow end-of-message scan is still alive, so its
/// `milter_content_timeout` (300 s) restarts; the scan budget is normally far shorter.
const MILTER_PROGRESS_INTERVAL: Duration = Duration::from_secs(30);

/// How often expired greylist entries, statistics buckets, records and values are removed
/// from the store (Redis expires keys itself; the call is then nearly free).
const STORE_EXPIRY_INTERVAL: Duration = Duration::from_secs(600);

/// Why the daemon could not start or run.
#[derive(Debug)]
pub(crate) enum DaemonError {
    /// Both front-ends are off: nothing to serve.
    NothingToServe,
    Bind(listener::BindError),
    Privileges(privileges::PrivilegeError),
    /// The runtime, the resolver or signal handling could not be set up.
    Setup(&'static str, Box<dyn std::error::Error + Send + Sync>),
    /// The store could not be opened (its error names the `store.*` key).
    Store(kanmon_store::StoreError),
    /// `[http] listen` could not be bound.
    HttpBind(std::net::SocketAddr, std::io::Error),
    /// The web server could not be set up.
    Web(kanmon_web::WebError),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::NothingToServe => f.write_str(
                "milter.listen and policy.listen are both empty: there is nothing to serve",
            ),
            DaemonError::Bind(e) => e.fmt(f),
            DaemonError::Privileges(e) => e.fmt(f),
            DaemonError::Setup(what, _) => write!(f, "cannot set up {what}"),
            DaemonError::Store(e) => write!(f, "cannot open the store: {e}"),
            DaemonError::HttpBind(addr, _) => write!(f, "http.listen: cannot listen on {addr}"),
            DaemonError::Web(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DaemonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DaemonError::Bind(e) => std::error::Error::source(e),
            DaemonError::Setup(_, e) => Some(e.as_ref()),
            DaemonError::HttpBind(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Re-reads the configuration for SIGHUP: the same file (or defaults) the daemon started with.
pub(crate) type Reload = Box<dyn Fn() -> Result<Config, Box<dyn std::error::Error>> + Send>;

/// Runs the daemon until SIGTERM/SIGINT.
pub(crate) fn run(config: Config, reload: Reload) -> Result<(), DaemonError> {
    if config.milter.listen == Listen::Off && config.policy.listen == Listen::Off {
        return Err(DaemonError::NothingToServe);
    }
    let run_as = if is_root() {
        Some(lookup_user(config.server.user.as_deref()).map_err(DaemonError::Privileges)?)
    } else {
        None
    };
    let milter =
        bind("milter.listen", &config.milter, run_as.as_ref()).map_err(DaemonError::Bind)?;
    let policy =
        bind("policy.listen", &config.policy, run_as.as_ref()).map_err(DaemonError::Bind)?;
    let http = bind_http(config.http.listen)?;
    if let Some(user) = &run_as {
        if config.store.backend == kanmon_store::BackendKind::Embedded {
            prepare_store_dir(&config.store.path, user).map_err(DaemonError::Privileges)?;
        }
        become_user(user).map_err(DaemonError::Privileges)?;
        tracing::info!(user = %user.name, "running as {}", user.name);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Setup("the async runtime", Box::new(e)))?;
    runtime.block_on(serve(
        config,
        Listeners {
            milter,
            policy,
            http,
        },
        reload,
    ))
}

/// The sockets opened before the privilege drop.
struct Listeners {
    milter: Option<Bound>,
    policy: Option<Bound>,
    http: Option<std::net::TcpListener>,
}

/// `[http] listen`, opened with the other listeners (before the privilege drop, so a port
/// below 1024 works as for them).
fn bind_http(
    listen: Option<std::net::SocketAddr>,
) -> Result<Option<std::net::TcpListener>, DaemonError> {
    let Some(addr) = listen else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(addr).map_err(|e| DaemonError::HttpBind(addr, e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| DaemonError::HttpBind(addr, e))?;
    Ok(Some(listener))
}

/// Starts the web server (dashboard, /metrics, /api) on `listener`; it reads the engine of
/// the moment from `engines`, so a reload's engine answers the next request.
fn start_web(
    listener: std::net::TcpListener,
    engines: &EngineSlot,
    store: &Store,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let bound = listener
        .local_addr()
        .map_err(|e| DaemonError::Setup("the web listener", Box::new(e)))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| DaemonError::Setup("the web listener", Box::new(e)))?;
    let slot = engines.clone();
    let web = kanmon_web::Web::new(
        std::sync::Arc::new(move || slot.current()),
        store.clone(),
        bound,
    )
    .map_err(DaemonError::Web)?;
    tracing::info!(listen = %bound, "web server listening");
    Ok(tokio::spawn(async move {
        if let Err(e) = kanmon_web::serve(listener, web, stopped(stop)).await {
            tracing::error!(error = %e, "web server stopped");
        }
    }))
}

async fn serve(config: Config, listeners: Listeners, reload: Reload) -> Result<(), DaemonError> {
    let Listeners {
        milter,
        policy,
        http,
    } = listeners;
    let max = config.server.max_connections;
    let milter_too = milter.is_some();
    let drain_timeout = config.server.drain_timeout;
    let started = config.clone();
    let store = Store::open(&config.store)
        .await
        .map_err(DaemonError::Store)?;
    tracing::info!(backend = config.store.backend.as_str(), "store opened");
    let store_socket = serve_store_socket(&config.store, &store).await;
    let counter = Counter::new(store.clone());
    // After the privilege drop: the signing keys are read as server.user.
    let engine = ScanEngine::from_config(config)
        .map_err(|e| DaemonError::Setup("the scan engine", Box::new(e)))?
        .with_store(store.clone())
        .with_counter(counter.clone());
    let engines = EngineSlot::new(engine);
    let expiry = tokio::spawn(expire_periodically(store.clone()));
    let flushing = tokio::spawn(flush_periodically(counter.clone()));
    let (stop_tx, stop) = watch::channel(false);
    let mut signals = Signals::new()?;

    let mut loops = Vec::new();
    let mut pools = Vec::new();
    let web = match http {
        Some(listener) => Some(start_web(listener, &engines, &store, stop.clone())?),
        None => None,
    };
    if let Some(bound) = milter {
        let listener = Listener::from_bound(bound)
            .map_err(|e| DaemonError::Setup("the milter listener", Box::new(e)))?;
        tracing::info!(listen = %listener.describe(), "milter listening");
        let permits = Arc::new(Semaphore::new(max));
        pools.push(Arc::clone(&permits));
        let engines = engines.clone();
        loops.push(tokio::spawn(accept_loop(
            "milter",
            listener,
            permits,
            stop.clone(),
            move |stream, stop| serve_milter(stream, engines.clone(), stop),
        )));
    }
    if let Some(bound) = policy {
        let listener = Listener::from_bound(bound)
            .map_err(|e| DaemonError::Setup("the policy listener", Box::new(e)))?;
        tracing::info!(listen = %listener.describe(), "policy server listening");
        let permits = Arc::new(Semaphore::new(max));
        pools.push(Arc::clone(&permits));
        let service = PolicyService::new(engines.clone(), milter_too);
        loops.push(tokio::spawn(accept_loop(
            "policy",
            listener,
            permits,
            stop.clone(),
            move |stream, stop| serve_policy(stream, service.clone(), stop),
        )));
    }

    let mut running = started;
    while let Signal::Reload = signals.next().await {
        reload_engine(&reload, &engines, &mut running, (&store, &counter));
    }
    expiry.abort();
    tracing::info!("stopping: finishing messages in progress");
    let _ = stop_tx.send(true);
    for accept in loops {
        let _ = accept.await;
    }
    let deadline = tokio::time::Instant::now() + drain_timeout;
    for permits in pools {
        let left = drain(&permits, max, deadline).await;
        if left > 0 {
            tracing::warn!(
                sessions = left,
                "drain_timeout_ms passed with sessions still running; closing them"
            );
        }
    }
    if let Some(mut web) = web {
        // Requests in progress finish within the drain time; a client that holds its
        // connection longer is cut off.
        if tokio::time::timeout_at(deadline, &mut web).await.is_err() {
            web.abort();
        }
    }
    flushing.abort();
    counter.flush().await;
    if let Some((serving, path)) = store_socket {
        serving.abort();
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves the embedded store to kanmon's own tools (`kanmon learn`, `kanmon store`) on the
/// socket beside its file: the file admits one process, and this daemon is it. Without the
/// socket mail still flows, so a failure to bind it is a warning, not a stop.
async fn serve_store_socket(
    settings: &kanmon_store::StoreSettings,
    store: &Store,
) -> Option<(tokio::task::JoinHandle<()>, std::path::PathBuf)> {
    if settings.backend != kanmon_store::BackendKind::Embedded {
        return None;
    }
    let path = settings.socket_path();
    match kanmon_store::remote::bind(&path).await {
        Ok(listener) => {
            tracing::info!(socket = %path.display(), "store served to kanmon's tools");
            let serving = tokio::spawn(kanmon_store::remote::serve(store.clone(), listener));
            Some((serving, path))
        }
        Err(error) => {
            tracing::warn!(
                socket = %path.display(),
                %error,
                "cannot serve the store to kanmon's tools; `kanmon store` and `kanmon learn` cannot reach it while this daemon runs"
            );
            None
        }
    }
}

async fn serve_milter(stream: Stream, engines: EngineSlot, stop: watch::Receiver<bool>) {
    // Read from the engine of the moment, not kept: a reload must not wait for this
    // connection to let the old engine go.
    let (limits, refuse_at_rcpt) = {
        let engine = engines.current();
        (engine.config().limits.clone(), engine.refuses_before_data())
    };
    let config = kanmon_milter::Config {
        negotiation: negotiation(refuse_at_rcpt),
        limits: kanmon_milter::Limits {
            max_header_bytes: limits.max_header_bytes,
            // One byte past the scan limit, so the engine can tell the message was larger.
            max_body_bytes: limits.max_message_bytes.saturating_add(1),
        },
        progress_interval: Some(MILTER_PROGRESS_INTERVAL),
        read_timeout: Some(kanmon_milter::DEFAULT_READ_TIMEOUT),
    };
    let mut session = MilterSession::new(engines);
    let _active = kanmon_metrics::session("milter");
    if let Err(e) =
        kanmon_milter::serve_connection_until(stream, &mut session, &config, stopped(stop)).await
    {
        kanmon_metrics::error("milter_connection");
        tracing::warn!(error = %e, "milter: connection closed");
    }
}

async fn serve_policy(stream: Stream, service: PolicyService, stop: watch::Receiver<bool>) {
    let config = kanmon_policy::ServerConfig::default();
    let handler = |request| {
        let service = service.clone();
        async move { service.answer(request).await }
    };
    let _active = kanmon_metrics::session("policy");
    if let Err(e) =
        kanmon_policy::serve_connection_until(stream, &config, &handler, stopped(stop)).await
    {
        kanmon_metrics::error("policy_connection");
        tracing::warn!(error = %crate::cli::error_chain(&e), "policy: connection closed");
    }
}

/// SIGHUP: the new configuration whole, or the old one kept.
/// Removes expired store entries every [`STORE_EXPIRY_INTERVAL`]; a failure is logged and
/// tried again next time.
async fn expire_periodically(store: Store) {
    let mut ticks = tokio::time::interval(STORE_EXPIRY_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.expire().await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "store: expired entries removed"),
            Err(e) => tracing::warn!(error = %e, "store: expiry failed; trying again later"),
        }
    }
}

/// Writes the message counts gathered in memory every [`FLUSH_INTERVAL`].
async fn flush_periodically(counter: Counter) {
    let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        counter.flush().await;
    }
}

fn reload_engine(
    reload: &Reload,
    engines: &EngineSlot,
    running: &mut Config,
    (store, counter): (&Store, &Counter),
) {
    let config = match reload() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(
                error = %crate::cli::error_chain(e.as_ref()),
                "reload refused; the running configuration stays"
            );
            return;
        }
    };
    for (key, changed) in [
        ("milter", config.milter != running.milter),
        ("policy", config.policy != running.policy),
        ("server", config.server != running.server),
        ("store", config.store != running.store),
        ("http", config.http.listen != running.http.listen),
    ] {
        if changed {
            tracing::warn!("[{key}] changed: restart kanmon to apply it (the rest is reloaded)");
        }
    }
    match ScanEngine::from_config(config.clone()) {
        Ok(engine) => {
            engines.replace(
                engine
                    .with_store(store.clone())
                    .with_counter(counter.clone()),
            );
            *running = config;
            tracing::info!("configuration reloaded");
        }
        Err(e) => tracing::error!(
            error = %crate::cli::error_chain(&e),
            "reload refused; the running configuration stays"
        ),
    }
}

enum Signal {
    Reload,
    Stop,
}

struct Signals {
    hangup: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, DaemonError> {
        let setup =
            |kind| signal(kind).map_err(|e| DaemonError::Setup("signal handling", Box::new(e)));
        Ok(Signals {
            hangup: setup(SignalKind::hangup())?,
            terminate: setup(SignalKind::terminate())?,
            interrupt: setup(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.hangup.recv() => Signal::Reload,
            _ = self.terminate.recv() => Signal::Stop,
            _ = self.interrupt.recv() => Signal::Stop,
        }
    }
}
