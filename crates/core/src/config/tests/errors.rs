//! What an administrator reads for common mistakes: the path first, the line, and a message
//! in TOML's terms. The expectations are the exact texts `kanmon config check` prints.

use super::super::*;

/// Each error as displayed, in the order reported.
fn errors(text: &str) -> Vec<String> {
    match Config::parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn error(text: &str) -> String {
    let all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.into_iter().next().unwrap_or_default()
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        error("authserv_id = \"mx.example\"\nbogus = 1\n"),
        "line 2: bogus: unknown key; the top level has actions, arc, authserv_id, bayes, content, dkim, \
         dkim_keys, dmarc, dns, dnsbl, greylist, headers, helo, http, internal_hosts, limits, \
         milter, on_error, policy, rbl, rhsbl, rules, s25r, scores, sender_rules, senders, server, \
         signing, signing_table, spf, stats, store, uribl"
    );
}

#[test]
fn unknown_nested_key_suggests_the_near_miss() {
    let parsed = Config::parse("[spf]\nmodee = \"tag\"\n").unwrap_err();
    let first = &parsed.0[0];
    assert_eq!(first.path, "spf.modee");
    assert_eq!(first.line, Some(2));
    assert_eq!(
        first.to_string(),
        "line 2: spf.modee: unknown key; did you mean mode?"
    );
    assert_eq!(
        error("[spf]\nbogus = 1\n"),
        "line 2: spf.bogus: unknown key; [spf] has actions, helo, mode"
    );
}

#[test]
fn unknown_keys_in_dotted_and_inline_tables() {
    assert_eq!(
        error("spf.actions.faill = \"reject\"\n"),
        "line 1: spf.actions.faill: unknown key; did you mean fail?"
    );
    assert_eq!(
        error("\n\nspf = { mode = \"tag\", bogus = 1 }\n"),
        "line 3: spf.bogus: unknown key; [spf] has actions, helo, mode"
    );
}

/// The classic TOML slip: a top-level key written after a section header lands in it.
#[test]
fn misplaced_keys_say_where_they_belong() {
    assert_eq!(
        error("[dns]\nnameservers = []\ninternal_hosts = [\"10.0.0.0/8\"]\n"),
        "line 3: dns.internal_hosts: unknown key here; internal_hosts is a top-level key, so \
         it must come before the first [section] header"
    );
    assert_eq!(
        error("[spf]\ntree_walk = true\n"),
        "line 2: spf.tree_walk: unknown key here; tree_walk belongs in [dmarc]"
    );
    assert_eq!(
        error("[dns]\nmode = \"tag\"\n"),
        "line 2: dns.mode: unknown key here; mode belongs in [arc] or [bayes] or [content] or [dkim] or [dmarc] or [greylist] or [helo] or [rbl] or [s25r] or [senders] or [spf]"
    );
    assert_eq!(
        error("[arc]\nactions = {}\n"),
        "line 2: arc.actions: unknown key here; actions belongs in the top level or [dkim] or \
         [dmarc] or [spf]"
    );
    assert_eq!(
        error("[actions]\nSPF_FAIL = 3.0\n"),
        "line 2: actions.SPF_FAIL: unknown key here; SPF_FAIL is a symbol, and its score \
         belongs in [scores]"
    );
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    assert_eq!(
        errors("[spf]\nmodee = \"tag\"\n[dkim]\nallow_sha = true\n"),
        [
            "line 2: spf.modee: unknown key; did you mean mode?",
            "line 4: dkim.allow_sha: unknown key; did you mean allow_sha1?",
        ]
    );
}

#[test]
fn bad_word_lists_the_allowed_values() {
    let parsed = Config::parse("[spf]\nmode = \"enforced\"\n").unwrap_err();
    let first = &parsed.0[0];
    assert_eq!(first.path, "spf.mode");
    assert_eq!(first.line, Some(2));
    assert_eq!(
        first.to_string(),
        "line 2: spf.mode: expected one of \"off\", \"tag\", \"enforce\", found \"enforced\""
    );
    assert_eq!(
        error("[spf]\nmode = 3\n"),
        "line 2: spf.mode: expected one of \"off\", \"tag\", \"enforce\", found 3"
    );
    assert_eq!(
        error("[dmarc.actions]\nreject = \"bounce\"\n"),
        "line 2: dmarc.actions.reject: expected one of \"accept\", \"add_header\", \
         \"rewrite_subject\", \"greylist\", \"tempfail\", \"reject\", found \"bounce\""
    );
}

#[test]
fn wrong_types_say_what_to_write() {
    assert_eq!(
        error("[spf]\nhelo = \"yes\"\n"),
        "line 2: spf.helo: expected true or false, found \"yes\""
    );
    assert_eq!(
        error("[dns]\ntimeout_ms = -5\n"),
        "line 2: dns.timeout_ms: expected a whole number of 0 or more, found -5"
    );
    assert_eq!(
        error("[dns]\ntimeout_ms = 2.5\n"),
        "line 2: dns.timeout_ms: expected a whole number of 0 or more, found 2.5"
    );
    assert_eq!(
        error("[dns]\nnameservers = \"127.0.0.1:53\"\n"),
        "line 2: dns.nameservers: expected an array, found \"127.0.0.1:53\""
    );
    assert_eq!(
        error("[scores]\nSPF_FAIL = \"high\"\n"),
        "line 2: scores.SPF_FAIL: expected a number, found \"high\""
    );
    assert_eq!(
        error("spf = \"enforce\"\n"),
        "line 1: spf: expected a table ([spf]), found a string"
    );
    assert_eq!(
        error("[[spf]]\nmode = \"tag\"\n"),
        "line 1: spf: expected a table ([spf]), found an array"
    );
}

#[test]
fn errors_inside_arrays_name_the_item() {
    let text = "[dns]\nnameservers = [\n  \"127.0.0.1:5353\",\n  \"localhost:53\",\n]\n";
    let parsed = Config::parse(text).unwrap_err();
    let first = &parsed.0[0];
    assert_eq!(first.path, "dns.nameservers[1]");
    assert_eq!(first.line, Some(4));
    assert_eq!(
        first.to_string(),
        "line 4: dns.nameservers[1]: \"localhost:53\" is not ip:port (e.g. \"127.0.0.1:53\", \
         \"[2001:db8::53]:53\")"
    );
    assert_eq!(
        error("[dns]\nnameservers = [\"127.0.0.1:53\", 53]\n"),
        "line 2: dns.nameservers[1]: expected a string, found 53"
    );
}

#[test]
fn bad_network_in_internal_hosts() {
    assert_eq!(
        error("internal_hosts = [\"127.0.0.0/8\", \"10.0.0.300/8\"]\n"),
        "line 1: internal_hosts[1]: \"10.0.0.300/8\" is not a network or address (e.g. \
         \"192.0.2.0/24\", \"2001:db8::/32\", \"::1\")"
    );
    assert_eq!(
        error("internal_hosts = [\"10.1.2.3/8\"]\n"),
        "line 1: internal_hosts[0]: \"10.1.2.3/8\" has bits set after the /8 prefix; did you \
         mean \"10.0.0.0/8\"?"
    );
}

#[test]
fn unknown_symbol_in_scores() {
    let parsed = Config::parse("[scores]\nSPF_FAIL = 3.0\nNO_SUCH = 1.0\n").unwrap_err();
    let first = &parsed.0[0];
    assert_eq!(first.path, "scores.NO_SUCH");
    assert_eq!(first.line, Some(3));
    assert_eq!(
        first.to_string(),
        "line 3: scores.NO_SUCH: unknown symbol; `kanmon config symbols` lists every symbol"
    );
    assert_eq!(
        error("[scores]\nspf_faill = 3.0\n"),
        "line 2: scores.spf_faill: unknown symbol; did you mean SPF_FAIL?"
    );
    assert_eq!(
        error("[scores]\n\"SPF FAIL\" = 3.0\n"),
        "line 2: scores.\"SPF FAIL\": unknown symbol; did you mean SPF_FAIL?"
    );
}

#[test]
fn thresholds_out_of_order_point_at_the_written_key() {
    assert_eq!(
        error("[actions]\nadd_header = 6.0\nreject = 5\n"),
        "line 2: actions: add_header (6) is above reject (5); the thresholds must be in the \
         order add_header ≤ rewrite_subject ≤ reject"
    );
    assert_eq!(
        error("[actions]\n\nreject = 5\n"),
        "line 3: actions: add_header (6) is above reject (5); the thresholds must be in the \
         order add_header ≤ rewrite_subject ≤ reject"
    );
    assert_eq!(
        error("[actions]\nrewrite_subject = 20.0\n"),
        "line 2: actions: rewrite_subject (20) is above reject (15); the thresholds must be in \
         the order add_header ≤ rewrite_subject ≤ reject"
    );
}

#[test]
fn arc_cannot_enforce() {
    assert_eq!(
        error("[arc]\nmode = \"enforce\"\n"),
        "line 2: arc.mode: must be \"off\" or \"tag\": an ARC result informs, it never \
         refuses mail on its own"
    );
}

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let parsed = Config::parse("[spf]\nmode = \"tag\"\n[dkim\n").unwrap_err();
    let first = &parsed.0[0];
    assert_eq!(first.path, "");
    assert_eq!((first.line, first.column), (Some(3), Some(6)));
    assert_eq!(
        first.to_string(),
        "line 3, column 6: invalid TOML: unclosed table, expected `]`"
    );
    assert_eq!(
        error("[spf]\nmode = \"tag\"\nmode = \"off\"\n"),
        "line 3, column 1: invalid TOML: duplicate key"
    );
}

#[test]
fn validation_errors_are_reported_together_in_line_order() {
    let text = "\
[scores]
NO_SUCH = 1.0

[dns]
timeout_ms = 0
nameservers = [\"nowhere\"]

[arc]
mode = \"enforce\"
";
    assert_eq!(
        errors(text),
        [
            "line 2: scores.NO_SUCH: unknown symbol; `kanmon config symbols` lists every symbol",
            "line 5: dns.timeout_ms: must be from 100 to 30000 ms, not 0",
            "line 6: dns.nameservers[0]: \"nowhere\" is not ip:port (e.g. \"127.0.0.1:53\", \
             \"[2001:db8::53]:53\")",
            "line 9: arc.mode: must be \"off\" or \"tag\": an ARC result informs, it never \
             refuses mail on its own",
        ]
    );
}

/// A value refused because of another key is located at whichever of the two is written.
#[test]
fn related_keys_locate_an_error_on_an_unwritten_key() {
    assert_eq!(
        error("[dns]\ntimeout_ms = 8000\n"),
        "line 2: limits.scan_timeout_ms: must be at least 2 × dns.timeout_ms (16000 ms), not \
         10000 ms: DMARC waits for SPF and DKIM, and each needs time for a lookup"
    );
}

#[test]
fn errors_read_as_an_admin_expects() {
    let text = "bogus = 1\n[spf]\nmode = \"enforced\"\n";
    for line in errors(text)
        .iter()
        .chain(errors("[dns]\ntimeout_ms = 1\n").iter())
    {
        assert!(!line.ends_with('.'), "trailing period: {line}");
        let message = line.splitn(3, ": ").last().unwrap_or_default();
        assert!(
            !message.starts_with(|c: char| c.is_uppercase()),
            "capitalized: {line}"
        );
    }
}

#[test]
fn errors_without_text_have_no_line() {
    let mut raw = RawConfig::default();
    raw.dns.timeout_ms = 0;
    let errors = Config::from_raw(raw).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "dns.timeout_ms: must be from 100 to 30000 ms, not 0"
    );
}

#[test]
fn unreadable_file_is_one_error_naming_it() {
    let errors = Config::load(std::path::Path::new("/nonexistent/kanmon.toml")).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert!(
        errors
            .to_string()
            .starts_with("cannot read /nonexistent/kanmon.toml: "),
        "{errors}"
    );
}

#[test]
fn listener_and_server_mistakes_name_their_keys() {
    let all = errors(
        "[milter]\nlisten = \"127.0.0.1:8897\"\nsocket_mode = \"rw\"\n\
         [policy]\nlisten = \"unix:policy.sock\"\n\
         [server]\nuser = \"root\"\nmax_connections = 0\ndrain_timeout_ms = 600000\n",
    );
    let keys: Vec<&str> = all
        .iter()
        .map(|e| e.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "milter.listen",
            "milter.socket_mode",
            "policy.listen",
            "server.user",
            "server.max_connections",
            "server.drain_timeout_ms"
        ],
        "{all:#?}"
    );
    assert_eq!(
        error("[policy]\nlisten = \"inet:127.0.0.1:8897\"\n"),
        "line 2: policy.listen: inet:127.0.0.1:8897 is already milter.listen"
    );
}

#[test]
fn store_mistakes_name_their_keys() {
    let all = errors(
        "[store]\nbackend = \"redis\"\nurl = \"\"\nprefix = \"a{b}\"\n\
         timeout_ms = 0\nconnect_timeout_ms = 600000\n",
    );
    let keys: Vec<&str> = all
        .iter()
        .map(|e| e.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "store.url",
            "store.prefix",
            "store.timeout_ms",
            "store.connect_timeout_ms"
        ],
        "{all:#?}"
    );
    assert_eq!(
        error("[store]\nbackend = \"sqlite\"\n"),
        "line 2: store.backend: expected one of \"embedded\", \"redis\", \"memory\", found \"sqlite\""
    );
}

#[test]
fn helo_cannot_enforce() {
    assert_eq!(
        error("[helo]\nmode = \"enforce\"\n"),
        "line 2: helo.mode: must be \"off\" or \"tag\": the HELO name and reverse DNS score, they never refuse mail on their own"
    );
}
