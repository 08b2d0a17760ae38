//! kanmon as Postfix's milter (`smtpd_milters`): what it adds to delivered mail, what it
//! removes, and what it refuses, as seen by the sender (swaks' transcript) and the recipient
//! (the Maildir file).

use std::time::{Duration, Instant};

use super::smtp::{Mail, Transcript, header_fields, values};
use super::{Settings, Stack};

/// The fields virtual(8) puts above everything else in a delivered file.
const VIRTUAL_PREPENDS: [&str; 3] = ["Return-Path", "X-Original-To", "Delivered-To"];

/// Asserts kanmon's Authentication-Results is the first field after what virtual(8)
/// prepends (so above Postfix's own Received:) and returns its value, unfolded.
pub(super) fn results_on_top(message: &[u8]) -> String {
    let fields = header_fields(message);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            VIRTUAL_PREPENDS[0],
            VIRTUAL_PREPENDS[1],
            VIRTUAL_PREPENDS[2],
            "Authentication-Results"
        ],
        "{}",
        String::from_utf8_lossy(message)
    );
    let value = fields[3].1.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(value.starts_with("mx.kanmon.test;"), "{value}");
    value
}

/// The one `Received-SPF` field for the MAIL FROM identity (kanmon writes another for the
/// HELO identity).
pub(super) fn received_spf(message: &[u8]) -> String {
    let all: Vec<String> = values(message, "Received-SPF")
        .into_iter()
        .filter(|v| v.contains("identity=mailfrom"))
        .collect();
    assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(message));
    all.into_iter().next().expect("one field")
}

/// Sends mail from `fail.test` (SPF `-all`) and asserts it was refused at RCPT TO with 550
/// and SPF's reason, and nothing was queued or delivered; returns the transcript.
pub(super) fn spf_fail_refused_at_rcpt(stack: &Stack) -> Transcript {
    let mail = Mail::new(
        "mallory@fail.test",
        "carol@kanmon.test",
        "mallory@fail.test",
        "",
    );
    let transcript = mail.send(&stack.postfix);
    let reply = transcript.reply_to("RCPT").join("\n");
    assert!(reply.starts_with("550"), "{}", transcript.text);
    assert!(reply.contains("SPF") && reply.contains("fail"), "{reply}");
    assert_ne!(transcript.code, Some(0));
    assert!(
        !transcript.text.contains("queued as"),
        "{}",
        transcript.text
    );
    assert!(stack.postfix.delivered("carol").is_empty());
    transcript
}

/// The queue id Postfix gave an accepted message (`250 2.0.0 Ok: queued as ID`).
pub(super) fn queue_id(transcript: &Transcript) -> String {
    transcript.assert_queued();
    let (_, rest) = transcript.text.split_once("queued as ").expect("queued as");
    rest.split_whitespace().next().expect("queue id").to_owned()
}

/// Waits (up to 5 s) for the daemon to log a line holding `needle`, and returns that line.
pub(super) fn wait_log_line(stack: &Stack, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = stack.kanmon.stderr().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "kanmon never logged {needle:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spf_pass_is_delivered_with_results_on_top() {
    let stack = Stack::start(Settings::milter(), "accept");
    let mail = Mail::new("alice@pass.test", "bob@kanmon.test", "alice@pass.test", "");
    let id = queue_id(&mail.send(&stack.postfix));

    let delivered = stack.postfix.wait_delivered("bob", 1);
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("spf=pass"), "{results}");
    assert!(
        received_spf(&delivered[0]).starts_with("pass"),
        "{}",
        String::from_utf8_lossy(&delivered[0])
    );
    // Postfix's Received: is still there, below kanmon's fields.
    assert!(values(&delivered[0], "Received")[0].contains("by mx.kanmon.test (Postfix)"));
    // One log line for the message, carrying Postfix's queue id.
    let line = wait_log_line(&stack, &id);
    assert!(line.contains("INFO") || line.contains("info"), "{line}");
    assert_eq!(
        stack
            .kanmon
            .stderr()
            .lines()
            .filter(|l| l.contains(&id))
            .count(),
        1,
        "{}",
        stack.kanmon.stderr()
    );
}

#[test]
fn spf_fail_enforced_is_refused_at_rcpt() {
    let stack = Stack::start(Settings::milter().spf("enforce"), "accept");
    spf_fail_refused_at_rcpt(&stack);
}

#[test]
fn spf_fail_tagged_is_delivered_and_marked() {
    let stack = Stack::start(Settings::milter(), "accept");
    let mail = Mail::new(
        "mallory@fail.test",
        "carol@kanmon.test",
        "mallory@fail.test",
        "",
    );
    mail.send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("carol", 1);
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("spf=fail"), "{results}");
    let spf = received_spf(&delivered[0]);
    assert!(spf.starts_with("fail"), "{spf}");
}

#[test]
fn dkim_signed_mail_verifies() {
    let stack = Stack::start(Settings::milter(), "accept");
    let mail = Mail::new(
        "news@signed.test",
        "dave@kanmon.test",
        "Signed News <news@signed.test>",
        "",
    )
    .signed("signed.test");
    mail.send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("dave", 1);
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("dkim=pass"), "{results}");
    assert!(results.contains("header.d=signed.test"), "{results}");
    assert!(results.contains("dmarc=pass"), "{results}");
    // The signature arrives as it was sent.
    assert_eq!(values(&delivered[0], "DKIM-Signature").len(), 1);
}

/// From: a p=reject domain, on mail whose SPF passes for another domain and which has no
/// signature: DMARC fails.
fn spoof() -> Mail {
    Mail::new(
        "alice@pass.test",
        "erin@kanmon.test",
        "The CEO <ceo@reject.test>",
        "",
    )
}

#[test]
fn dmarc_reject_spoof_is_refused_when_enforced() {
    let stack = Stack::start(Settings::milter().dmarc("enforce"), "accept");
    let transcript = spoof().send(&stack.postfix);

    // Refused once the header is known: at the end of DATA.
    assert_eq!(
        transcript.reply_to("RCPT"),
        ["250 2.1.5 Ok"],
        "{}",
        transcript.text
    );
    let reply = transcript.reply_to(".").join("\n");
    assert!(reply.starts_with("550"), "{}", transcript.text);
    assert!(reply.to_ascii_lowercase().contains("dmarc"), "{reply}");
    assert!(
        !transcript.text.contains("queued as"),
        "{}",
        transcript.text
    );
    assert!(stack.postfix.delivered("erin").is_empty());
}

#[test]
fn dmarc_reject_spoof_is_delivered_and_marked_when_tagged() {
    let stack = Stack::start(Settings::milter(), "accept");
    spoof().send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("erin", 1);
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("dmarc=fail"), "{results}");
    assert!(results.contains("header.from=reject.test"), "{results}");
}

#[test]
fn forged_results_claiming_our_authserv_id_and_arriving_spam_fields_are_removed() {
    let stack = Stack::start(Settings::milter(), "accept");
    let forged = "Authentication-Results: mx.kanmon.test; spf=pass smtp.mailfrom=forged.test\r\n\
                  X-Spam-Status: No, score=-10.0 required=5.0\r\n\
                  Authentication-Results: other.example; dkim=pass header.d=other.example\r\n\
                  x-spam-flag: NO\r\n\
                  X-Spam-Status: No, score=-20.0\r\n";
    let mail = Mail::new(
        "mallory@fail.test",
        "frank@kanmon.test",
        "mallory@fail.test",
        forged,
    );
    mail.send(&stack.postfix).assert_queued();

    let delivered = stack.postfix.wait_delivered("frank", 1);
    let results = results_on_top(&delivered[0]);
    assert!(results.contains("spf=fail"), "{results}");
    let all = values(&delivered[0], "Authentication-Results");
    assert!(
        !all.iter().any(|v| v.contains("forged.test")),
        "forged field delivered: {all:#?}"
    );
    // Another host's results are not ours to remove.
    assert!(
        all.iter().any(|v| v.starts_with("other.example;")),
        "{all:#?}"
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    // Ours are the only X-Spam-* fields left.
    let status = values(&delivered[0], "X-Spam-Status");
    assert_eq!(status.len(), 1, "{status:#?}");
    assert!(
        status[0].contains("score=") && !status[0].contains("-10.0"),
        "{status:#?}"
    );
    assert!(values(&delivered[0], "X-Spam-Flag").is_empty());
}
