//! Who may use the web server: the password (login form, session cookie), the CSRF token
//! of every form, the API token off loopback, cross-site requests on loopback, and the
//! refusal to start on a public address without a password.

use std::net::SocketAddr;
use std::process::Command;

use super::{Server, request};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const PASSWORD: &str = "correct horse battery";

/// An address that is not loopback, claimed by a server that listens on loopback.
fn public() -> Option<SocketAddr> {
    Some("192.0.2.1:8025".parse().expect("address"))
}

fn form(csrf: Option<&str>, password: &str) -> Vec<u8> {
    let mut body = String::new();
    if let Some(csrf) = csrf {
        body.push_str(&format!("csrf={csrf}&"));
    }
    body.push_str(&format!("password={}", password.replace(' ', "+")));
    body.into_bytes()
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_login_and_forms_their_csrf_token() {
    let hash = kanmon_web::hash_password(PASSWORD).expect("hash");
    let server = Server::start(
        &format!("[http]\npassword_hash = \"{hash}\"\napi_token = \"{TOKEN}\"\n"),
        public(),
    )
    .await;
    let addr = server.addr;

    let first = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(
        (first.status, first.header("location")),
        (303, Some("/login")),
        "{first:?}"
    );
    let cookie = first.cookie().expect("a session cookie");
    assert!(
        first
            .header("set-cookie")
            .is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict"))
    );
    let login = request(addr, "GET", "/login", &[("Cookie", &cookie)], b"").await;
    assert_eq!(login.status, 200);
    let csrf = login.csrf().expect("the login form's CSRF field");
    assert!(
        !login.body.contains(&hash) && !login.body.contains(TOKEN),
        "a secret in the page"
    );

    // The right password without the token, or with another session's token: refused.
    let no_token = request(
        addr,
        "POST",
        "/login",
        &[("Cookie", &cookie), FORM],
        &form(None, PASSWORD),
    )
    .await;
    assert_eq!(no_token.status, 403, "{no_token:?}");
    assert!(no_token.body.contains("CSRF"));
    let other = request(addr, "GET", "/login", &[], b"").await;
    let stolen = request(
        addr,
        "POST",
        "/login",
        &[("Cookie", &cookie), FORM],
        &form(other.csrf().as_deref(), PASSWORD),
    )
    .await;
    assert_eq!(stolen.status, 403);
    // The token with a wrong password: 401 and the form again.
    let wrong = request(
        addr,
        "POST",
        "/login",
        &[("Cookie", &cookie), FORM],
        &form(Some(&csrf), "guess"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong password"));
    // Both right: a new session, signed in; the old id is worth nothing.
    let right = request(
        addr,
        "POST",
        "/login",
        &[("Cookie", &cookie), FORM],
        &form(Some(&csrf), PASSWORD),
    )
    .await;
    assert_eq!(
        (right.status, right.header("location")),
        (303, Some("/")),
        "{right:?}"
    );
    let signed_in = right.cookie().expect("a new session cookie");
    assert_ne!(signed_in, cookie);
    let page = request(addr, "GET", "/", &[("Cookie", &signed_in)], b"").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign out"));
    assert_eq!(
        request(addr, "GET", "/", &[("Cookie", &cookie)], b"")
            .await
            .status,
        303
    );

    // Signing out is a form too.
    let csrf = page.csrf().expect("the sign-out form's CSRF field");
    let forged = request(
        addr,
        "POST",
        "/logout",
        &[("Cookie", &signed_in), FORM],
        b"",
    )
    .await;
    assert_eq!(forged.status, 403);
    let out = request(
        addr,
        "POST",
        "/logout",
        &[("Cookie", &signed_in), FORM],
        format!("csrf={csrf}").as_bytes(),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        request(addr, "GET", "/", &[("Cookie", &signed_in)], b"")
            .await
            .status,
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_api_and_metrics_need_the_token() {
    let hash = kanmon_web::hash_password(PASSWORD).expect("hash");
    let server = Server::start(
        &format!("[http]\npassword_hash = \"{hash}\"\napi_token = \"{TOKEN}\"\n"),
        public(),
    )
    .await;
    let bearer = format!("Bearer {TOKEN}");
    for (method, path) in [("GET", "/metrics"), ("POST", "/api/check")] {
        let none = request(server.addr, method, path, &[], b"Subject: x\r\n\r\nx\r\n").await;
        assert_eq!(none.status, 401, "{path}: {none:?}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let wrong = request(
            server.addr,
            method,
            path,
            &[("Authorization", "Bearer 0123456789abcdef0123456789abcdeX")],
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await;
        assert_eq!(wrong.status, 403, "{path}: {wrong:?}");
        let right = request(
            server.addr,
            method,
            path,
            &[("Authorization", &bearer)],
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await;
        assert_eq!(right.status, 200, "{path}: {right:?}");
    }

    // No token configured: off loopback the API is closed.
    let closed = Server::start(&format!("[http]\npassword_hash = \"{hash}\"\n"), public()).await;
    let refused = request(
        closed.addr,
        "GET",
        "/metrics",
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("http.api_token is not set"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_pages_are_open_and_other_sites_cannot_post() {
    let server = Server::start("", None).await;
    let page = request(server.addr, "GET", "/", &[], b"").await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(
        request(server.addr, "GET", "/metrics", &[], b"")
            .await
            .status,
        200
    );
    let message = b"Subject: hi\r\n\r\nhello\r\n";
    for header in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let refused = request(server.addr, "POST", "/api/check", &[header], message).await;
        assert_eq!(refused.status, 403, "{header:?}: {refused:?}");
    }
    let local = request(
        server.addr,
        "POST",
        "/api/check",
        &[("Sec-Fetch-Site", "same-origin")],
        message,
    )
    .await;
    assert_eq!(local.status, 200, "{local:?}");
}

#[test]
fn a_public_address_without_a_password_does_not_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kanmon.toml");
    std::fs::write(
        &config,
        "[milter]\nlisten = \"inet:127.0.0.1:1\"\n[policy]\nlisten = \"\"\n[store]\nbackend = \"memory\"\n\
         [http]\nlisten = \"0.0.0.0:8025\"\n",
    )
    .expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run kanmon serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("http.password_hash: is required when http.listen (0.0.0.0:8025) is not a loopback address"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_brings_the_new_password_to_the_running_web_server() {
    let dns = crate::serve::dns().await;
    let daemon = crate::serve::Daemon::start(dns.addr, "").await;
    assert_eq!(request(daemon.http, "GET", "/", &[], b"").await.status, 200);

    let hash = kanmon_web::hash_password(PASSWORD).expect("hash");
    daemon.write_config(
        dns.addr,
        &format!(
            "[http]\nlisten = \"{}\"\npassword_hash = \"{hash}\"\n",
            daemon.http
        ),
    );
    daemon.signal("HUP");
    daemon.wait_log("configuration reloaded").await;
    let after = request(daemon.http, "GET", "/", &[], b"").await;
    assert_eq!(
        (after.status, after.header("location")),
        (303, Some("/login")),
        "{after:?}"
    );
    assert!(!daemon.log().contains(&hash), "the hash was logged");
}

/// Runs `kanmon ARGS` with `stdin`, returning (exit code, stdout, stderr).
fn kanmon(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kanmon");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn hash_password_reads_stdin_and_its_output_is_a_valid_password_hash() {
    let (code, hash, stderr) = kanmon(&["http", "hash-password"], "correct horse battery\n");
    assert_eq!(code, Some(0), "{stderr}");
    let hash = hash.trim();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("correct horse"));

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kanmon.toml");
    std::fs::write(
        &config,
        format!("[http]\nlisten = \"0.0.0.0:8025\"\npassword_hash = \"{hash}\"\n"),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8 path");
    let (code, _, stderr) = kanmon(&["config", "check", "--config", config], "");
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) = kanmon(&["http", "hash-password"], "\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the password is empty"), "{stderr}");
}
