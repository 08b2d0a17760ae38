//! `kanmon config check|default|symbols`, and exit status 2: a configuration or usage error
//! names what is wrong (the key path and its line) on standard error and prints nothing else.

use super::*;

fn config_check(kanmon: &Kanmon) -> Run {
    run(
        &[
            "config",
            "check",
            "--config",
            kanmon.config.to_str().expect("utf-8 temp path"),
        ],
        None,
    )
}

#[test]
fn config_check_names_the_key_and_line_of_every_bad_value() {
    let kanmon = Kanmon::with_config(
        r#"authserv_id = "mx.example.org"

[dns]
nameservers = ["127.0.0.1:53", "ns1.example.net:53"]
timeout_ms = 0

[actions]
add_header = 20.0

[scores]
SPF_FAILED = 3.0
"#,
    );
    let run = config_check(&kanmon);
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "kanmon: {}: 4 configuration errors\n\
             \x20 line 4: dns.nameservers[1]: \"ns1.example.net:53\" is not ip:port (e.g. \"127.0.0.1:53\", \"[2001:db8::53]:53\")\n\
             \x20 line 5: dns.timeout_ms: must be from 100 to 30000 ms, not 0\n\
             \x20 line 8: actions: add_header (20) is above reject (15); the thresholds must be in the order add_header ≤ rewrite_subject ≤ reject\n\
             \x20 line 11: scores.SPF_FAILED: unknown symbol; did you mean SPF_FAIL?\n",
            kanmon.config.display()
        )
    );
}

/// Mistakes the TOML reader finds (a misspelt value or key, broken syntax) are named the same
/// way, one at a time.
#[test]
fn config_check_names_the_key_and_line_of_a_value_that_does_not_parse() {
    let cases = [
        (
            "[dns]\nnameservers = [\"127.0.0.1:53\"]\n\n[spf]\nmode = \"enforced\"\n",
            "line 5: spf.mode: expected one of \"off\", \"tag\", \"enforce\", found \"enforced\"",
        ),
        (
            "[limits]\nmax_mesage_bytes = 1048576\n",
            "line 2: limits.max_mesage_bytes: unknown key; did you mean max_message_bytes?",
        ),
        (
            "[dns\ntimeout_ms = 300\n",
            "line 1, column 5: invalid TOML: unclosed table, expected `]`",
        ),
    ];
    for (text, error) in cases {
        let kanmon = Kanmon::with_config(text);
        let run = config_check(&kanmon);
        run.assert_code(2);
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            format!(
                "kanmon: {}: 1 configuration error: {error}\n",
                kanmon.config.display()
            ),
            "{text}"
        );
    }
}

#[test]
fn check_with_a_bad_configuration_exits_2_before_reading_the_message() {
    let kanmon = Kanmon::with_config("[spf]\nmode = \"enforced\"\n");
    let run = run(
        &[
            "check",
            "--config",
            kanmon.config.to_str().expect("utf-8 temp path"),
            "/nonexistent/message.eml",
        ],
        None,
    );
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(&format!(
            "kanmon: {}: 1 configuration error: line 2: spf.mode: ",
            kanmon.config.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_configuration_file_named_with_config_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("kanmon.toml");
    let run = run(
        &[
            "config",
            "check",
            "--config",
            missing.to_str().expect("utf-8"),
        ],
        None,
    );
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        format!(
            "kanmon: cannot read {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}

#[test]
fn a_usage_error_exits_2() {
    let run = run(&["check", "--ip", "192.0.2.300", "message.eml"], None);
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("error: invalid value '192.0.2.300' for '--ip <IP>'"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_default_configuration_passes_config_check() {
    let default = run(&["config", "default"], None);
    default.assert_code(0);
    assert!(default.stdout.contains("[limits]"), "{}", default.stdout);
    let kanmon = Kanmon::with_config(&default.stdout);
    let run = config_check(&kanmon);
    run.assert_code(0);
    assert_eq!(run.stdout, format!("{}: ok\n", kanmon.config.display()));
    assert_eq!(run.stderr, "");
}

#[test]
fn config_symbols_lists_each_symbol_with_its_configured_score() {
    let symbols = |kanmon: Option<&Kanmon>| {
        let mut args = vec!["config".to_owned(), "symbols".to_owned()];
        if let Some(kanmon) = kanmon {
            args.push("--config".to_owned());
            args.push(kanmon.config.display().to_string());
        }
        let run = run(&args, None);
        run.assert_code(0);
        run.stdout
    };
    let spf_fail = |listing: &str| -> Vec<String> {
        let line = listing
            .lines()
            .find(|line| line.starts_with("SPF_FAIL "))
            .unwrap_or_else(|| panic!("no SPF_FAIL in:\n{listing}"));
        let (name, rest) = line.split_once(' ').expect("name and score");
        let (score, description) = rest.trim_start().split_once("  ").expect("score and text");
        vec![name.to_owned(), score.to_owned(), description.to_owned()]
    };
    let defaults = symbols(None);
    assert_eq!(
        spf_fail(&defaults),
        [
            "SPF_FAIL",
            "1.00",
            "SPF: the MAIL FROM domain says the client may not send for it"
        ]
    );
    assert!(
        defaults
            .lines()
            .any(|l| l.starts_with("HEADER_UNREADABLE "))
    );
    let kanmon = Kanmon::with_config("[scores]\nSPF_FAIL = 4.5\n");
    assert_eq!(spf_fail(&symbols(Some(&kanmon)))[1], "4.50");
}
