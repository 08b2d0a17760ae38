//! kanmon in front of a real Postfix: `kanmon serve` as milter and policy server of a private
//! Postfix instance, mail sent with swaks, results read from the delivered Maildir files.
//!
//! Each test starts its own pieces, all on loopback with ports picked free at run time, so the
//! tests run in parallel with each other and with the rest of the binary:
//! * a [`Dns`] server (kanmon-testdns) answering from `testdata/postfix/zone.txt`;
//! * a [`Kanmon`] daemon (`kanmon serve --config FILE`, dropping privileges to `nobody`);
//! * a [`Postfix`] instance from `testdata/postfix/{main,master}.cf.in` (own config, queue
//!   and Maildirs in a temporary directory; `postfix -c DIR start`, stopped on drop), whose
//!   `smtpd_milters`, `check_policy_service` and `milter_default_action` point at the daemon;
//! * the client, swaks, connecting from 127.0.0.11 (not in Postfix's `mynetworks` nor in
//!   kanmon's `internal_hosts`, which are 127.0.0.10/32).
//!
//! Postfix needs root (it is started as root and drops to its own users), the `postfix` and
//! `swaks` commands, and Debian's `/usr/bin/python3` with python3-dkim for signing;
//! `scripts/test` installs them. A failing test prints the tail of Postfix's log and the
//! daemon's stderr.

mod daemon;
mod deliver;
mod greylist;
mod instance;
mod lifecycle;
mod milter;
mod policy;
mod sasl;
mod signing;
mod smoke;
mod smtp;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kanmon_testdns::{DnsServer, parse_zone};

pub(crate) use daemon::{Kanmon, Settings};
pub(crate) use instance::{Filters, Postfix};

/// Where the templates, the zone and the signer live.
fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/postfix")
        .join(name)
}

/// The zone every test serves (`testdata/postfix/zone.txt`).
fn zone() -> String {
    let path = testdata("zone.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails at once, with the reason, where Postfix cannot be run at all.
fn require_postfix() {
    // /proc/self belongs to the effective user of this process.
    let uid = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    assert_eq!(
        uid, 0,
        "the Postfix end-to-end tests start a private Postfix and need root (scripts/test \
         runs them in CI; see README \"Running the Postfix end-to-end tests alone\")"
    );
    for tool in ["/usr/sbin/postfix", "/usr/bin/swaks"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: apt-get install postfix swaks python3-dkim (scripts/test does)"
        );
    }
}

/// A loopback TCP port free right now (bound, then released for the server to take).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("bound address").port()
}

/// Waits until something accepts connections on `port`; `alive` is asked between tries and
/// may panic with the reason the server is gone.
fn wait_for_port(port: u16, what: &str, mut alive: impl FnMut()) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        alive();
        assert!(Instant::now() < deadline, "{what} never listened on {addr}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A DNS server on loopback serving [`zone`], on its own runtime until dropped.
pub(crate) struct Dns {
    addr: SocketAddr,
    _server: DnsServer,
    _runtime: tokio::runtime::Runtime,
}

impl Dns {
    fn start() -> Dns {
        let zone = parse_zone(&zone()).unwrap_or_else(|e| panic!("zone.txt: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime.block_on(DnsServer::start());
        server.set_zone(zone);
        Dns {
            addr: server.addr,
            _server: server,
            _runtime: runtime,
        }
    }
}

/// The three pieces of one test: DNS, kanmon (milter and/or policy server) and Postfix
/// pointed at it. Dropped in reverse order: Postfix first.
pub(crate) struct Stack {
    pub(crate) postfix: Postfix,
    pub(crate) kanmon: Kanmon,
    _dns: Dns,
}

impl Stack {
    /// kanmon with `settings`, and a Postfix using whichever of its milter and policy
    /// listeners `settings` turns on, with `milter_default_action` `default_action`.
    pub(crate) fn start(settings: Settings, default_action: &str) -> Stack {
        require_postfix();
        let dns = Dns::start();
        let kanmon = Kanmon::start(&dns, settings);
        let filters = Filters {
            milter: kanmon.milter_port().map(|p| format!("inet:127.0.0.1:{p}")),
            policy: kanmon.policy_port().map(|p| format!("inet:127.0.0.1:{p}")),
            default_action: default_action.to_owned(),
            deliver: None,
        };
        let postfix = Postfix::start(&filters);
        Stack {
            postfix,
            kanmon,
            _dns: dns,
        }
    }
}
