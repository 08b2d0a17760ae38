//! The daemon's side: a [`Store`] served on a unix socket to kanmon's own command-line tools,
//! so `kanmon learn` and `kanmon store` work while `kanmon serve` holds the embedded file.
//!
//! Each connection is served on its own task, one request after another; calls from
//! several connections reach the store at once, so its writer can commit them together.
//! The socket is the access control: it is created by the daemon's user with mode 0660.

use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::protocol::{
    FRAME_TARGET, FrameTooLarge, Reply, Request, WireRecord, read_frame, write_frame,
};
use crate::{Entry, Store, StoreError};

/// Most entries per frame of an export (and at most about [`FRAME_TARGET`] bytes).
const EXPORT_BATCH: usize = 1_000;

/// Binds `path` for [`serve`]: a stale socket left by a daemon that died is replaced, a live
/// one (another daemon answering on it) is an error; the socket gets mode 0660.
pub async fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by another daemon", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serves `store` to every connection `listener` accepts, until the task is dropped.
pub async fn serve(store: Store, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let store = store.clone();
                tokio::spawn(async move { serve_connection(store, stream).await });
            }
            Err(error) => {
                tracing::warn!(%error, "store socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(store: Store, mut stream: UnixStream) {
    loop {
        let request = match read_frame::<_, Request>(&mut stream).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "store socket: unreadable request; closing");
                return;
            }
        };
        if let Err(error) = answer(&store, request, &mut stream).await {
            tracing::debug!(%error, "store socket: the client went away");
            return;
        }
    }
}

async fn answer(store: &Store, request: Request, stream: &mut UnixStream) -> std::io::Result<()> {
    let reply = match request {
        Request::Export => return export(store, stream).await,
        Request::TokenCounts { keys } => {
            store.token_counts(&keys).await.map(|read| Reply::Tokens {
                totals: read.totals,
                counts: read.counts,
            })
        }
        Request::Relabel {
            digest,
            class,
            tokens,
        } => store
            .relabel(&digest, class, &tokens)
            .await
            .map(|class| Reply::Class { class }),
        Request::Label { digest } => store
            .label(&digest)
            .await
            .map(|class| Reply::Class { class }),
        Request::ClearLearned => store.clear_learned().await.map(|()| Reply::Done),
        Request::GreylistTouch { key, ttl_ms } => store
            .greylist_touch(&key, Duration::from_millis(ttl_ms))
            .await
            .map(|sighting| Reply::Sighting {
                sighting: Some(sighting),
            }),
        Request::GreylistGet { key } => store
            .greylist_get(&key)
            .await
            .map(|sighting| Reply::Sighting { sighting }),
        Request::StatsAdd {
            bucket,
            deltas,
            ttl_ms,
        } => {
            let deltas: Vec<(&str, i64)> = deltas.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            store
                .stats_add_at(bucket, &deltas, Duration::from_millis(ttl_ms))
                .await
                .map(|()| Reply::Done)
        }
        Request::StatsRead { first, last } => store
            .stats_read(first, last)
            .await
            .map(|counts| Reply::Stats { counts }),
        Request::AppendRecord {
            stream: name,
            data,
            ttl_ms,
        } => store
            .append_record(&name, &data, Duration::from_millis(ttl_ms))
            .await
            .map(|()| Reply::Done),
        Request::Records {
            stream: name,
            since,
            until,
        } => match store.records(&name, since, until).await {
            Ok(records) => return send_records(stream, records).await,
            Err(error) => Err(error),
        },
        Request::TrimRecordsBefore {
            stream: name,
            before,
        } => store
            .trim_records_before(&name, before)
            .await
            .map(|value| Reply::Count { value }),
        Request::Get { key } => store.get(&key).await.map(|value| Reply::Value { value }),
        Request::Set { key, value, ttl_ms } => store
            .set(&key, &value, ttl_ms.map(Duration::from_millis))
            .await
            .map(|()| Reply::Done),
        Request::Delete { key } => store.delete(&key).await.map(|value| Reply::Bool { value }),
        Request::Expire => store.expire().await.map(|value| Reply::Count { value }),
        Request::Summary => store.summary().await.map(|summary| Reply::Summary {
            summary: summary.into(),
        }),
        Request::Import { entries } => store.import(&entries).await.map(|()| Reply::Done),
    };
    let reply = reply.unwrap_or_else(|error| Reply::error(&error));
    send(stream, &reply).await
}

/// Writes `reply`, or an error reply in its place if it is too big for a frame (a value or a
/// token read of that size), so the caller hears why rather than a closed connection.
async fn send(stream: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    send_part(stream, reply).await.map(|_| ())
}

/// A records reply in frames of about [`FRAME_TARGET`] bytes, oldest first: `RecordsPart`s
/// and a last `Records` (the only one when the window fits in one frame).
async fn send_records(stream: &mut UnixStream, records: Vec<crate::Record>) -> std::io::Result<()> {
    let mut part = Vec::new();
    let mut bytes = 0;
    for record in records.into_iter().map(WireRecord::from) {
        let size = record.size_hint();
        if !part.is_empty() && bytes + size > FRAME_TARGET {
            let frame = Reply::RecordsPart {
                records: std::mem::take(&mut part),
            };
            if !send_part(stream, &frame).await? {
                return Ok(());
            }
            bytes = 0;
        }
        bytes += size;
        part.push(record);
    }
    send(stream, &Reply::Records { records: part }).await
}

/// Writes one part of a reply in parts; false if it was too big for a frame and an error
/// reply (which ends the reply) went in its place.
async fn send_part(stream: &mut UnixStream, frame: &Reply) -> std::io::Result<bool> {
    match write_frame(&mut *stream, frame).await {
        Ok(()) => Ok(true),
        Err(error) if FrameTooLarge::in_error(&error).is_some() => {
            let error = StoreError::Io(error);
            write_frame(stream, &Reply::error(&error)).await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// An export as frames of up to [`EXPORT_BATCH`] entries and about [`FRAME_TARGET`] bytes
/// (one entry alone if it is bigger), written while the store is still being read, then
/// `Done` (or an error in its place).
async fn export(store: &Store, stream: &mut UnixStream) -> std::io::Result<()> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Entry>();
    let read = async move {
        let result = store
            .export(&mut |entry| {
                // The writer only stops when the client went away or an entry cannot be
                // sent; the rest is moot then.
                sender.send(entry).map_err(|_| {
                    StoreError::Unavailable("the export's reader went away".to_owned())
                })
            })
            .await;
        drop(sender);
        result
    };
    let write = async {
        // Dropped when the writer stops, which stops the read.
        let mut receiver = receiver;
        let mut batch = Vec::with_capacity(EXPORT_BATCH);
        let mut bytes = 0;
        // An entry that did not fit the frame before it starts the next one.
        let mut carried: Option<Entry> = None;
        loop {
            if let Some(entry) = carried.take() {
                bytes = entry.size_hint();
                batch.push(entry);
            } else if batch.is_empty() {
                match receiver.recv().await {
                    Some(entry) => {
                        bytes = entry.size_hint();
                        batch.push(entry);
                    }
                    None => return Ok::<bool, std::io::Error>(true),
                }
            }
            // What has arrived meanwhile joins the frame while it has room.
            while batch.len() < EXPORT_BATCH {
                let Ok(entry) = receiver.try_recv() else {
                    break;
                };
                let size = entry.size_hint();
                if bytes + size > FRAME_TARGET {
                    carried = Some(entry);
                    break;
                }
                bytes += size;
                batch.push(entry);
            }
            let frame = Reply::Entries {
                entries: std::mem::take(&mut batch),
            };
            if !send_part(&mut *stream, &frame).await? {
                return Ok(false);
            }
        }
    };
    let (result, written) = tokio::join!(read, write);
    if !written? {
        // An entry too big for any frame: the client has its error already.
        return Ok(());
    }
    let last = match result {
        Ok(()) => Reply::Done,
        Err(error) => Reply::error(&error),
    };
    write_frame(stream, &last).await
}
