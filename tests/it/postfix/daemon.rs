//! `kanmon serve` as Postfix runs it: in the foreground, logging to stderr (kept in a file for
//! the test to read and to print on failure), listening on ports picked once, so that a
//! restarted daemon comes back where Postfix expects it.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Dns, free_port, wait_for_port};

/// What the daemon is configured with; the rest is the default configuration.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Serve the milter protocol (otherwise `[milter] listen = ""`).
    pub(crate) milter: bool,
    /// Serve the policy protocol (otherwise `[policy] listen = ""`).
    pub(crate) policy: bool,
    pub(crate) spf: &'static str,
    pub(crate) dkim: &'static str,
    pub(crate) dmarc: &'static str,
    pub(crate) on_error: &'static str,
    /// More configuration, whole tables (e.g. `[greylist]`), appended to the file.
    pub(crate) extra: &'static str,
}

impl Settings {
    /// The milter only, every check in `tag` mode.
    pub(crate) fn milter() -> Settings {
        Settings {
            milter: true,
            policy: false,
            spf: "tag",
            dkim: "tag",
            dmarc: "tag",
            on_error: "accept",
            extra: "",
        }
    }

    /// The policy server only (the milter listener disabled).
    pub(crate) fn policy() -> Settings {
        Settings {
            milter: false,
            policy: true,
            ..Settings::milter()
        }
    }

    /// Milter and policy server together, as a production set-up runs them.
    pub(crate) fn both() -> Settings {
        Settings {
            milter: true,
            policy: true,
            ..Settings::milter()
        }
    }

    pub(crate) fn spf(self, mode: &'static str) -> Settings {
        Settings { spf: mode, ..self }
    }

    /// With `extra` configuration tables appended.
    pub(crate) fn with(self, extra: &'static str) -> Settings {
        Settings { extra, ..self }
    }

    pub(crate) fn dmarc(self, mode: &'static str) -> Settings {
        Settings {
            dmarc: mode,
            ..self
        }
    }
}

/// A `kanmon serve` process (restartable); killed on drop.
pub(crate) struct Kanmon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    milter_port: Option<u16>,
    policy_port: Option<u16>,
    dns: SocketAddr,
}

impl Kanmon {
    /// Writes the configuration and starts the daemon; returns once its listeners accept.
    pub(crate) fn start(dns: &Dns, settings: Settings) -> Kanmon {
        let dir = tempfile::Builder::new()
            .prefix("kanmon-serve-")
            .tempdir()
            .expect("temp dir");
        // Readable by `nobody`, whom the daemon becomes, for a reload after the drop.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let milter_port = settings.milter.then(free_port);
        let policy_port = settings.policy.then(free_port);
        let mut kanmon = Kanmon {
            dir,
            child: None,
            milter_port,
            policy_port,
            dns: dns.addr,
        };
        kanmon.write_config(&settings);
        kanmon.spawn();
        kanmon
    }

    /// Writes `kanmon.toml` for `settings` (read at the next start or SIGHUP).
    pub(crate) fn write_config(&self, settings: &Settings) {
        let listen = |port: Option<u16>| match port {
            Some(port) => format!("inet:127.0.0.1:{port}"),
            None => String::new(),
        };
        let config = format!(
            "authserv_id = \"mx.kanmon.test\"\n\
             internal_hosts = [\"127.0.0.10/32\"]\n\
             on_error = \"{on_error}\"\n\
             \n\
             [dns]\n\
             nameservers = [\"{dns}\"]\n\
             timeout_ms = 2000\n\
             cache_size = 0\n\
             \n\
             [milter]\n\
             listen = \"{milter}\"\n\
             \n\
             [policy]\n\
             listen = \"{policy}\"\n\
             \n\
             [server]\n\
             user = \"nobody\"\n\
             \n\
             [http]\n\
             listen = \"\"\n\
             \n\
             [store]\n\
             backend = \"memory\"\n\
             \n\
             [spf]\n\
             mode = \"{spf}\"\n\
             \n\
             [dkim]\n\
             mode = \"{dkim}\"\n\
             \n\
             [dmarc]\n\
             mode = \"{dmarc}\"\n\
             \n\
             {extra}\n",
            on_error = settings.on_error,
            dns = self.dns,
            milter = listen(self.milter_port),
            policy = listen(self.policy_port),
            spf = settings.spf,
            dkim = settings.dkim,
            dmarc = settings.dmarc,
            extra = settings.extra,
        );
        std::fs::write(self.dir.path().join("kanmon.toml"), config).expect("write config");
    }

    pub(crate) fn milter_port(&self) -> Option<u16> {
        self.milter_port
    }

    pub(crate) fn policy_port(&self) -> Option<u16> {
        self.policy_port
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Starts the process (again) with the same configuration and ports.
    pub(crate) fn spawn(&mut self) {
        assert!(self.child.is_none(), "kanmon is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("kanmon.toml"))
            .env_remove("KANMON_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start kanmon serve");
        self.child = Some(child);
        for (port, what) in [
            (self.milter_port, "kanmon milter"),
            (self.policy_port, "kanmon policy server"),
        ] {
            if let Some(port) = port {
                wait_for_port(port, what, || self.assert_running());
            }
        }
    }

    pub(crate) fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("kanmon was started");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("kanmon serve exited ({status}):\n{}", self.stderr());
        }
    }

    /// SIGKILL, as a crash would; returns once the process is gone.
    pub(crate) fn kill(&mut self) {
        let mut child = self.child.take().expect("kanmon is running");
        child.kill().expect("kill kanmon");
        child.wait().expect("reap kanmon");
    }

    /// SIGTERM; returns how the process ended (it must end within 10 s).
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("kanmon is running");
        signal(&child, "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kanmon did not exit within 10 s of SIGTERM:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGHUP: reload the configuration.
    pub(crate) fn reload(&mut self) {
        signal(self.child.as_ref().expect("kanmon is running"), "HUP");
    }

    /// Everything the daemon wrote to stderr so far (over all its runs).
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Kanmon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let stderr = self.stderr();
            let lines: Vec<&str> = stderr.lines().collect();
            let start = lines.len().saturating_sub(40);
            eprintln!(
                "--- kanmon serve stderr, last lines:\n{}",
                lines[start..].join("\n")
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `SIG<name>` to the child (there is no safe signal API in std, and the crate forbids
/// unsafe code).
fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}
