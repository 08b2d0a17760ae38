//! `kanmon filter`: the message on standard output with our fields on top and every other
//! byte as it came, idempotent on its own output, and never lost when kanmon cannot work.

use super::*;

/// Mail from spam.test scores 20 (a sender rule), so the verdict does not depend on
/// anything but the configuration.
const SPAM_RULE: &str = "[[sender_rules]]\ndomain = \"spam.test\"\nscore = 20.0\n";

/// Nothing published: SPF and DMARC find no records.
const ZONE: &str = "mx.sender.example  A  203.0.113.5\n";

const V: &str = env!("CARGO_PKG_VERSION");

fn filter(kanmon: &Kanmon, args: &[&str], stdin: &[u8]) -> Piped {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command
        .arg("filter")
        .arg("--config")
        .arg(&kanmon.config)
        .args(args);
    piped(command, stdin)
}

/// A message from procmail: an mbox `From ` line, LF line ends, a folded Subject, a forged
/// `X-Spam-Flag: YES` a sender put in, and a body with trailing spaces and no final newline.
const FROM_PROCMAIL: &[u8] = b"From alice@sender.example  Mon Dec  7 03:59:17 2026\n\
From: Alice <alice@sender.example>\n\
To: bob@example.org\n\
Subject: lunch\n\
\ton Friday?\n\
X-Spam-Flag: YES\n\
\n\
Shall we?  \n\
\n\
-- \n\
Alice";

#[test]
fn ham_gets_our_fields_on_top_and_a_forged_flag_is_removed() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, SPAM_RULE);
    let run = filter(&kanmon, &["--from", "alice@sender.example"], FROM_PROCMAIL);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stderr, "");
    let expected = format!(
        "From alice@sender.example  Mon Dec  7 03:59:17 2026\n\
X-Spam-Checker-Version: kanmon {V} on mx.example.org\n\
X-Spam-Score: 0.0\n\
X-Spam-Level: \n\
X-Spam-Status: No, score=0.0 required=6.0 tests=DMARC_MISSING\n\
\tautolearn=disabled version={V}\n\
X-Kanmon-Symbols: action=accept score=0.00 required=6.00; DMARC_MISSING(0.00)\n\
From: Alice <alice@sender.example>\n\
To: bob@example.org\n\
Subject: lunch\n\
\ton Friday?\n\
\n\
Shall we?  \n\
\n\
-- \n\
Alice"
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout), expected);
}

#[test]
fn spam_is_flagged_and_a_second_run_changes_nothing() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, SPAM_RULE);
    let message = b"From: <x@spam.test>\nSubject: win\n\nclick\n";
    let args = ["--from", "x@spam.test"];
    let first = filter(&kanmon, &args, message);
    assert_eq!(first.code, Some(0), "{first:#?}");
    let text = String::from_utf8_lossy(&first.stdout);
    let head: Vec<&str> = text.lines().take(7).collect();
    assert_eq!(
        head,
        [
            format!("X-Spam-Checker-Version: kanmon {V} on mx.example.org").as_str(),
            "X-Spam-Flag: YES",
            "X-Spam: Yes",
            "X-Spam-Score: 20.0",
            "X-Spam-Level: ********************",
            "X-Spam-Status: Yes, score=20.0 required=6.0",
            &format!(
                "\ttests=DMARC_MISSING,SENDER_DOMAIN_SPAM_TEST autolearn=disabled version={V}"
            ),
        ]
    );
    assert!(
        first
            .stdout
            .ends_with(b"From: <x@spam.test>\nSubject: win\n\nclick\n")
    );
    let second = filter(&kanmon, &args, &first.stdout);
    assert_eq!(second.code, Some(0), "{second:#?}");
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        text,
        "filtering twice gives one block"
    );
}

#[test]
fn a_field_a_rule_prepends_is_not_stacked_by_a_second_run() {
    let dns = Dns::serving(ZONE);
    let table = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        table.path(),
        "/^Subject: lunch/ PREPEND X-Lunch: yes, please\n",
    )
    .expect("write table");
    let rules = format!(
        "[content]\nheader_checks = [\"{}\"]\n",
        table.path().display()
    );
    let kanmon = Kanmon::new(&dns, &rules);
    let first = filter(&kanmon, &[], FROM_PROCMAIL);
    assert_eq!(first.code, Some(0), "{first:#?}");
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert_eq!(text.matches("X-Lunch: yes, please").count(), 1, "{text}");
    let second = filter(&kanmon, &[], &first.stdout);
    assert_eq!(String::from_utf8_lossy(&second.stdout), text);
}

#[test]
fn crlf_stays_crlf_and_our_authentication_results_are_replaced() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "");
    let message = b"Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=forged\r\n\
Authentication-Results: other.example; spf=none\r\n\
From: alice@sender.example\r\n\
Subject: hello\r\n\
\r\n\
body\r\nline two\r\n";
    let args = [
        "--ip",
        "203.0.113.5",
        "--helo",
        "mx.sender.example",
        "--from",
        "alice@sender.example",
    ];
    let first = filter(&kanmon, &args, message);
    assert_eq!(first.code, Some(0), "{first:#?}");
    let text = String::from_utf8(first.stdout.clone()).expect("UTF-8");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF: {text:?}"
    );
    assert!(
        text.starts_with("Authentication-Results: mx.example.org;\r\n\tspf=none"),
        "{text}"
    );
    assert_eq!(
        text.matches("Authentication-Results: mx.example.org")
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("\r\nAuthentication-Results: other.example; spf=none\r\n"),
        "{text}"
    );
    assert!(!text.contains("smtp.mailfrom=forged"), "{text}");
    assert!(
        text.ends_with("Subject: hello\r\n\r\nbody\r\nline two\r\n"),
        "{text}"
    );
    let second = filter(&kanmon, &args, &first.stdout);
    assert_eq!(String::from_utf8_lossy(&second.stdout), text);
}

#[test]
fn a_configuration_that_does_not_load_passes_the_message_unchanged_with_75() {
    let kanmon = Kanmon::with_config("[limits]\nmax_message_bytes = \"lots\"\n");
    let run = filter(&kanmon, &[], FROM_PROCMAIL);
    assert_eq!(run.code, Some(75), "{run:#?}");
    assert_eq!(run.stdout, FROM_PROCMAIL);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("kanmon filter: message passed unchanged: "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_message_over_the_limit_streams_through_unchanged() {
    let dns = Dns::serving(ZONE);
    let kanmon = Kanmon::new(&dns, "[limits]\nmax_message_bytes = 65536\n");
    let mut message = b"Subject: big\n\n".to_vec();
    message.extend((0..200_000u32).map(|i| b"abcdefghij\n"[(i % 11) as usize]));
    let run = filter(&kanmon, &[], &message);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stdout.len(), message.len());
    assert!(run.stdout == message, "the big message came back changed");
}
