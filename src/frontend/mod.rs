//! The front-ends: the only place where protocol types (milter, policy) and engine types meet.
//! Each turns its protocol's events into an [`Envelope`] (and the message), asks the engine,
//! and maps the [`Verdict`] onto its protocol in one table.
//!
//! What they share lives here: the engine slot a reload swaps, and the guard every scan runs
//! under, which turns a panic or an overrun into [`ScanFailed`], for the caller to apply
//! `on_error` (DESIGN.md "an outcome is a value"; `Err` only when the work could not be done).

pub(crate) mod milter;
pub(crate) mod policy;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kanmon_core::Engine;
use kanmon_core::kanmon_auth::dns::HickoryResolver;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The engine the daemon runs: hickory with kanmon's answer cache.
pub(crate) type ScanEngine = Engine<HickoryResolver>;

/// The current engine, replaced whole on reload. A transaction takes one snapshot at its
/// start and keeps it, so a reload never mixes two configurations in one message.
#[derive(Clone)]
pub(crate) struct EngineSlot(Arc<RwLock<Arc<ScanEngine>>>);

impl EngineSlot {
    pub(crate) fn new(engine: ScanEngine) -> Self {
        EngineSlot(Arc::new(RwLock::new(Arc::new(engine))))
    }

    /// The engine now in service.
    pub(crate) fn current(&self) -> Arc<ScanEngine> {
        // A poisoned lock still holds a whole engine: the swap is one assignment.
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts `engine` in service for transactions that start from now on.
    pub(crate) fn replace(&self, engine: ScanEngine) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(engine);
    }
}

/// Time a guarded scan may take beyond the engine's own `limits.scan_timeout_ms`, which the
/// engine enforces itself; past it the scan is taken as failed rather than waited for.
const GUARD_GRACE: Duration = Duration::from_secs(2);

/// Why a scan produced no verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanFailed {
    /// The scan panicked (a bug); the panic message is logged, not sent to the client.
    Panicked,
    /// The scan outlived its budget plus [`GUARD_GRACE`].
    TimedOut(Duration),
}

impl fmt::Display for ScanFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanFailed::Panicked => f.write_str("internal error"),
            ScanFailed::TimedOut(after) => write!(f, "timed out after {} ms", after.as_millis()),
        }
    }
}

/// A scan running on its own task, so a panic ends the task and not the connection, with a
/// deadline of the engine's budget plus [`GUARD_GRACE`] from its start.
pub(crate) struct GuardedScan<T> {
    task: JoinHandle<T>,
    deadline: Instant,
    limit: Duration,
}

impl<T: Send + 'static> GuardedScan<T> {
    /// Starts `scan` now; [`GuardedScan::finish`] collects it.
    pub(crate) fn spawn<F>(engine: &ScanEngine, scan: F) -> Self
    where
        F: Future<Output = T> + Send + 'static,
    {
        let limit = engine.config().limits.scan_timeout + GUARD_GRACE;
        GuardedScan {
            // Boxed first: a scan's future is several KiB, which tokio would otherwise copy
            // from frame to frame on its way to the task.
            task: tokio::spawn(Box::pin(scan)),
            deadline: Instant::now() + limit,
            limit,
        }
    }

    /// The scan's result, or why there is none (the task is stopped past the deadline).
    pub(crate) async fn finish(&mut self) -> Result<T, ScanFailed> {
        match tokio::time::timeout_at(self.deadline, &mut self.task).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => {
                kanmon_metrics::error("scan_panicked");
                Err(ScanFailed::Panicked)
            }
            Err(_) => {
                kanmon_metrics::error("scan_timed_out");
                self.task.abort();
                Err(ScanFailed::TimedOut(self.limit))
            }
        }
    }

    /// Stops the scan (its message was aborted).
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

/// Runs `scan` guarded ([`GuardedScan`]) and waits for it.
pub(crate) async fn guarded<T, F>(engine: &ScanEngine, scan: F) -> Result<T, ScanFailed>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    GuardedScan::spawn(engine, scan).finish().await
}

/// Reply text built from a reason: printable, one line, bounded, so every protocol accepts it
/// (the milter's reply limit, the policy protocol's line, SMTP's 512-octet reply line).
pub(crate) fn reply_text(reason: &str) -> String {
    const MAX: usize = 300;
    let mut text: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// The header field a message accepted unscanned carries (`on_error = "accept"`), so the
/// admin and the user can see it was not checked.
pub(crate) const ERROR_FIELD: &str = "X-Kanmon-Error";

#[cfg(test)]
mod tests {
    use kanmon_core::Config;

    use super::*;

    fn engine(scan_timeout_ms: u64) -> ScanEngine {
        let config = Config::parse(&format!(
            "[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout_ms = 100\n[limits]\nscan_timeout_ms = {scan_timeout_ms}\n"
        ))
        .unwrap();
        ScanEngine::from_config(config).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_scan_is_a_failure_not_a_crash() {
        let engine = engine(1000);
        let result: Result<(), _> = guarded(&engine, async { panic!("a bug in a check") }).await;
        assert_eq!(result, Err(ScanFailed::Panicked));
        assert_eq!(guarded(&engine, async { 7 }).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_past_its_budget_and_grace_is_cut_off() {
        let engine = engine(1000);
        let result: Result<(), _> = guarded(&engine, std::future::pending()).await;
        assert_eq!(
            result,
            Err(ScanFailed::TimedOut(Duration::from_millis(3000)))
        );
    }

    #[test]
    fn reply_text_is_one_bounded_line() {
        assert_eq!(reply_text("SPF fail:\r\nsecond"), "SPF fail:  second");
        let long = "é".repeat(400);
        let text = reply_text(&long);
        assert!(text.len() <= 303 && text.ends_with("..."), "{}", text.len());
    }
}
