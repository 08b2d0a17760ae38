//! The store of a running daemon, reached over its unix socket: what `kanmon learn`, `kanmon
//! store` and the reports use when the embedded file is held by `kanmon serve`.
//!
//! Connections are pooled: a call takes an idle one (or opens one), and gives it back when
//! its reply has arrived, so concurrent calls (many learns in flight) use several
//! connections and the daemon's store can batch their writes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::time::{Instant, timeout_at};

use super::protocol::{FRAME_TARGET, Reply, Request, read_frame, remote_error, write_frame};
use crate::backend::Backend;
use crate::{
    Class, Entry, Record, Result, Sighting, StatCount, StoreError, Summary, Timestamp, TokenKey,
    TokenRead,
};

/// Idle connections kept for reuse; more may be open while calls are in flight.
const MAX_IDLE: usize = 16;

/// Bound on the calls that go over the whole store (export, import, expire, summary),
/// which a large store takes longer than the per-call timeout to answer.
const WHOLE_STORE_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct RemoteStore {
    socket: PathBuf,
    timeout: Duration,
    idle: Arc<Mutex<Vec<UnixStream>>>,
}

impl RemoteStore {
    /// Connects once to check the daemon is there; `timeout` bounds each call.
    pub async fn connect(socket: &Path, timeout: Duration) -> Result<RemoteStore> {
        let store = RemoteStore {
            socket: socket.to_owned(),
            timeout,
            idle: Arc::default(),
        };
        let stream = store.open().await?;
        store.give_back(stream);
        Ok(store)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn open(&self) -> Result<UnixStream> {
        UnixStream::connect(&self.socket).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot reach the daemon's store at {}: {e}",
                self.socket.display()
            ))
        })
    }

    fn take(&self) -> Option<UnixStream> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, stream: UnixStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(stream);
        }
    }

    /// Sends `request` and hands each reply frame to `each` until it returns true (done).
    /// `limit` bounds the wait for each frame, so a reply in many parts (an export, a large
    /// records window) is bounded by how long the daemon is silent, not by its size.
    async fn exchange(
        &self,
        request: &Request,
        limit: Duration,
        mut each: impl FnMut(Reply) -> Result<bool>,
    ) -> Result<()> {
        let mut stream = match self.take() {
            Some(stream) => stream,
            None => self.open().await?,
        };
        let call = async {
            // The request and the first reply frame share one `limit`; each later frame
            // gets its own.
            let mut deadline = Instant::now() + limit;
            match timeout_at(deadline, write_frame(&mut stream, request)).await {
                Err(_) => return Ok(Err(StoreError::Timeout(limit))),
                Ok(written) => written?,
            }
            loop {
                let read = match timeout_at(deadline, read_frame::<_, Reply>(&mut stream)).await {
                    Err(_) => return Ok(Err(StoreError::Timeout(limit))),
                    Ok(read) => read?,
                };
                let Some(reply) = read else {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the daemon closed the connection",
                    ));
                };
                if let Reply::Error { kind, message } = reply {
                    return Ok(Err(remote_error(kind, message)));
                }
                match each(reply) {
                    Ok(true) => return Ok(Ok(())),
                    Ok(false) => deadline = Instant::now() + limit,
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        let outcome = match call.await {
            Err(io) => {
                return Err(StoreError::Unavailable(format!(
                    "the daemon's store at {}: {io}",
                    self.socket.display()
                )));
            }
            Ok(outcome) => outcome,
        };
        // A connection is reused only after a complete exchange.
        if outcome.is_ok() {
            self.give_back(stream);
        }
        outcome
    }

    async fn call(&self, request: Request) -> Result<Reply> {
        let limit = match request {
            Request::Expire | Request::Summary | Request::Import { .. } | Request::ClearLearned => {
                WHOLE_STORE_TIMEOUT
            }
            _ => self.timeout,
        };
        let mut answer = None;
        self.exchange(&request, limit, |reply| {
            answer = Some(reply);
            Ok(true)
        })
        .await?;
        answer.ok_or_else(|| StoreError::Unavailable("no reply from the daemon".to_owned()))
    }
}

/// `entries` in consecutive runs of about [`FRAME_TARGET`] bytes at most (an entry bigger
/// than that alone); none for none.
fn frame_sized(entries: &[Entry]) -> Vec<&[Entry]> {
    Entry::batches(entries, usize::MAX, FRAME_TARGET)
}

fn unexpected(reply: &Reply) -> StoreError {
    StoreError::Unavailable(format!("unexpected reply from the daemon: {reply:?}"))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Backend for RemoteStore {
    async fn token_counts(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        match self
            .call(Request::TokenCounts {
                keys: keys.to_vec(),
            })
            .await?
        {
            Reply::Tokens { totals, counts } => Ok(TokenRead { totals, counts }),
            other => Err(unexpected(&other)),
        }
    }

    async fn relabel(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        let request = Request::Relabel {
            digest: digest.to_vec(),
            class,
            tokens: tokens.to_vec(),
        };
        match self.call(request).await? {
            Reply::Class { class } => Ok(class),
            other => Err(unexpected(&other)),
        }
    }

    async fn clear_learned(&self) -> Result<()> {
        match self.call(Request::ClearLearned).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn label(&self, digest: &[u8]) -> Result<Option<Class>> {
        match self
            .call(Request::Label {
                digest: digest.to_vec(),
            })
            .await?
        {
            Reply::Class { class } => Ok(class),
            other => Err(unexpected(&other)),
        }
    }

    async fn greylist_touch(&self, key: &[u8], _: Timestamp, ttl: Duration) -> Result<Sighting> {
        let request = Request::GreylistTouch {
            key: key.to_vec(),
            ttl_ms: millis(ttl),
        };
        match self.call(request).await? {
            Reply::Sighting {
                sighting: Some(sighting),
            } => Ok(sighting),
            other => Err(unexpected(&other)),
        }
    }

    async fn greylist_get(&self, key: &[u8], _: Timestamp) -> Result<Option<Sighting>> {
        match self
            .call(Request::GreylistGet { key: key.to_vec() })
            .await?
        {
            Reply::Sighting { sighting } => Ok(sighting),
            other => Err(unexpected(&other)),
        }
    }

    async fn stats_add(
        &self,
        bucket: Timestamp,
        deltas: &[(&str, i64)],
        _: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let request = Request::StatsAdd {
            bucket,
            deltas: deltas.iter().map(|&(n, v)| (n.to_owned(), v)).collect(),
            ttl_ms: millis(ttl),
        };
        match self.call(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn stats_read(
        &self,
        first: Timestamp,
        last: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<StatCount>> {
        match self.call(Request::StatsRead { first, last }).await? {
            Reply::Stats { counts } => Ok(counts),
            other => Err(unexpected(&other)),
        }
    }

    async fn append_record(
        &self,
        stream: &str,
        data: &[u8],
        _: Timestamp,
        ttl: Duration,
    ) -> Result<()> {
        let request = Request::AppendRecord {
            stream: stream.to_owned(),
            data: data.to_vec(),
            ttl_ms: millis(ttl),
        };
        match self.call(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// A window too big for one frame arrives in parts, oldest first.
    async fn records(
        &self,
        stream: &str,
        since: Timestamp,
        until: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<Record>> {
        let request = Request::Records {
            stream: stream.to_owned(),
            since,
            until,
        };
        let mut all = Vec::new();
        self.exchange(&request, self.timeout, |reply| match reply {
            Reply::RecordsPart { records } => {
                all.extend(records.into_iter().map(Record::from));
                Ok(false)
            }
            Reply::Records { records } => {
                all.extend(records.into_iter().map(Record::from));
                Ok(true)
            }
            other => Err(unexpected(&other)),
        })
        .await?;
        Ok(all)
    }

    async fn trim_records_before(&self, stream: &str, before: Timestamp) -> Result<u64> {
        let request = Request::TrimRecordsBefore {
            stream: stream.to_owned(),
            before,
        };
        match self.call(request).await? {
            Reply::Count { value } => Ok(value),
            other => Err(unexpected(&other)),
        }
    }

    async fn get(&self, key: &str, _: Timestamp) -> Result<Option<Vec<u8>>> {
        match self
            .call(Request::Get {
                key: key.to_owned(),
            })
            .await?
        {
            Reply::Value { value } => Ok(value),
            other => Err(unexpected(&other)),
        }
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        _: Timestamp,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let request = Request::Set {
            key: key.to_owned(),
            value: value.to_vec(),
            ttl_ms: ttl.map(millis),
        };
        match self.call(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete(&self, key: &str, _: Timestamp) -> Result<bool> {
        match self
            .call(Request::Delete {
                key: key.to_owned(),
            })
            .await?
        {
            Reply::Bool { value } => Ok(value),
            other => Err(unexpected(&other)),
        }
    }

    async fn expire(&self, _: Timestamp) -> Result<u64> {
        match self.call(Request::Expire).await? {
            Reply::Count { value } => Ok(value),
            other => Err(unexpected(&other)),
        }
    }

    async fn summary(&self, _: Timestamp) -> Result<Summary> {
        match self.call(Request::Summary).await? {
            Reply::Summary { summary } => {
                Ok(summary.into_summary(&self.socket.display().to_string()))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn export(
        &self,
        _: Timestamp,
        sink: &mut (dyn FnMut(Entry) -> Result<()> + Send),
    ) -> Result<()> {
        self.exchange(&Request::Export, WHOLE_STORE_TIMEOUT, |reply| match reply {
            Reply::Entries { entries } => {
                for entry in entries {
                    sink(entry)?;
                }
                Ok(false)
            }
            Reply::Done => Ok(true),
            other => Err(unexpected(&other)),
        })
        .await
    }

    /// A batch too big for one frame goes as several requests of about [`FRAME_TARGET`]
    /// bytes (each one the daemon's import call), in order.
    async fn import(&self, entries: &[Entry], _: Timestamp) -> Result<()> {
        for part in frame_sized(entries) {
            let request = Request::Import {
                entries: part.to_vec(),
            };
            match self.call(request).await? {
                Reply::Done => {}
                other => return Err(unexpected(&other)),
            }
        }
        Ok(())
    }
}
