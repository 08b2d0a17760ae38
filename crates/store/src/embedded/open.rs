//! Opening the file: its directory and mode, redb's checks, and errors that name the
//! `store.path` setting.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use redb::{Builder, Database};

use super::schema::{self, store_error};
use crate::{Result, StoreError};

/// Page cache redb may use. A store of a million tokens is about 35–70 MB, so this keeps
/// the whole working set of any realistic store in memory while bounding the daemon's
/// footprint (redb's default is 1 GiB).
const CACHE_BYTES: usize = 256 << 20;

/// The file's mode when kanmon creates it: what mail the system saw and learned is
/// readable only by the user kanmon runs as. Its directory, if kanmon makes it, is 0700.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Opens (creating) the database at `path` and checks it is a kanmon store; with it, a
/// handle on the file for its size (which stays right if the file is renamed).
///
/// Implementation note: redb trusts a file that was closed cleanly and may panic on one
/// altered since; checking integrity on every open (reading every page's checksum, about
/// 50 ms for a million tokens) turns that into [`StoreError::Corrupt`]. After a crash redb
/// repairs the file during this open.
pub(super) fn database(path: &Path) -> Result<(Database, File)> {
    let io_failed = |e: io::Error| failed(path, StoreError::Io(e));
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| {
                StoreError::Config(format!(
                    "store.path = {path:?}: cannot create directory {dir:?}: {}",
                    io_reason(&e)
                ))
            })?;
    }
    // Created here rather than by redb, to give it its mode.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_failed)?;
    let db = Builder::new()
        .set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(true)
        .create(path)
        .map_err(|e| failed(path, store_error(e.into())))?;
    schema::prepare(&db).map_err(|e| failed(path, e))?;
    Ok((db, file))
}

/// `error` as the setting's fault: `store.path = "/x/y.redb": permission denied`. Trouble
/// reaching the file is a configuration error; the rest keeps its kind.
pub(super) fn failed(path: &Path, error: StoreError) -> StoreError {
    let at = format!("store.path = {path:?}");
    match error {
        StoreError::Io(e) => StoreError::Config(format!("{at}: {}", io_reason(&e))),
        StoreError::Corrupt(reason) => StoreError::Corrupt(format!("{at}: {reason}")),
        StoreError::Unavailable(reason) => StoreError::Unavailable(format!("{at}: {reason}")),
        StoreError::InUse(reason) => StoreError::InUse(format!("{at}: {reason}")),
        StoreError::Config(reason) => StoreError::Config(format!("{at}: {reason}")),
        other => other,
    }
}

/// An OS error as its kind's lowercase description ("permission denied"), other I/O
/// errors as they say themselves.
fn io_reason(error: &io::Error) -> String {
    if error.raw_os_error().is_some() {
        error.kind().to_string()
    } else {
        error.to_string()
    }
}

/// Rewrites the file at `path` without its free space: how many bytes it had before and
/// has after. The file must not be open (the daemon stopped); a store's pages freed by
/// expiry and relearning are otherwise reused, not returned to the filesystem.
pub fn compact(path: &Path) -> Result<(u64, u64)> {
    let size = |path: &Path| -> Result<u64> {
        Ok(std::fs::metadata(path)
            .map_err(|e| failed(path, StoreError::Io(e)))?
            .len())
    };
    let before = size(path)?;
    let mut db = Builder::new()
        .set_cache_size(CACHE_BYTES)
        .open(path)
        .map_err(|e| failed(path, store_error(e.into())))?;
    while db
        .compact()
        .map_err(|e| failed(path, store_error(e.into())))?
    {}
    drop(db);
    Ok((before, size(path)?))
}
