//! Delivery into a Maildir (the spec: <https://cr.yp.to/proto/maildir.html>) with Maildir++
//! folders (Courier, Dovecot: a folder is `.Name` beside `cur/ new/ tmp/`).
//!
//! One delivery: make the directories that are missing (mode 0700), create `tmp/NAME`
//! exclusively (mode 0600), write the message, fsync it, rename it into `new/NAME`, fsync
//! `new/`. Until the rename nothing is in `new/`, and on any failure the file in `tmp/` is
//! removed, so a reader never sees a partial message. A failure to fsync `new/` after the
//! rename is still reported: the caller then defers, and a retry may deliver a second copy,
//! which is the safe side (a copy too many, never one too few).
//!
//! NAME is `SECONDS.MMICROSPPIDRRANDOM.HOST,S=SIZE`: time, process and 64 random bits make
//! it unique without a lock (the spec's "time.pid.host", with Dovecot's `M`/`P` fields and
//! the `,S=` size Maildir++ quota readers use). In HOST, `/` and `:` are written `\057` and
//! `\072`, as the spec asks.
//!
//! A folder is made a Maildir++ folder: the `maildirfolder` marker file in it, and its name
//! (without the leading dot) a line of the Maildir's `subscriptions` file, so IMAP clients
//! show it. The file is rewritten whole under a temporary name and renamed, so a reader
//! sees the old or the new list, never half of one.

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A Maildir, by its root directory (the INBOX).
#[derive(Debug, Clone)]
pub(crate) struct Maildir {
    root: PathBuf,
}

/// What failed, on which path.
#[derive(Debug)]
pub(crate) struct MaildirError {
    what: &'static str,
    path: PathBuf,
    pub(crate) source: io::Error,
}

impl fmt::Display for MaildirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.what,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for MaildirError {}

fn failed(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MaildirError {
    let path = path.to_path_buf();
    move |source| MaildirError { what, path, source }
}

impl Maildir {
    pub(crate) fn new(root: PathBuf) -> Maildir {
        Maildir { root }
    }

    /// Delivers `head` followed by whatever `rest` still yields, into the INBOX or into
    /// `folder` (a Maildir++ name such as `.Spam`); the path of the file in `new/`.
    pub(crate) fn deliver(
        &self,
        folder: Option<&str>,
        head: &[u8],
        rest: &mut dyn Read,
    ) -> Result<PathBuf, MaildirError> {
        make_maildir(&self.root)?;
        let dir = match folder {
            None => self.root.clone(),
            Some(folder) => {
                let dir = self.root.join(folder);
                make_maildir(&dir)?;
                let marker = dir.join("maildirfolder");
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(&marker)
                    .map_err(failed("create", &marker))?;
                self.subscribe(folder.trim_start_matches('.'))?;
                dir
            }
        };
        let name = unique_name();
        let tmp = dir.join("tmp").join(&name);
        let written = write_synced(&tmp, head, rest);
        let size = match written {
            Ok(size) => size,
            Err(error) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(error);
            }
        };
        let new_dir = dir.join("new");
        let new = new_dir.join(format!("{name},S={size}"));
        if let Err(error) = std::fs::rename(&tmp, &new) {
            let _ = std::fs::remove_file(&tmp);
            return Err(failed("move the message into", &new_dir)(error));
        }
        File::open(&new_dir)
            .and_then(|d| d.sync_all())
            .map_err(failed("sync", &new_dir))?;
        Ok(new)
    }

    /// Adds `name` to the `subscriptions` file unless it is there.
    fn subscribe(&self, name: &str) -> Result<(), MaildirError> {
        let path = self.root.join("subscriptions");
        let old = match std::fs::read(&path) {
            Ok(old) => old,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(failed("read", &path)(e)),
        };
        let listed = old
            .split(|&b| b == b'\n')
            .any(|line| line.strip_suffix(b"\r").unwrap_or(line) == name.as_bytes());
        if listed {
            return Ok(());
        }
        let mut new = old;
        if !new.is_empty() && !new.ends_with(b"\n") {
            new.push(b'\n');
        }
        new.extend_from_slice(name.as_bytes());
        new.push(b'\n');
        let tmp = self
            .root
            .join(format!("subscriptions.{}.tmp", unique_name()));
        let result = write_synced(&tmp, &new, &mut io::empty())
            .and_then(|_| std::fs::rename(&tmp, &path).map_err(failed("replace", &path)));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// `dir` and its `cur/ new/ tmp/`, each made if missing.
fn make_maildir(dir: &Path) -> Result<(), MaildirError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true).mode(0o700);
    for sub in ["cur", "new", "tmp"] {
        let path = dir.join(sub);
        builder.create(&path).map_err(failed("create", &path))?;
    }
    Ok(())
}

/// Creates `path` (it must not exist), writes `head` and the rest of `rest`, fsyncs; the size.
fn write_synced(path: &Path, head: &[u8], rest: &mut dyn Read) -> Result<u64, MaildirError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed("create", path))?;
    file.write_all(head).map_err(failed("write", path))?;
    let copied = io::copy(rest, &mut file).map_err(failed("write", path))?;
    file.sync_all().map_err(failed("sync", path))?;
    Ok(head.len() as u64 + copied)
}

/// A file name no other delivery uses (module doc).
fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // A RandomState is seeded from the OS's random source, a fresh key for each one.
    let random = RandomState::new().hash_one(now.as_nanos());
    format!(
        "{}.M{}P{}R{random:016x}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        host_name()
    )
}

/// This host's name for file names: `/` and `:` escaped as the spec asks.
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    name.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_are_unique_and_follow_the_spec() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        let pid = format!("P{}R", std::process::id());
        assert!(a.contains(&pid), "{a}");
        assert!(!a.contains('/') && !a.contains(':'), "{a}");
        let (secs, _) = a.split_once(".M").unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_700_000_000, "{a}");
    }

    #[test]
    fn delivery_makes_the_maildir_and_leaves_tmp_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("example.org/bob");
        let maildir = Maildir::new(root.clone());
        let path = maildir
            .deliver(None, b"Subject: a\n\n", &mut &b"body\n"[..])
            .unwrap();
        assert_eq!(path.parent().unwrap(), root.join("new"));
        assert!(
            path.to_string_lossy().ends_with(",S=17"),
            "{}",
            path.display()
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: a\n\nbody\n");
        assert!(files(&root.join("tmp")).is_empty());
        assert!(files(&root.join("cur")).is_empty());
        assert!(!root.join("subscriptions").exists());
    }

    #[test]
    fn a_folder_is_maildir_plus_plus_and_subscribed_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("subscriptions"), "Drafts\nSent").unwrap();
        let maildir = Maildir::new(root.clone());
        for _ in 0..2 {
            maildir
                .deliver(Some(".Spam"), b"Subject: spam\n\nx\n", &mut io::empty())
                .unwrap();
        }
        assert_eq!(files(&root.join(".Spam/new")).len(), 2);
        assert!(root.join(".Spam/maildirfolder").is_file());
        assert!(root.join(".Spam/cur").is_dir() && root.join("new").is_dir());
        assert_eq!(
            std::fs::read_to_string(root.join("subscriptions")).unwrap(),
            "Drafts\nSent\nSpam\n"
        );
        assert_eq!(
            files(&root),
            [".Spam", "cur", "new", "subscriptions", "tmp"],
            "no temporary subscriptions file left"
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_in_tmp_or_new() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("the pipe broke"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::new(dir.path().to_path_buf());
        let error = maildir
            .deliver(None, b"Subject: a\n\n", &mut Failing)
            .unwrap_err();
        assert!(error.to_string().starts_with("cannot write "), "{error}");
        assert!(error.to_string().ends_with(": the pipe broke"), "{error}");
        assert!(files(&dir.path().join("tmp")).is_empty());
        assert!(files(&dir.path().join("new")).is_empty());
    }
}
