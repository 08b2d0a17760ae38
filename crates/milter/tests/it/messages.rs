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

/// QUIT_NC keeps the milter connection for a new SMTP session: CONNECT comes again and the
/// old session's macros are gone.
#[tokio::test]
async fn quit_nc_then_new_session() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let outcome = client.transaction(&first_message("K1")).await.expect("one");
    assert_eq!(outcome.modifications, expected_modifications("K1"));
    client.quit(true).await.expect("quit_nc");
    let mut tx = first_message("K2");
    tx.macros
        .retain(|(s, _)| *s != kanmon_milter::Stage::Connect);
    let outcome = client.transaction(&tx).await.expect("two");
    assert_eq!(outcome.modifications, expected_modifications("K2"));
    let lines = log.lines();
    let second: Vec<&str> = lines
        .iter()
        .skip_while(|l| *l != "quit")
        .map(String::as_str)
        .filter(|l| l.starts_with("connect") || l.starts_with("eom") || *l == "quit")
        .collect();
    assert_eq!(
        second,
        [
            "quit",
            "connect mail.example.org Inet { ip: 192.0.2.7, port: 40000 } client_addr=- \
             client_name=-",
            "eom i=K2 j=- client_addr=192.0.2.7 auth=alice headers=4 body=21 body_bytes=21 \
             headers_truncated=false body_truncated=false",
        ]
    );
}

/// With no-reply flags and skipped steps negotiated, the server stays silent where asked and
/// the transaction still ends with the right modifications.
#[tokio::test]
async fn no_reply_and_skipped_steps() {
    use kanmon_milter::Protocol;
    let log = Log::default();
    let mut cfg = config();
    cfg.negotiation.protocol = cfg.negotiation.protocol
        | Protocol::NO_HELO
        | Protocol::NR_CONNECT
        | Protocol::NR_MAIL
        | Protocol::NR_DATA
        | Protocol::NR_HEADER
        | Protocol::NR_EOH
        | Protocol::NR_BODY;
    let addr = tcp_server(cfg, log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let mut tx = first_message("N1");
    tx.rcpts.insert(0, vec!["<nobody@example.net>".into()]);
    let outcome = client.transaction(&tx).await.expect("transaction");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(
        outcome.rcpts,
        vec![
            Reply::Code(kanmon_milter::ReplyCode::new(550, "5.7.1 no such user here").expect("ok")),
            Reply::Continue
        ]
    );
    assert_eq!(outcome.modifications, expected_modifications("N1"));
    assert!(!log.lines().iter().any(|l| l.starts_with("helo")));
    let outcome = client.transaction(&message("N2")).await.expect("second");
    assert_eq!(outcome.modifications, expected_modifications("N2"));
}
