//! `kanmon store stats|export|import|expire` on the embedded store, across separate runs of
//! the binary: what one run writes, the next one reads from the file.

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

fn store(kanmon: &Kanmon, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let config = kanmon.config.to_str().expect("utf-8 temp path");
    let mut all = vec!["store", args[0], "--config", config];
    all.extend(&args[1..]);
    run(&all, stdin)
}

/// What an export from another store could hold: one entry of each kind.
const BACKUP: &str = r#"{"kind":"totals","spam":1,"ham":1}
{"kind":"token","key":"00000000000000ff","spam":1,"ham":0}
{"kind":"token","key":"0123456789abcdef","spam":1,"ham":1}
{"kind":"label","digest":"aa55","class":"spam"}
{"kind":"label","digest":"bb66","class":"ham"}
{"kind":"greylist","key":"7472697036","first_seen":4000000000,"last_seen":4000000060,"count":2,"expires":4000086400}
{"kind":"stat","bucket":3999999600,"name":"messages","value":12,"expires":4100000000}
{"kind":"record","stream":"dmarc","at":4000000000,"data":"AP8=","expires":4100000000}
{"kind":"value","key":"plain","value":"dg==","expires":null}
"#;

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    lines.sort_unstable();
    lines
}

#[test]
fn import_then_export_gives_the_same_lines() {
    let kanmon = with_store();
    let empty = store(&kanmon, &["stats"], None);
    empty.assert_code(0);
    assert!(empty.stdout.contains("store       embedded "), "{empty:#?}");
    assert!(empty.stdout.contains("tokens      0\n"), "{empty:#?}");

    let imported = store(&kanmon, &["import", "-"], Some(BACKUP.as_bytes()));
    imported.assert_code(0);
    assert!(
        imported.stderr.contains("imported 9 entries"),
        "{imported:#?}"
    );

    let exported = store(&kanmon, &["export"], None);
    exported.assert_code(0);
    assert_eq!(sorted_lines(&exported.stdout), sorted_lines(BACKUP));

    let stats = store(&kanmon, &["stats", "--json"], None).json();
    assert_eq!(stats["backend"], "embedded");
    assert_eq!(stats["tokens"], 2);
    assert_eq!(stats["learned"]["spam"], 1);
    assert_eq!(stats["digests"], 2);
    assert_eq!(stats["greylist"], 1);
    assert_eq!(stats["records"], 1);
    assert_eq!(stats["values"], 1);
    assert!(stats["bytes"].as_u64().is_some_and(|b| b > 0), "{stats}");

    let file = kanmon.path("backup.jsonl");
    store(
        &kanmon,
        &["export", "--output", file.to_str().unwrap()],
        None,
    )
    .assert_code(0);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(sorted_lines(&written), sorted_lines(BACKUP));
}

#[test]
fn a_bad_line_imports_nothing_and_names_the_line() {
    let kanmon = with_store();
    let input = "{\"kind\":\"totals\",\"spam\":1,\"ham\":1}\n{\"kind\":\"token\",\"key\":\"zz\"}\n";
    let refused = store(&kanmon, &["import", "-"], Some(input.as_bytes()));
    refused.assert_code(1);
    assert!(refused.stderr.contains("line 2"), "{refused:#?}");
    let stats = store(&kanmon, &["stats", "--json"], None).json();
    assert_eq!(stats["learned"]["spam"], 0, "nothing was written");
}

#[test]
fn expire_removes_what_has_expired() {
    let kanmon = with_store();
    // A record that expired long ago (1970) and a value that expires far in the future (an
    // imported value that has expired deletes its key instead of being written).
    let input = "{\"kind\":\"record\",\"stream\":\"dmarc\",\"at\":1,\"data\":\"eA==\",\"expires\":1}\n\
                 {\"kind\":\"value\",\"key\":\"new\",\"value\":\"eA==\",\"expires\":4100000000}\n";
    store(&kanmon, &["import", "-"], Some(input.as_bytes())).assert_code(0);
    let expired = store(&kanmon, &["expire"], None);
    expired.assert_code(0);
    assert!(expired.stderr.contains("removed 1 expired"), "{expired:#?}");
    let stats = store(&kanmon, &["stats", "--json"], None).json();
    assert_eq!(stats["values"], 1);
}

#[test]
fn serve_does_not_start_without_its_store() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let kanmon = Kanmon::with_config(&format!(
        "[milter]\nlisten = \"inet:127.0.0.1:{port}\"\n[policy]\nlisten = \"\"\n\
         [server]\nuser = \"nobody\"\n[http]\nlisten = \"\"\n\
         [store]\nbackend = \"redis\"\nurl = \"redis://:secret@127.0.0.1:1\"\nconnect_timeout_ms = 1000\n"
    ));
    let config = kanmon.config.to_str().expect("utf-8 temp path");
    let refused = run(&["serve", "--config", config], None);
    refused.assert_code(1);
    assert!(refused.stderr.contains("store.url"), "{refused:#?}");
    assert!(!refused.stderr.contains("secret"), "{refused:#?}");
    assert!(refused.elapsed < Duration::from_secs(10), "{refused:#?}");
}
