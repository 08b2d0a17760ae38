//! Connection limits: a client that opens connections and sends nothing holds them no
//! longer than `[http] idle_timeout_secs`, and while `max_connections` are taken the next
//! waits instead of being refused or dropped.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Server, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_the_next_request_is_served() {
    let server = Server::start("[http]\nmax_connections = 2\nidle_timeout_secs = 1\n", None).await;
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Both permits are taken by connections that say nothing: the request waits in the
    // listen backlog until the first of them is closed for idling (never before 1 s).
    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        request(server.addr, "GET", "/bayes", &[], b""),
    )
    .await
    .expect("the waiting request is served once a silent connection is closed");
    let waited = started.elapsed();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        waited >= Duration::from_millis(900),
        "served after {waited:?}"
    );

    for mut connection in silent {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), connection.read(&mut byte))
            .await
            .expect("the server closed the silent connection");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a silent connection got {read:?}"
        );
    }
}
