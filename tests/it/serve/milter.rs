//! The milter front-end over TCP: early refusal at RCPT, the end-of-message verdict as
//! header changes or a reply, forged fields removed, several messages on one connection.

use kanmon_milter::{Modification, Protocol, Reply, Stage};

use super::{Daemon, dns, next_message, transaction};

const PASS: &str =
    "From: Alice <alice@pass.test>\nTo: bob@kanmon.test\nSubject: hello\n\nHi Bob.\n";

/// The inserted fields, top first, as `name: value`.
fn inserted(modifications: &[Modification]) -> Vec<String> {
    let mut fields: Vec<String> = modifications
        .iter()
        .filter_map(|m| match m {
            Modification::InsertHeader { index, name, value } => {
                assert_eq!(*index, 0, "{name} is inserted on top");
                Some(format!("{name}:{value}"))
            }
            _ => None,
        })
        .collect();
    // Each insert at index 0 lands above the previous one.
    fields.reverse();
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_pass_is_accepted_with_authentication_results_on_top() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    let mut client = daemon.milter_client().await;
    let outcome = client
        .transaction(&transaction("4AB1C2", "alice@pass.test", PASS))
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    let fields = inserted(&outcome.modifications);
    assert!(
        fields[0].starts_with("Authentication-Results: mx.kanmon.test;"),
        "{fields:#?}"
    );
    assert!(fields[0].contains("spf=pass ("), "{fields:#?}");
    assert!(
        fields[0].contains("smtp.mailfrom=alice@pass.test;"),
        "{fields:#?}"
    );
    assert!(fields[0].contains("dmarc=pass"), "{fields:#?}");
    assert!(
        fields.iter().any(|f| f.starts_with("Received-SPF: pass")),
        "{fields:#?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("X-Spam-Status: No")),
        "{fields:#?}"
    );
    // Folded values use LF + TAB, which Postfix turns into CRLF.
    assert!(!fields.iter().any(|f| f.contains('\r')), "{fields:#?}");
    daemon.wait_log("queue_id=\"4AB1C2\"").await;
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("4AB1C2"))
        .expect("a log line for the message");
    for part in [
        "scanned",
        "client=192.0.2.25",
        "from=\"alice@pass.test\"",
        "action=accept",
        "SPF_PASS",
        "would_enforce=-",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    assert_eq!(
        log.matches("4AB1C2").count(),
        1,
        "one line per message:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforced_spf_fail_is_refused_at_rcpt_and_tagged_otherwise() {
    let dns = dns().await;
    let message = "From: x@fail.test\nSubject: hi\n\nbody\n";

    let enforcing = Daemon::start(dns.addr, "[spf]\nmode = \"enforce\"\n").await;
    let mut client = enforcing.milter_client().await;
    let outcome = client
        .transaction(&transaction("F1", "x@fail.test", message))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "rcpt");
    let Reply::Code(code) = &outcome.reply else {
        panic!("expected a reply code, got {outcome:?}");
    };
    assert_eq!(code.code(), 550);
    assert!(code.text().starts_with("5.7.1 SPF fail"), "{}", code.text());

    assert!(
        !client.negotiated().protocol.contains(Protocol::NR_RCPT),
        "an enforced check before DATA needs the reply at RCPT TO"
    );

    let tagging = Daemon::start(dns.addr, "[spf]\nmode = \"tag\"\n").await;
    let mut client = tagging.milter_client().await;
    assert!(
        client.negotiated().protocol.contains(Protocol::NR_RCPT),
        "nothing before DATA is enforced: Postfix need not wait at RCPT TO"
    );
    let outcome = client
        .transaction(&transaction("F2", "x@fail.test", message))
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    let fields = inserted(&outcome.modifications);
    assert!(fields[0].contains("spf=fail"), "{fields:#?}");
    assert!(fields.iter().any(|f| f.starts_with("Received-SPF: fail")));
    // Observe mode: the log line says what enforcing SPF would have done.
    tagging.wait_log("queue_id=\"F2\"").await;
    let log = tagging.log();
    let line = log
        .lines()
        .find(|l| l.contains("\"F2\""))
        .expect("F2's line");
    assert!(line.contains("would_enforce=spf:reject"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_reject_is_refused_at_end_of_message_when_enforced() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[dmarc]\nmode = \"enforce\"\n").await;
    let mut client = daemon.milter_client().await;
    let spoof = "From: ceo@reject.test\nSubject: wire transfer\n\nPay now.\n";
    let outcome = client
        .transaction(&transaction("D1", "bounce@pass.test", spoof))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "eom");
    let Reply::Code(code) = &outcome.reply else {
        panic!("expected a reply code, got {outcome:?}");
    };
    assert_eq!(code.code(), 550);
    assert!(code.text().starts_with("5.7.1 DMARC"), "{}", code.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authentication_results_are_deleted() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "").await;
    let mut client = daemon.milter_client().await;
    let forged = "Authentication-Results: other.example; spf=pass\n\
                  Authentication-Results: mx.kanmon.test; dkim=pass header.d=pass.test\n\
                  From: alice@pass.test\nSubject: x\n\nbody\n";
    let outcome = client
        .transaction(&transaction("G1", "alice@pass.test", forged))
        .await
        .expect("transaction");
    let deletions: Vec<&Modification> = outcome
        .modifications
        .iter()
        .filter(|m| matches!(m, Modification::ChangeHeader { .. }))
        .collect();
    assert_eq!(
        deletions,
        [&Modification::ChangeHeader {
            index: 2,
            name: "Authentication-Results".to_owned(),
            value: String::new()
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_messages_and_an_abort_on_one_connection() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[spf]\nmode = \"enforce\"\n").await;
    let mut client = daemon.milter_client().await;
    let first = client
        .transaction(&transaction("M1", "alice@pass.test", PASS))
        .await
        .expect("first");
    assert_eq!(first.reply, Reply::Continue);
    let refused = client
        .transaction(&next_message("M2", "x@fail.test", PASS))
        .await
        .expect("second");
    assert_eq!(refused.step, "rcpt");
    // Postfix aborts the refused transaction, then the next message follows.
    client.abort().await.expect("abort");
    let third = client
        .transaction(&next_message("M3", "alice@pass.test", PASS))
        .await
        .expect("third");
    assert_eq!((third.step, &third.reply), ("eom", &Reply::Continue));
    assert!(inserted(&third.modifications)[0].contains("spf=pass"));
    client.quit(false).await.expect("quit");
    daemon.wait_log("queue_id=\"M3\"").await;
    // Refused at RCPT, M2 still has its one line, with the refusal.
    let log = daemon.log();
    let m2: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("queue_id=\"M2\""))
        .collect();
    assert_eq!(m2.len(), 1, "{log}");
    assert!(m2[0].contains("action=reject"), "{}", m2[0]);
}

/// S25R enforced over the milter: a client whose name is a dynamic-pool name is refused
/// temporarily at RCPT TO, in S25R's words; a server-like name passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s25r_enforced_refuses_a_dynamic_client_temporarily_at_rcpt() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[s25r]\nmode = \"enforce\"\n").await;
    let message = "From: x@pass.test\nSubject: hi\n\nbody\n";
    let mut dynamic = transaction("S1", "x@pass.test", message);
    for (stage, macros) in &mut dynamic.macros {
        if *stage == Stage::Connect {
            for (name, value) in macros.iter_mut() {
                if name == "{client_name}" {
                    *value = "p3201-ipngn100.example-dsl.jp".to_owned();
                }
            }
        }
    }
    let outcome = daemon
        .milter_client()
        .await
        .transaction(&dynamic)
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "rcpt", "{outcome:?}");
    let Reply::Code(code) = &outcome.reply else {
        panic!("expected a reply code, got {outcome:?}");
    };
    assert_eq!(code.code(), 451);
    assert!(
        code.text().starts_with("4.7.1 S25R check: be patient [r"),
        "{}",
        code.text()
    );

    let server = daemon
        .milter_client()
        .await
        .transaction(&transaction("S2", "x@pass.test", message))
        .await
        .expect("transaction");
    assert_eq!(
        server.step, "eom",
        "mx.client.test is not a dynamic name: {server:?}"
    );
}

/// Greylisting enforced: 451 4.7.1 at RCPT TO on the first attempt (the message's log line
/// says greylist), then, after the delay, the same transaction is accepted and its log
/// line shows the pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_tempfails_at_rcpt_then_accepts_the_retry() {
    let dns = dns().await;
    let daemon = Daemon::start(
        dns.addr,
        "[greylist]\nmode = \"enforce\"\ndelay_s = 1\nretry_window_s = 600\n",
    )
    .await;
    let mut client = daemon.milter_client().await;
    assert!(
        !client.negotiated().protocol.contains(Protocol::NR_RCPT),
        "greylisting needs the reply at RCPT TO"
    );
    let outcome = client
        .transaction(&transaction("G1", "alice@pass.test", PASS))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "rcpt");
    let Reply::Code(code) = &outcome.reply else {
        panic!("expected a reply code, got {outcome:?}");
    };
    assert_eq!(
        (code.code(), code.text()),
        (451, "4.7.1 Greylisted: please try again in 1 second")
    );
    daemon.wait_log("action=greylist").await;

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut client = daemon.milter_client().await;
    let outcome = client
        .transaction(&transaction("G2", "alice@pass.test", PASS))
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    daemon.wait_log("queue_id=\"G2\"").await;
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("queue_id=\"G2\""))
        .expect("a log line for the retry");
    assert!(line.contains("action=accept"), "{line}");
    assert!(line.contains("GREYLIST_PASSED(0)"), "{line}");
}

/// Greylisting in tag mode defers nothing; the message's log line records the would-be
/// deferral, as every observe mode does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_in_tag_mode_only_records_what_it_would_defer() {
    let dns = dns().await;
    let daemon = Daemon::start(dns.addr, "[greylist]\nmode = \"tag\"\n").await;
    let mut client = daemon.milter_client().await;
    let outcome = client
        .transaction(&transaction("T1", "alice@pass.test", PASS))
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    daemon.wait_log("queue_id=\"T1\"").await;
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("queue_id=\"T1\""))
        .expect("a log line");
    assert!(line.contains("GREYLIST_DEFERRED(0)"), "{line}");
    assert!(line.contains("would_enforce=greylist:greylist"), "{line}");
}

/// Two recipients, one new (deferred at its RCPT TO), one whitelisted: the message goes on
/// for the second, and its verdict carries the second's greylisting only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_recipient_does_not_stop_the_others() {
    let dns = dns().await;
    let daemon = Daemon::start(
        dns.addr,
        "[greylist]\nmode = \"enforce\"\nwhitelist_recipients = [\"postmaster@\"]\n",
    )
    .await;
    let mut tx = transaction("M1", "alice@pass.test", PASS);
    tx.rcpts = vec![
        vec!["<bob@kanmon.test>".to_owned()],
        vec!["<postmaster@kanmon.test>".to_owned()],
    ];
    let outcome = daemon
        .milter_client()
        .await
        .transaction(&tx)
        .await
        .expect("transaction");
    assert_eq!((outcome.step, &outcome.reply), ("eom", &Reply::Continue));
    let Reply::Code(code) = &outcome.rcpts[0] else {
        panic!("bob deferred: {outcome:?}");
    };
    assert_eq!(
        (code.code(), code.text()),
        (451, "4.7.1 Greylisted: please try again in 300 seconds")
    );
    assert_eq!(outcome.rcpts[1], Reply::Continue);
    let status = inserted(&outcome.modifications)
        .into_iter()
        .find(|f| f.starts_with("X-Spam-Status:"))
        .expect("X-Spam-Status");
    assert!(status.contains("GREYLIST_WHITELISTED"), "{status}");
    assert!(!status.contains("GREYLIST_DEFERRED"), "{status}");
    daemon.wait_log("action=accept").await;
    let log = daemon.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("M1")).collect();
    assert_eq!(
        lines.len(),
        2,
        "the deferral's line and the message's:\n{log}"
    );
    assert!(lines[0].contains("action=greylist"), "{}", lines[0]);
    assert!(lines[1].contains("GREYLIST_WHITELISTED(0)"), "{}", lines[1]);
}

/// A URI list with `enforce = true`, `[rbl]` enforced: the envelope passes RCPT (the URLs are
/// in the message), and the message whose link the list names is refused at its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uribl_enforced_refuses_the_message_at_its_end() {
    let dns = kanmon_testdns::DnsServer::start().await;
    let zone = format!("{}\nspam.test.uri.test A 127.0.0.2\n", super::ZONE);
    dns.set_zone(kanmon_testdns::parse_zone(&zone).expect("zone parses"));
    let daemon = Daemon::start(
        dns.addr,
        "[rbl]\nmode = \"enforce\"\n\n[[uribl]]\nzone = \"uri.test\"\nsymbol = \"URI_BL_TEST\"\nscore = 1.0\nenforce = true\n",
    )
    .await;
    let message = "From: x@pass.test\nSubject: hi\n\nSee https://www.spam.test/offer now.\n";
    let outcome = daemon
        .milter_client()
        .await
        .transaction(&transaction("U1", "x@pass.test", message))
        .await
        .expect("transaction");
    assert_eq!(outcome.step, "eom", "{outcome:?}");
    let Reply::Code(code) = &outcome.reply else {
        panic!("expected a reply code, got {outcome:?}");
    };
    assert_eq!(code.code(), 550);
    assert_eq!(
        code.text(),
        "5.7.1 URIBL: URL domain [spam.test] blocked using uri.test"
    );
}
