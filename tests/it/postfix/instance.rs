//! A private Postfix instance: config, queue, Maildirs and log under one temporary directory,
//! smtpd on 127.0.0.1:<free port>, delivery of `kanmon.test` by virtual(8), no relaying.
//!
//! Implementation notes (Postfix 3.7, Debian):
//! * `postfix -c DIR start` needs the queue directory to exist (root-owned) and the data
//!   directory owned by `postfix`; it creates the queue's subdirectories itself.
//! * `maillog_file` must sit under `maillog_file_prefixes`, or Postfix exits at start without
//!   a word; the template sets both to the temporary directory.
//! * virtual(8) refuses uid 0 (`virtual_minimum_uid`), so mail is delivered as `nobody`, and
//!   the temporary directory is made traversable (tempfile creates it 0700).
//! * Stopping is `postfix stop`'s own recipe (SIGTERM to the master's pid from
//!   `spool/pid/master.pid`, SIGKILL to its process group after 5 s) without the script's
//!   one-second polling, so no instance outlives its test and no test waits for nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, testdata, wait_for_port};

/// `nobody`/`nogroup` on Debian: virtual(8) delivers as this user, kanmon drops to it.
const NOBODY: u32 = 65534;

/// The mailboxes of `kanmon.test`; any other local part lands in `other`.
const MAILBOXES: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "warmup"];

/// What Postfix is told about kanmon.
pub(crate) struct Filters {
    /// `smtpd_milters` (and `non_smtpd_milters`), e.g. `inet:127.0.0.1:PORT`.
    pub(crate) milter: Option<String>,
    /// A `check_policy_service` target, e.g. `inet:127.0.0.1:PORT`.
    pub(crate) policy: Option<String>,
    /// `milter_default_action`: `accept` or `tempfail`.
    pub(crate) default_action: String,
    /// The `argv=` of a pipe(8) transport (`flags=R user=nobody`, one recipient per
    /// delivery) that mail for [`DELIVER_DOMAIN`] is routed to, e.g. `kanmon deliver …`.
    pub(crate) deliver: Option<String>,
}

/// The domain a pipe transport delivers when [`Filters::deliver`] is set (a relay domain
/// with a transport_maps entry).
pub(crate) const DELIVER_DOMAIN: &str = "deliver.kanmon.test";

impl Filters {
    /// Plain Postfix: no milter, no policy server.
    pub(crate) fn none() -> Filters {
        Filters {
            milter: None,
            policy: None,
            default_action: "accept".to_owned(),
            deliver: None,
        }
    }
}

/// A running instance; stopped on drop.
pub(crate) struct Postfix {
    dir: tempfile::TempDir,
    pub(crate) port: u16,
}

impl Postfix {
    pub(crate) fn start(filters: &Filters) -> Postfix {
        Postfix::start_with(filters, "")
    }

    /// As [`Postfix::start`], with `extra_main` lines appended to main.cf.
    pub(crate) fn start_with(filters: &Filters, extra_main: &str) -> Postfix {
        super::require_postfix();
        let dir = tempfile::Builder::new()
            .prefix("kanmon-postfix-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for sub in ["etc", "spool", "data", "mail"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
        }
        std::os::unix::fs::chown(root.join("mail"), Some(NOBODY), Some(NOBODY))
            .expect("chown mail");
        let postfix_uid = user_id("postfix");
        std::os::unix::fs::chown(root.join("data"), Some(postfix_uid), None).expect("chown data");

        let port = free_port();
        let restrictions = match &filters.policy {
            Some(policy) => format!(
                "permit_mynetworks, reject_unauth_destination, check_policy_service {policy}"
            ),
            None => "permit_mynetworks, reject_unauth_destination".to_owned(),
        };
        let milter = filters.milter.clone().unwrap_or_default();
        let mut main = render(
            "main.cf.in",
            &[
                ("DIR", root.to_str().expect("utf-8 temp path")),
                ("UID", &NOBODY.to_string()),
                ("GID", &NOBODY.to_string()),
                ("RECIPIENT_RESTRICTIONS", &restrictions),
                ("SMTPD_MILTERS", &milter),
                ("NON_SMTPD_MILTERS", &milter),
                ("MILTER_DEFAULT_ACTION", &filters.default_action),
            ],
        );
        let mut master = render("master.cf.in", &[("LISTEN", &format!("127.0.0.1:{port}"))]);
        let mut etc_files = vec!["main.cf", "master.cf", "vmailbox"];
        if let Some(argv) = &filters.deliver {
            main.push_str(&format!(
                "relay_domains = {DELIVER_DOMAIN}\n\
                 transport_maps = texthash:{}/etc/transport\n\
                 kanmon-deliver_destination_recipient_limit = 1\n",
                root.display()
            ));
            master.push_str(&format!(
                "kanmon-deliver unix -  n       n       -       -       pipe\n  \
                 flags=R user=nobody argv={argv}\n"
            ));
            std::fs::write(
                root.join("etc/transport"),
                format!("{DELIVER_DOMAIN} kanmon-deliver:\n"),
            )
            .expect("write transport");
            etc_files.push("transport");
        }
        main.push_str(extra_main);
        std::fs::write(root.join("etc/main.cf"), main).expect("write main.cf");
        std::fs::write(root.join("etc/master.cf"), master).expect("write master.cf");
        let mut boxes: String = MAILBOXES
            .iter()
            .map(|m| format!("{m}@kanmon.test {m}/\n"))
            .collect();
        boxes.push_str("@kanmon.test other/\n");
        std::fs::write(root.join("etc/vmailbox"), boxes).expect("write vmailbox");
        // Postfix will not read a file modified this very second (it could still be being
        // written): it re-reads it every 300 ms until it is old enough, which made every
        // start 2.4 s slower. The files are complete, so they get an mtime in the past.
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        for name in etc_files {
            std::fs::File::options()
                .write(true)
                .open(root.join("etc").join(name))
                .and_then(|f| f.set_modified(past))
                .expect("set mtime");
        }

        let postfix = Postfix { dir, port };
        let out = postfix.command("start");
        assert!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            postfix.log_tail(),
        );
        wait_for_port(port, "Postfix smtpd", || {});
        postfix
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn command(&self, action: &str) -> std::process::Output {
        Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.etc())
            .arg(action)
            .output()
            .expect("run postfix")
    }

    /// The Maildir `new/` of a mailbox.
    fn new_dir(&self, mailbox: &str) -> PathBuf {
        self.dir.path().join("mail").join(mailbox).join("new")
    }

    /// The messages delivered to `mailbox` so far, oldest first.
    pub(crate) fn delivered(&self, mailbox: &str) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.new_dir(mailbox)) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| {
                let modified = e.metadata().and_then(|m| m.modified()).expect("mtime");
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| std::fs::read(&path).expect("read delivered file"))
            .collect()
    }

    /// Waits (up to 20 s) until `count` messages are in `mailbox`, and returns them.
    pub(crate) fn wait_delivered(&self, mailbox: &str, count: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let messages = self.delivered(mailbox);
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages delivered to {mailbox}\n{}",
                messages.len(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of Postfix's log.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- Postfix log ({}), last lines:\n{}",
            self.dir.path().join("maillog").display(),
            lines[start..].join("\n")
        )
    }

    /// The whole log (for assertions on what Postfix logged).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.dir.path().join("spool/pid/master.pid")).ok()?;
        Some(pid.trim().to_owned())
    }
}

impl Drop for Postfix {
    /// What `postfix stop` does (SIGTERM to the master, which passes it on to its process
    /// group), without its one-second polling: this is on every test's path.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        let Some(pid) = self.master_pid() else {
            return;
        };
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(&pid) {
            if Instant::now() > deadline {
                // As `postfix stop` does after 5 s: the whole process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .status();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a process exists and is not a zombie (a daemon's parent is init, which may be
/// slow to reap it, or not reap it at all in a container).
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// A template of `testdata/postfix/` with its `@NAME@` placeholders filled in.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let path = testdata(template);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    assert!(
        !text.contains("@DIR@") && !text.contains("@LISTEN@"),
        "unfilled placeholder in {template}"
    );
    text
}

/// The uid of a system user (`id -u NAME`).
fn user_id(name: &str) -> u32 {
    let out = Command::new("id")
        .args(["-u", name])
        .output()
        .expect("run id");
    assert!(out.status.success(), "no user {name}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric uid")
}
