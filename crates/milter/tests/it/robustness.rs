//! Malformed input closes that connection cleanly (an error, no panic) while another
//! connection to the same server finishes its transaction.

use std::sync::Arc;
use std::time::Duration;

use kanmon_milter::{MAX_PACKET_LEN, MilterError, Reply, serve_connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Log, Recorder, config, expected_modifications, first_message, tcp_client};

type Served = JoinHandle<Result<(), MilterError>>;

/// Like `serve_tcp`, but hands each connection's task to the test, to see how it ended.
async fn server() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    let config = Arc::new(config());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let config = config.clone();
            let task = tokio::spawn(async move {
                let mut milter = Recorder::new(Log::default());
                serve_connection(stream, &mut milter, &config).await
            });
            if tx.send(task).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// The server's side of the connection has closed: EOF or a reset, within a second.
async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
        .await
        .expect("server did not close the connection");
    match read {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {n} bytes: {:?}", &buf[..n]),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

async fn ended(rx: &mut mpsc::UnboundedReceiver<Served>) -> Result<(), MilterError> {
    let task = rx.recv().await.expect("a served connection");
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("connection task did not end")
        .expect("connection task panicked")
}

#[tokio::test]
async fn bad_packets_close_only_their_connection() {
    let (addr, mut rx) = server().await;
    let mut good = tcp_client(addr).await;
    let good_task = rx.recv().await.expect("good connection");

    // A garbage packet (unknown command 'Z') after a valid negotiation.
    let mut bad = tcp_client(addr).await;
    bad.send_raw(b'Z', b"garbage").await.expect("send");
    assert!(bad.read_response().await.map_or(true, |r| r.is_none()));
    assert!(matches!(
        ended(&mut rx).await,
        Err(MilterError::UnknownCommand(b'Z'))
    ));

    // Raw streams: truncated, oversized, zero length.
    let mut over = (MAX_PACKET_LEN as u32 + 1).to_be_bytes().to_vec();
    over.push(b'B');
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "truncated",
            [&100u32.to_be_bytes()[..], b"B123456789"].concat(),
        ),
        ("oversized", over),
        ("zero length", 0u32.to_be_bytes().to_vec()),
    ];
    for (name, bytes) in cases {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(&bytes).await.expect("write");
        if name == "truncated" {
            s.shutdown().await.expect("shutdown");
        }
        assert_closed(&mut s).await;
        let result = ended(&mut rx).await;
        let ok = match name {
            "truncated" => matches!(result, Err(MilterError::Truncated)),
            "oversized" => matches!(
                result,
                Err(MilterError::PacketTooLong { len, max })
                    if len == MAX_PACKET_LEN + 1 && max == MAX_PACKET_LEN
            ),
            _ => matches!(result, Err(MilterError::EmptyPacket)),
        };
        assert!(ok, "{name}: {result:?}");
    }

    // The good connection, negotiated before all this, still works.
    let outcome = good
        .transaction(&first_message("G1"))
        .await
        .expect("transaction");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("G1"));
    good.quit(false).await.expect("quit");
    let result = tokio::time::timeout(Duration::from_secs(1), good_task)
        .await
        .expect("good connection did not end")
        .expect("good connection panicked");
    assert!(result.is_ok(), "{result:?}");
}

/// A command out of order (RCPT before MAIL is allowed as a skipped step, but MAIL after a
/// header is not) ends the connection with an error.
#[tokio::test]
async fn out_of_order_command_closes() {
    let (addr, mut rx) = server().await;
    let mut c = tcp_client(addr).await;
    c.send_raw(b'L', b"Subject\0 x\0").await.expect("header");
    assert!(c.read_response().await.expect("reply").is_some());
    c.send_raw(b'M', b"<a@example.org>\0").await.expect("mail");
    assert!(c.read_response().await.map_or(true, |r| r.is_none()));
    assert!(matches!(
        ended(&mut rx).await,
        Err(MilterError::UnexpectedCommand { command: 'M', .. })
    ));
}

/// A peer that stops in the middle of a packet is dropped after the read timeout instead of
/// holding its connection for good.
#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_dropped_after_the_read_timeout() {
    let (client, server) = tokio::io::duplex(1024);
    let mut config = config();
    config.read_timeout = Some(Duration::from_secs(360));
    let served = tokio::spawn(async move {
        let mut milter = Recorder::new(Log::default());
        serve_connection(server, &mut milter, &config).await
    });
    let mut client = client;
    // Length 100, then only 10 bytes of it.
    client
        .write_all(&100u32.to_be_bytes())
        .await
        .expect("write");
    client.write_all(b"Mxxxxxxxxx").await.expect("write");
    tokio::time::sleep(Duration::from_secs(359)).await;
    assert!(!served.is_finished(), "still waiting before the timeout");
    let ended = tokio::time::timeout(Duration::from_secs(2), served)
        .await
        .expect("ended at the timeout")
        .expect("task");
    assert!(
        matches!(ended, Err(MilterError::IdleTimeout(d)) if d == Duration::from_secs(360)),
        "{ended:?}"
    );
}
