//! `kanmon import opendkim` on a realistic OpenDKIM table set (testdata/opendkim: several
//! domains, refile: wildcards, a `*@*` catch-all, a `%` key, MultipleSignatures, an inline
//! and a relative key, host names and an exception in the host lists): the exact TOML
//! printed, that it is TOML, and that kanmon's configuration loader takes it.

use kanmon_core::Config;

use super::*;

const OPENDKIM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/opendkim");

/// Runs `kanmon import opendkim ARGS` in testdata/opendkim, so the comments name the files
/// as given.
fn import(args: &[&str]) -> Run {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_kanmon"))
        .args(["import", "opendkim"])
        .args(args)
        .current_dir(OPENDKIM)
        .env_remove("KANMON_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run kanmon");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        elapsed: started.elapsed(),
    }
}

const SEEDS_SET: &[&str] = &[
    "--keytable",
    "refile:KeyTable",
    "--signingtable",
    "refile:SigningTable",
    "--trustedhosts",
    "refile:TrustedHosts",
    "--internalhosts",
    "InternalHosts",
];

#[test]
fn an_opendkim_table_set_becomes_the_expected_toml() {
    let run = import(SEEDS_SET);
    run.assert_code(0);
    let expected =
        std::fs::read_to_string(Path::new(OPENDKIM).join("expected.toml")).expect("expected.toml");
    assert_eq!(run.stdout, expected);
    assert_eq!(
        run.stderr,
        "kanmon: 4 keys, 5 signing_table entries, 5 internal_hosts; 9 not carried over (see the comments)\n"
    );
}

#[test]
fn the_printed_toml_is_what_kanmon_reads() {
    let run = import(SEEDS_SET);
    run.assert_code(0);
    let table: toml::Table = toml::from_str(&run.stdout).expect("the output is TOML");
    assert_eq!(table["dkim_keys"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        table["signing_table"][0]["keys"],
        toml::Value::Array(vec!["example.com-mail".into(), "example.com-2026e".into()])
    );
    // Every signing_table key is a dkim_keys name.
    let names: Vec<&str> = table["dkim_keys"]
        .as_array()
        .expect("array")
        .iter()
        .map(|key| key["name"].as_str().expect("name"))
        .collect();
    for entry in table["signing_table"].as_array().expect("array") {
        for key in entry["keys"].as_array().expect("keys") {
            assert!(names.contains(&key.as_str().expect("str")), "{key}");
        }
    }
    // kanmon's loader takes the whole output as printed: keys, table, internal_hosts.
    let config = Config::parse(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert_eq!(config.internal_hosts.len(), 5);
    assert_eq!(config.signing.keys.len(), 4);
    assert_eq!(config.signing.table.len(), 5);
    let hosts_only: String = run
        .stdout
        .split("\n[[")
        .next()
        .expect("the part before the tables")
        .to_owned();
    let config = Config::parse(&hosts_only).expect("internal_hosts loads");
    let internal = |ip: &str| config.is_internal(ip.parse().expect("ip"));
    assert!(internal("192.168.10.7") && internal("10.20.5.5") && internal("2001:db8:10::1"));
    assert!(!internal("127.0.0.2"), "only 127.0.0.1 was listed");
}

#[test]
fn a_bare_signing_table_path_with_wildcards_is_read_as_refile() {
    let run = import(&["--keytable", "KeyTable", "--signingtable", "SigningTable"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("#   SigningTable SigningTable (read as refile:)\n")
    );
    assert!(run.stdout.contains("from = \"*@example.com\"\n"));
    // No host list given: kanmon's default internal_hosts stays.
    assert!(!run.stdout.contains("internal_hosts"));
}

#[test]
fn a_plain_signing_table_matches_stars_literally() {
    let run = import(&[
        "--keytable",
        "KeyTable",
        "--signingtable",
        "file:SigningTable",
    ]);
    run.assert_code(0);
    assert!(run.stdout.contains("from = \"newsletter@example.net\"\n"));
    assert!(!run.stdout.contains("from = \"*@example.com\""));
    assert!(run.stdout.contains(
        "# not carried over: file:SigningTable line 2 \"*@example.com mail._domainkey.example.com\" because a plain (file:) SigningTable matches \"*\" literally"
    ));
}

#[test]
fn unreadable_and_unsupported_tables_are_errors() {
    let run = import(&["--keytable", "NoSuchFile", "--signingtable", "SigningTable"]);
    run.assert_code(3);
    assert!(
        run.stderr.starts_with("kanmon: cannot read NoSuchFile: "),
        "{run:?}"
    );
    let run = import(&["--keytable", "KeyTable", "--signingtable", "mysql://u@h/db"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("only file: and refile: datasets can be read"),
        "{run:?}"
    );
}
