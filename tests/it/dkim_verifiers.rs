//! The verifiers kanmon's signatures must satisfy: kanmon's own, dkimpy and OpenDKIM
//! (`scripts/dkim-interop/verify-message`: the real opendkim milter in verify mode through
//! miltertest), all reading the TEST-ONLY keys of `testdata/dkim/` (selectors `rsa` and
//! `ed` of example.com). Shared by the `kanmon dkim sign`/`filter` tests and the Postfix
//! end-to-end signing tests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kanmon_core::kanmon_auth::dkim::{VerifyOptions, verify};
use kanmon_core::kanmon_auth::dns::StaticResolver;
use kanmon_core::kanmon_auth::message::Message;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The TEST-ONLY private key for `selector` (`rsa` or `ed`), copied into `dir` with `mode`.
pub(crate) fn test_key(dir: &Path, selector: &str, mode: u32) -> PathBuf {
    let source = match selector {
        "rsa" => "testdata/dkim/keys/rsa2048.TEST-ONLY.pkcs8.pem",
        "ed" => "testdata/dkim/keys/ed25519.TEST-ONLY.pkcs8.pem",
        other => panic!("no test key for selector {other}"),
    };
    let path = dir.join(format!("{selector}.private"));
    std::fs::copy(repo(source), &path).expect("copy test key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod key");
    path
}

/// A message as SMTP carries it: bare LF line ends (a Maildir file) made CRLF.
fn as_sent(message: &[u8]) -> Vec<u8> {
    if message.windows(2).any(|w| w == b"\r\n") {
        return message.to_vec();
    }
    let mut out = Vec::with_capacity(message.len() + message.len() / 40);
    for &b in message {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// kanmon's verdict on each DKIM-Signature of `message`, top to bottom.
pub(crate) fn kanmon_results(message: &[u8]) -> Vec<String> {
    let text = std::fs::read_to_string(repo("testdata/dkim/zone.txt")).expect("zone.txt");
    let mut zone = StaticResolver::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(char::is_whitespace).expect("name value");
        zone = zone.with_txt(name, value.trim_start());
    }
    let sent = as_sent(message);
    let parsed = Message::parse(&sent).expect("a message");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(verify(&zone, &parsed, &VerifyOptions::default(), now))
        .iter()
        .map(|output| output.result.as_str().to_owned())
        .collect()
}

/// dkimpy's and OpenDKIM's verdicts on each signature of each file: for every file, the
/// words of `dkimpy` then of `opendkim`.
pub(crate) fn peer_results(files: &[PathBuf]) -> Vec<(PathBuf, Vec<String>, Vec<String>)> {
    let out = Command::new("/usr/bin/python3")
        .arg(repo("scripts/dkim-interop/verify-message"))
        .arg(repo("testdata/dkim/zone.txt"))
        .arg("--opendkim")
        .args(files)
        .output()
        .expect(
            "run verify-message (python3-dkim, opendkim, miltertest: scripts/test installs them)",
        );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify-message failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = |file: &Path, verifier: &str| -> Vec<String> {
        let prefix = format!("{} {verifier}", file.display());
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {verifier} line for {}:\n{stdout}", file.display()));
        line[prefix.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    files
        .iter()
        .map(|f| (f.clone(), words(f, "dkimpy"), words(f, "opendkim")))
        .collect()
}

/// Asserts every verifier passes every signature of each file, and that each has `count`.
pub(crate) fn assert_all_pass(files: &[PathBuf], count: usize) {
    let pass = vec!["pass".to_owned(); count];
    for (file, dkimpy, opendkim) in peer_results(files) {
        let message = std::fs::read(&file).expect("read signed file");
        let kanmon = kanmon_results(&message);
        assert_eq!(
            (&kanmon, &dkimpy, &opendkim),
            (&pass, &pass, &pass),
            "kanmon, dkimpy, OpenDKIM on {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&message)
        );
    }
}
