//! Outbound DKIM signing through a real Postfix: an authenticated submission (SASL PLAIN via
//! a Dovecot auth server double, [`DovecotAuth`]) and a message from an internal host
//! (127.0.0.10, in `mynetworks` and `internal_hosts`) are dual-signed (RSA + Ed25519) by
//! the milter, and the delivered files verify in kanmon, dkimpy and OpenDKIM under
//! relaxed/relaxed and simple/simple (after a SIGHUP reload); mail from elsewhere is not
//! signed. A key the service user cannot read, or its group may read, stops the start
//! with the commands to run; a reload with a broken key keeps the running keys.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::sasl::DovecotAuth;
use super::smtp::{CLIENT_IP, Mail, values};
use super::{Dns, Filters, Kanmon, Postfix, Settings, free_port, require_postfix};
use crate::dkim_verifiers::{assert_all_pass, test_key};

/// `nobody`, whom the daemon becomes: the keys must be readable by it alone.
const NOBODY: u32 = 65534;
/// In Postfix's `mynetworks` and kanmon's `internal_hosts`.
const INTERNAL_IP: &str = "127.0.0.10";

/// The two TEST-ONLY keys in `dir`, owned by `owner` with `mode`.
fn keys(dir: &Path, owner: u32, mode: u32) -> (PathBuf, PathBuf) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let rsa = test_key(dir, "rsa", mode);
    let ed = test_key(dir, "ed", mode);
    for key in [&rsa, &ed] {
        std::os::unix::fs::chown(key, Some(owner), None).expect("chown key");
    }
    (rsa, ed)
}

/// `[signing]` and the tables dual-signing `*@example.com`.
fn signing_tables(rsa: &Path, ed: &Path, canon: &str) -> String {
    format!(
        "[signing]\ncanonicalization = \"{canon}\"\n\n\
         [[dkim_keys]]\nname = \"rsa\"\ndomain = \"example.com\"\nselector = \"rsa\"\nfile = \"{}\"\n\n\
         [[dkim_keys]]\nname = \"ed\"\ndomain = \"example.com\"\nselector = \"ed\"\nfile = \"{}\"\n\n\
         [[signing_table]]\nfrom = \"*@example.com\"\nkeys = [\"rsa\", \"ed\"]\n",
        rsa.display(),
        ed.display()
    )
}

/// Settings whose `extra` outlives the test (the harness keeps `&'static str`).
fn settings_with(extra: String) -> Settings {
    Settings::milter().with(Box::leak(extra.into_boxed_str()))
}

/// A message from alice@example.com with whitespace simple canonicalisation keeps: a signed
/// field with runs of spaces and a fold, and a body with trailing blanks.
fn note(to: &str) -> Mail {
    let mut mail = Mail::new(
        "alice@example.com",
        to,
        "Alice <alice@example.com>",
        "Reply-To:   Alice   at home\r\n\t <alice@example.com>\r\n",
    );
    mail.append_body(b"  spaced line  \r\n\r\n\r\n");
    mail
}

#[test]
fn authenticated_and_internal_mail_is_dual_signed_inbound_is_not() {
    require_postfix();
    let keys_dir = tempfile::tempdir().expect("temp dir");
    let (rsa, ed) = keys(keys_dir.path(), NOBODY, 0o600);
    let dns = Dns::start();
    let relaxed = signing_tables(&rsa, &ed, "relaxed/relaxed");
    let mut kanmon = Kanmon::start(&dns, settings_with(relaxed));
    let auth = DovecotAuth::start(&["alice@example.com"]);
    let filters = Filters {
        milter: kanmon.milter_port().map(|p| format!("inet:127.0.0.1:{p}")),
        ..Filters::none()
    };
    let postfix = Postfix::start_with(&filters, &auth.main_cf());
    let login = Some(("alice@example.com", "any password"));

    let submitted = note("alice@kanmon.test").send_as(&postfix, CLIENT_IP, login);
    submitted.assert_queued();
    assert!(
        submitted
            .text
            .contains("235 2.7.0 Authentication successful"),
        "{}",
        submitted.text
    );
    note("bob@kanmon.test")
        .send_as(&postfix, INTERNAL_IP, None)
        .assert_queued();
    note("carol@kanmon.test").send(&postfix).assert_queued();
    let line = wait_log_line_in(
        &kanmon,
        "signed=\"d=example.com s=rsa a=rsa-sha256, d=example.com s=ed a=ed25519-sha256\"",
    );
    assert!(line.contains("action=accept"), "{line}");

    // simple/simple after a reload: the fields must reach the queue byte for byte.
    let simple = signing_tables(&rsa, &ed, "simple/simple");
    kanmon.write_config(&settings_with(simple));
    kanmon.reload();
    wait_log_line_in(&kanmon, "configuration reloaded");
    note("dave@kanmon.test")
        .send_as(&postfix, CLIENT_IP, login)
        .assert_queued();
    note("erin@kanmon.test")
        .send_as(&postfix, INTERNAL_IP, None)
        .assert_queued();

    let out = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (mailbox, canon) in [
        ("alice", "relaxed/relaxed"),
        ("bob", "relaxed/relaxed"),
        ("dave", "simple/simple"),
        ("erin", "simple/simple"),
    ] {
        let delivered = postfix.wait_delivered(mailbox, 1).remove(0);
        let signatures = values(&delivered, "DKIM-Signature");
        assert_eq!(
            signatures.len(),
            2,
            "{}",
            String::from_utf8_lossy(&delivered)
        );
        assert!(
            signatures
                .iter()
                .all(|s| s.contains(&format!("c={canon};")))
        );
        let file = out.path().join(format!("{mailbox}.eml"));
        std::fs::write(&file, &delivered).expect("write");
        files.push(file);
    }
    let inbound = postfix.wait_delivered("carol", 1).remove(0);
    assert!(
        values(&inbound, "DKIM-Signature").is_empty(),
        "{}",
        String::from_utf8_lossy(&inbound)
    );
    assert_all_pass(&files, 2);

    // A reload whose key the service user may no longer read safely keeps the running keys.
    std::fs::set_permissions(&rsa, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    kanmon.reload();
    let refused = wait_log_line_in(&kanmon, "reload refused");
    assert!(
        refused.contains(&format!(
            "key file {0} is readable by other users (mode 644); run: chown nobody {0} && chmod 600 {0}",
            rsa.display()
        )),
        "{refused}"
    );
    note("frank@kanmon.test")
        .send_as(&postfix, INTERNAL_IP, None)
        .assert_queued();
    let still = postfix.wait_delivered("frank", 1).remove(0);
    assert_eq!(values(&still, "DKIM-Signature").len(), 2);
}

/// Waits for the daemon's log line holding `needle` (up to 10 s).
fn wait_log_line_in(kanmon: &Kanmon, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = kanmon.stderr().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?}:\n{}",
            kanmon.stderr()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Runs `kanmon serve` with signing keys `(owner, mode)` and returns its stderr once it
/// exited, asserting it did not start.
fn serve_refused(owner: u32, mode: u32) -> (PathBuf, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (rsa, ed) = keys(dir.path(), owner, mode);
    let config = dir.path().join("kanmon.toml");
    std::fs::write(
        &config,
        format!(
            "[milter]\nlisten = \"inet:127.0.0.1:{}\"\n\n[policy]\nlisten = \"\"\n\n\
             [server]\nuser = \"nobody\"\n\n[store]\nbackend = \"memory\"\n\n{}",
            free_port(),
            signing_tables(&rsa, &ed, "relaxed/relaxed")
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env_remove("KANMON_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kanmon serve");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kanmon serve started with an unsafe key");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    // The temporary directory goes with this function; the path is only named.
    (rsa, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn keys_the_service_user_cannot_read_or_its_group_can_stop_the_start() {
    require_postfix(); // root, to hand the keys to nobody
    let (rsa, stderr) = serve_refused(0, 0o600);
    let file = rsa.display();
    assert!(
        stderr.contains(&format!(
            "dkim_keys[0] (rsa): cannot read key file {file} (permission denied); \
             as root run: chown nobody {file} && chmod 600 {file}"
        )),
        "{stderr}"
    );
    let (rsa, stderr) = serve_refused(NOBODY, 0o640);
    let file = rsa.display();
    assert!(
        stderr.contains(&format!(
            "key file {file} is readable by its group (mode 640); run: chown nobody {file} && chmod 600 {file}"
        )),
        "{stderr}"
    );
}
