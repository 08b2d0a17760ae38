//! Several messages on one connection, and a message aborted halfway.

use std::time::Duration;

use kanmon_milter::Reply;

use crate::{Log, config, expected_modifications, first_message, message, message_macros};
use crate::{tcp_client, tcp_server};

#[tokio::test]
async fn three_messages_one_connection() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    for (i, qid) in ["M1", "M2", "M3"].into_iter().enumerate() {
        let tx = if i == 0 {
            first_message(qid)
        } else {
            message(qid)
        };
        let outcome = client.transaction(&tx).await.expect("transaction");
        assert_eq!(outcome.reply, Reply::Accept);
        assert_eq!(outcome.modifications, expected_modifications(qid));
    }
    let eoms: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("eom ") || l.starts_with("eoh "))
        .collect();
    let mut want = Vec::new();
    for qid in ["M1", "M2", "M3"] {
        want.push("eoh headers=4 bytes=166 truncated=false".to_owned());
        want.push(format!(
            "eom i={qid} j=mx.example.net client_addr=192.0.2.7 auth=alice headers=4 body=21 \
             body_bytes=21 headers_truncated=false body_truncated=false"
        ));
    }
    assert_eq!(eoms, want);
}

/// ABORT after two headers; the next message has no `{auth_authen}` and its own queue id, and
/// must see none of the aborted message's macros or counts.
#[tokio::test]
async fn abort_then_fresh_message() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let ok = Some(Reply::Continue);
    client
        .send_raw(b'D', b"M{auth_authen}\0alice\0")
        .await
        .expect("macro");
    client
        .send_raw(b'M', b"<alice@example.org>\0")
        .await
        .expect("mail");
    let reply = |r: Option<(kanmon_milter::Response, usize)>| r.map(|(r, _)| r.reply);
    assert_eq!(reply(client.read_response().await.expect("mail")), ok);
    client
        .send_raw(b'R', b"<bob@example.net>\0")
        .await
        .expect("rcpt");
    assert_eq!(reply(client.read_response().await.expect("rcpt")), ok);
    client.send_raw(b'D', b"Ti\0A1\0").await.expect("macro");
    client.send_raw(b'T', b"").await.expect("data");
    assert_eq!(reply(client.read_response().await.expect("data")), ok);
    for h in [
        &b"Subject\0 one\0"[..],
        b"X-Big\0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0",
    ] {
        client.send_raw(b'L', h).await.expect("header");
        assert_eq!(reply(client.read_response().await.expect("header")), ok);
    }
    client.abort().await.expect("abort");

    let mut tx = message("A2");
    tx.macros = message_macros("A2", None);
    let outcome = client.transaction(&tx).await.expect("after abort");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("A2"));
    let lines = log.lines();
    let after: Vec<&str> = lines
        .iter()
        .skip_while(|l| *l != "abort")
        .map(String::as_str)
        .filter(|l| !l.starts_with("header ") && !l.starts_with("body "))
        .collect();
    assert_eq!(
        after,
        [
            "abort",
            "mail <alice@example.org> SIZE=120 auth=- i=-",
            "rcpt <bob@example.net> rcpt_addr=bob@example.net",
            "data i=A2",
            "eoh headers=4 bytes=166 truncated=false",
            "eom i=A2 j=- client_addr=192.0.2.7 auth=- headers=4 body=21 body_bytes=21 \
             headers_truncated=false body_truncated=false",
        ]
    );
    assert_eq!(lines[0], "mail <alice@example.org> auth=alice i=-");
}
