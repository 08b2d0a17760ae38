use std::time::Duration;

/// Why a store call did not complete. Callers degrade on any of these: the check that
/// needed the store says so in a zero-score symbol, and the message goes on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The settings cannot work (bad URL, unusable path); names the key.
    #[error("{0}")]
    Config(String),
    /// The server is down, unreachable, or refused the command.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The embedded file is held by another process (a running `kanmon serve`): reach it
    /// through that daemon ([`crate::Store::open_or_connect`]).
    #[error("store unavailable: {0}")]
    InUse(String),
    #[error("store call timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The data on disk or on the server is not what this version wrote.
    #[error("store data unreadable: {0}")]
    Corrupt(String),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// An export/import line that is not an [`crate::Entry`].
    #[error("line {line}: {reason}")]
    BadEntry { line: u64, reason: String },
}
