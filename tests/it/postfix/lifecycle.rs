//! The daemon going away and coming back under a running Postfix: SIGKILL with
//! `milter_default_action = accept` (nothing lost, nothing scanned) and `tempfail` (4xx, and
//! the sender's retry is accepted once kanmon is back), SIGTERM (exit 0), SIGHUP (new
//! configuration, same process).

use super::milter::{received_spf, results_on_top};
use super::smtp::{Mail, values};
use super::{Settings, Stack};

fn note(to: &str) -> Mail {
    Mail::new("alice@pass.test", to, "alice@pass.test", "")
}

#[test]
fn killed_daemon_with_default_accept_loses_nothing_and_scans_again_after_restart() {
    let mut stack = Stack::start(Settings::milter(), "accept");
    note("alice@kanmon.test")
        .send(&stack.postfix)
        .assert_queued();
    let first = stack.postfix.wait_delivered("alice", 1);
    assert!(results_on_top(&first[0]).contains("spf=pass"));

    stack.kanmon.kill();
    note("bob@kanmon.test").send(&stack.postfix).assert_queued();
    let unscanned = stack.postfix.wait_delivered("bob", 1);
    assert!(
        values(&unscanned[0], "Authentication-Results").is_empty()
            && values(&unscanned[0], "Received-SPF").is_empty(),
        "{}",
        String::from_utf8_lossy(&unscanned[0])
    );
    assert!(
        stack
            .postfix
            .log()
            .contains("connect to Milter service inet:127.0.0.1:"),
        "Postfix did not notice the milter was gone:\n{}",
        stack.postfix.log_tail()
    );

    stack.kanmon.spawn();
    note("carol@kanmon.test")
        .send(&stack.postfix)
        .assert_queued();
    let later = stack.postfix.wait_delivered("carol", 1);
    assert!(results_on_top(&later[0]).contains("spf=pass"));
    assert!(received_spf(&later[0]).starts_with("pass"));
}

#[test]
fn killed_daemon_with_default_tempfail_defers_until_restart() {
    let mut stack = Stack::start(Settings::milter(), "tempfail");
    stack.kanmon.kill();

    let refused = note("dave@kanmon.test").send(&stack.postfix);
    assert_ne!(refused.code, Some(0), "{}", refused.text);
    assert!(!refused.text.contains("queued as"), "{}", refused.text);
    let negative: Vec<&str> = refused
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("<** "))
        .collect();
    assert!(
        !negative.is_empty() && negative.iter().all(|r| r.starts_with('4')),
        "expected only 4xx refusals:\n{}",
        refused.text
    );
    assert!(stack.postfix.delivered("dave").is_empty());

    // The sender retries once kanmon is back: accepted and scanned.
    stack.kanmon.spawn();
    note("dave@kanmon.test")
        .send(&stack.postfix)
        .assert_queued();
    let delivered = stack.postfix.wait_delivered("dave", 1);
    assert_eq!(delivered.len(), 1);
    assert!(results_on_top(&delivered[0]).contains("spf=pass"));
}

#[test]
fn sigterm_exits_zero() {
    let mut stack = Stack::start(Settings::milter(), "accept");
    note("erin@kanmon.test")
        .send(&stack.postfix)
        .assert_queued();
    stack.postfix.wait_delivered("erin", 1);
    let status = stack.kanmon.terminate();
    assert!(status.success(), "{status}\n{}", stack.kanmon.stderr());
}

#[test]
fn sighup_loads_the_new_configuration() {
    let mut stack = Stack::start(Settings::milter(), "accept");
    let spoofed = || {
        Mail::new(
            "mallory@fail.test",
            "frank@kanmon.test",
            "mallory@fail.test",
            "",
        )
    };
    spoofed().send(&stack.postfix).assert_queued();
    stack.postfix.wait_delivered("frank", 1);

    stack
        .kanmon
        .write_config(&Settings::milter().spf("enforce"));
    stack.kanmon.reload();
    // The reload is asynchronous: retry for a while until the new mode shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let transcript = spoofed().send(&stack.postfix);
        let reply = transcript.reply_to("RCPT").join("\n");
        if reply.starts_with("550") {
            assert!(reply.contains("SPF"), "{reply}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 10 s after SIGHUP:\n{}\n{}",
            transcript.text,
            stack.kanmon.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The same process: it was reloaded, not restarted.
    stack.kanmon.assert_running();
}
