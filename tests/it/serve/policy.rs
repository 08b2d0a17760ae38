//! The policy front-end over TCP: one verdict per transaction (`instance`), PREPEND or a
//! refusal, never OK.

use super::{Daemon, dns};

fn rcpt<'a>(instance: &'a str, sender: &'a str, recipient: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("request", "smtpd_access_policy"),
        ("protocol_state", "RCPT"),
        ("protocol_name", "ESMTP"),
        ("client_address", "192.0.2.25"),
        ("client_name", "mx.client.test"),
        ("helo_name", "mx.client.test"),
        ("sender", sender),
        ("recipient", recipient),
        ("instance", instance),
        ("queue_id", ""),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_prepends_received_spf_once_per_transaction() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    let mut client = daemon.policy_client().await;
    let first = client
        .send(&rcpt("a1.b2", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(
        first.starts_with("PREPEND Received-SPF: pass (mx.kanmon.test: domain of alice@pass.test designates 192.0.2.25 as permitted sender)"),
        "{first}"
    );
    let second = client
        .send(&rcpt("a1.b2", "alice@pass.test", "carol@kanmon.test"))
        .await
        .expect("reply");
    assert_eq!(second, "DUNNO");
    // A new transaction gets its own verdict.
    let next = client
        .send(&rcpt("a1.b3", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(next.starts_with("PREPEND Received-SPF: pass"), "{next}");
    // The milter serves the same mail and writes each message's line at its end, so the
    // policy server does not write a second one for mail it lets through.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        daemon.log().matches("scanned").count(),
        0,
        "{}",
        daemon.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforced_fail_refuses_every_recipient_and_the_end_of_message() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[spf]\nmode = \"enforce\"\n").await;
    let mut client = daemon.policy_client().await;
    for recipient in ["bob@kanmon.test", "carol@kanmon.test"] {
        let reply = client
            .send(&rcpt("f1.x", "x@fail.test", recipient))
            .await
            .expect("reply");
        assert!(reply.starts_with("550 5.7.1 SPF fail"), "{reply}");
    }
    let mut end = rcpt("f1.x", "x@fail.test", "");
    end[1] = ("protocol_state", "END-OF-MESSAGE");
    let reply = client.send(&end).await.expect("reply");
    assert!(reply.starts_with("550 5.7.1 SPF fail"), "{reply}");
    // SPF ran once for the transaction, and the refused message has its one log line.
    daemon.wait_log("scanned").await;
    let log = daemon.log();
    assert_eq!(log.matches("scanned").count(), 1, "{log}");
    assert!(log.contains("action=reject"), "{log}");
}

/// S25R enforced: Postfix's `client_name=unknown` (it looked, and found no verified name) is
/// refused temporarily at RCPT; Postfix turns DEFER_IF_PERMIT into its `defer_code` (450).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s25r_enforced_defers_a_client_without_a_name() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[s25r]\nmode = \"enforce\"\n").await;
    let mut client = daemon.policy_client().await;
    let mut request = rcpt("s1.x", "alice@pass.test", "bob@kanmon.test");
    request[4] = ("client_name", "unknown");
    let reply = client.send(&request).await.expect("reply");
    assert_eq!(
        reply,
        "DEFER_IF_PERMIT 4.7.1 S25R check: be patient [unknown]"
    );
    // The same client with its verified name passes.
    let reply = client
        .send(&rcpt("s2.x", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(reply.starts_with("PREPEND Received-SPF: pass"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_stages_and_unknown_senders_get_dunno_never_ok() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[spf]\nmode = \"enforce\"\n").await;
    let mut client = daemon.policy_client().await;
    for state in ["CONNECT", "HELO", "MAIL", "DATA", "END-OF-MESSAGE", "VRFY"] {
        let mut request = rcpt("s1.x", "x@fail.test", "bob@kanmon.test");
        request[1] = ("protocol_state", state);
        let reply = client.send(&request).await.expect("reply");
        assert_eq!(reply, "DUNNO", "{state}");
    }
    // No SPF record: nothing to prepend that says more than none, and nothing to refuse.
    let reply = client
        .send(&rcpt("s2.x", "someone@nowhere.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(!reply.starts_with("OK"), "{reply}");
    assert!(
        reply.starts_with("PREPEND Received-SPF: none") || reply == "DUNNO",
        "{reply}"
    );
}

/// Greylisting enforced: the first attempt of each recipient is deferred, per recipient
/// (a transaction's verdict is kept, its greylisting is not); a retry after the delay, in a
/// new transaction, passes and gets the Received-SPF field the deferral did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_defers_each_new_recipient_then_lets_the_retry_through() {
    let dns = dns().await;
    let daemon = Daemon::start(
        dns.addr,
        "[greylist]\nmode = \"enforce\"\ndelay_s = 1\nretry_window_s = 600\nwhitelist_recipients = [\"postmaster@\"]\n",
    )
    .await;
    let mut client = daemon.policy_client().await;
    let deferred = "DEFER_IF_PERMIT 4.7.1 Greylisted: please try again in 1 second";
    for recipient in ["bob@kanmon.test", "carol@kanmon.test"] {
        let reply = client
            .send(&rcpt("g1.x", "alice@pass.test", recipient))
            .await
            .expect("reply");
        assert_eq!(reply, deferred, "{recipient}");
    }
    // A whitelisted recipient of the same transaction is the first accepted one.
    let reply = client
        .send(&rcpt("g1.x", "alice@pass.test", "postmaster@kanmon.test"))
        .await
        .expect("reply");
    assert!(reply.starts_with("PREPEND Received-SPF: pass"), "{reply}");
    // Each deferred recipient is a refused attempt with its own line.
    daemon.wait_log("action=greylist").await;
    let log = daemon.log();
    assert_eq!(log.matches("action=greylist").count(), 2, "{log}");
    assert!(log.contains("GREYLIST_DEFERRED(0)"), "{log}");

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let retry = client
        .send(&rcpt("g2.x", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(retry.starts_with("PREPEND Received-SPF: pass"), "{retry}");
    let second = client
        .send(&rcpt("g2.x", "alice@pass.test", "carol@kanmon.test"))
        .await
        .expect("reply");
    assert_eq!(second, "DUNNO");
    // A new recipient in the retry is deferred all the same.
    let new = client
        .send(&rcpt("g2.x", "alice@pass.test", "dave@kanmon.test"))
        .await
        .expect("reply");
    assert_eq!(new, deferred);
}

/// rgrey: greylisting only what S25R suspects; S25R itself then asks for no refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspicious_only_greylists_s25r_suspects_and_s25r_does_not_refuse_them_too() {
    let dns = dns().await;
    let daemon = Daemon::start(
        dns.addr,
        "[s25r]\nmode = \"enforce\"\n[greylist]\nmode = \"enforce\"\nonly = \"suspicious\"\ndelay_s = 1\n",
    )
    .await;
    let mut client = daemon.policy_client().await;
    let reply = client
        .send(&rcpt("r1.x", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert!(reply.starts_with("PREPEND Received-SPF: pass"), "{reply}");
    let mut unknown = rcpt("r2.x", "alice@pass.test", "bob@kanmon.test");
    unknown[4] = ("client_name", "unknown");
    let reply = client.send(&unknown).await.expect("reply");
    assert_eq!(
        reply,
        "DEFER_IF_PERMIT 4.7.1 Greylisted: please try again in 1 second"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    unknown[8] = ("instance", "r3.x");
    let reply = client.send(&unknown).await.expect("reply");
    assert!(reply.starts_with("PREPEND Received-SPF: pass"), "{reply}");
}

/// A DNSBL with `enforce = true`, `[rbl]` enforced: a listed client is refused at RCPT in
/// Postfix's reject_rbl_client words, before any message is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsbl_enforced_refuses_a_listed_client() {
    let dns = kanmon_testdns::DnsServer::start().await;
    let zone = format!("{}\n25.2.0.192.bl.test A 127.0.0.2\n", super::ZONE);
    dns.set_zone(kanmon_testdns::parse_zone(&zone).expect("zone parses"));
    let daemon = Daemon::start(
        dns.addr,
        "[rbl]\nmode = \"enforce\"\n\n[[dnsbl]]\nzone = \"bl.test\"\nsymbol = \"RCVD_IN_BL_TEST\"\nscore = 1.0\nenforce = true\n",
    )
    .await;
    let mut client = daemon.policy_client().await;
    let reply = client
        .send(&rcpt("d1.x", "alice@pass.test", "bob@kanmon.test"))
        .await
        .expect("reply");
    assert_eq!(
        reply,
        "550 5.7.1 DNSBL: client [192.0.2.25] blocked using bl.test"
    );
}
