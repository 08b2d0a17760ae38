//! A full transaction over TCP and over a unix socket, with Postfix's negotiation offer.

use std::sync::Arc;
use std::time::Duration;

use kanmon_milter::{Actions, Client, Negotiation, Protocol, Reply, serve_unix};
use tokio::net::{UnixListener, UnixStream};

use crate::{Log, Recorder, config, expected_modifications, first_message, tcp_client, tcp_server};

/// What the handler sees for [`first_message`], macros of each stage included.
fn expected_log(qid: &str) -> Vec<String> {
    [
        "connect mail.example.org Inet { ip: 192.0.2.7, port: 40000 } \
         client_addr=192.0.2.7 client_name=mail.example.org",
        "helo mail.example.org",
        "mail <alice@example.org> SIZE=120 auth=alice i=-",
        "rcpt <bob@example.net> rcpt_addr=bob@example.net",
        &format!("data i={qid}"),
        "header Authentication-Results: relay.example.org; spf=none",
        "header Authentication-Results: mx.example.net; dkim=pass (forged)",
        "header From: Alice <alice@example.org>",
        "header Subject: hello",
        "eoh headers=4 bytes=166 truncated=false",
        "body 21",
        &format!(
            "eom i={qid} j=mx.example.net client_addr=192.0.2.7 auth=alice headers=4 body=21 \
             body_bytes=21 headers_truncated=false body_truncated=false"
        ),
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn round_trip<S>(client: &mut Client<S>, log: &Log)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let n = client.negotiated();
    assert_eq!(n.version, 6);
    assert_eq!(
        n.actions,
        Actions::ADD_HEADERS | Actions::CHANGE_HEADERS | Actions::QUARANTINE | Actions::SET_SYMLIST
    );
    assert_eq!(
        n.protocol,
        Protocol::NO_UNKNOWN | Protocol::SKIP | Protocol::HEADER_LEADING_SPACE
    );
    assert_eq!(n.macros, config().negotiation.macros);

    let outcome = client
        .transaction(&first_message("4F2A1B3C9D"))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "eom");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.rcpts, vec![Reply::Continue]);
    assert_eq!(outcome.modifications, expected_modifications("4F2A1B3C9D"));
    assert_eq!(outcome.progress, 0);
    client.quit(false).await.expect("quit");
    // The server handles QUIT after we sent it; wait for the log line.
    for _ in 0..100 {
        if log.lines().last().map(String::as_str) == Some("quit") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut want = expected_log("4F2A1B3C9D");
    want.push("quit".into());
    assert_eq!(log.lines(), want);
}

#[tokio::test]
async fn tcp() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    round_trip(&mut client, &log).await;
}

#[tokio::test]
async fn unix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("milter.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let log = Log::default();
    let l = log.clone();
    tokio::spawn(serve_unix(listener, Arc::new(config()), move || {
        Recorder::new(l.clone())
    }));
    let stream = UnixStream::connect(&path).await.expect("connect");
    let mut client = Client::connect(stream, Negotiation::mta_default())
        .await
        .expect("negotiation");
    round_trip(&mut client, &log).await;
}

/// Without `SMFIF_SETSYMLIST` in the offer no macro list is sent, and the rest still works.
#[tokio::test]
async fn offer_without_symlist() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let offer = Negotiation {
        actions: Actions(0x0ff),
        ..Negotiation::mta_default()
    };
    let mut client = Client::connect(stream, offer).await.expect("negotiation");
    assert!(!client.negotiated().actions.contains(Actions::SET_SYMLIST));
    assert!(client.negotiated().macros.is_empty());
    let outcome = client
        .transaction(&first_message("Q1"))
        .await
        .expect("transaction");
    assert_eq!(outcome.modifications, expected_modifications("Q1"));
}
