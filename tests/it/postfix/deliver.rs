//! `kanmon deliver` as Postfix's pipe(8) transport (`flags=R user=nobody`, one recipient
//! per delivery) for `deliver.kanmon.test`, filing into Maildirs under a temporary
//! directory: ham into `new/`, spam into `.Spam/new/`. Alone it scans each message itself;
//! behind the kanmon milter it files by the milter's verdict without scanning again.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::instance::DELIVER_DOMAIN;
use super::smtp::{Mail, header_fields};
use super::{Dns, Filters, Kanmon, Postfix, Settings, require_postfix};

/// Mail whose envelope or From is at spammer.test scores 10: spam by configuration alone,
/// below the reject threshold (15), so the milter lets it through marked.
const SPAM_RULE: &str = "[[sender_rules]]\ndomain = \"spammer.test\"\nscore = 10.0\n";

/// A directory `nobody` (pipe's `user=`) may write into, for the Maildirs.
fn mail_root() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("kanmon-deliver-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).expect("mkdir");
    std::os::unix::fs::chown(&mail, Some(65534), Some(65534)).expect("chown");
    dir
}

/// The pipe(8) argv: `kanmon deliver` with the envelope from Postfix's macros.
fn argv(config: &Path, mail: &Path) -> String {
    format!(
        "{} deliver --config {} --maildir {}/%d/%u --user ${{user}} --domain ${{nexthop}} \
         --ip ${{client_address}} --helo ${{client_helo}} --from ${{sender}} --rcpt ${{recipient}}",
        env!("CARGO_BIN_EXE_kanmon"),
        config.display(),
        mail.display()
    )
}

/// Waits (up to 20 s) for `count` files in `dir`, and returns their contents.
fn wait_for_files(postfix: &Postfix, dir: &Path, count: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if files.len() >= count {
            return files
                .iter()
                .map(|f| std::fs::read(f).expect("read delivered"))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages in {}\n{}",
            files.len(),
            dir.display(),
            postfix.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn deliver_scans_and_files_ham_into_new_and_spam_into_the_spam_folder() {
    require_postfix();
    let dns = Dns::start();
    let config_dir = mail_root();
    let config = config_dir.path().join("kanmon.toml");
    std::fs::write(
        &config,
        format!(
            "authserv_id = \"mx.kanmon.test\"\ninternal_hosts = [\"127.0.0.10/32\"]\n\n\
             {SPAM_RULE}\n[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 2000\n",
            dns.addr
        ),
    )
    .expect("write config");
    let root = mail_root();
    let mail = root.path().join("mail");
    let postfix = Postfix::start(&Filters {
        deliver: Some(argv(&config, &mail)),
        ..Filters::none()
    });
    let domain_dir = mail.join(DELIVER_DOMAIN);

    let ham_to = format!("bob@{DELIVER_DOMAIN}");
    Mail::new("alice@pass.test", &ham_to, "alice@pass.test", "")
        .send(&postfix)
        .assert_queued();
    let ham = wait_for_files(&postfix, &domain_dir.join("bob/new"), 1);
    let fields = header_fields(&ham[0]);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).take(5).collect();
    assert_eq!(
        names,
        [
            "Return-Path",
            "Authentication-Results",
            "Received-SPF",
            "Received-SPF",
            "X-Spam-Checker-Version"
        ],
        "pipe's Return-Path first (flags=R), then deliver's fields, the mailfrom and HELO \
         identities each with a Received-SPF"
    );
    assert!(
        fields[1].1.starts_with("mx.kanmon.test;") && fields[1].1.contains("spf=pass"),
        "{}",
        fields[1].1
    );
    let status = field(&fields, "X-Spam-Status");
    assert_eq!(status.len(), 1);
    assert!(status[0].starts_with("No, "), "{}", status[0]);
    assert_eq!(
        field(&fields, "Return-Path"),
        ["<alice@pass.test>"],
        "pipe's flags=R"
    );
    assert!(!domain_dir.join("bob/.Spam").exists());

    let spam_to = format!("carol@{DELIVER_DOMAIN}");
    Mail::new("x@spammer.test", &spam_to, "x@spammer.test", "")
        .send(&postfix)
        .assert_queued();
    let carol = domain_dir.join("carol");
    let spam = wait_for_files(&postfix, &carol.join(".Spam/new"), 1);
    let fields = header_fields(&spam[0]);
    assert_eq!(field(&fields, "X-Spam-Flag"), ["YES"]);
    let status = field(&fields, "X-Spam-Status");
    assert!(status[0].starts_with("Yes, score="), "{}", status[0]);
    assert!(carol.join(".Spam/maildirfolder").is_file());
    assert_eq!(
        std::fs::read_to_string(carol.join("subscriptions")).expect("subscriptions"),
        "Spam\n"
    );
    assert!(wait_for_files(&postfix, &carol.join("new"), 0).is_empty());
    assert!(
        postfix.log().contains("relay=kanmon-deliver, "),
        "{}",
        postfix.log_tail()
    );
}

#[test]
fn deliver_behind_the_milter_files_by_the_milters_verdict() {
    require_postfix();
    let dns = Dns::start();
    let kanmon = Kanmon::start(&dns, Settings::milter().with(SPAM_RULE));
    let root = mail_root();
    let mail = root.path().join("mail");
    // deliver's own configuration has no rule against spammer.test: scanning again would
    // call the message ham, so only the milter's verdict can file it as spam.
    let config = root.path().join("kanmon.toml");
    std::fs::write(
        &config,
        format!(
            "authserv_id = \"mx.kanmon.test\"\n[dns]\nnameservers = [\"{}\"]\n",
            dns.addr
        ),
    )
    .expect("write config");
    let postfix = Postfix::start(&Filters {
        milter: kanmon.milter_port().map(|p| format!("inet:127.0.0.1:{p}")),
        deliver: Some(argv(&config, &mail)),
        ..Filters::none()
    });
    let to = format!("dave@{DELIVER_DOMAIN}");
    Mail::new("x@spammer.test", &to, "x@spammer.test", "")
        .send(&postfix)
        .assert_queued();
    let dave = mail.join(DELIVER_DOMAIN).join("dave");
    let spam = wait_for_files(&postfix, &dave.join(".Spam/new"), 1);
    let fields = header_fields(&spam[0]);
    // Filed as it came: the milter's one block (its score, with the rule deliver's
    // configuration does not have).
    assert_eq!(field(&fields, "X-Spam-Status").len(), 1);
    assert!(field(&fields, "X-Kanmon-Symbols")[0].contains("SENDER_DOMAIN_SPAMMER_TEST(10.00)"));
    assert_eq!(field(&fields, "Authentication-Results").len(), 1);
    assert_eq!(field(&fields, "X-Spam-Flag"), ["YES"]);
}

#[test]
fn filter_marks_what_a_real_postfix_pipes_to_it() {
    require_postfix();
    let dns = Dns::start();
    let root = mail_root();
    let out = root.path().join("mail");
    let config = root.path().join("kanmon.toml");
    std::fs::write(
        &config,
        format!(
            "authserv_id = \"mx.kanmon.test\"\ninternal_hosts = [\"127.0.0.10/32\"]\n\n\
             {SPAM_RULE}\n[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 2000\n",
            dns.addr
        ),
    )
    .expect("write config");
    // What a procmail recipe does with `:0fw | kanmon filter`, minus procmail: the filtered
    // message goes to a file named after the queue id (written, then moved into done/).
    let script = root.path().join("filter.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncd {} && mkdir -p done && \
             {} filter --config {} --ip \"$1\" --from \"$2\" > \"$3.tmp\" && \
             mv \"$3.tmp\" \"done/$3.eml\"\n",
            out.display(),
            env!("CARGO_BIN_EXE_kanmon"),
            config.display(),
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let postfix = Postfix::start(&Filters {
        deliver: Some(format!(
            "{} ${{client_address}} ${{sender}} ${{queue_id}}",
            script.display()
        )),
        ..Filters::none()
    });
    let to = format!("erin@{DELIVER_DOMAIN}");
    Mail::new("x@spammer.test", &to, "x@spammer.test", "")
        .send(&postfix)
        .assert_queued();
    let filtered = wait_for_files(&postfix, &out.join("done"), 1);
    let text = String::from_utf8(filtered[0].clone()).expect("UTF-8");
    assert!(
        !text.contains('\r'),
        "pipe(8) hands over LF lines, and they stay LF"
    );
    let fields = header_fields(&filtered[0]);
    assert_eq!(fields[0].0, "Return-Path");
    assert_eq!(fields[1].0, "Authentication-Results");
    assert_eq!(field(&fields, "X-Spam-Flag"), ["YES"]);
    assert!(field(&fields, "X-Spam-Status")[0].starts_with("Yes, score="));
    // The body as Postfix piped it (swaks ends the DATA with a blank line of its own).
    assert!(
        text.ends_with(
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n\
             Hello from the end-to-end tests.\n\n"
        ),
        "{text:?}"
    );
}
