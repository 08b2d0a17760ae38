//! `kanmon dkim sign` and `kanmon filter` signing: signatures verified by kanmon, dkimpy and
//! OpenDKIM for RSA and Ed25519 under all four canonicalisations; dual signing; unsafe keys
//! refused with the commands to fix them; inbound mail left unsigned.

use super::*;
use std::os::unix::fs::PermissionsExt;

use crate::dkim_verifiers::{assert_all_pass, kanmon_results, test_key};

const DKIM_MESSAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dkim/messages");

/// Runs the binary with `args` and `stdin`; (exit status, stdout bytes, stderr).
fn run_bytes(args: &[&str], stdin: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(args)
        .env_remove("KANMON_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kanmon");
    let mut pipe = child.stdin.take().expect("piped");
    let input = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for kanmon");
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dkim_message(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(DKIM_MESSAGES).join(name)).expect("read message")
}

#[test]
fn dkim_sign_verifies_everywhere_for_both_algorithms_and_all_canonicalisations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for selector in ["rsa", "ed"] {
        let key = test_key(dir.path(), selector, 0o600);
        for canon in [
            "relaxed/relaxed",
            "simple/simple",
            "relaxed/simple",
            "simple/relaxed",
        ] {
            for message in ["multipart.eml", "whitespace.eml", "utf8.eml"] {
                let (code, signed, stderr) = run_bytes(
                    &[
                        "dkim",
                        "sign",
                        "--domain",
                        "example.com",
                        "--selector",
                        selector,
                        "--key",
                        key.to_str().expect("utf-8"),
                        "--canonicalization",
                        canon,
                        "--expire",
                        "7d",
                    ],
                    &dkim_message(message),
                );
                assert_eq!(code, Some(0), "{stderr}");
                let original = dkim_message(message);
                assert!(signed.starts_with(b"DKIM-Signature: v=1;"));
                assert!(signed.ends_with(&original), "the message follows unchanged");
                let text = String::from_utf8_lossy(&signed);
                assert!(text.contains(&format!("c={canon};")), "{text}");
                assert!(text.contains(" x="), "{text}");
                let file = dir
                    .path()
                    .join(format!("{selector}-{}-{message}", canon.replace('/', "-")));
                std::fs::write(&file, &signed).expect("write signed");
                files.push(file);
            }
        }
    }
    assert_all_pass(&files, 1);
}

#[test]
fn dkim_sign_refuses_a_group_readable_key_with_the_chmod_to_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = test_key(dir.path(), "rsa", 0o640);
    let file = key.to_str().expect("utf-8");
    let args = [
        "dkim",
        "sign",
        "--domain",
        "example.com",
        "--selector",
        "rsa",
        "--key",
        file,
    ];
    let (code, out, stderr) = run_bytes(&args, &dkim_message("plain.eml"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(out.is_empty(), "nothing written on failure");
    assert!(
        stderr.contains(&format!(
            "key file {file} is readable by its group (mode 640); run: chmod 600 {file}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    let mut allowed = args.to_vec();
    allowed.push("--allow-group-readable-key");
    let (code, out, stderr) = run_bytes(&allowed, &dkim_message("plain.eml"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(kanmon_results(&out), ["pass"]);
}

/// A configuration dual-signing `*@example.com` with both test keys.
fn dual_signing_config(dir: &Path, canon: &str) -> String {
    let rsa = test_key(dir, "rsa", 0o600);
    let ed = test_key(dir, "ed", 0o600);
    format!(
        "[signing]\ncanonicalization = \"{canon}\"\n\n\
         [[dkim_keys]]\nname = \"rsa\"\ndomain = \"example.com\"\nselector = \"rsa\"\nfile = \"{}\"\n\n\
         [[dkim_keys]]\nname = \"ed\"\ndomain = \"example.com\"\nselector = \"ed\"\nfile = \"{}\"\n\n\
         [[signing_table]]\nfrom = \"*@example.com\"\nkeys = [\"rsa\", \"ed\"]\n",
        rsa.display(),
        ed.display()
    )
}

#[test]
fn filter_dual_signs_outbound_mail_and_leaves_inbound_mail_unsigned() {
    let dns = Dns::serving("");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for canon in ["relaxed/relaxed", "simple/simple"] {
        let kanmon = Kanmon::new(&dns, &dual_signing_config(dir.path(), canon));
        let config = kanmon.config.to_str().expect("utf-8");
        for (message, client) in [
            ("plain.eml", ["--ip", "127.0.0.1"]),
            ("whitespace.eml", ["--sasl-user", "alice"]),
        ] {
            let mut args = vec!["filter", "--config", config, "--from", "alice@example.com"];
            args.extend(client);
            let (code, out, stderr) = run_bytes(&args, &dkim_message(message));
            assert_eq!(code, Some(0), "{stderr}");
            let text = String::from_utf8_lossy(&out);
            assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
            assert!(text.contains("a=rsa-sha256;") && text.contains("a=ed25519-sha256;"));
            let file = dir
                .path()
                .join(format!("filter-{}-{message}", canon.replace('/', "-")));
            std::fs::write(&file, &out).expect("write");
            files.push(file);
        }
        // Inbound: verified, never signed.
        let args = ["filter", "--config", config, "--ip", "192.0.2.7"];
        let (code, out, stderr) = run_bytes(&args, &dkim_message("plain.eml"));
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!String::from_utf8_lossy(&out).contains("DKIM-Signature:"));
    }
    assert_all_pass(&files, 2);
}

#[test]
fn check_says_what_was_signed_or_why_not() {
    let dns = Dns::serving("");
    let dir = tempfile::tempdir().expect("temp dir");
    let kanmon = Kanmon::new(&dns, &dual_signing_config(dir.path(), "relaxed/relaxed"));
    let signed = kanmon.check(&["--ip", "127.0.0.1"], &dkim_message("plain.eml"));
    signed.assert_code(0);
    assert!(
        signed.stdout.contains(
            "DKIM signing: d=example.com s=rsa a=rsa-sha256, d=example.com s=ed a=ed25519-sha256"
        ),
        "{}",
        signed.stdout
    );
    let other = dkim_message("plain.eml")
        .strip_prefix(b"From: Alice Example <alice@example.com>")
        .map(|rest| [b"From: Bob <bob@example.org>".as_slice(), rest].concat())
        .expect("plain.eml starts with its From");
    let unsigned = kanmon.check(&["--ip", "127.0.0.1"], &other);
    assert!(
        unsigned
            .stdout
            .contains("DKIM signing: not signed: no signing_table entry for example.org"),
        "{}",
        unsigned.stdout
    );
    let inbound = kanmon.check(&["--ip", "192.0.2.7"], &dkim_message("plain.eml"));
    assert!(
        !inbound.stdout.contains("DKIM signing"),
        "{}",
        inbound.stdout
    );
}

#[test]
fn filter_with_an_exposed_key_passes_the_message_unchanged_and_says_the_fix() {
    let dns = Dns::serving("");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dual_signing_config(dir.path(), "relaxed/relaxed");
    let rsa = dir.path().join("rsa.private");
    std::fs::set_permissions(&rsa, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let kanmon = Kanmon::new(&dns, &format!("[server]\nuser = \"kanmon\"\n\n{config}"));
    let message = dkim_message("plain.eml");
    let (code, out, stderr) = run_bytes(
        &[
            "filter",
            "--config",
            kanmon.config.to_str().expect("utf-8"),
            "--ip",
            "127.0.0.1",
        ],
        &message,
    );
    assert_eq!(code, Some(75), "{stderr}");
    assert_eq!(out, message, "the message is never lost");
    assert_eq!(
        stderr.matches("readable by other users").count(),
        1,
        "{stderr}"
    );
    let file = rsa.display();
    assert!(
        stderr.contains(&format!(
            "dkim_keys[0] (rsa): key file {file} is readable by other users (mode 644); \
             run: chown kanmon {file} && chmod 600 {file}"
        )),
        "{stderr}"
    );
}

#[test]
fn config_check_reads_the_signing_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kanmon = Kanmon::with_config(&dual_signing_config(dir.path(), "relaxed/relaxed"));
    let config = kanmon.config.to_str().expect("utf-8");
    let ok = run(&["config", "check", "--config", config], None);
    ok.assert_code(0);
    assert_eq!(
        ok.stdout,
        format!("{config}: ok (2 DKIM signing keys read)\n")
    );
    let ed = dir.path().join("ed.private");
    std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let refused = run(&["config", "check", "--config", config], None);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains(&format!(
            "dkim_keys[1] (ed): key file {0} is readable by its group (mode 640); run: chown kanmon {0} && chmod 600 {0}",
            ed.display()
        )),
        "{}",
        refused.stderr
    );
}

#[test]
fn deliver_signs_nothing_and_reads_no_key() {
    let dns = Dns::serving("");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dual_signing_config(dir.path(), "relaxed/relaxed");
    // A key no one could use: deliver must not even read it.
    std::fs::set_permissions(
        dir.path().join("rsa.private"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let kanmon = Kanmon::new(&dns, &config);
    let mail = kanmon.path("mail");
    let (code, _, stderr) = run_bytes(
        &[
            "deliver",
            "--config",
            kanmon.config.to_str().expect("utf-8"),
            "--maildir",
            mail.join("%u").to_str().expect("utf-8"),
            "--user",
            "bob",
            "--ip",
            "127.0.0.1",
        ],
        &dkim_message("plain.eml"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let new = mail.join("bob/new");
    let delivered: Vec<_> = std::fs::read_dir(&new)
        .expect("bob/new")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(delivered.len(), 1);
    assert!(!String::from_utf8_lossy(&delivered[0]).contains("DKIM-Signature:"));
}
