//! `POST /api/check` answers with exactly what `kanmon check --json` prints for the same
//! message, envelope and configuration; a message over `limits.max_message_bytes` is
//! scanned by its envelope as `kanmon check` does.

use std::process::Command;

use serde_json::Value;

use super::{Server, request};

const MESSAGE: &str = "From: Alice <alice@fail.test>\r\nTo: bob@example.org\r\nSubject: hello\r\n\
Message-ID: <1@fail.test>\r\nDate: Wed, 18 Nov 2026 11:00:00 +0000\r\n\r\nHello Bob.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_what_kanmon_check_json_prints() {
    let dns = crate::serve::dns().await;
    let config = format!(
        "authserv_id = \"mx.kanmon.test\"\n[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 500\n\
         [store]\nbackend = \"memory\"\n",
        dns.addr
    );
    let server = Server::start(&config, None).await;
    let reply = request(
        server.addr,
        "POST",
        "/api/check?ip=192.0.2.25&helo=mx.client.test&client_name=mx.client.test&from=%3Calice%40fail.test%3E",
        &[("X-Kanmon-Rcpt", "bob@example.org")],
        MESSAGE.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let api: Value = serde_json::from_str(&reply.body).expect("JSON");

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kanmon.toml");
    std::fs::write(&path, &config).expect("config");
    let message = dir.path().join("message.eml");
    std::fs::write(&message, MESSAGE).expect("message");
    let cli = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kanmon"))
            .args([
                "check",
                "--json",
                "--ip",
                "192.0.2.25",
                "--helo",
                "mx.client.test",
            ])
            .args([
                "--client-name",
                "mx.client.test",
                "--from",
                "<alice@fail.test>",
            ])
            .args(["--rcpt", "bob@example.org", "--config"])
            .arg(&path)
            .arg(&message)
            .output()
            .expect("run kanmon check")
    })
    .await
    .expect("check task");
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli_text = String::from_utf8(cli.stdout).expect("utf-8");
    let expected: Value = serde_json::from_str(&cli_text).expect("JSON");
    assert_eq!(api, expected);
    assert_eq!(
        reply.body, cli_text,
        "the same text, not only the same values"
    );
    // Not a vacuous comparison: SPF failed for fail.test.
    assert!(reply.body.contains("SPF_FAIL"), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_scanned_by_its_envelope() {
    let server = Server::start("[limits]\nmax_message_bytes = 65536\n", None).await;
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(70_000));
    let reply = request(
        server.addr,
        "POST",
        "/api/check?ip=192.0.2.1",
        &[],
        big.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let report: Value = serde_json::from_str(&reply.body).expect("JSON");
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains("larger than limits.max_message_bytes (65536 bytes)"),
        "{skipped}"
    );

    let bad = request(server.addr, "POST", "/api/check?ip=nonsense", &[], b"x").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not an IP address"));
}
