//! SMFIR_PROGRESS while a slow end-of-message handler runs.

use std::time::Duration;

use kanmon_milter::Reply;

use crate::{Log, config, expected_modifications, first_message, tcp_client, tcp_server};

#[tokio::test]
async fn slow_end_of_message_sends_progress() {
    let mut cfg = config();
    cfg.progress_interval = Some(Duration::from_millis(20));
    let addr = tcp_server(cfg, Log::default(), Duration::from_millis(200)).await;
    let mut client = tcp_client(addr).await;
    let outcome = client
        .transaction(&first_message("P1"))
        .await
        .expect("transaction");
    assert_eq!(outcome.reply, Reply::Accept);
    assert_eq!(outcome.modifications, expected_modifications("P1"));
    assert!(outcome.progress > 0, "no progress packets");
    assert!(
        outcome.progress <= 10,
        "{} progress packets",
        outcome.progress
    );

    // A fast handler sends none.
    let mut cfg = config();
    cfg.progress_interval = Some(Duration::from_secs(5));
    let addr = tcp_server(cfg, Log::default(), Duration::ZERO).await;
    let mut client = tcp_client(addr).await;
    let outcome = client
        .transaction(&first_message("P2"))
        .await
        .expect("transaction");
    assert_eq!(outcome.progress, 0);
}
