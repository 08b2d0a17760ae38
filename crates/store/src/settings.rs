//! What `[store]` in the config says, in the store's own terms (kanmon-core parses the TOML).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an installed kanmon keeps its file: used when this directory exists.
pub const SYSTEM_DIR: &str = "/var/lib/kanmon";

/// The file name in [`SYSTEM_DIR`] or `./var/`.
pub const FILE_NAME: &str = "kanmon.redb";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    Redis,
    Memory,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Redis => "redis",
            BackendKind::Memory => "memory",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub backend: BackendKind,
    /// The embedded store's file.
    pub path: PathBuf,
    /// `redis://[user:password@]host[:port][/db]`, `rediss://...`, `redis+unix:///path`
    /// or `unix:///path`.
    pub url: String,
    /// Prepended to every Redis key, so several deployments can share one server.
    pub prefix: String,
    /// Longest a store call may take before it fails (and the caller degrades).
    pub timeout: Duration,
    /// Longest a connection attempt to the server may take.
    pub connect_timeout: Duration,
}

impl StoreSettings {
    /// Where a daemon holding the embedded file serves it to kanmon's own tools: beside the
    /// file, `kanmon.sock` for `kanmon.redb`.
    pub fn socket_path(&self) -> PathBuf {
        self.path.with_extension("sock")
    }
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            backend: BackendKind::Embedded,
            path: default_path(Path::new(SYSTEM_DIR)),
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "kanmon".to_owned(),
            timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

/// `SYSTEM_DIR/kanmon.redb` when that directory exists (a package or the admin made it, for
/// the user kanmon runs as), else `./var/kanmon.redb`: run from a checkout, unprivileged,
/// kanmon keeps its state beside it.
pub fn default_path(system_dir: &Path) -> PathBuf {
    if system_dir.is_dir() {
        system_dir.join(FILE_NAME)
    } else {
        Path::new("var").join(FILE_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_path_follows_the_system_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_path(dir.path()), dir.path().join(FILE_NAME));
        assert_eq!(
            default_path(&dir.path().join("missing")),
            PathBuf::from("var/kanmon.redb")
        );
    }
}
