//! The answer cache's clock: coarse, and one atomic load to read.
//!
//! Every cache hit must check the answer's expiry. With `Instant::now()` that is a clock read
//! per lookup, about a tenth of a warm SPF check (four lookups) on the project's VM. Expiry
//! needs no such precision: TTLs are whole seconds. So one background thread stores the
//! time every [`TICK`], and [`recent`] reads what it stored.
//!
//! Implementation note: the stored time lags the real time by up to one tick plus the
//! thread's wake-up latency. [`recent`] therefore answers the stored time plus two ticks: an
//! instant no earlier than now as long as the thread wakes within a tick of schedule, so an
//! answer is never served past its TTL for the lag; it may instead expire up to two ticks
//! early, which costs one early re-query. A thread starved for longer than a tick lets
//! answers live that much longer. If the thread cannot be started, [`recent`] reads the real
//! clock every time.
//!
//! The thread is started by the first lookup and lives as long as the process; it sleeps
//! between ticks.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often the time is stored: 20 wake-ups a second, and answers expire at most 100 ms
/// early.
const TICK: Duration = Duration::from_millis(50);

/// When the ticker started (`None` if it could not be).
static START: OnceLock<Option<Instant>> = OnceLock::new();
/// Nanoseconds from [`START`] to the ticker's last reading.
static ELAPSED: AtomicU64 = AtomicU64::new(0);

/// An instant no earlier than now (see the module note), at most two ticks later.
pub(super) fn recent() -> Instant {
    match START.get_or_init(start) {
        Some(start) => *start + Duration::from_nanos(ELAPSED.load(Ordering::Relaxed)) + TICK + TICK,
        None => Instant::now(),
    }
}

fn start() -> Option<Instant> {
    let start = Instant::now();
    thread::Builder::new()
        .name("kanmon-dns-clock".into())
        .spawn(move || {
            loop {
                let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                ELAPSED.store(elapsed, Ordering::Relaxed);
                thread::sleep(TICK);
            }
        })
        .ok()
        .map(|_| start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_not_behind_and_not_far_ahead() {
        for _ in 0..5 {
            let before = Instant::now();
            let recent = recent();
            let after = Instant::now();
            // Behind only if the ticker thread is starved; a second of slack keeps a loaded
            // test machine from failing this, while a clock that does not move still would.
            assert!(
                recent + Duration::from_secs(1) >= before,
                "behind the clock"
            );
            assert!(recent <= after + TICK + TICK, "too far ahead");
            thread::sleep(TICK / 2);
        }
    }
}
