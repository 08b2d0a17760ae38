//! Robustness: hostile or broken input on either front-end gets a clean close (or, where the
//! protocol allows, a reply) within a bounded time, and never harms the daemon: after each
//! case the same daemon still answers a good milter transaction and a good policy request.
//!
//! Sizes are chosen just past the protocol libraries' limits: `kanmon_milter::MAX_PACKET_LEN`
//! (256 KiB) and `kanmon_policy`'s `DEFAULT_MAX_LINE_LEN` (8 KiB), `DEFAULT_MAX_ATTRIBUTES`
//! (256) and `DEFAULT_MAX_REQUEST_LEN` (64 KiB).

use std::net::SocketAddr;
use std::time::Duration;

use kanmon_milter::{MAX_PACKET_LEN, Negotiation, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Daemon, dns, transaction};

/// Bound on every wait: a case that makes the daemon hang fails instead of hanging the test.
const WAIT: Duration = Duration::from_secs(10);

/// The policy limits the daemon runs with (`kanmon_policy::ServerConfig::default()`).
const MAX_LINE_LEN: usize = 8 * 1024;
const MAX_ATTRIBUTES: usize = 256;
const MAX_REQUEST_LEN: usize = 64 * 1024;

const PASS: &str =
    "From: Alice <alice@pass.test>\nTo: bob@kanmon.test\nSubject: hello\n\nHi Bob.\n";

/// A good policy request, `name=value` lines and the empty line.
fn good_request(instance: &str) -> String {
    format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n\
         client_address=192.0.2.25\nclient_name=mx.client.test\nhelo_name=mx.client.test\n\
         sender=alice@pass.test\nrecipient=bob@kanmon.test\ninstance={instance}\n\n"
    )
}

/// How the daemon ended a connection we abused.
#[derive(Debug)]
struct Ending {
    /// Everything it sent before closing.
    received: Vec<u8>,
}

/// Writes `bytes` (tolerating a write error: the daemon may close before reading them all),
/// optionally shuts our side down, then reads until the daemon closes or resets — within
/// [`WAIT`], else the case failed.
async fn send_and_wait_close(addr: SocketAddr, what: &str, bytes: &[u8], shutdown: bool) -> Ending {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    if shutdown {
        let _ = stream.shutdown().await;
    }
    read_to_close(&mut stream, what).await
}

async fn read_to_close(stream: &mut TcpStream, what: &str) -> Ending {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{what}: the daemon neither answered nor closed within {WAIT:?} (got {received:?})"
    );
    Ending { received }
}

/// The same daemon still serves: a good milter transaction and a good policy request.
async fn still_serves(daemon: &Daemon, after: &str) {
    let check = async {
        let mut client = daemon.milter_client().await;
        let outcome = client
            .transaction(&transaction("OK1", "alice@pass.test", PASS))
            .await
            .unwrap_or_else(|e| panic!("after {after}: milter transaction: {e}"));
        assert_eq!(
            (outcome.step, &outcome.reply),
            ("eom", &Reply::Continue),
            "after {after}"
        );
        assert!(
            format!("{:?}", outcome.modifications).contains("spf=pass"),
            "after {after}: {outcome:?}"
        );
        client.quit(false).await.expect("quit");

        let mut policy = daemon.policy_client().await;
        let reply = policy
            .send_raw(good_request(&format!("ok.{after}").replace(' ', "-")).as_bytes())
            .await
            .unwrap_or_else(|e| panic!("after {after}: policy request: {e}"));
        assert!(
            reply.starts_with("PREPEND Received-SPF: pass"),
            "after {after}: {reply}"
        );
    };
    tokio::time::timeout(WAIT, check)
        .await
        .unwrap_or_else(|_| panic!("after {after}: the daemon no longer answers in time"));
}

/// A milter packet: 4-byte length (command byte included), command, data.
fn packet(code: u8, data: &[u8]) -> Vec<u8> {
    let mut p = u32::try_from(data.len() + 1)
        .expect("small packet")
        .to_be_bytes()
        .to_vec();
    p.push(code);
    p.extend_from_slice(data);
    p
}

/// The option negotiation packet Postfix sends first.
fn negotiation_packet() -> Vec<u8> {
    // version 6, all actions, all protocol steps offered: what `mta_default` offers.
    let offer = Negotiation::mta_default();
    let mut data = offer.version.to_be_bytes().to_vec();
    data.extend_from_slice(&offer.actions.0.to_be_bytes());
    data.extend_from_slice(&offer.protocol.0.to_be_bytes());
    packet(b'O', &data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_milter_input_is_closed_and_the_daemon_keeps_serving() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    still_serves(&daemon, "start").await;

    let http = b"GET / HTTP/1.1\r\nHost: mx.kanmon.test\r\n\r\n".to_vec();
    let mut truncated = 100u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(b"Mabcdefgh\0");
    let mut oversized = 0x7fff_ffffu32.to_be_bytes().to_vec();
    oversized.extend_from_slice(b"Lhuge\0");
    // One byte past the largest packet, with its data actually following.
    let just_over = {
        let mut p = u32::try_from(MAX_PACKET_LEN + 1)
            .expect("fits")
            .to_be_bytes()
            .to_vec();
        p.push(b'L');
        p.extend_from_slice(b"Subject\0");
        p.resize(4 + MAX_PACKET_LEN + 1, b'x');
        p
    };
    let after_negotiation = |tail: &[Vec<u8>]| {
        let mut bytes = negotiation_packet();
        for p in tail {
            bytes.extend_from_slice(p);
        }
        bytes
    };
    let mail = packet(b'M', b"<alice@pass.test>\0");
    let rcpt = packet(b'R', b"<bob@kanmon.test>\0");
    // Replies a broken session may get besides the negotiation reply: continue (to the good
    // commands before the broken one: RCPT is answered) or an error (tempfail, reject, a
    // reply code) — never header changes. The cases sent without closing our side prove the
    // daemon closed the connection itself.
    //
    // The state machine lets a command jump forward over steps (Postfix skips the ones the
    // milter asked it to), so a body before MAIL is taken as a message that never began:
    // ignored, and its end of message answered continue with nothing changed. Our side
    // closes there, as the daemon does not.
    const REPLIES: &[u8] = b"ctry";
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("HTTP request", http, false),
        (
            "garbage with a small length",
            packet(b'Z', &[0xff; 32]),
            false,
        ),
        ("zero-length packet", vec![0, 0, 0, 0], false),
        ("truncated packet then close", truncated, true),
        ("length 0x7fffffff", oversized, false),
        ("packet one byte over MAX_PACKET_LEN", just_over, false),
        ("MAIL before negotiation", mail.clone(), false),
        (
            "header and body before MAIL, then end of message",
            after_negotiation(&[
                packet(b'L', b"Subject\0 hi\0"),
                packet(b'B', b"Hi Bob.\r\n"),
                packet(b'E', b""),
            ]),
            true,
        ),
        (
            "RCPT after end of headers",
            after_negotiation(&[mail.clone(), rcpt.clone(), packet(b'N', b""), rcpt.clone()]),
            false,
        ),
        (
            "MAIL inside a transaction",
            after_negotiation(&[mail.clone(), rcpt.clone(), mail.clone()]),
            false,
        ),
        (
            "MAIL without its NUL",
            after_negotiation(&[packet(b'M', b"<alice@pass.test>")]),
            false,
        ),
        (
            "second negotiation",
            after_negotiation(&[negotiation_packet()]),
            false,
        ),
        (
            "transaction cut off in the body",
            after_negotiation(&[
                mail,
                rcpt,
                packet(b'L', b"From\0 alice@pass.test\0"),
                packet(b'N', b""),
                packet(b'B', b"Hi"),
            ]),
            true,
        ),
    ];
    for (what, bytes, shutdown) in cases {
        let ending = send_and_wait_close(daemon.milter, what, &bytes, shutdown).await;
        let mut rest = &ending.received[..];
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            assert!(tail.len() >= len && len > 0, "{what}: partial packet sent");
            assert!(
                tail[0] == b'O' || REPLIES.contains(&tail[0]),
                "{what}: reply {:?} not allowed, got {:?}",
                char::from(tail[0]),
                ending.received
            );
            rest = &tail[len..];
        }
        assert!(rest.is_empty(), "{what}: {:?}", ending.received);
        still_serves(&daemon, what).await;
    }
    // None of it cost memory: the 2 GiB length was refused before any allocation.
    let peak = daemon.peak_rss_kib();
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_policy_input_is_closed_and_the_daemon_keeps_serving() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    still_serves(&daemon, "start").await;

    let with_line = |line: String| format!("request=smtpd_access_policy\n{line}\n\n");
    let long_line = with_line(format!("helo_name={}", "h".repeat(MAX_LINE_LEN)));
    assert_eq!(
        long_line.lines().nth(1).map(str::len),
        Some(MAX_LINE_LEN + 10)
    );
    let huge_line = with_line(format!("helo_name={}", "h".repeat(70 * 1024)));
    let many = (0..10_000)
        .map(|i| format!("x_attribute_{i}=value\n"))
        .collect::<String>()
        + "\n";
    let just_too_many = (0..=MAX_ATTRIBUTES)
        .map(|i| format!("x{i}=v\n"))
        .collect::<String>()
        + "\n";
    // Under the line and attribute limits, over the request limit.
    let long_request = (0..200)
        .map(|i| format!("x{i}={}\n", "v".repeat(400)))
        .collect::<String>()
        + "\n";
    assert!(long_request.len() > MAX_REQUEST_LEN);
    let no_blank_line = good_request("nb.1").trim_end().to_owned() + "\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("line one byte over the limit", long_line.into_bytes()),
        ("line over 64 KiB", huge_line.into_bytes()),
        ("10,000 attributes", many.into_bytes()),
        ("257 attributes", just_too_many.into_bytes()),
        ("request over 64 KiB", long_request.into_bytes()),
        (
            "request without its empty line, then EOF",
            no_blank_line.into_bytes(),
        ),
        (
            "line without '='",
            b"request=smtpd_access_policy\nnonsense\n\n".to_vec(),
        ),
        ("attribute with an empty name", b"=value\n\n".to_vec()),
        (
            "attribute given twice",
            b"sender=a@pass.test\nsender=b@pass.test\n\n".to_vec(),
        ),
        ("empty request", b"\n".to_vec()),
        (
            "binary garbage then EOF",
            vec![0x00, 0xff, 0x16, 0x03, 0x01, 0x02, 0x00],
        ),
        (
            "TLS ClientHello",
            vec![0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00],
        ),
    ];
    for (what, bytes) in cases {
        let ending = send_and_wait_close(daemon.policy, what, &bytes, true).await;
        // The policy protocol's way to report trouble: no reply, the connection closed.
        assert!(
            ending.received.is_empty(),
            "{what}: expected no reply, got {:?}",
            String::from_utf8_lossy(&ending.received)
        );
        still_serves(&daemon, what).await;
    }

    // Bytes that are not UTF-8 are what Postfix passes on from the SMTP client: the request
    // is answered (never OK), and the connection goes on serving.
    let mut request = Vec::new();
    request.extend_from_slice(
        b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.25\n",
    );
    request.extend_from_slice(b"helo_name=mx.\xff\xfe\x80client.test\n");
    request.extend_from_slice(b"sender=al\xc3\x28ice@pass.test\n");
    request.extend_from_slice(b"recipient=bob@kanmon.test\ninstance=u8.1\nx_\xe9t\xe9=\xe9\n\n");
    let mut client = daemon.policy_client().await;
    let reply = tokio::time::timeout(WAIT, client.send_raw(&request))
        .await
        .expect("non-UTF-8: answered in time")
        .expect("non-UTF-8: a reply");
    assert!(!reply.starts_with("OK"), "{reply}");
    let next = tokio::time::timeout(WAIT, client.send_raw(good_request("u8.2").as_bytes()))
        .await
        .expect("answered in time")
        .expect("the same connection goes on");
    assert!(next.starts_with("PREPEND Received-SPF: pass"), "{next}");
    still_serves(&daemon, "non-UTF-8 bytes").await;
}
