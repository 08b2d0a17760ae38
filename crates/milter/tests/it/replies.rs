//! Reply codes with custom text, per recipient as Postfix uses them.

use std::time::Duration;

use kanmon_milter::{Negotiation, Reply, ReplyCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Log, config, expected_modifications, first_message, message, tcp_client, tcp_server};

fn code(code: u16, text: &str) -> Reply {
    Reply::Code(ReplyCode::new(code, text).expect("valid"))
}

/// One recipient rejected, one deferred, one accepted: the message goes on for the last.
#[tokio::test]
async fn per_recipient_replies() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let mut tx = first_message("R1");
    tx.rcpts = vec![
        vec!["<nobody@example.net>".into()],
        vec!["<busy@example.net>".into()],
        vec!["<bob@example.net>".into()],
    ];
    let outcome = client.transaction(&tx).await.expect("transaction");
    assert_eq!(
        outcome.rcpts,
        vec![
            code(550, "5.7.1 no such user here"),
            code(451, "4.7.1 100% busy, try later"),
            Reply::Continue,
        ]
    );
    assert_eq!(outcome.step, "eom");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("R1"));
    let rcpts: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("rcpt "))
        .collect();
    assert_eq!(rcpts.len(), 3);
}

/// Every recipient refused: the last refusal decides, and after ABORT (Postfix's RSET) the
/// connection carries the next message.
#[tokio::test]
async fn all_recipients_refused() {
    let addr = tcp_server(config(), Log::default(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let mut tx = first_message("R2");
    tx.rcpts = vec![
        vec!["<busy@example.net>".into()],
        vec!["<nobody@example.net>".into()],
    ];
    let outcome = client.transaction(&tx).await.expect("transaction");
    assert_eq!(outcome.step, "rcpt");
    assert_eq!(outcome.reply, code(550, "5.7.1 no such user here"));
    assert_eq!(
        outcome.rcpts,
        vec![
            code(451, "4.7.1 100% busy, try later"),
            code(550, "5.7.1 no such user here"),
        ]
    );
    assert!(outcome.modifications.is_empty());
    client.abort().await.expect("abort");
    let outcome = client.transaction(&message("R3")).await.expect("next");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("R3"));
}

async fn write_packet(s: &mut TcpStream, code: u8, data: &[u8]) {
    let len = u32::try_from(data.len() + 1).expect("small");
    let mut buf = len.to_be_bytes().to_vec();
    buf.push(code);
    buf.extend_from_slice(data);
    s.write_all(&buf).await.expect("write");
}

async fn read_packet(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.expect("length");
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.expect("packet");
    let data = buf.split_off(1);
    (buf[0], data)
}

/// The exact bytes of the replies: `SMFIR_REPLYCODE` with the code, the text, `%` doubled
/// (libmilter's `smfi_setreply` treats `%` as special) and a NUL.
#[tokio::test]
async fn reply_code_wire_form() {
    let addr = tcp_server(config(), Log::default(), Duration::ZERO).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let offer = Negotiation::mta_default();
    let mut d = Vec::new();
    for n in [offer.version, offer.actions.0, offer.protocol.0] {
        d.extend_from_slice(&n.to_be_bytes());
    }
    write_packet(&mut s, b'O', &d).await;
    assert_eq!(read_packet(&mut s).await.0, b'O');
    write_packet(&mut s, b'M', b"<alice@example.org>\0").await;
    assert_eq!(read_packet(&mut s).await, (b'c', Vec::new()));
    write_packet(&mut s, b'R', b"<nobody@example.net>\0").await;
    assert_eq!(
        read_packet(&mut s).await,
        (b'y', b"550 5.7.1 no such user here\0".to_vec())
    );
    write_packet(&mut s, b'R', b"<busy@example.net>\0").await;
    assert_eq!(
        read_packet(&mut s).await,
        (b'y', b"451 4.7.1 100%% busy, try later\0".to_vec())
    );
    write_packet(&mut s, b'R', b"<bob@example.net>\0").await;
    assert_eq!(read_packet(&mut s).await, (b'c', Vec::new()));
}
