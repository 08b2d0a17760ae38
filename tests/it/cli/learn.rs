//! `kanmon learn` and `kanmon bayes stats` on the embedded store, across runs of the binary:
//! Maildir folders and an mbox learned, learning twice counting once, a class moved,
//! messages forgotten, unreadable ones skipped with their reasons.

use super::*;

/// A configuration whose embedded store lives in the test's directory.
fn with_store() -> Kanmon {
    let kanmon = Kanmon::with_config("");
    let path = kanmon.path("state/kanmon.redb");
    std::fs::write(
        &kanmon.config,
        format!("[store]\npath = \"{}\"\n", path.display()),
    )
    .expect("write config");
    kanmon
}

fn kanmon(kanmon: &Kanmon, args: &[&str]) -> Run {
    let config = kanmon.config.to_str().expect("utf-8 temp path");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", config]);
    run(&all, None)
}

/// `count` distinct messages in a Maildir under `dir`, `spam` or ham wording.
fn maildir(dir: &Path, count: usize, spam: bool) -> PathBuf {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    for i in 0..count {
        let (subject, body) = if spam {
            (
                "cheap pills discount",
                "viagra casino lottery winner click now",
            )
        } else {
            ("meeting notes", "agenda minutes project schedule review")
        };
        let message = format!(
            "Message-ID: <{i}.{spam}@example.org>\nFrom: sender{i}@example.org\n\
             Subject: {subject} {i}\n\n{body} number{i}\n"
        );
        let sub = if i % 2 == 0 { "cur" } else { "new" };
        std::fs::write(dir.join(sub).join(format!("{i}.host:2,S")), message).expect("write");
    }
    dir.to_owned()
}

fn stats(kanmon_: &Kanmon) -> serde_json::Value {
    let out = kanmon(kanmon_, &["bayes", "stats", "--json"]);
    out.assert_code(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:#?}"))
}

#[test]
fn learning_counts_once_moves_classes_forgets_and_reports_what_it_skipped() {
    let k = with_store();
    let spam = maildir(&k.path("Maildir/.Spam"), 50, true);
    let ham = maildir(&k.path("Maildir"), 49, false);
    // One more ham as an mbox of two messages, the second the same as a spam one.
    let mbox = k.path("ham.mbox");
    std::fs::write(
        &mbox,
        "From a Mon Dec  7 00:00:00 2026\nMessage-ID: <mbox@example.org>\nFrom: x@example.org\n\
         Subject: minutes\n\nagenda\n\n",
    )
    .expect("write mbox");

    let before = stats(&k);
    assert_eq!(
        (before["spam"].as_u64(), before["ready"].as_bool()),
        (Some(0), Some(false))
    );

    let learned = kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]);
    learned.assert_code(0);
    assert!(
        learned.stderr.contains("50 messages learned as spam") && learned.stderr.contains("50 new"),
        "{learned:#?}"
    );
    let missing = k.path("missing");
    let learned = kanmon(
        &k,
        &[
            "learn",
            "--ham",
            ham.to_str().unwrap(),
            mbox.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
    );
    learned.assert_code(0);
    assert!(
        learned.stderr.contains("50 messages learned as ham"),
        "{learned:#?}"
    );
    assert!(learned.stderr.contains("1 skipped:"), "{learned:#?}");
    assert!(
        learned.stderr.contains("missing: No such file"),
        "{learned:#?}"
    );

    let ready = stats(&k);
    assert_eq!(ready["spam"].as_u64(), Some(50));
    assert_eq!(ready["ham"].as_u64(), Some(50));
    assert_eq!(ready["ready"].as_bool(), Some(true), "{ready}");
    assert_eq!(ready["tokenizer"].as_str(), Some("v1"));

    // Learning the same again counts once.
    let again = kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("0 new, 50 already learned"),
        "{again:#?}"
    );
    assert_eq!(stats(&k)["spam"].as_u64(), Some(50));

    // The mbox message was ham; learned as spam it moves.
    let moved = kanmon(&k, &["learn", "--spam", mbox.to_str().unwrap()]);
    assert!(
        moved.stderr.contains("1 moved from the other class"),
        "{moved:#?}"
    );
    let after = stats(&k);
    assert_eq!(
        (after["spam"].as_u64(), after["ham"].as_u64()),
        (Some(51), Some(49))
    );

    // Forgetting it takes it out; forgetting it twice finds nothing to forget.
    let forgot = kanmon(&k, &["learn", "--forget", mbox.to_str().unwrap()]);
    assert!(
        forgot.stderr.contains("1 forgotten, 0 were not learned"),
        "{forgot:#?}"
    );
    let forgot = kanmon(&k, &["learn", "--forget", mbox.to_str().unwrap()]);
    assert!(
        forgot.stderr.contains("0 forgotten, 1 were not learned"),
        "{forgot:#?}"
    );
    let last = stats(&k);
    assert_eq!(
        (last["spam"].as_u64(), last["ham"].as_u64()),
        (Some(50), Some(49))
    );
    assert_eq!(
        last["ready"].as_bool(),
        Some(false),
        "49 ham is under min_ham"
    );
}

#[test]
fn learn_needs_a_class_and_a_path() {
    let k = with_store();
    kanmon(&k, &["learn", "x"]).assert_code(2);
    kanmon(&k, &["learn", "--spam"]).assert_code(2);
    kanmon(&k, &["learn", "--spam", "--ham", "x"]).assert_code(2);
}
