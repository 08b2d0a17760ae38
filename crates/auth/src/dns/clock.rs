//! The answer cache's clock: coarse, and one atomic load to read.
//!
//! Every cache hit must check the answer's expiry. With `Instant::now()` that is a clock read
//! per lookup, about a tenth of a warm SPF check (four lookups) on the project's VM. Expiry
//! needs no such precision: TTLs are whole seconds. So a ticker thread stores the time every
//! [`TICK`], and [`CoarseClock::recent`] reads what it stored.
//!
//! Ownership: each [`CoarseClock`] belongs to one resolver (shared by its clones through an
//! `Arc`). Its thread holds only a weak reference and ends within a tick of the last clone
//! being dropped, so there is no process-wide state and a test that builds many resolvers
//! does not accumulate threads.
//!
//! Implementation note: the stored time lags the real time by up to one tick plus the
//! thread's wake-up latency. [`CoarseClock::recent`] therefore answers the stored time plus
//! two ticks: an instant no earlier than now as long as the thread wakes within a tick of
//! schedule, so an answer is never served past its TTL for the lag; it may instead expire up
//! to two ticks early, which costs one early re-query. A thread starved for longer than a
//! tick lets answers live that much longer. If the thread cannot be started, `recent` reads
//! the real clock every time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// How often the time is stored: 20 wake-ups a second, and answers expire at most 100 ms
/// early.
const TICK: Duration = Duration::from_millis(50);

/// A clock read with one atomic load, refreshed by its own ticker thread.
#[derive(Debug)]
pub(super) struct CoarseClock {
    start: Instant,
    /// Nanoseconds from `start` to the ticker's last reading.
    elapsed: AtomicU64,
    /// Whether the ticker runs; if not, `recent` reads the real clock.
    ticking: AtomicBool,
}

impl CoarseClock {
    /// A clock with its ticker started.
    pub(super) fn start() -> Arc<CoarseClock> {
        let clock = Arc::new(CoarseClock {
            start: Instant::now(),
            elapsed: AtomicU64::new(0),
            ticking: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&clock);
        let started = thread::Builder::new()
            .name("kanmon-dns-clock".into())
            .spawn(move || tick(weak))
            .is_ok();
        clock.ticking.store(started, Ordering::Release);
        clock
    }

    /// An instant no earlier than now (see the module note), at most two ticks later.
    pub(super) fn recent(&self) -> Instant {
        if !self.ticking.load(Ordering::Relaxed) {
            return Instant::now();
        }
        self.start + Duration::from_nanos(self.elapsed.load(Ordering::Relaxed)) + TICK + TICK
    }
}

/// Stores the time every tick until the clock is dropped.
fn tick(clock: Weak<CoarseClock>) {
    while let Some(clock) = clock.upgrade() {
        let elapsed = u64::try_from(clock.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        clock.elapsed.store(elapsed, Ordering::Relaxed);
        drop(clock);
        thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_not_behind_and_not_far_ahead() {
        let clock = CoarseClock::start();
        for _ in 0..5 {
            let before = Instant::now();
            let recent = clock.recent();
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

    #[test]
    fn ticker_ends_with_its_clock() {
        let clock = CoarseClock::start();
        let weak = Arc::downgrade(&clock);
        drop(clock);
        assert!(weak.upgrade().is_none());
    }
}
