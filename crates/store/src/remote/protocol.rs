//! The wire form of store calls between a command-line tool and the daemon that holds the
//! store: length-prefixed JSON frames over a unix socket, one request and one reply at a
//! time per connection (an export's reply is several frames, ending with `Done`; a records
//! reply too big for one frame is several, ending with `Records`).

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::entry::{base64, hex};
use crate::{
    Class, ClassTotals, Entry, Record, Sighting, StatCount, StoreError, Summary, Timestamp,
    TokenCounts, TokenKey,
};

/// Largest frame either side accepts: an import batch or a token read of a few thousand
/// keys is well under it; anything bigger is a confused or hostile peer.
pub(crate) const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Where a frame that carries many entries or records (an export or records reply, an
/// import request) is closed and the rest sent in the next: well under [`MAX_FRAME`], so a
/// window or a batch of any size crosses the socket, and one item up to `MAX_FRAME` still fits.
pub(crate) const FRAME_TARGET: usize = 4 * 1024 * 1024;

/// One store call. Times are the caller's view only where the call names a time (a stats
/// bucket, a records range); "now" is always the daemon's clock.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    TokenCounts {
        keys: Vec<TokenKey>,
    },
    Relabel {
        #[serde(with = "hex")]
        digest: Vec<u8>,
        class: Option<Class>,
        tokens: Vec<TokenKey>,
    },
    Label {
        #[serde(with = "hex")]
        digest: Vec<u8>,
    },
    ClearLearned,
    GreylistTouch {
        #[serde(with = "hex")]
        key: Vec<u8>,
        ttl_ms: u64,
    },
    GreylistGet {
        #[serde(with = "hex")]
        key: Vec<u8>,
    },
    StatsAdd {
        bucket: Timestamp,
        deltas: Vec<(String, i64)>,
        ttl_ms: u64,
    },
    StatsRead {
        first: Timestamp,
        last: Timestamp,
    },
    AppendRecord {
        stream: String,
        #[serde(with = "base64")]
        data: Vec<u8>,
        ttl_ms: u64,
    },
    Records {
        stream: String,
        since: Timestamp,
        until: Timestamp,
    },
    TrimRecordsBefore {
        stream: String,
        before: Timestamp,
    },
    Get {
        key: String,
    },
    Set {
        key: String,
        #[serde(with = "base64")]
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    },
    Delete {
        key: String,
    },
    Expire,
    Summary,
    Export,
    Import {
        entries: Vec<Entry>,
    },
}

/// The answer to one request (or one part of an export).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub(crate) enum Reply {
    Tokens {
        totals: ClassTotals,
        counts: Vec<TokenCounts>,
    },
    Class {
        class: Option<Class>,
    },
    Sighting {
        sighting: Option<Sighting>,
    },
    Stats {
        counts: Vec<StatCount>,
    },
    /// The whole records reply, or its last part.
    Records {
        records: Vec<WireRecord>,
    },
    /// Part of a records reply too big for one frame (oldest first); more follow until
    /// `Records`. A reply that fits is one `Records`, as an older daemon or tool expects.
    RecordsPart {
        records: Vec<WireRecord>,
    },
    Value {
        #[serde(with = "optional_base64")]
        value: Option<Vec<u8>>,
    },
    Bool {
        value: bool,
    },
    Count {
        value: u64,
    },
    Summary {
        summary: WireSummary,
    },
    /// Part of an export; more follow until `Done`.
    Entries {
        entries: Vec<Entry>,
    },
    Done,
    Error {
        kind: ErrorKind,
        message: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireRecord {
    pub at: Timestamp,
    #[serde(with = "base64")]
    pub data: Vec<u8>,
}

impl WireRecord {
    /// At least this record's bytes in a frame (base64 data and its field names).
    pub(crate) fn size_hint(&self) -> usize {
        self.data.len().div_ceil(3) * 4 + 32
    }
}

impl From<Record> for WireRecord {
    fn from(record: Record) -> Self {
        Self {
            at: record.at,
            data: record.data,
        }
    }
}

impl From<WireRecord> for Record {
    fn from(record: WireRecord) -> Self {
        Self {
            at: record.at,
            data: record.data,
        }
    }
}

/// [`Summary`] with its backend name as text (the daemon's backend, named on arrival).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireSummary {
    pub backend: String,
    pub location: String,
    pub tokens: u64,
    pub learned: ClassTotals,
    pub digests: u64,
    pub greylist: u64,
    pub stat_counters: u64,
    pub records: u64,
    pub values: u64,
    pub bytes: Option<u64>,
}

impl From<Summary> for WireSummary {
    fn from(s: Summary) -> Self {
        Self {
            backend: s.backend.to_owned(),
            location: s.location,
            tokens: s.tokens,
            learned: s.learned,
            digests: s.digests,
            greylist: s.greylist,
            stat_counters: s.stat_counters,
            records: s.records,
            values: s.values,
            bytes: s.bytes,
        }
    }
}

impl WireSummary {
    /// The summary as the daemon's backend reported it; the location says it was reached
    /// through the daemon.
    pub(crate) fn into_summary(self, socket: &str) -> Summary {
        let backend = match self.backend.as_str() {
            "embedded" => "embedded",
            "redis" => "redis",
            "memory" => "memory",
            _ => "unknown",
        };
        Summary {
            backend,
            location: format!("{} (through the daemon at {socket})", self.location),
            tokens: self.tokens,
            learned: self.learned,
            digests: self.digests,
            greylist: self.greylist,
            stat_counters: self.stat_counters,
            records: self.records,
            values: self.values,
            bytes: self.bytes,
        }
    }
}

/// A [`StoreError`]'s kind, so the caller degrades the same way as with a local store.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    Config,
    Unavailable,
    Timeout,
    Corrupt,
    Io,
    BadEntry,
}

impl Reply {
    pub(crate) fn error(error: &StoreError) -> Reply {
        let kind = match error {
            StoreError::Config(_) => ErrorKind::Config,
            StoreError::Unavailable(_) | StoreError::InUse(_) => ErrorKind::Unavailable,
            StoreError::Timeout(_) => ErrorKind::Timeout,
            StoreError::Corrupt(_) => ErrorKind::Corrupt,
            StoreError::Io(_) => ErrorKind::Io,
            StoreError::BadEntry { .. } => ErrorKind::BadEntry,
        };
        Reply::Error {
            kind,
            message: error.to_string(),
        }
    }
}

/// The daemon's error, as this side's [`StoreError`] of the same kind.
pub(crate) fn remote_error(kind: ErrorKind, message: String) -> StoreError {
    let message = format!("daemon: {message}");
    match kind {
        ErrorKind::Config => StoreError::Config(message),
        ErrorKind::Corrupt => StoreError::Corrupt(message),
        ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Io | ErrorKind::BadEntry => {
            StoreError::Unavailable(message)
        }
    }
}

/// Why [`write_frame`] wrote nothing: the frame would be over [`MAX_FRAME`]. The connection
/// is still in step, so the writer may send something else in its place.
#[derive(Debug, thiserror::Error)]
#[error("a frame of {0} bytes is over the socket's {MAX_FRAME}-byte limit")]
pub(crate) struct FrameTooLarge(pub usize);

impl FrameTooLarge {
    /// The [`FrameTooLarge`] `error` carries, if that is why it failed.
    pub(crate) fn in_error(error: &std::io::Error) -> Option<&FrameTooLarge> {
        error.get_ref()?.downcast_ref::<FrameTooLarge>()
    }
}

/// Writes `value` as one frame; one over [`MAX_FRAME`] is not written at all (the error
/// carries [`FrameTooLarge`]).
pub(crate) async fn write_frame<W, T>(writer: &mut W, value: &T) -> std::io::Result<()>
where
    W: AsyncWriteExt + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            FrameTooLarge(body.len()),
        ));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

/// The next frame, or `None` at a clean end of stream (between frames).
pub(crate) async fn read_frame<R, T>(reader: &mut R) -> std::io::Result<Option<T>>
where
    R: AsyncReadExt + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {length} bytes is over the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

mod optional_base64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Bytes(#[serde(with = "crate::entry::base64")] Vec<u8>);

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.clone().map(Bytes).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Bytes>::deserialize(deserializer)?.map(|b| b.0))
    }
}
