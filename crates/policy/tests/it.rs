//! The policy protocol over real loopback sockets: round trips, connection reuse, and bad
//! requests that must close one connection without a reply while the server keeps serving.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic is a test failure

use std::time::Duration;

use kanmon_policy::{
    Action, Client, ClientError, Limits, ProtocolError, ProtocolState, Request, ServerConfig,
    read_request, serve_tcp, serve_unix,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

const README_EXAMPLE: &[u8] = include_bytes!("data/readme-example.request");

/// The test handler: rejects one sender, prepends a header at END-OF-MESSAGE, echoes the
/// recipient in a WARN for requests that carry `x_echo`, and answers DUNNO otherwise.
async fn handler(request: Request) -> Action {
    if request.sender() == Some("spammer@example.net") {
        return Action::reject(Some("5.7.1"), "SPF fail").expect("valid text");
    }
    if request.protocol_state() == Some(&ProtocolState::EndOfMessage) {
        return Action::prepend("Received-SPF", "pass (example.org)").expect("valid header");
    }
    if request.get("x_echo").is_some() {
        let text = format!("rcpt {}", request.recipient().unwrap_or("-"));
        return Action::warn(&text).expect("valid text");
    }
    if request.had_invalid_utf8() {
        return Action::warn("invalid utf-8").expect("valid text");
    }
    Action::Dunno
}

fn rcpt(sender: &'static str, recipient: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("request", "smtpd_access_policy"),
        ("protocol_state", "RCPT"),
        ("client_address", "192.0.2.1"),
        ("instance", "1a2b.5f3c.1"),
        ("sender", sender),
        ("recipient", recipient),
    ]
}

async fn tcp_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_tcp(listener, ServerConfig::default(), handler));
    addr
}

async fn tcp_client(addr: std::net::SocketAddr) -> Client<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    Client::new(stream)
}

/// Several requests on each of two connections, as Postfix reuses its connection.
async fn round_trips<S>(client: &mut Client<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    assert_eq!(
        client
            .send(&rcpt("alice@example.org", "bob@example.com"))
            .await
            .unwrap(),
        "DUNNO"
    );
    assert_eq!(
        client
            .send(&rcpt("spammer@example.net", "bob@example.com"))
            .await
            .unwrap(),
        "REJECT 5.7.1 SPF fail"
    );
    let mut echo = rcpt("alice@example.org", "carol@example.com");
    echo.push(("x_echo", "1"));
    assert_eq!(
        client.send(&echo).await.unwrap(),
        "WARN rcpt carol@example.com"
    );
    let eom = [
        ("request", "smtpd_access_policy"),
        ("protocol_state", "END-OF-MESSAGE"),
    ];
    assert_eq!(
        client.send(&eom).await.unwrap(),
        "PREPEND Received-SPF: pass (example.org)"
    );
    assert_eq!(client.send_raw(README_EXAMPLE).await.unwrap(), "DUNNO");
}

#[tokio::test]
async fn tcp_round_trips_with_connection_reuse() {
    let addr = tcp_server().await;
    let mut first = tcp_client(addr).await;
    let mut second = tcp_client(addr).await;
    round_trips(&mut first).await;
    round_trips(&mut second).await;
    round_trips(&mut first).await;
}

#[tokio::test]
async fn unix_round_trips_with_connection_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.sock");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(serve_unix(listener, ServerConfig::default(), handler));
    let mut first = Client::new(UnixStream::connect(&path).await.unwrap());
    let mut second = Client::new(UnixStream::connect(&path).await.unwrap());
    round_trips(&mut first).await;
    round_trips(&mut second).await;
    round_trips(&mut first).await;
}

/// Sends `bad` on a fresh connection, expects the server to close it without a byte of reply,
/// then checks a connection opened before and one opened after still work.
async fn refused(bad: Vec<u8>) {
    let addr = tcp_server().await;
    let mut before = tcp_client(addr).await;
    assert_eq!(
        before
            .send(&rcpt("a@example.org", "b@example.com"))
            .await
            .unwrap(),
        "DUNNO"
    );

    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close while we are still writing a huge request; that is fine.
    let _ = stream.write_all(&bad).await;
    let _ = stream.shutdown().await;
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    match read.expect("server closes the connection") {
        Ok(_) => assert!(reply.is_empty(), "no reply expected, got {reply:?}"),
        // A reset (the server closed with unread data) is a close too.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }

    assert_eq!(
        before
            .send(&rcpt("a@example.org", "b@example.com"))
            .await
            .unwrap(),
        "DUNNO"
    );
    let mut after = tcp_client(addr).await;
    round_trips(&mut after).await;
}

#[tokio::test]
async fn line_over_64_kib_is_refused() {
    let mut bad = b"request=smtpd_access_policy\nhelo_name=".to_vec();
    bad.extend(std::iter::repeat_n(b'a', 64 * 1024 + 1));
    bad.extend(b"\n\n");
    refused(bad).await;
}

#[tokio::test]
async fn ten_thousand_attributes_are_refused() {
    let mut bad = Vec::new();
    for i in 0..10_000 {
        bad.extend(format!("x{i}=1\n").as_bytes());
    }
    bad.push(b'\n');
    refused(bad).await;
}

#[tokio::test]
async fn missing_blank_line_at_eof_is_refused() {
    refused(b"request=smtpd_access_policy\nprotocol_state=RCPT\n".to_vec()).await;
    refused(b"request=smtpd_access_policy\nprotocol_state=RCPT".to_vec()).await;
}

#[tokio::test]
async fn garbage_is_refused() {
    refused(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()).await;
    refused(b"\n".to_vec()).await;
    refused(b"size=big\n\n".to_vec()).await;
    refused(b"sender=a\nsender=b\n\n".to_vec()).await;
}

/// Non-UTF-8 is kept with U+FFFD and flagged, so the request is still evaluated (see the
/// `request` module docs for why it is not refused).
#[tokio::test]
async fn non_utf8_is_answered_lossy() {
    let addr = tcp_server().await;
    let mut client = tcp_client(addr).await;
    let reply = client
        .send_raw(b"request=smtpd_access_policy\nhelo_name=caf\xe9\xff.example\n\n")
        .await
        .unwrap();
    assert_eq!(reply, "WARN invalid utf-8");
    round_trips(&mut client).await;
}

#[tokio::test]
async fn closed_without_reply_is_reported_by_the_client() {
    let addr = tcp_server().await;
    let mut client = tcp_client(addr).await;
    let err = client.send_raw(b"no equals sign\n\n").await.unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err:?}");
}

#[tokio::test]
async fn readme_example_parses_exactly() {
    let mut reader = README_EXAMPLE;
    let request = read_request(&mut reader, &Limits::default())
        .await
        .unwrap()
        .unwrap();
    assert!(reader.is_empty(), "the whole transcript is one request");
    assert!(
        read_request(&mut reader, &Limits::default())
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(request.request(), Some("smtpd_access_policy"));
    assert_eq!(request.protocol_state(), Some(&ProtocolState::Rcpt));
    assert_eq!(request.protocol_name(), Some("SMTP"));
    assert_eq!(request.helo_name(), Some("some.domain.tld"));
    assert_eq!(request.queue_id(), Some("8045F2AB23"));
    assert_eq!(request.sender(), Some("foo@bar.tld"));
    assert_eq!(request.recipient(), Some("bar@foo.tld"));
    assert_eq!(request.recipient_count(), Some(0));
    assert_eq!(request.client_address(), Some("1.2.3.4"));
    assert_eq!(request.client_name(), Some("another.domain.tld"));
    assert_eq!(request.reverse_client_name(), Some("another.domain.tld"));
    assert_eq!(request.instance(), Some("123.456.7"));
    assert_eq!(request.sasl_method(), Some("plain"));
    assert_eq!(request.sasl_username(), Some("you"));
    assert_eq!(request.sasl_sender(), Some(""));
    assert_eq!(request.size(), Some(12345));
    assert_eq!(request.ccert_subject(), Some("solaris9.porcupine.org"));
    assert_eq!(request.ccert_issuer(), Some("Wietse+20Venema"));
    assert_eq!(
        request.ccert_fingerprint(),
        Some("C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04")
    );
    assert_eq!(request.encryption_protocol(), Some("TLSv1/SSLv3"));
    assert_eq!(request.encryption_cipher(), Some("DHE-RSA-AES256-SHA"));
    assert_eq!(request.encryption_keysize(), Some(256));
    assert_eq!(request.etrn_domain(), Some(""));
    assert_eq!(request.stress(), Some(""));
    assert_eq!(
        request.ccert_pubkey_fingerprint(),
        Some("68:B3:29:DA:98:93:E3:40:99:C7:D8:AD:5C:B9:C9:40")
    );
    assert_eq!(request.client_port(), Some(1234));
    assert_eq!(request.policy_context(), Some("submission"));
    assert_eq!(request.server_address(), Some("10.3.2.1"));
    assert_eq!(request.server_port(), Some(54321));
    assert_eq!(request.compatibility_level(), Some("major.minor.patch"));
    assert_eq!(request.mail_version(), Some("3.8.0"));
    assert_eq!(request.attributes().count(), 31);
    assert!(!request.had_invalid_utf8());
}

#[tokio::test]
async fn reader_limits_are_exact() {
    let limits = Limits {
        max_line_len: 10,
        max_attributes: 2,
        max_request_len: 30,
    };
    let read = |bytes: &'static [u8]| {
        let limits = limits.clone();
        async move {
            let mut reader = bytes;
            read_request(&mut reader, &limits).await
        }
    };
    // 10 bytes fit, 11 do not.
    assert!(read(b"a=45678901\n\n").await.unwrap().is_some());
    assert!(matches!(
        read(b"a=456789012\n\n").await,
        Err(kanmon_policy::ReadError::Protocol(
            ProtocolError::LineTooLong { limit: 10 }
        ))
    ));
    assert!(matches!(
        read(b"a=1\nb=2\nc=3\n\n").await,
        Err(kanmon_policy::ReadError::Protocol(
            ProtocolError::TooManyAttributes { limit: 2 }
        ))
    ));
    assert!(matches!(
        read(b"a=45678901\nb=45678901\n\n").await,
        Ok(Some(_))
    ));
    let limits = Limits {
        max_attributes: 10,
        ..limits
    };
    let mut reader: &[u8] = b"a=45678901\nb=45678901\nc=45678901\n\n";
    assert!(matches!(
        read_request(&mut reader, &limits).await,
        Err(kanmon_policy::ReadError::Protocol(
            ProtocolError::RequestTooLong { limit: 30 }
        ))
    ));
    let mut reader: &[u8] = b"a=1\n";
    assert!(matches!(
        read_request(&mut reader, &limits).await,
        Err(kanmon_policy::ReadError::Protocol(ProtocolError::Truncated))
    ));
}

#[tokio::test]
async fn idle_connection_is_closed_after_the_timeout() {
    let (server_side, client_side) = tokio::io::duplex(1024);
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let server = tokio::spawn(async move {
        kanmon_policy::serve_connection(server_side, &config, &handler).await
    });
    let mut client = Client::new(client_side);
    assert_eq!(
        client
            .send(&rcpt("a@example.org", "b@example.com"))
            .await
            .unwrap(),
        "DUNNO"
    );
    let result = server.await.unwrap();
    assert!(
        matches!(result, Err(kanmon_policy::ConnectionError::IdleTimeout(_))),
        "{result:?}"
    );
    assert!(matches!(
        client.read_reply().await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn many_concurrent_connections() {
    let addr = tcp_server().await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            tokio::spawn(async move {
                let mut client = tcp_client(addr).await;
                round_trips(&mut client).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
