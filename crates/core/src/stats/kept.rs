//! The latest messages, kept whole in the daemon's memory (`[stats] history_learnable`) so
//! the dashboard's history can learn one as spam or ham after its verdict, as
//! `kanmon learn` would learn the file: same tokens, same digest. Off by default: it holds
//! people's mail. Never written anywhere; gone at a restart.

use std::collections::VecDeque;
use std::sync::Arc;

use kanmon_store::Timestamp;

/// Most bytes kept in all, whatever `history_learnable` says: large messages leave early.
pub const MAX_KEPT_BYTES: usize = 64 << 20;

/// The kept messages, oldest first.
#[derive(Debug, Default)]
pub(super) struct KeptMessages {
    messages: VecDeque<Kept>,
    bytes: usize,
}

#[derive(Debug)]
struct Kept {
    time: Timestamp,
    queue_id: String,
    raw: Arc<[u8]>,
}

impl KeptMessages {
    /// Keeps `raw` as the message of history entry (`time`, `queue_id`), among the newest
    /// `count`; one larger than [`MAX_KEPT_BYTES`] is not kept.
    pub(super) fn keep(&mut self, time: Timestamp, queue_id: &str, raw: Arc<[u8]>, count: usize) {
        if raw.len() <= MAX_KEPT_BYTES {
            self.bytes += raw.len();
            self.messages.push_back(Kept {
                time,
                queue_id: queue_id.to_owned(),
                raw,
            });
        }
        self.shrink_to(count);
    }

    /// Lets go of all but the newest `count`, and of the oldest past [`MAX_KEPT_BYTES`].
    pub(super) fn shrink_to(&mut self, count: usize) {
        while self.messages.len() > count || self.bytes > MAX_KEPT_BYTES {
            let Some(gone) = self.messages.pop_front() else {
                break;
            };
            self.bytes -= gone.raw.len();
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The message of history entry (`time`, `queue_id`), while it is kept.
    pub(super) fn get(&self, time: Timestamp, queue_id: &str) -> Option<Arc<[u8]>> {
        self.messages
            .iter()
            .rev()
            .find(|kept| kept.time == time && kept.queue_id == queue_id)
            .map(|kept| Arc::clone(&kept.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_are_kept_by_count_and_by_bytes() {
        let mut kept = KeptMessages::default();
        for n in 0..5u64 {
            kept.keep(100 + n, &format!("Q{n}"), Arc::from(&[b'x'; 10][..]), 3);
        }
        assert!(kept.get(101, "Q1").is_none(), "past the count");
        assert_eq!(kept.get(102, "Q2").as_deref(), Some(&[b'x'; 10][..]));
        assert!(
            kept.get(103, "Q2").is_none(),
            "time and queue id both name it"
        );
        assert_eq!(kept.bytes, 30);

        let big = vec![b'y'; MAX_KEPT_BYTES - 15];
        kept.keep(200, "BIG", Arc::from(big), 3);
        assert!(kept.get(102, "Q2").is_none() && kept.get(103, "Q3").is_none());
        assert!(kept.get(104, "Q4").is_some() && kept.get(200, "BIG").is_some());
        assert_eq!(kept.bytes, MAX_KEPT_BYTES - 5);

        kept.keep(201, "HUGE", Arc::from(vec![b'z'; MAX_KEPT_BYTES + 1]), 3);
        assert!(
            kept.get(201, "HUGE").is_none(),
            "larger than everything allowed"
        );
        assert!(kept.get(200, "BIG").is_some());

        kept.shrink_to(0);
        assert!(kept.is_empty());
        assert_eq!(kept.bytes, 0);
    }
}
