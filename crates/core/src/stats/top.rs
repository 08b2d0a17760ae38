//! Bounded counts of an open-ended name (sender domain, client network) for one hour.
//!
//! Spam comes from more domains and networks than anyone reads, and every MX host sharing
//! one Redis adds to the same hour: a counter per name would grow with the spam's variety.
//! So each host names at most `2 × top_n` per hour, and the rest count as `<kind>:other`:
//! 1. every name of the hour is counted in memory, up to [`SEEN_PER_TOP`] × `top_n`
//!    distinct names (later new names go straight to `other`);
//! 2. at each flush a name is admitted when it is among this host's `top_n` most frequent
//!    of the hour so far and was seen at least twice, until `2 × top_n` are admitted;
//! 3. an admitted name's counts are written under its name, the first time with what it
//!    had already sent to `other` moved back (a negative delta there), so per-name counts
//!    are exact for the hour and `sum(names) + other` is always the total.
//!
//! Hosts agree on the busy names (spam waves hit every MX), so a report over several hosts
//! sees few more than `top_n` names per hour; it folds the smaller ones into `other`.

use std::collections::{HashMap, HashSet};

/// Distinct names remembered per hour, per `top_n`: room for the top to change over the
/// hour without the memory growing with the spam's variety.
pub(super) const SEEN_PER_TOP: usize = 16;

/// Counts of one kind of name in one hour on this host.
#[derive(Debug, Default)]
pub(super) struct Top {
    /// The hour's count of each name seen (bounded).
    seen: HashMap<String, u64>,
    /// Names whose counts go under their own name this hour.
    named: HashSet<String>,
    /// Counts since the last flush, per name.
    unwritten: HashMap<String, i64>,
    /// Counts since the last flush of names there was no room to remember.
    overflow: i64,
}

impl Top {
    pub(super) fn add(&mut self, name: &str, top_n: usize) {
        let room = self.seen.len() < SEEN_PER_TOP * top_n.max(1);
        match self.seen.get_mut(name) {
            Some(count) => *count += 1,
            None if room && top_n > 0 => {
                self.seen.insert(name.to_owned(), 1);
            }
            None => {
                self.overflow += 1;
                return;
            }
        }
        *self.unwritten.entry(name.to_owned()).or_insert(0) += 1;
    }

    /// The deltas to write for the counts since the last flush, as (name, delta); the name
    /// `None` is `other`.
    pub(super) fn take(&mut self, top_n: usize) -> Vec<(Option<String>, i64)> {
        let mut deltas = Vec::new();
        let mut other = std::mem::take(&mut self.overflow);
        for name in self.newly_admitted(top_n) {
            let hour = i64::try_from(self.seen[&name]).unwrap_or(i64::MAX);
            let now = self.unwritten.remove(&name).unwrap_or(0);
            // What earlier flushes sent to `other` comes back to the name.
            other -= hour - now;
            deltas.push((Some(name.clone()), hour));
            self.named.insert(name);
        }
        for (name, delta) in self.unwritten.drain() {
            if self.named.contains(&name) {
                deltas.push((Some(name), delta));
            } else {
                other += delta;
            }
        }
        if other != 0 {
            deltas.push((None, other));
        }
        deltas
    }

    /// The names to admit now: in this host's top `top_n` of the hour, seen twice, not yet
    /// admitted, while there is room.
    fn newly_admitted(&self, top_n: usize) -> Vec<String> {
        let room = (2 * top_n).saturating_sub(self.named.len());
        if room == 0 {
            return Vec::new();
        }
        let mut ranked: Vec<(&String, &u64)> = self.seen.iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        ranked
            .into_iter()
            .take(top_n)
            .filter(|(name, count)| **count >= 2 && !self.named.contains(*name))
            .take(room)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(deltas: &[(Option<String>, i64)], name: Option<&str>) -> i64 {
        deltas
            .iter()
            .filter(|(n, _)| n.as_deref() == name)
            .map(|(_, d)| d)
            .sum()
    }

    #[test]
    fn a_name_admitted_later_takes_back_what_went_to_other() {
        let mut top = Top::default();
        top.add("a.example", 2);
        top.add("b.example", 2);
        let first = top.take(2);
        // Seen once each: not named yet.
        assert_eq!(first, vec![(None, 2)]);
        top.add("a.example", 2);
        let second = top.take(2);
        assert_eq!(total(&second, Some("a.example")), 2);
        assert_eq!(total(&second, None), -1);
        top.add("a.example", 2);
        assert_eq!(top.take(2), vec![(Some("a.example".to_owned()), 1)]);
    }

    #[test]
    fn names_are_bounded_and_the_sum_is_the_total() {
        let mut top = Top::default();
        let mut written: HashMap<Option<String>, i64> = HashMap::new();
        for round in 0..50 {
            for i in 0..200 {
                // Ten busy names and a long tail.
                let name = if i % 2 == 0 {
                    format!("busy{}.example", i % 20)
                } else {
                    format!("tail{round}-{i}.example")
                };
                top.add(&name, 3);
            }
            for (name, delta) in top.take(3) {
                *written.entry(name).or_insert(0) += delta;
            }
        }
        let names = written.keys().filter(|n| n.is_some()).count();
        assert!(names <= 6, "{names} names");
        assert_eq!(written.values().sum::<i64>(), 50 * 200);
        assert!(written.values().all(|v| *v >= 0));
        assert_eq!(written[&Some("busy0.example".to_owned())], 500);
    }

    #[test]
    fn top_n_zero_counts_everything_as_other() {
        let mut top = Top::default();
        top.add("a.example", 0);
        top.add("a.example", 0);
        assert_eq!(top.take(0), vec![(None, 2)]);
    }
}
