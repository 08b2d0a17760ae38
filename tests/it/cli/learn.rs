//! `kanmon learn`, `kanmon bayes stats` and `kanmon bayes reset` on the embedded store,
//! across runs of the binary: Maildir folders and an mbox learned, learning twice counting
//! once, a class moved, messages forgotten, unreadable ones skipped with their reasons, a
//! store of another tokenizer version refused until it is reset.

use super::*;

/// A configuration whose embedded store lives in the test's directory.
fn with_store() -> Kanmon {
    with_store_and(None, "")
}

/// The same, with `extra` tables, and DNS questions (when scanning) sent to `dns`.
fn with_store_and(dns: Option<&Dns>, extra: &str) -> Kanmon {
    let kanmon = Kanmon::with_config("");
    let path = kanmon.path("state/kanmon.redb");
    let nameservers = dns.map_or(String::new(), |dns| {
        format!("[dns]\nnameservers = [\"{}\"]\n", dns.addr)
    });
    std::fs::write(
        &kanmon.config,
        format!(
            "[store]\npath = \"{}\"\n{extra}\n{nameservers}",
            path.display()
        ),
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

/// Marks the store as learned by another tokenizer version, as an older kanmon would
/// have left it.
fn learned_by_another_tokenizer(k: &Kanmon) {
    let settings = kanmon_store::StoreSettings {
        path: k.path("state/kanmon.redb"),
        ..kanmon_store::StoreSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = kanmon_store::Store::open(&settings).await.expect("open");
        store
            .set("bayes:tokenizer", b"v0", None)
            .await
            .expect("set the version");
    });
}

#[test]
fn reset_forgets_everything_learned_only_when_told_to() {
    let k = with_store();
    let spam = maildir(&k.path("Maildir/.Spam"), 50, true);
    let ham = maildir(&k.path("Maildir"), 50, false);
    kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]).assert_code(0);
    kanmon(&k, &["learn", "--ham", ham.to_str().unwrap()]).assert_code(0);
    learned_by_another_tokenizer(&k);

    let refused = kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("tokenizer v0")
            && refused.stderr.contains("kanmon bayes reset --yes"),
        "{refused:#?}"
    );
    let stale = stats(&k);
    assert_eq!(stale["ready"].as_bool(), Some(false), "{stale}");
    assert!(
        stale["why_not"]
            .as_str()
            .unwrap_or("")
            .contains("kanmon bayes reset"),
        "{stale}"
    );

    let asked = kanmon(&k, &["bayes", "reset"]);
    asked.assert_code(2);
    assert!(
        asked
            .stderr
            .contains("would forget 50 spam and 50 ham learned")
            && asked.stderr.contains("tokenizer v0")
            && asked.stderr.contains("--yes")
            && asked.stderr.contains("kanmon store export"),
        "{asked:#?}"
    );
    assert_eq!(
        stats(&k)["spam"].as_u64(),
        Some(50),
        "nothing removed without --yes"
    );

    let reset = kanmon(&k, &["bayes", "reset", "--yes"]);
    reset.assert_code(0);
    assert!(
        reset
            .stdout
            .contains("forgot what the store had: 50 spam and 50 ham learned")
            && reset
                .stdout
                .contains("abstains until 50 spam and 50 ham are learned again"),
        "{reset:#?}"
    );
    let empty = stats(&k);
    assert_eq!(
        (
            empty["spam"].as_u64(),
            empty["ham"].as_u64(),
            empty["tokens"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{empty}"
    );
    assert!(empty["tokenizer"].is_null(), "{empty}");
    let again = kanmon(&k, &["bayes", "reset", "--yes"]);
    again.assert_code(0);
    assert!(again.stdout.contains("nothing learned"), "{again:#?}");

    // Learning starts over: the same messages are new again, under this tokenizer.
    let relearned = kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]);
    relearned.assert_code(0);
    assert!(relearned.stderr.contains("50 new"), "{relearned:#?}");
    kanmon(&k, &["learn", "--ham", ham.to_str().unwrap()]).assert_code(0);
    let ready = stats(&k);
    assert_eq!(ready["ready"].as_bool(), Some(true), "{ready}");
    assert_eq!(ready["tokenizer"].as_str(), Some("v1"));
}

#[test]
fn learn_needs_a_class_and_a_path() {
    let k = with_store();
    kanmon(&k, &["learn", "x"]).assert_code(2);
    kanmon(&k, &["learn", "--spam"]).assert_code(2);
    kanmon(&k, &["learn", "--spam", "--ham", "x"]).assert_code(2);
}

/// A message in the wording `maildir` teaches, not among those learned.
fn held_out(spam: bool) -> Vec<u8> {
    let (subject, body) = if spam {
        (
            "cheap pills discount",
            "viagra casino lottery winner click now",
        )
    } else {
        ("meeting notes", "agenda minutes project schedule review")
    };
    format!(
        "Message-ID: <held-out.{spam}@example.org>\nFrom: someone@example.org\n\
         Subject: {subject}\n\n{body} today\n"
    )
    .into_bytes()
}

fn piped_kanmon(kanmon_: &Kanmon, args: &[&str], stdin: &[u8]) -> Piped {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command.args(args).arg("--config").arg(&kanmon_.config);
    piped(command, stdin)
}

#[test]
fn check_filter_and_deliver_judge_with_what_learn_taught() {
    let dns = Dns::serving("");
    let k = with_store_and(Some(&dns), "");
    let store = k.path("state/kanmon.redb");
    // Before anything is learned no store is created where a scan runs.
    let out = piped_kanmon(&k, &["filter"], &held_out(true));
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(!store.exists(), "a scan created the store");

    let spam = maildir(&k.path("Maildir/.Spam"), 50, true);
    let ham = maildir(&k.path("Maildir"), 50, false);
    kanmon(&k, &["learn", "--spam", spam.to_str().unwrap()]).assert_code(0);
    kanmon(&k, &["learn", "--ham", ham.to_str().unwrap()]).assert_code(0);

    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command.args(["check", "--json", "--config"]).arg(&k.config);
    let checked = piped(command, &held_out(true));
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    let json: serde_json::Value = serde_json::from_slice(&checked.stdout).expect("json");
    let names = symbol_names(&json);
    assert!(names.iter().any(|n| n.starts_with("BAYES_99")), "{json}");
    assert_eq!(json["autolearn"], "disabled");

    let filtered = piped_kanmon(&k, &["filter"], &held_out(false));
    assert_eq!(filtered.code, Some(0), "{filtered:#?}");
    let text = String::from_utf8_lossy(&filtered.stdout);
    assert!(text.contains("BAYES_00"), "{text}");

    let maildir_root = k.path("mail");
    let delivered = piped_kanmon(
        &k,
        &["deliver", "--maildir", maildir_root.to_str().unwrap()],
        &held_out(true),
    );
    assert_eq!(delivered.code, Some(0), "{delivered:#?}");
    // BAYES_999 alone scores above the spam threshold.
    let new: Vec<_> = std::fs::read_dir(maildir_root.join(".Spam/new"))
        .expect(".Spam/new/")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(new.len(), 1);
    assert!(new[0].contains("BAYES_99"), "{}", new[0]);
    assert!(!maildir_root.join("new").exists() || files_in(&maildir_root.join("new")) == 0);
}

#[test]
fn filter_autolearns_what_the_other_checks_judged_clearly() {
    let dns = Dns::serving("");
    // Every message scores 0 here (no client, nothing published), which these thresholds
    // call clear ham.
    let k = with_store_and(
        Some(&dns),
        "[bayes]\nautolearn = true\nautolearn_ham = 0.5\nautolearn_spam = 10.0\n",
    );
    // The store must exist for a scan to learn into it.
    kanmon(
        &k,
        &[
            "learn",
            "--spam",
            maildir(&k.path("s"), 1, true).to_str().unwrap(),
        ],
    )
    .assert_code(0);

    let out = piped_kanmon(&k, &["filter"], &held_out(false));
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("autolearn=ham"),
        "{out:#?}"
    );
    assert_eq!(
        stats(&k)["ham"].as_u64(),
        Some(1),
        "filter learned it before exiting"
    );

    // kanmon check decides the same but changes nothing.
    let mut command = Command::new(env!("CARGO_BIN_EXE_kanmon"));
    command.args(["check", "--json", "--config"]).arg(&k.config);
    let checked = piped(command, &held_out(true));
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    let json: serde_json::Value = serde_json::from_slice(&checked.stdout).expect("json");
    assert_eq!(json["autolearn"], "ham");
    assert_eq!(stats(&k)["ham"].as_u64(), Some(1));
}

#[test]
fn a_store_that_cannot_be_opened_defers_delivery_and_passes_filtered_mail_unchanged() {
    let dns = Dns::serving("");
    let k = with_store_and(Some(&dns), "");
    let path = k.path("state/kanmon.redb");
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    std::fs::write(
        &path,
        b"this is not a redb file at all, and it is long enough\n",
    )
    .expect("write");

    let message = held_out(true);
    let filtered = piped_kanmon(&k, &["filter"], &message);
    assert_eq!(filtered.code, Some(75), "{filtered:#?}");
    assert_eq!(filtered.stdout, message);
    assert!(
        filtered.stderr.contains("cannot open the store"),
        "{filtered:#?}"
    );

    let root = k.path("mail");
    let delivered = piped_kanmon(
        &k,
        &["deliver", "--maildir", root.to_str().unwrap()],
        &message,
    );
    assert_eq!(delivered.code, Some(75), "{delivered:#?}");
    assert!(!root.join("new").exists() || files_in(&root.join("new")) == 0);
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}
