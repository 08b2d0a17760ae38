//! kanmon as Postfix's policy server only (`check_policy_service`, the milter listener off):
//! SPF decided at RCPT TO, and its result PREPENDed by Postfix on the policy answer.

use super::milter::{received_spf, results_on_top, spf_fail_refused_at_rcpt};
use super::smtp::{Mail, header_fields, values};
use super::{Settings, Stack};

#[test]
fn spf_fail_enforced_is_refused_at_rcpt_by_the_policy_answer() {
    let stack = Stack::start(Settings::policy().spf("enforce"), "accept");
    spf_fail_refused_at_rcpt(&stack);
    // Postfix logged the refusal as a restriction's, not a milter's.
    let log = stack.postfix.log();
    assert!(
        log.contains("NOQUEUE: reject: RCPT from") && !log.contains("milter-reject"),
        "{}",
        stack.postfix.log_tail()
    );
}

#[test]
fn spf_pass_is_delivered_with_received_spf_prepended() {
    let stack = Stack::start(Settings::policy().spf("enforce"), "accept");
    let mail = Mail::new("alice@pass.test", "bob@kanmon.test", "alice@pass.test", "");
    mail.send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("bob", 1);
    let spf = received_spf(&delivered[0]);
    assert!(spf.starts_with("pass"), "{spf}");
    assert!(spf.contains("127.0.0.11"), "{spf}");
    // PREPEND puts the fields right above smtpd's own Received:, under virtual(8)'s.
    let names: Vec<String> = header_fields(&delivered[0])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let after_virtual: Vec<&str> = names[3..]
        .iter()
        .map(String::as_str)
        .skip_while(|&n| n == "Received-SPF")
        .take(1)
        .collect();
    assert_eq!(
        (&names[..4], after_virtual.as_slice()),
        (
            &[
                "Return-Path",
                "X-Original-To",
                "Delivered-To",
                "Received-SPF"
            ]
            .map(String::from)[..],
            &["Received"][..]
        ),
        "{}",
        String::from_utf8_lossy(&delivered[0])
    );
    // No milter: no Authentication-Results.
    assert!(values(&delivered[0], "Authentication-Results").is_empty());
}

#[test]
fn with_milter_and_policy_server_spf_is_written_once() {
    let stack = Stack::start(Settings::both(), "accept");
    let mail = Mail::new(
        "alice@pass.test",
        "alice@kanmon.test",
        "alice@pass.test",
        "",
    );
    mail.send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("alice", 1);
    // The milter's results on top; the policy answer's Received-SPF is not written again
    // by the milter (received_spf asserts there is exactly one for MAIL FROM).
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("spf=pass"), "{results}");
    assert!(received_spf(&delivered[0]).starts_with("pass"));
}

#[test]
fn with_milter_and_policy_server_spf_fail_is_refused_by_the_policy_answer() {
    let stack = Stack::start(Settings::both().spf("enforce"), "accept");
    spf_fail_refused_at_rcpt(&stack);
    // check_policy_service runs before the milter's RCPT callback.
    assert!(
        stack.postfix.log().contains("NOQUEUE: reject: RCPT from"),
        "{}",
        stack.postfix.log_tail()
    );
}
