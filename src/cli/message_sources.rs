//! Where `kanmon learn` finds messages: single files, Maildir folders, directories of
//! message files, and mbox files, as sa-learn takes them (`/mail/*/*/.Spam/cur`).
//!
//! A path is read as:
//! * a directory with `cur/` or `new/` in it: a Maildir folder, the messages of both;
//! * any other directory: each regular, non-hidden file in it (a `cur/` given directly);
//! * a file whose first line starts with `From `: an mbox, split at its `From ` lines,
//!   with mboxrd quoting (`>From `) undone;
//! * any other file: one message.
//!
//! Nothing here stops at a bad message: each one comes with its origin and either its
//! bytes or why it could not be read, so the caller counts and reports.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One message found, or why the place it should be could not be read.
pub(crate) struct Found {
    /// The file, or `mbox:N` for the Nth message of an mbox (from 1).
    pub origin: String,
    pub message: Result<Vec<u8>, String>,
}

/// Hands every message under `paths` to `each`, in order; files larger than `max_bytes`
/// are reported, not read.
pub(crate) fn for_each_message(paths: &[PathBuf], max_bytes: usize, each: &mut dyn FnMut(Found)) {
    for path in paths {
        match fs::metadata(path) {
            Err(e) => each(Found {
                origin: path.display().to_string(),
                message: Err(e.to_string()),
            }),
            Ok(meta) if meta.is_dir() => directory(path, max_bytes, each),
            Ok(_) => file(path, max_bytes, each),
        }
    }
}

fn directory(path: &Path, max_bytes: usize, each: &mut dyn FnMut(Found)) {
    let maildir = ["cur", "new"].map(|sub| path.join(sub));
    if maildir.iter().any(|sub| sub.is_dir()) {
        for sub in maildir.iter().filter(|sub| sub.is_dir()) {
            files_in(sub, max_bytes, each);
        }
    } else {
        files_in(path, max_bytes, each);
    }
}

/// The regular, non-hidden files of `dir`, in name order (so runs are repeatable).
fn files_in(dir: &Path, max_bytes: usize, each: &mut dyn FnMut(Found)) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return each(Found {
                origin: dir.display().to_string(),
                message: Err(e.to_string()),
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        // Symbolic links to messages count, as sa-learn follows them.
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for file_path in files {
        file(&file_path, max_bytes, each);
    }
}

fn file(path: &Path, max_bytes: usize, each: &mut dyn FnMut(Found)) {
    let origin = path.display().to_string();
    let bytes = match read_bounded(path, max_bytes) {
        Ok(bytes) => bytes,
        Err(reason) => {
            return each(Found {
                origin,
                message: Err(reason),
            });
        }
    };
    if bytes.starts_with(b"From ") {
        for (n, message) in split_mbox(&bytes).into_iter().enumerate() {
            each(Found {
                origin: format!("{origin}:{}", n + 1),
                message: Ok(message),
            });
        }
    } else {
        each(Found {
            origin,
            message: Ok(bytes),
        });
    }
}

/// The file's bytes, unless it is a single message over `max_bytes`: that one is refused
/// from its size and first bytes, without being read. An mbox (first line `From `) holds
/// many messages, so it is read whatever its size.
fn read_bounded(path: &Path, max_bytes: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;

    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > max_bytes as u64 {
        let mut start = [0u8; 5];
        let read = file
            .read(&mut start)
            .map_err(|e: io::Error| e.to_string())?;
        if &start[..read] != b"From " {
            return Err(format!(
                "{size} bytes, over limits.max_message_bytes ({max_bytes})"
            ));
        }
        file = fs::File::open(path).map_err(|e| e.to_string())?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// The messages of an mbox: each `From ` line that starts the file or follows an empty
/// line begins one (and is not part of it); `>From `, `>>From `… lose one `>` (mboxrd).
pub(crate) fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            if let Some(mut message) = current.take() {
                trim_separator(&mut message);
                messages.push(message);
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        let Some(message) = current.as_mut() else {
            continue;
        };
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            message.extend_from_slice(&line[1..]);
        } else {
            message.extend_from_slice(line);
        }
    }
    if let Some(mut message) = current {
        trim_separator(&mut message);
        messages.push(message);
    }
    messages
}

/// Drops the empty line mbox puts before the next `From ` line.
fn trim_separator(message: &mut Vec<u8>) {
    if message.ends_with(b"\n\n") {
        message.pop();
    } else if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(paths: &[PathBuf], max: usize) -> Vec<(String, Result<Vec<u8>, String>)> {
        let mut found = Vec::new();
        for_each_message(paths, max, &mut |f| found.push((f.origin, f.message)));
        found
    }

    #[test]
    fn an_mbox_splits_at_from_lines_and_unquotes() {
        let mbox = b"From a@example.org Mon Dec  7 00:00:00 2026\nSubject: one\n\n\
            >From the start\n>>From deeper\nFrom here is not a separator\n\n\
            From b@example.org Mon Dec  7 00:00:01 2026\nSubject: two\n\nbody\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&messages[0]),
            "Subject: one\n\nFrom the start\n>From deeper\nFrom here is not a separator\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&messages[1]),
            "Subject: two\n\nbody\n"
        );
    }

    #[test]
    fn maildirs_directories_files_and_mboxes_are_all_read() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        fs::write(maildir.join("cur/1.host:2,S"), "Subject: a\n\nx\n").unwrap();
        fs::write(maildir.join("new/2.host"), "Subject: b\n\nx\n").unwrap();
        fs::write(maildir.join("tmp/3.host"), "Subject: partial\n").unwrap();
        fs::write(maildir.join("cur/.hidden"), "x").unwrap();
        std::os::unix::fs::symlink(maildir.join("new/2.host"), maildir.join("cur/3.link")).unwrap();
        let plain = dir.path().join("one.eml");
        fs::write(&plain, "Subject: c\n\nx\n").unwrap();
        let mbox = dir.path().join("box");
        fs::write(
            &mbox,
            "From x Mon\nSubject: d\n\n\nFrom y Tue\nSubject: e\n\n",
        )
        .unwrap();
        let big = dir.path().join("big.eml");
        fs::write(&big, vec![b'a'; 100]).unwrap();
        let missing = dir.path().join("missing");

        let found = collect(
            &[
                maildir.clone(),
                maildir.join("cur"),
                plain,
                mbox,
                big,
                missing,
            ],
            50,
        );
        let origins: Vec<String> = found
            .iter()
            .map(|(o, _)| {
                o.strip_prefix(&dir.path().display().to_string())
                    .unwrap_or(o)
                    .to_owned()
            })
            .collect();
        assert_eq!(
            origins,
            [
                "/Maildir/cur/1.host:2,S",
                "/Maildir/cur/3.link",
                "/Maildir/new/2.host",
                "/Maildir/cur/1.host:2,S",
                "/Maildir/cur/3.link",
                "/one.eml",
                "/box:1",
                "/box:2",
                "/big.eml",
                "/missing"
            ]
        );
        // Writers end every message with the separator line, the last one too.
        assert_eq!(found[7].1.as_deref().unwrap(), b"Subject: e\n");
        assert!(
            found[8]
                .1
                .as_ref()
                .unwrap_err()
                .contains("over limits.max_message_bytes")
        );
        assert!(found[9].1.is_err());
    }
}
