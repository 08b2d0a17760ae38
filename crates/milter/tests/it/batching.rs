//! Replies go out one write per batch: the end-of-message header changes and the final reply
//! in a single write, so the MTA wakes once per answer, not once per packet.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use kanmon_milter::{Client, Negotiation, Reply, serve_connection};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use super::{Log, Recorder, config, expected_modifications, first_message};

/// The server's end of the connection, recording the size of every write.
struct CountingStream {
    inner: DuplexStream,
    writes: Arc<Mutex<Vec<usize>>>,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.writes.lock().expect("lock").push(n);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn end_of_message_changes_and_reply_go_out_in_one_write() {
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(Mutex::new(Vec::new()));
    let stream = CountingStream {
        inner: server_end,
        writes: Arc::clone(&writes),
    };
    let server = tokio::spawn(async move {
        let mut milter = Recorder::new(Log::default());
        serve_connection(stream, &mut milter, &config()).await
    });

    let mut client = Client::connect(client_end, Negotiation::mta_default())
        .await
        .expect("negotiation");
    let outcome = client
        .transaction(&first_message("4F2A1B3C9D"))
        .await
        .expect("transaction");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("4F2A1B3C9D"));
    client.quit(false).await.expect("quit");
    server.await.expect("server task").expect("served");

    // The negotiated steps that get a reply: negotiation, connect, HELO, MAIL, RCPT, DATA,
    // each header, end of headers, body, end of message; one write each, no more.
    let writes = writes.lock().expect("lock").clone();
    let headers = first_message("4F2A1B3C9D").headers.len();
    assert_eq!(writes.len(), 9 + headers, "write sizes: {writes:?}");
    // The last write carries the two changes and the reply: more than one packet.
    let changes: usize = 2 * 5 + 1;
    assert!(writes.last().is_some_and(|&n| n > changes), "{writes:?}");
}
