//! Giving up root: kanmon opens its sockets as root (a unix socket under
//! /var/spool/postfix, a port below 1024 if asked), then runs as `server.user` for good.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;

use nix::unistd::{Gid, Group, Uid, User, setgid, setgroups, setuid};

/// The account the daemon runs as.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub(crate) name: String,
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
}

/// Makes the directory of the embedded store's file, when it does not exist yet, and gives
/// it to `user`: the daemon opens the file only after giving up root, and a directory root
/// just made (`./var` beside a checkout, say) would otherwise be closed to it. A directory
/// that exists is left as it is; if `user` cannot write there, opening the store says so
/// and names `store.path`.
pub(crate) fn prepare_store_dir(
    path: &std::path::Path,
    user: &RunAs,
) -> Result<(), PrivilegeError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| PrivilegeError::StoreDir(dir.display().to_string(), e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(io)?;
    std::os::unix::fs::chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io)
}

/// Why privileges could not be dropped; each says what to do.
#[derive(Debug)]
pub(crate) enum PrivilegeError {
    /// Started as root with `server.user` empty.
    NoUser,
    /// The configured user does not exist.
    UnknownUser(String),
    /// The configured socket group does not exist.
    UnknownGroup(String),
    /// A system call failed.
    Call(&'static str, nix::Error),
    /// The embedded store's directory could not be made for the daemon's user.
    StoreDir(String, std::io::Error),
}

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivilegeError::NoUser => f.write_str(
                "started as root but server.user is empty; kanmon does not run as root: set server.user to an unprivileged user",
            ),
            PrivilegeError::UnknownUser(name) => write!(
                f,
                "server.user: there is no user {name:?} on this system; create it (adduser --system --group {name}) or name another"
            ),
            PrivilegeError::UnknownGroup(name) => {
                write!(f, "socket_group: there is no group {name:?} on this system")
            }
            PrivilegeError::Call(call, e) => write!(f, "{call} failed: {e}"),
            PrivilegeError::StoreDir(dir, e) => {
                write!(f, "store.path: cannot make the directory {dir}: {e}")
            }
        }
    }
}

impl std::error::Error for PrivilegeError {}

/// Whether the process runs as root, and so must switch users.
pub(crate) fn is_root() -> bool {
    Uid::effective().is_root()
}

/// The account `server.user` names.
pub(crate) fn lookup_user(name: Option<&str>) -> Result<RunAs, PrivilegeError> {
    let name = name.ok_or(PrivilegeError::NoUser)?;
    let user = User::from_name(name)
        .map_err(|e| PrivilegeError::Call("getpwnam", e))?
        .ok_or_else(|| PrivilegeError::UnknownUser(name.to_owned()))?;
    Ok(RunAs {
        name: name.to_owned(),
        uid: user.uid,
        gid: user.gid,
    })
}

/// A group's id by name.
pub(crate) fn lookup_group(name: &str) -> Result<Gid, PrivilegeError> {
    Group::from_name(name)
        .map_err(|e| PrivilegeError::Call("getgrnam", e))?
        .map(|g| g.gid)
        .ok_or_else(|| PrivilegeError::UnknownGroup(name.to_owned()))
}

/// Becomes `user` for good: supplementary groups cleared, then group, then user (the order
/// that leaves no way back), checked afterwards. Must run before any other thread starts,
/// so every thread of the process has the new identity.
pub(crate) fn become_user(user: &RunAs) -> Result<(), PrivilegeError> {
    setgroups(&[user.gid]).map_err(|e| PrivilegeError::Call("setgroups", e))?;
    setgid(user.gid).map_err(|e| PrivilegeError::Call("setgid", e))?;
    setuid(user.uid).map_err(|e| PrivilegeError::Call("setuid", e))?;
    if setuid(Uid::from_raw(0)).is_ok() || Uid::effective().is_root() {
        return Err(PrivilegeError::Call(
            "setuid",
            nix::Error::EPERM, // root could be regained: refuse to go on
        ));
    }
    Ok(())
}
