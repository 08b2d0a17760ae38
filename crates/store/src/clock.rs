//! Where a store's time comes from: the system clock, or one a test moves by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Timestamp;

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// Seconds since the epoch, shared with whoever moves it.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `at`.
    pub fn manual(at: Timestamp) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(at)))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Manual(at) => at.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward (the system clock moves itself).
    pub fn advance(&self, secs: u64) {
        if let Clock::Manual(at) = self {
            at.fetch_add(secs, Ordering::SeqCst);
        }
    }
}
