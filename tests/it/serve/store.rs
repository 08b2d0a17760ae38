//! `kanmon serve` and its store: the embedded file is opened at start, in a directory made
//! for the daemon's user when it is started as root.

use std::os::unix::fs::MetadataExt;

use super::{Daemon, dns};

/// The uid of `name` in /etc/passwd.
fn uid_of(name: &str) -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name)).then(|| fields[2].parse().expect("uid"))
        })
        .unwrap_or_else(|| panic!("no user {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_is_opened_as_the_daemons_user() {
    let dns = dns().await;
    let state = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        state.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod temp dir");
    let path = state.path().join("var").join("kanmon.redb");
    let daemon = Daemon::start(
        dns.addr,
        &format!("[store]\npath = \"{}\"\n", path.display()),
    )
    .await;
    daemon.wait_log("store opened").await;
    let file = std::fs::metadata(&path).expect("the store's file exists");
    assert_eq!(file.mode() & 0o077, 0, "private to the daemon's user");
    let started_as_root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
    if started_as_root {
        let nobody = uid_of("nobody");
        assert_eq!(file.uid(), nobody, "the file belongs to server.user");
        let dir = std::fs::metadata(path.parent().expect("dir")).expect("dir");
        assert_eq!(
            dir.uid(),
            nobody,
            "the directory root made belongs to server.user"
        );
    }
}
