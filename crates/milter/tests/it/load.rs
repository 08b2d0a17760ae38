//! 500 concurrent sessions against one server, each a full transaction.

use std::time::{Duration, Instant};

use kanmon_milter::Reply;

use crate::{Log, config, expected_modifications, first_message, tcp_client, tcp_server};

const SESSIONS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_sessions() {
    let log = Log::default();
    let addr = tcp_server(config(), log.clone(), Duration::ZERO).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..SESSIONS {
        tasks.push(tokio::spawn(async move {
            let qid = format!("L{n:04}");
            let mut client = tcp_client(addr).await;
            let outcome = client
                .transaction(&first_message(&qid))
                .await
                .expect("transaction");
            client.quit(false).await.expect("quit");
            (qid, outcome)
        }));
    }
    for t in tasks {
        let (qid, outcome) = t.await.expect("session task");
        assert_eq!(outcome.step, "eom", "{qid}");
        assert_eq!(outcome.reply, Reply::Accept, "{qid}");
        assert_eq!(outcome.modifications, expected_modifications(&qid));
    }
    let eoms = log.lines().iter().filter(|l| l.starts_with("eom ")).count();
    assert_eq!(eoms, SESSIONS);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}
