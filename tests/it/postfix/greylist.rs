//! Greylisting through a real Postfix: the first attempt of a (client network, sender,
//! recipient) triplet is deferred at RCPT TO — by the policy server's `DEFER_IF_PERMIT`
//! (Postfix answers its `defer_code`, 450) or by the milter's 451 — and the retry after
//! `delay_s` is accepted and delivered. The daemon runs on the system clock, so the delay
//! here is two seconds and the test waits it out.

use std::time::Duration;

use super::smtp::{Mail, Transcript};
use super::{Settings, Stack};

const GREYLIST: &str = "[greylist]\nmode = \"enforce\"\ndelay_s = 2\nretry_window_s = 600\n";

/// Waited before the retry: the delay and a little more.
const RETRY_AFTER: Duration = Duration::from_millis(2300);

/// Sends alice → bob, expects the deferral (its reply code and text), retries too early
/// (deferred again), waits out the delay, retries (delivered), and returns the transcripts.
fn deferred_then_delivered(stack: &Stack, code: &str) -> [Transcript; 3] {
    let mail = Mail::new("alice@pass.test", "bob@kanmon.test", "alice@pass.test", "");
    let first = mail.send(&stack.postfix);
    let reply = first.reply_to("RCPT").join("\n");
    assert!(
        reply.starts_with(code) && reply.contains("4.7.1") && reply.contains("Greylisted"),
        "{}\n{}",
        first.text,
        stack.postfix.log_tail()
    );
    assert!(!first.text.contains("queued as"), "{}", first.text);

    let early = mail.send(&stack.postfix);
    assert!(
        early.reply_to("RCPT").join("\n").starts_with(code),
        "{}",
        early.text
    );

    std::thread::sleep(RETRY_AFTER);
    let retry = mail.send(&stack.postfix);
    retry.assert_queued();
    let delivered = stack.postfix.wait_delivered("bob", 1);
    assert_eq!(delivered.len(), 1);
    [first, early, retry]
}

#[test]
fn greylisted_by_the_policy_server_then_delivered_on_retry() {
    let stack = Stack::start(Settings::policy().with(GREYLIST), "accept");
    deferred_then_delivered(&stack, "450");
    let log = stack.postfix.log();
    assert!(
        log.contains("NOQUEUE: reject: RCPT from")
            && log.contains("Greylisted: please try again in 2 seconds"),
        "{}",
        stack.postfix.log_tail()
    );
}

#[test]
fn greylisted_by_the_milter_then_delivered_on_retry() {
    let stack = Stack::start(Settings::milter().with(GREYLIST), "accept");
    deferred_then_delivered(&stack, "451");
    assert!(
        stack.postfix.log().contains("milter-reject: RCPT from"),
        "{}",
        stack.postfix.log_tail()
    );
    // The delivered message's log line shows the pass.
    let stderr = stack.kanmon.stderr();
    assert!(stderr.contains("GREYLIST_PASSED"), "{stderr}");
}
