//! `kanmon deliver`: ham into the Maildir's `new/`, spam into `.Spam/new/` (a Maildir++
//! folder, subscribed), and exit 75 with nothing in `new/` when the Maildir cannot take
//! the message: permission denied, a full file system (a 64 KiB tmpfs), a file size limit.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

const SPAM_RULE: &str = "[[sender_rules]]\ndomain = \"spam.test\"\nscore = 20.0\n";
const ZONE: &str = "mx.sender.example  A  203.0.113.5\n";

const HAM: &[u8] = b"From: alice@sender.example\nTo: bob@example.org\nSubject: lunch\n\nFriday?\n";
const SPAM: &[u8] = b"From: x@spam.test\nTo: bob@example.org\nSubject: win\n\nclick\n";

fn deliver_command(kanmon: &Kanmon, maildir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command
        .arg("deliver")
        .arg("--config")
        .arg(&kanmon.config)
        .arg("--maildir")
        .arg(maildir.join("%d/%u"))
        .args(["--user", "bob", "--domain", "example.org"])
        .args(args);
    command
}

fn deliver(kanmon: &Kanmon, maildir: &Path, args: &[&str], message: &[u8]) -> Piped {
    piped(deliver_command(kanmon, maildir, args), message)
}

/// The files in a directory, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn ham_goes_to_new_and_spam_to_the_spam_folder() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, SPAM_RULE);
    let mail = kanmon.path("mail");
    let run = deliver(&kanmon, &mail, &["--from", "alice@sender.example"], HAM);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!((run.stdout.as_slice(), run.stderr.as_str()), (&b""[..], ""));
    let bob = mail.join("example.org/bob");
    let inbox = files(&bob.join("new"));
    assert_eq!(inbox.len(), 1);
    let delivered = std::fs::read_to_string(&inbox[0]).expect("read delivered");
    assert!(
        delivered.starts_with("X-Spam-Checker-Version: kanmon"),
        "{delivered}"
    );
    assert!(
        delivered.contains("X-Spam-Status: No, score=0.0"),
        "{delivered}"
    );
    assert!(delivered.ends_with(
        "\nFrom: alice@sender.example\nTo: bob@example.org\nSubject: lunch\n\nFriday?\n"
    ));
    let mode = std::fs::metadata(&inbox[0]).expect("stat").mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!bob.join(".Spam").exists());

    let run = deliver(&kanmon, &mail, &["--from", "x@spam.test"], SPAM);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let spam = files(&bob.join(".Spam/new"));
    assert_eq!(spam.len(), 1);
    let delivered = std::fs::read_to_string(&spam[0]).expect("read delivered");
    assert!(delivered.contains("\nX-Spam-Flag: YES\n"), "{delivered}");
    assert!(bob.join(".Spam/maildirfolder").is_file());
    assert_eq!(
        std::fs::read_to_string(bob.join("subscriptions")).expect("subscriptions"),
        "Spam\n"
    );
    assert_eq!(
        files(&bob.join("new")).len(),
        1,
        "the INBOX got nothing more"
    );
    assert!(files(&bob.join("tmp")).is_empty() && files(&bob.join(".Spam/tmp")).is_empty());
}

#[test]
fn a_trusted_verdict_is_filed_as_it_says_unless_rescan() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let mail = kanmon.path("mail");
    let v = env!("CARGO_PKG_VERSION");
    // What the kanmon milter wrote at SMTP time: spam, although the text alone is harmless.
    let marked = format!(
        "Authentication-Results: mx.example.org; spf=fail smtp.mailfrom=alice@sender.example\n\
X-Spam-Checker-Version: kanmon {v} on mx.example.org\n\
X-Spam-Flag: YES\n\
X-Spam-Status: Yes, score=9.0 required=6.0 tests=SPF_FAIL autolearn=disabled\n\
\tversion={v}\n"
    )
    .into_bytes();
    let message = [marked.as_slice(), HAM].concat();
    let run = deliver(&kanmon, &mail, &[], &message);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let spam = files(&mail.join("example.org/bob/.Spam/new"));
    assert_eq!(spam.len(), 1);
    assert_eq!(
        std::fs::read(&spam[0]).expect("read"),
        message,
        "filed as it came"
    );

    let run = deliver(&kanmon, &mail, &["--rescan"], &message);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let inbox = files(&mail.join("example.org/bob/new"));
    assert_eq!(inbox.len(), 1, "rescanned: ham");
    let delivered = std::fs::read_to_string(&inbox[0]).expect("read");
    assert_eq!(
        delivered.matches("X-Spam-Status:").count(),
        1,
        "{delivered}"
    );
}

#[test]
fn a_maildir_it_may_not_write_gives_75_and_no_file() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let mail = kanmon.path("mail");
    let bob = mail.join("example.org/bob");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(bob.join(sub)).expect("mkdir");
    }
    let mut command = deliver_command(&kanmon, &mail, &[]);
    if is_root() {
        // Root writes anywhere: deliver as `nobody`, as pipe(8)'s user= would, into a
        // Maildir that belongs to root.
        let mut as_nobody = Command::new("setpriv");
        as_nobody
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(command.get_program())
            .args(command.get_args());
        command = as_nobody;
        let config_dir = kanmon.config.parent().expect("config dir");
        std::fs::set_permissions(config_dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    } else {
        std::fs::set_permissions(bob.join("tmp"), std::fs::Permissions::from_mode(0o555))
            .expect("chmod");
    }
    let run = piped(command, HAM);
    assert_eq!(run.code, Some(75), "{run:#?}");
    assert!(
        run.stderr.starts_with("kanmon deliver: cannot create "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .trim_end()
            .ends_with("Permission denied (os error 13)"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(files(&bob.join("new")).is_empty());
    assert!(files(&bob.join("tmp")).is_empty());
}

#[test]
fn a_full_file_system_gives_75_and_leaves_no_partial_file() {
    assert!(
        is_root(),
        "mounting a small tmpfs needs root (it is root in CI)"
    );
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let mail = kanmon.path("mail");
    std::fs::create_dir_all(&mail).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "kanmon-test"])
        .arg(&mail)
        .status()
        .expect("run mount");
    assert!(
        mounted.success(),
        "mount a 64 KiB tmpfs on {}",
        mail.display()
    );
    let _unmount = Unmount(mail.clone());
    let mut message = b"Subject: large\n\n".to_vec();
    message.extend(std::iter::repeat_n(b"0123456789abcdef\n".as_slice(), 12_000).flatten());
    let run = deliver(&kanmon, &mail, &[], &message);
    assert_eq!(run.code, Some(75), "{run:#?}");
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    let bob = mail.join("example.org/bob");
    assert!(files(&bob.join("new")).is_empty());
    assert!(
        files(&bob.join("tmp")).is_empty(),
        "the partial file is removed"
    );
}

#[test]
fn a_file_size_limit_gives_75_not_a_killed_process() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let mail = kanmon.path("mail");
    let inner = deliver_command(&kanmon, &mail, &[]);
    // `ulimit -f 8`: 8 blocks of 1024 bytes (POSIX sh), far below the message.
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -f 8 && exec \"$@\"", "sh"])
        .arg(inner.get_program())
        .args(inner.get_args());
    let mut message = b"Subject: large\n\n".to_vec();
    message.extend(std::iter::repeat_n(b"0123456789abcdef\n".as_slice(), 2_000).flatten());
    let run = piped(command, &message);
    assert_eq!(run.code, Some(75), "{run:#?}");
    assert!(run.stderr.contains("File too large"), "{}", run.stderr);
    let bob = mail.join("example.org/bob");
    assert!(files(&bob.join("new")).is_empty());
    assert!(files(&bob.join("tmp")).is_empty());
}

#[test]
fn bad_arguments_are_permanent() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let mail = kanmon.path("mail");
    let run = deliver(&kanmon, &mail, &["--spam-folder", "Spam"], HAM);
    assert_eq!(run.code, Some(64), "{run:#?}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command
        .args(["deliver", "--maildir"])
        .arg(mail.join("%d/%u"))
        .args(["--user", "../root", "--domain", "example.org"]);
    let run = piped(command, HAM);
    assert_eq!(run.code, Some(67), "{run:#?}");
    assert_eq!(
        run.stderr,
        "kanmon deliver: --user \"../root\" cannot name a mailbox directory\n"
    );
    assert!(!mail.exists());
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0
}

/// Unmounts the test's file system when the test ends, passed or not.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
