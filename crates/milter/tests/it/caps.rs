//! Header and body caps: input past `Limits` never reaches the handler, and the context says so.

use std::time::Duration;

use kanmon_milter::{Limits, Reply};

use crate::{Log, config, expected_modifications, first_message, tcp_client, tcp_server};

#[tokio::test]
async fn headers_and_body_past_the_caps_are_not_delivered() {
    let log = Log::default();
    let mut cfg = config();
    // 100 bytes of header: the first two 47-byte fields fit (name + value + 4), the third not.
    // 70 000 bytes of body: the first 65 535-byte chunk, then 4 465 of the second; the third
    // chunk is answered with SMFIR_SKIP.
    cfg.limits = Limits {
        max_header_bytes: 100,
        max_body_bytes: 70_000,
    };
    let addr = tcp_server(cfg, log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let mut tx = first_message("C1");
    let forty = format!(" {}", "x".repeat(39));
    tx.headers = vec![
        ("X-A".into(), forty.clone()),
        ("X-B".into(), forty.clone()),
        ("X-C".into(), forty.clone()),
        ("X-D".into(), " small".into()),
    ];
    tx.body = b"0123456789".repeat(15_000);
    let outcome = client.transaction(&tx).await.expect("transaction");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("C1"));
    let lines: Vec<String> = log
        .lines()
        .into_iter()
        .skip_while(|l| !l.starts_with("header "))
        .collect();
    assert_eq!(
        lines,
        [
            format!("header X-A:{forty}"),
            format!("header X-B:{forty}"),
            "eoh headers=2 bytes=94 truncated=true".to_owned(),
            "body 65535".to_owned(),
            "body 4465".to_owned(),
            "eom i=C1 j=mx.example.net client_addr=192.0.2.7 auth=alice headers=2 body=70000 \
             body_bytes=70000 headers_truncated=true body_truncated=true"
                .to_owned(),
        ]
    );
}

/// libmilter allows a last body chunk inside SMFIC_BODYEOB; it counts against the cap too.
#[tokio::test]
async fn body_in_end_of_message_is_capped() {
    let log = Log::default();
    let mut cfg = config();
    cfg.limits = Limits {
        max_header_bytes: 100,
        max_body_bytes: 10,
    };
    let addr = tcp_server(cfg, log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    for (code, data) in [(b'M', &b"<a@example.org>\0"[..]), (b'B', b"123456")] {
        client.send_raw(code, data).await.expect("send");
        let (r, _) = client.read_response().await.expect("read").expect("reply");
        assert_eq!(r.reply, Reply::Continue);
    }
    client.send_raw(b'E', b"78901234").await.expect("eom");
    let (r, _) = client.read_response().await.expect("read").expect("reply");
    assert_eq!(r.reply, Reply::Accept);
    let lines: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("body") || l.starts_with("eom"))
        .collect();
    assert_eq!(
        lines,
        [
            "body 6",
            "body 4",
            "eom i=- j=- client_addr=- auth=- headers=0 body=10 body_bytes=10 \
             headers_truncated=false body_truncated=true",
        ]
    );
}
