//! `/dkim`: each `[[dkim_keys]]` entry with the table entries using it and what the DNS
//! publishes for it, with `kanmon dkim testkey`'s verdicts.

use std::os::unix::fs::PermissionsExt;

use kanmon_core::kanmon_auth::dkim::{generate_ed25519, generate_rsa};
use kanmon_testdns::{DnsServer, parse_zone};

use super::{Server, request};

/// The record split into quoted strings of at most 255 bytes, as a zone writes it.
fn txt(name: &str, record: &str) -> String {
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!("{name} TXT {}\n", strings.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dkim_page_shows_each_key_its_use_and_its_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let published = generate_ed25519().expect("ed25519");
    let unpublished = generate_rsa(2048).expect("rsa");
    let mismatched = generate_ed25519().expect("ed25519");
    let mut config = String::new();
    for (name, selector, key) in [
        ("ed", "2026e", &published),
        ("rsa", "2026r", &unpublished),
        ("old", "2025e", &mismatched),
    ] {
        let file = dir.path().join(format!("{selector}.private"));
        std::fs::write(&file, &key.pem).expect("key file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        config.push_str(&format!(
            "[[dkim_keys]]\nname = \"{name}\"\ndomain = \"example.com\"\nselector = \"{selector}\"\n\
             file = \"{}\"\n",
            file.display()
        ));
    }
    config.push_str("[[signing_table]]\nfrom = \"*@example.com\"\nkeys = [\"ed\", \"rsa\"]\n");
    // 2026e publishes its key; 2026r is not there; 2025e publishes another key.
    let zone = txt("2026e._domainkey.example.com", &published.key.dns_record())
        + &txt("2025e._domainkey.example.com", &published.key.dns_record());
    let dns = DnsServer::start().await;
    dns.set_zone(parse_zone(&zone).expect("zone"));
    config.push_str(&format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 500\n",
        dns.addr
    ));

    let server = Server::start(&config, None).await;
    let reply = request(server.addr, "GET", "/dkim", &[], b"").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let rows: Vec<&str> = reply.body.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{}", reply.body);
    assert!(
        rows[0].contains("2026e._domainkey.example.com")
            && rows[0].contains("ed25519-sha256")
            && rows[0].contains("*@example.com")
            && rows[0].contains("OK: the record publishes this key"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("rsa-sha256 (2048-bit)")
            && rows[1].contains("no record (NXDOMAIN): not published, or not propagated yet"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("(no signing_table entry)") && rows[2].contains("does not match"),
        "{}",
        rows[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_page_says_how_to_make_one() {
    let server = Server::start("", None).await;
    let reply = request(server.addr, "GET", "/dkim", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("kanmon dkim genkey"), "{}", reply.body);
}
