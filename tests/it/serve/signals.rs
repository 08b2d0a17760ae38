//! Signals: SIGHUP reloads all-or-nothing, SIGTERM finishes messages in progress and exits.

use std::time::Duration;

use kanmon_milter::Reply;
use kanmon_testdns::SilentServer;

use super::{Daemon, dns, next_message, transaction};

const MESSAGE: &str = "From: x@fail.test\nSubject: hi\n\nbody\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_takes_a_valid_file_whole_and_refuses_a_broken_one() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[spf]\nmode = \"tag\"\n").await;
    let mut client = daemon.milter_client().await;
    let tagged = client
        .transaction(&transaction("R1", "x@fail.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(tagged.step, "eom");

    daemon.write_config(dns.addr, "[spf]\nmode = \"enforce\"\n");
    daemon.signal("HUP");
    daemon.wait_log("configuration reloaded").await;
    // The connection opened before the reload gets the new engine for its next message. It
    // negotiated no reply at RCPT TO (nothing was enforced before DATA then), so the refusal
    // comes at end of message; a new connection is refused at RCPT TO.
    let refused = client
        .transaction(&next_message("R2", "x@fail.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(refused.step, "eom", "{refused:?}");
    assert!(
        matches!(&refused.reply, Reply::Code(code) if code.code() == 550),
        "{refused:?}"
    );
    let mut client = daemon.milter_client().await;
    let refused = client
        .transaction(&transaction("R2b", "x@fail.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(refused.step, "rcpt", "{refused:?}");
    client.abort().await.expect("abort");

    daemon.write_config(dns.addr, "[spf]\nmode = \"enforced\"\n");
    daemon.signal("HUP");
    daemon.wait_log("reload refused").await;
    assert!(daemon.log().contains("spf.mode"), "{}", daemon.log());
    let still = client
        .transaction(&next_message("R3", "x@fail.test", MESSAGE))
        .await
        .expect("transaction");
    assert_eq!(still.step, "rcpt", "the old configuration keeps serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_finishes_the_message_in_progress_then_exits() {
    // DNS that never answers: each scan runs to its 1 s budget, so the message is still in
    // progress when SIGTERM arrives.
    let silent = SilentServer::start().await;
    let mut daemon = Daemon::start(silent.addr, "[limits]\nscan_timeout_ms = 1000\n").await;
    let mut busy = daemon.milter_client().await;
    let idle = daemon.milter_client().await;
    let in_progress = tokio::spawn(async move {
        busy.transaction(&transaction("T1", "x@fail.test", MESSAGE))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon.signal("TERM");
    let outcome = in_progress
        .await
        .expect("task")
        .expect("the message in progress is answered");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    let status = daemon
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("kanmon exits after draining, an idle connection notwithstanding");
    assert!(status.success(), "{status}");
    drop(idle);
    let log = daemon.log();
    assert!(log.contains("stopping"), "{log}");
    assert!(log.contains("queue_id=\"T1\""), "{log}");
}
