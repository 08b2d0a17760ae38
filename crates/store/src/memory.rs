//! The in-memory backend: the contract in its plainest form, for tests and for running
//! without state on disk. Gone when the process ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::backend::Backend;
use crate::{
    Class, ClassTotals, Entry, Record, Result, STAT_BUCKET_SECS, Sighting, StatCount, Summary,
    Timestamp, TokenCounts, TokenKey, TokenRead, expiry,
};

#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    tokens: HashMap<TokenKey, TokenCounts>,
    totals: ClassTotals,
    labels: HashMap<Vec<u8>, Class>,
    greylist: HashMap<Vec<u8>, Grey>,
    /// (bucket, name) → (value, expires)
    stats: BTreeMap<(Timestamp, String), (i64, Timestamp)>,
    /// (stream, at, sequence) → (data, expires)
    records: BTreeMap<(String, Timestamp, u64), (Vec<u8>, Timestamp)>,
    sequence: u64,
    values: HashMap<String, (Vec<u8>, Option<Timestamp>)>,
}

#[derive(Clone, Copy)]
struct Grey {
    first_seen: Timestamp,
    last_seen: Timestamp,
    count: u64,
    expires: Timestamp,
}

impl Grey {
    fn sighting(&self) -> Sighting {
        Sighting {
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            count: self.count,
        }
    }
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data, still consistent
        // enough to read: every update below is applied before anything can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds `delta` (±1) to one class's count, saturating at zero.
fn bump(counts: &mut TokenCounts, class: Class, up: bool) {
    let count = match class {
        Class::Spam => &mut counts.spam,
        Class::Ham => &mut counts.ham,
    };
    *count = if up {
        count.saturating_add(1)
    } else {
        count.saturating_sub(1)
    };
}

fn bump_totals(totals: &mut ClassTotals, class: Class, up: bool) {
    let total = match class {
        Class::Spam => &mut totals.spam,
        Class::Ham => &mut totals.ham,
    };
    *total = if up {
        total.saturating_add(1)
    } else {
        total.saturating_sub(1)
    };
}

/// When a stats bucket written now expires: `ttl` after its hour ends.
pub(crate) fn bucket_expiry(bucket: Timestamp, ttl: Duration) -> Timestamp {
    expiry(bucket + STAT_BUCKET_SECS, ttl)
}

impl Backend for MemoryStore {
    async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        let state = self.state();
        Ok(TokenRead {
            totals: state.totals,
            counts: keys
                .iter()
                .map(|key| state.tokens.get(key).copied().unwrap_or_default())
                .collect(),
        })
    }

    async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        let mut state = self.state();
        let old = state.labels.get(digest).copied();
        if old == class {
            return Ok(old);
        }
        let State {
            tokens: counts,
            totals,
            labels,
            ..
        } = &mut *state;
        for (label, up) in [(old, false), (class, true)] {
            let Some(label) = label else { continue };
            bump_totals(totals, label, up);
            for key in tokens {
                let entry = counts.entry(*key).or_default();
                bump(entry, label, up);
                if *entry == TokenCounts::default() {
                    counts.remove(key);
                }
            }
        }
        match class {
            Some(class) => labels.insert(digest.to_vec(), class),
            None => labels.remove(digest),
        };
        Ok(old)
    }

    async fn label(&self, digest: &[u8]) -> Result<Option<Class>> {
        Ok(self.state().labels.get(digest).copied())
    }

    async fn clear_learned(&self) -> Result<()> {
        let mut state = self.state();
        state.tokens.clear();
        state.totals = ClassTotals::default();
        state.labels.clear();
        Ok(())
    }

    async fn greylist_touch(&self, key: &[u8], now: Timestamp, ttl: Duration) -> Result<Sighting> {
        let mut state = self.state();
        let live = state.greylist.get(key).filter(|g| g.expires > now).copied();
        let grey = match live {
            Some(g) => Grey {
                first_seen: g.first_seen,
                last_seen: now,
                count: g.count.saturating_add(1),
                expires: expiry(now, ttl),
            },
            None => Grey {
                first_seen: now,
                last_seen: now,
                count: 1,
                expires: expiry(now, ttl),
            },
        };
        state.greylist.insert(key.to_vec(), grey);
        Ok(grey.sighting())
    }

    async fn greylist_get(&self, key: &[u8], now: Timestamp) -> Result<Option<Sighting>> {
        Ok(self
            .state()
            .greylist
            .get(key)
            .filter(|g| g.expires > now)
            .map(Grey::sighting))
    }

    async fn stats_add(
        &self,
        bucket: Timestamp,
        deltas: &[(&str, i64)],
        _now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let mut state = self.state();
        let expires = bucket_expiry(bucket, ttl);
        for (name, delta) in deltas {
            let entry = state
                .stats
                .entry((bucket, (*name).to_owned()))
                .or_insert((0, expires));
            entry.0 = entry.0.saturating_add(*delta);
            entry.1 = expires;
        }
        Ok(())
    }

    async fn stats_read(
        &self,
        first: Timestamp,
        last: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<StatCount>> {
        let state = self.state();
        Ok(state
            .stats
            .range((first, String::new())..)
            .take_while(|((bucket, _), _)| *bucket <= last)
            .filter(|(_, (_, expires))| *expires > now)
            .map(|((bucket, name), (value, _))| StatCount {
                bucket: *bucket,
                name: name.clone(),
                value: *value,
            })
            .collect())
    }

    async fn append_record(
        &self,
        stream: &str,
        data: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let mut state = self.state();
        state.sequence += 1;
        let sequence = state.sequence;
        state.records.insert(
            (stream.to_owned(), now, sequence),
            (data.to_vec(), expiry(now, ttl)),
        );
        Ok(())
    }

    async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Record>> {
        let state = self.state();
        Ok(state
            .records
            .range((stream.to_owned(), since, 0)..)
            .take_while(|((s, at, _), _)| s == stream && *at <= until)
            .filter(|(_, (_, expires))| *expires > now)
            .map(|((_, at, _), (data, _))| Record {
                at: *at,
                data: data.clone(),
            })
            .collect())
    }

    async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        let mut state = self.state();
        let old: Vec<(String, Timestamp, u64)> = state
            .records
            .range((stream.to_owned(), 0, 0)..(stream.to_owned(), before, 0))
            .take(usize::try_from(crate::TRIM_RECORDS_MAX).unwrap_or(usize::MAX))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &old {
            state.records.remove(key);
        }
        Ok(old.len() as u64)
    }

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>> {
        Ok(self
            .state()
            .values
            .get(key)
            .filter(|(_, expires)| expires.is_none_or(|e| e > now))
            .map(|(value, _)| value.clone()))
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        now: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.state().values.insert(
            key.to_owned(),
            (value.to_vec(), ttl.map(|ttl| expiry(now, ttl))),
        );
        Ok(())
    }

    async fn delete(&self, key: &str, now: Timestamp) -> Result<bool> {
        Ok(self
            .state()
            .values
            .remove(key)
            .is_some_and(|(_, expires)| expires.is_none_or(|e| e > now)))
    }

    async fn expire(&self, now: Timestamp) -> Result<u64> {
        let mut state = self.state();
        let before = live_counts(&state);
        state.greylist.retain(|_, g| g.expires > now);
        state.stats.retain(|_, (_, expires)| *expires > now);
        state.records.retain(|_, (_, expires)| *expires > now);
        state
            .values
            .retain(|_, (_, expires)| expires.is_none_or(|e| e > now));
        Ok(before - live_counts(&state))
    }

    async fn summary(&self, now: Timestamp) -> Result<Summary> {
        let state = self.state();
        Ok(Summary {
            backend: "memory",
            location: "memory".to_owned(),
            tokens: state.tokens.len() as u64,
            learned: state.totals,
            digests: state.labels.len() as u64,
            greylist: state.greylist.values().filter(|g| g.expires > now).count() as u64,
            stat_counters: state.stats.values().filter(|(_, e)| *e > now).count() as u64,
            records: state.records.values().filter(|(_, e)| *e > now).count() as u64,
            values: state
                .values
                .values()
                .filter(|(_, e)| e.is_none_or(|e| e > now))
                .count() as u64,
            bytes: None,
        })
    }

    async fn export(
        &self,
        now: Timestamp,
        sink: &mut (dyn FnMut(Entry) -> Result<()> + Send),
    ) -> Result<()> {
        // A snapshot first, so the sink runs without the lock.
        let entries = {
            let state = self.state();
            let mut entries = vec![Entry::Totals {
                spam: state.totals.spam,
                ham: state.totals.ham,
            }];
            entries.extend(state.tokens.iter().map(|(key, c)| Entry::Token {
                key: *key,
                spam: c.spam,
                ham: c.ham,
            }));
            entries.extend(state.labels.iter().map(|(digest, class)| Entry::Label {
                digest: digest.clone(),
                class: *class,
            }));
            entries.extend(state.greylist.iter().filter(|(_, g)| g.expires > now).map(
                |(key, g)| Entry::Greylist {
                    key: key.clone(),
                    first_seen: g.first_seen,
                    last_seen: g.last_seen,
                    count: g.count,
                    expires: g.expires,
                },
            ));
            entries.extend(state.stats.iter().filter(|(_, (_, e))| *e > now).map(
                |((bucket, name), (value, expires))| Entry::Stat {
                    bucket: *bucket,
                    name: name.clone(),
                    value: *value,
                    expires: *expires,
                },
            ));
            entries.extend(state.records.iter().filter(|(_, (_, e))| *e > now).map(
                |((stream, at, _), (data, expires))| Entry::Record {
                    stream: stream.clone(),
                    at: *at,
                    data: data.clone(),
                    expires: *expires,
                },
            ));
            entries.extend(
                state
                    .values
                    .iter()
                    .filter(|(_, (_, e))| e.is_none_or(|e| e > now))
                    .map(|(key, (value, expires))| Entry::Value {
                        key: key.clone(),
                        value: value.clone(),
                        expires: *expires,
                    }),
            );
            entries
        };
        entries.into_iter().try_for_each(sink)
    }

    async fn import(&self, entries: &[Entry], now: Timestamp) -> Result<()> {
        let mut state = self.state();
        for entry in entries {
            match entry.clone() {
                Entry::Token { key, spam, ham } => {
                    if spam == 0 && ham == 0 {
                        state.tokens.remove(&key);
                    } else {
                        state.tokens.insert(key, TokenCounts { spam, ham });
                    }
                }
                Entry::Totals { spam, ham } => state.totals = ClassTotals { spam, ham },
                Entry::Label { digest, class } => {
                    state.labels.insert(digest, class);
                }
                Entry::Greylist {
                    key,
                    first_seen,
                    last_seen,
                    count,
                    expires,
                } => {
                    state.greylist.insert(
                        key,
                        Grey {
                            first_seen,
                            last_seen,
                            count,
                            expires,
                        },
                    );
                }
                Entry::Stat {
                    bucket,
                    name,
                    value,
                    expires,
                } => {
                    state.stats.insert((bucket, name), (value, expires));
                }
                Entry::Record {
                    stream,
                    at,
                    data,
                    expires,
                } => {
                    state.sequence += 1;
                    let sequence = state.sequence;
                    state
                        .records
                        .insert((stream, at, sequence), (data, expires));
                }
                Entry::Value {
                    key,
                    expires: Some(expires),
                    ..
                } if expires <= now => {
                    state.values.remove(&key);
                }
                Entry::Value {
                    key,
                    value,
                    expires,
                } => {
                    state.values.insert(key, (value, expires));
                }
            }
        }
        Ok(())
    }
}

fn live_counts(state: &State) -> u64 {
    (state.greylist.len() + state.stats.len() + state.records.len() + state.values.len()) as u64
}
