//! The store a one-message scan (`check`, `filter`, `deliver`) reads: the one `kanmon learn`
//! taught, so the Bayes check there judges as the daemon's does.
//!
//! Only Bayes reads the store during such a scan, so with `[bayes] mode = "off"` none is
//! opened. An embedded store that does not exist yet (no file, no daemon serving it) has
//! learned nothing: the scan gets an empty store in memory rather than creating files where
//! a mail user's filter happens to run. The embedded file has one user at a time; when
//! another short-lived tool holds it and no daemon serves it, the scan waits for its turn
//! (up to [`PATIENCE`]) instead of failing at once.

use std::time::Duration;

use kanmon_core::Config;
use kanmon_core::check::Mode;
use kanmon_store::{BackendKind, Store, StoreError};

/// How long a scan waits for the embedded file while another tool has it open.
const PATIENCE: Duration = Duration::from_secs(5);
/// Between two attempts to open the file.
const RETRY: Duration = Duration::from_millis(25);

/// The store the scan's checks read, or why it cannot be had (callers treat that as a
/// temporary failure: the message is kept, the delivery retried).
pub(crate) async fn open(config: &Config) -> Result<Store, StoreError> {
    let settings = &config.store;
    if config.bayes.mode == Mode::Off {
        return Ok(Store::memory());
    }
    if settings.backend == BackendKind::Embedded
        && !settings.path.exists()
        && !settings.socket_path().exists()
    {
        return Ok(Store::memory());
    }
    let started = tokio::time::Instant::now();
    loop {
        match Store::open(settings).await {
            Err(StoreError::InUse(reason)) => {
                let socket = settings.socket_path();
                if socket.exists() {
                    // A daemon holds the file and serves it.
                    return Store::connect(&socket, settings.timeout)
                        .await
                        .map_err(|e| StoreError::Unavailable(format!("{reason}; and {e}")));
                }
                if started.elapsed() >= PATIENCE {
                    return Err(StoreError::InUse(reason));
                }
                tokio::time::sleep(RETRY).await;
            }
            result => return result,
        }
    }
}
