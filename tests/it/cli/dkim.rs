//! `kanmon dkim genkey` and `kanmon dkim testkey`: keys made, written safely, read back,
//! and their records checked against a real DNS server on loopback serving what genkey
//! wrote (the BIND file's strings), a record for another key, no record, the
//! opendkim-genkey record without `k`, a revoked key, and a server that fails. Rotation: two
//! selectors published at once, each tested with its own key.

use std::os::unix::fs::PermissionsExt;

use kanmon_core::kanmon_auth::dkim::SigningKey;

use super::*;

/// What genkey made in a directory.
struct Made {
    key: PathBuf,
    /// The record value genkey printed for web panels.
    value: String,
    /// The zone line for the test server, from the strings of SELECTOR.txt.
    zone_line: String,
    stdout: String,
}

fn genkey(dir: &Path, selector: &str, extra: &[&str]) -> Made {
    let dir_arg = dir.to_str().expect("utf-8 temp path");
    let mut args = vec![
        "dkim",
        "genkey",
        "--domain",
        "example.com",
        "--selector",
        selector,
        "--dir",
        dir_arg,
    ];
    args.extend_from_slice(extra);
    let run = run(&args, None);
    run.assert_code(0);
    let value = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("  value: "))
        .expect("genkey prints the value")
        .to_owned();
    let bind = std::fs::read_to_string(dir.join(format!("{selector}.txt"))).expect("SELECTOR.txt");
    let strings: Vec<&str> = bind.split('"').skip(1).step_by(2).collect();
    let quoted: Vec<String> = strings.iter().map(|s| format!("\"{s}\"")).collect();
    Made {
        key: dir.join(format!("{selector}.private")),
        value,
        zone_line: format!("{selector}._domainkey.example.com TXT {}", quoted.join(" ")),
        stdout: run.stdout,
    }
}

/// `kanmon dkim testkey` for example.com against `dns`.
fn testkey(dns: &Dns, selector: &str, key: &Path) -> Run {
    testkey_with(&Kanmon::new(dns, ""), selector, Some(key))
}

fn testkey_with(kanmon: &Kanmon, selector: &str, key: Option<&Path>) -> Run {
    let mut args = vec![
        "dkim".to_owned(),
        "testkey".to_owned(),
        "--domain".to_owned(),
        "example.com".to_owned(),
        "--selector".to_owned(),
        selector.to_owned(),
        "--config".to_owned(),
        kanmon.config.to_str().expect("utf-8 temp path").to_owned(),
    ];
    if let Some(key) = key {
        args.push("--key".to_owned());
        args.push(key.to_str().expect("utf-8 temp path").to_owned());
    }
    run(&args, None)
}

const NOT_VALIDATED: &str = "DNSSEC: the answer is not marked as validated (no AD bit); this is information only, DKIM does not need DNSSEC";

#[test]
fn genkey_writes_a_private_key_only_its_owner_reads_and_a_bind_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2026a", &[]);
    let mode = std::fs::metadata(&made.key)
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The key reads back and its record is the value printed.
    let key = SigningKey::load(&made.key).expect("the key loads");
    assert_eq!(key.dns_record(), made.value);
    assert!(
        made.value.starts_with("v=DKIM1; k=rsa; p="),
        "{}",
        made.value
    );
    assert!(!made.value.contains('"'));
    // SELECTOR.txt: strings of at most 255 bytes that join into the value.
    let bind = std::fs::read_to_string(dir.path().join("2026a.txt")).expect("txt");
    assert!(bind.starts_with("2026a._domainkey.example.com.\tIN\tTXT\t( \"v=DKIM1; k=rsa; \""));
    let strings: Vec<&str> = bind.split('"').skip(1).step_by(2).collect();
    assert!(strings.iter().all(|s| s.len() <= 255), "{strings:?}");
    assert!(
        strings.len() >= 3,
        "a 2048-bit key needs two strings for p="
    );
    assert_eq!(strings.concat(), made.value);
    assert!(
        made.stdout
            .contains("  name:  2026a._domainkey.example.com\n")
    );
    // The configuration entry parses as TOML and names the key file.
    let entry = &made.stdout[made.stdout.find("[[dkim_keys]]").expect("entry")..];
    let table: toml::Table = toml::from_str(entry).expect("the entry is TOML");
    let key_entry = &table["dkim_keys"][0];
    assert_eq!(key_entry["name"].as_str(), Some("example.com-2026a"));
    assert_eq!(key_entry["selector"].as_str(), Some("2026a"));
    assert_eq!(key_entry["domain"].as_str(), Some("example.com"));
    assert_eq!(
        Path::new(key_entry["file"].as_str().expect("file")),
        made.key.as_path()
    );
}

#[test]
fn genkey_makes_ed25519_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2026e", &["--algorithm", "ed25519"]);
    let key = SigningKey::load(&made.key).expect("the key loads");
    assert_eq!(key.dns_record(), made.value);
    assert!(made.value.starts_with("v=DKIM1; k=ed25519; p="));
    assert!(made.stdout.contains("(Ed25519 key, mode 0600)"));
}

#[test]
fn genkey_never_overwrites_without_force_and_force_leaves_mode_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = genkey(dir.path(), "s1", &["--algorithm", "ed25519"]);
    let before = std::fs::read(&first.key).expect("key");
    let path = dir.path().to_str().expect("utf-8");
    let again = run(
        &[
            "dkim",
            "genkey",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--dir",
            path,
        ],
        None,
    );
    again.assert_code(1);
    assert!(
        again.stderr.contains("s1.private exists; use --force"),
        "{again:?}"
    );
    assert_eq!(std::fs::read(&first.key).expect("key"), before);
    // An old key left readable by others is replaced by a 0600 file, not rewritten in place.
    std::fs::set_permissions(&first.key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let forced = genkey(dir.path(), "s1", &["--algorithm", "ed25519", "--force"]);
    assert_ne!(std::fs::read(&forced.key).expect("key"), before);
    let mode = std::fs::metadata(&forced.key)
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2);
}

#[test]
fn genkey_refuses_small_keys_and_names_that_are_not_dns_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_str().expect("utf-8");
    let base = ["dkim", "genkey", "--domain", "example.com", "--dir", path];
    for (extra, message) in [
        (
            &["--selector", "s", "--bits", "1024"][..],
            "1024-bit RSA keys cannot be used by kanmon: its crypto library (aws-lc) makes and loads only RSA private keys of 2048 bits or more. Verifiers, kanmon's included, still accept 1024-bit keys (RFC 8301 §3.2)",
        ),
        (
            &["--selector", "s", "--bits", "512"],
            "512-bit RSA keys are refused: verifiers ignore signatures made with keys under 1024 bits",
        ),
        (
            &["--selector", "s", "--bits", "8192"],
            "8192-bit RSA keys are refused",
        ),
        (
            &["--selector", "../s"],
            "selector \"../s\" is not a DNS name",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let run = run(&args, None);
        // Usage errors, as clap's own.
        run.assert_code(2);
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn testkey_accepts_the_record_genkey_wrote_for_rsa_and_ed25519() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rsa = genkey(dir.path(), "2026a", &[]);
    let ed = genkey(dir.path(), "2026e", &["--algorithm", "ed25519"]);
    let dns = Dns::serving(&format!("{}\n{}\n", rsa.zone_line, ed.zone_line));
    let run = testkey(&dns, "2026a", &rsa.key);
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!(
            "OK: the record publishes the public half of {} (rsa key)",
            rsa.key.display()
        )),
        "{run:?}"
    );
    assert!(run.stdout.contains(NOT_VALIDATED), "{run:?}");
    assert!(!run.stdout.contains("not secure"));
    let run = testkey(&dns, "2026e", &ed.key);
    run.assert_code(0);
    assert!(run.stdout.contains("(ed25519 key)"), "{run:?}");
}

#[test]
fn testkey_tells_a_record_for_another_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ours = genkey(dir.path(), "2026a", &["--algorithm", "ed25519"]);
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = genkey(other_dir.path(), "2026a", &["--algorithm", "ed25519"]);
    let dns = Dns::serving(&other.zone_line);
    let run = testkey(&dns, "2026a", &ours.key);
    run.assert_code(11);
    assert!(
        run.stdout.contains("does not match: the record's ed25519 public key (p=) is not the public half of this private key"),
        "{run:?}"
    );
    // An RSA record for an Ed25519 key.
    let rsa = genkey(other_dir.path(), "2026r", &[]);
    let dns = Dns::serving(
        &rsa.zone_line
            .replace("2026r._domainkey", "2026a._domainkey"),
    );
    let run = testkey(&dns, "2026a", &ours.key);
    run.assert_code(11);
    assert!(
        run.stdout
            .contains("the record holds an rsa key, the private key is ed25519"),
        "{run:?}"
    );
}

#[test]
fn testkey_says_a_missing_record_is_not_published_or_not_propagated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2026a", &["--algorithm", "ed25519"]);
    let dns = Dns::serving("2026a._domainkey.example.com A 192.0.2.1\n");
    let run = testkey(&dns, "nothere", &made.key);
    run.assert_code(10);
    assert!(
        run.stdout.starts_with("no record: nothere._domainkey.example.com does not exist (NXDOMAIN)\nThe record is not published, or not propagated yet"),
        "{run:?}"
    );
    // The name exists, with no TXT record.
    let run = testkey(&dns, "2026a", &made.key);
    run.assert_code(10);
    assert!(
        run.stdout
            .starts_with("no record: 2026a._domainkey.example.com exists but has no TXT record"),
        "{run:?}"
    );
}

#[test]
fn testkey_names_the_missing_k_of_the_opendkim_genkey_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "default", &[]);
    // The seeds' record: `=rsa` where `k=rsa` belongs.
    let broken = made
        .value
        .replace("v=DKIM1; k=rsa; ", "v=DKIM1; h=sha256; =rsa; ");
    let dns = Dns::serving(&format!(
        "default._domainkey.example.com TXT \"{broken}\"\n"
    ));
    let run = testkey(&dns, "default", &made.key);
    run.assert_code(12);
    assert!(
        run.stdout.contains(
            "syntax error in tag k: \"=rsa\" has no tag name before \"=\"; it should read k=rsa (a known opendkim-genkey bug drops the k)"
        ),
        "{run:?}"
    );
}

#[test]
fn testkey_reports_a_revoked_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2019", &[]);
    let dns = Dns::serving("2019._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=\"\n");
    let run = testkey(&dns, "2019", &made.key);
    run.assert_code(13);
    assert!(run.stdout.contains("revoked: p= is empty"), "{run:?}");
}

#[test]
fn testkey_reports_dns_failures_apart_from_a_missing_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2026a", &["--algorithm", "ed25519"]);
    let dns = Dns::serving("2026a._domainkey.example.com SERVFAIL\n");
    let run = testkey(&dns, "2026a", &made.key);
    run.assert_code(14);
    assert!(
        run.stdout.starts_with("DNS error: the lookup of 2026a._domainkey.example.com failed: dns lookup failed: Server Failure"),
        "{run:?}"
    );
    // A server that never answers: the lookup gives up after [dns] timeout_ms.
    let silent = Dns::silent();
    let kanmon = Kanmon::with_config(&format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 300\n",
        silent.addr
    ));
    let run = testkey_with(&kanmon, "2026a", Some(&made.key));
    run.assert_code(14);
    assert!(run.stdout.contains("dns lookup timed out"), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn testkey_without_key_needs_a_dkim_keys_entry() {
    let dns = Dns::serving("");
    let run = testkey_with(&Kanmon::new(&dns, ""), "2026a", None);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("no --key given and no [[dkim_keys]] entry for 2026a._domainkey.example.com"),
        "{run:?}"
    );
}

/// Rotation (docs/dkim.md): the new selector is published beside the old one, both test OK
/// with their own keys, and neither key passes for the other's selector.
#[test]
fn testkey_checks_both_selectors_during_a_rotation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = genkey(dir.path(), "2025a", &[]);
    let new = genkey(dir.path(), "2026a", &[]);
    let dns = Dns::serving(&format!("{}\n{}\n", old.zone_line, new.zone_line));
    testkey(&dns, "2025a", &old.key).assert_code(0);
    testkey(&dns, "2026a", &new.key).assert_code(0);
    testkey(&dns, "2026a", &old.key).assert_code(11);
    testkey(&dns, "2025a", &new.key).assert_code(11);
}

/// A resolver that validated the answer (AD bit) is reported as such; the outcome is the
/// same either way.
#[test]
fn testkey_states_whether_the_answer_was_dnssec_validated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = genkey(dir.path(), "2026e", &["--algorithm", "ed25519"]);
    let runtime = runtime();
    let server = runtime.block_on(DnsServer::start());
    server.set_zone(parse_zone(&made.zone_line).expect("zone"));
    server.set_authentic_data(true);
    let dns = Dns {
        addr: server.addr,
        _server: Box::new(server),
        _runtime: runtime,
    };
    let run = testkey(&dns, "2026e", &made.key);
    run.assert_code(0);
    assert!(
        run.stdout
            .ends_with("DNSSEC: the resolver validated this answer (AD bit set)\n"),
        "{run:?}"
    );
}

/// A 1,024-bit key from an older opendkim-genkey (here testdata/dkim-rfc/rsa1024.pem, made
/// by OpenSSL) is compared with its record, and reported as one kanmon cannot sign with.
#[test]
fn testkey_checks_a_1024_bit_key_and_says_to_replace_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("old.private");
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/dkim-rfc/rsa1024.pem"
    ))
    .expect("rsa1024.pem");
    std::fs::write(&key, pem).expect("copy key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let dns = Dns::serving(
        "old._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDLtFKH3YQ1cYyxbA2txTX2uOi1N5rtO1pyyRgSOAyUqvd2eDC1gdAi6zwPQZWj8y96vWiNGu4DTQdiVCOiSdvb9+YQ9MqdKJ3U/L40Xr+SXmt1IP/gDpXUbXwsjBlPsTrMXVXuDAqClh+E3ApIp+vL+0U70Jsp0t9OifSaBMV95QIDAQAB\"\n",
    );
    let run = testkey(&dns, "old", &key);
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "warning: this is a 1024-bit RSA key: verifiers accept it, but kanmon signs only with RSA keys of 2048 bits or more"
        ),
        "{run:?}"
    );
    // The same key against a 2048-bit record is another key.
    let other = genkey(dir.path(), "new", &[]);
    let dns = Dns::serving(&other.zone_line.replace("new._domainkey", "old._domainkey"));
    testkey(&dns, "old", &key).assert_code(11);
    // A key file others can read is refused, as the signer refuses it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = testkey(&dns, "old", &key);
    run.assert_code(1);
    assert!(
        run.stderr.contains("readable by other users") && run.stderr.contains("chmod 600"),
        "{run:?}"
    );
}
