//! The harness itself, with no filter: Postfix delivers what swaks sends from 127.0.0.11, and
//! refuses to relay (so the client really is outside `mynetworks`).

use super::smtp::{CLIENT_HELO, Mail, header_fields};
use super::{Filters, Postfix};

#[test]
fn plain_postfix_delivers_to_maildir() {
    let postfix = Postfix::start(&Filters::none());
    let mail = Mail::new("alice@pass.test", "bob@kanmon.test", "alice@pass.test", "");
    mail.send(&postfix).assert_queued();

    let delivered = postfix.wait_delivered("bob", 1);
    let fields = header_fields(&delivered[0]);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).take(5).collect();
    // What virtual(8) prepends, then smtpd's own Received, then the message as sent.
    assert_eq!(
        names,
        [
            "Return-Path",
            "X-Original-To",
            "Delivered-To",
            "Received",
            "From"
        ]
    );
    assert_eq!(fields[0].1, "<alice@pass.test>");
    assert!(
        fields[3]
            .1
            .starts_with(&format!("from {CLIENT_HELO} (unknown [127.0.0.11])")),
        "{}",
        fields[3].1
    );
    // No filter: no trace of kanmon.
    assert!(
        !fields
            .iter()
            .any(|(n, _)| n == "Authentication-Results" || n == "Received-SPF")
    );
}

#[test]
fn plain_postfix_does_not_relay_for_the_test_client() {
    let postfix = Postfix::start(&Filters::none());
    let mail = Mail::new(
        "alice@pass.test",
        "someone@elsewhere.test",
        "alice@pass.test",
        "",
    );
    let transcript = mail.send(&postfix);
    let reply = transcript.reply_to("RCPT").join("\n");
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("Relay access denied"),
        "{}",
        transcript.text
    );
    assert_ne!(transcript.code, Some(0));
}
