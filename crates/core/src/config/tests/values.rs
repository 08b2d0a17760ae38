//! The checks on values: what is accepted, what is refused, and what the engine receives.

use std::net::IpAddr;
use std::time::Duration;

use super::super::*;
use crate::verdict::Action;

fn parse(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("refused:\n{text}\n{e}"))
}

/// The paths of the errors for `text`.
fn refused(text: &str) -> Vec<String> {
    match Config::parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.0.into_iter().map(|e| e.path).collect(),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn test_nameserver_sends_every_lookup_there() {
    let config = parse("[dns]\nnameservers = [\"127.0.0.1:5353\"]\ntimeout_ms = 500\n");
    assert_eq!(config.dns.nameservers, ["127.0.0.1:5353".parse().unwrap()]);
    assert_eq!(config.dns.timeout, Duration::from_millis(500));
}

#[test]
fn nameserver_without_port_means_53() {
    let config = parse("[dns]\nnameservers = [\"192.0.2.53\", \"2001:db8::53\"]\n");
    assert_eq!(
        config.dns.nameservers,
        [
            "192.0.2.53:53".parse().unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        ]
    );
}

#[test]
fn dns_timeout_is_bounded() {
    assert_eq!(refused("[dns]\ntimeout_ms = 2\n"), ["dns.timeout_ms"]);
    assert_eq!(
        refused("[dns]\ntimeout_ms = 60000\n[limits]\nscan_timeout_ms = 120000\n"),
        ["dns.timeout_ms"]
    );
    parse("[dns]\ntimeout_ms = 100\n");
    parse("[dns]\ntimeout_ms = 5000\n");
}

#[test]
fn cache_size_zero_turns_the_cache_off() {
    assert_eq!(parse("[dns]\ncache_size = 0\n").dns.cache_size, 0);
}

#[test]
fn scan_budget_must_cover_two_dns_rounds_and_fit_postfix() {
    assert_eq!(
        refused("[limits]\nscan_timeout_ms = 3000\n"),
        ["limits.scan_timeout_ms"]
    );
    parse("[limits]\nscan_timeout_ms = 4000\n");
    assert_eq!(
        refused("[limits]\nscan_timeout_ms = 600000\n"),
        ["limits.scan_timeout_ms"]
    );
}

#[test]
fn limits_have_lower_bounds() {
    let text = "[limits]\nmax_message_bytes = 50\nmax_header_fields = 10\n\
                max_header_bytes = 1000\nmax_dkim_signatures = 0\nmax_mime_parts = 0\n";
    assert_eq!(
        refused(text),
        [
            "limits.max_message_bytes",
            "limits.max_header_fields",
            "limits.max_header_bytes",
            "limits.max_dkim_signatures",
            "limits.max_mime_parts",
        ]
    );
    let errors = Config::parse("[limits]\nmax_message_bytes = 50\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "line 2: limits.max_message_bytes: must be at least 65536, not 50 (RFC 5321 \
         §4.5.3.1.7: every SMTP server takes messages this large)"
    );
}

#[test]
fn internal_hosts_take_networks_addresses_and_mapped_forms() {
    let config = parse(
        "internal_hosts = [\"192.0.2.0/24\", \"2001:db8::1\", \"::ffff:198.51.100.0/120\"]\n",
    );
    assert!(config.is_internal(ip("192.0.2.77")));
    assert!(config.is_internal(ip("::ffff:192.0.2.77")));
    assert!(config.is_internal(ip("2001:db8::1")));
    assert!(!config.is_internal(ip("2001:db8::2")));
    assert!(config.is_internal(ip("198.51.100.9")));
    assert!(config.is_internal(ip("::ffff:198.51.100.9")));
    assert!(!config.is_internal(ip("127.0.0.1")));
}

#[test]
fn default_internal_hosts_are_loopback() {
    let config = Config::default();
    assert!(config.is_internal(ip("127.0.0.1")));
    assert!(config.is_internal(ip("::1")));
    assert!(config.is_internal(ip("::ffff:127.0.0.1")));
    assert!(!config.is_internal(ip("192.0.2.1")));
}

#[test]
fn internal_hosts_refuse_everything() {
    assert_eq!(
        refused("internal_hosts = [\"0.0.0.0/0\"]\n"),
        ["internal_hosts[0]"]
    );
    parse("internal_hosts = []\n");
}

#[test]
fn authserv_id_is_a_token() {
    assert_eq!(
        parse("authserv_id = \"mx.example.org\"\n").authserv_id,
        "mx.example.org"
    );
    assert_eq!(refused("authserv_id = \"mx example\"\n"), ["authserv_id"]);
    assert_eq!(refused("authserv_id = \"mx;example\"\n"), ["authserv_id"]);
    assert!(!Config::default().authserv_id.is_empty());
}

#[test]
fn thresholds_must_be_positive_and_finite() {
    assert_eq!(
        refused("[actions]\nadd_header = 0\n"),
        ["actions.add_header"]
    );
    assert_eq!(refused("[actions]\nreject = -1.0\n"), ["actions.reject"]);
    assert_eq!(refused("[actions]\nreject = inf\n"), ["actions.reject"]);
    assert_eq!(refused("[actions]\nreject = nan\n"), ["actions.reject"]);
    let config = parse("[actions]\nadd_header = 5\nrewrite_subject = 8\nreject = 12\n");
    assert_eq!(
        config.thresholds,
        Thresholds {
            add_header: 5.0,
            rewrite_subject: Some(8.0),
            reject: 12.0
        }
    );
    parse("[actions]\nadd_header = 8\nreject = 8\n");
}

#[test]
fn scores_override_the_defaults() {
    let config = parse("[scores]\nSPF_FAIL = 9.0\nDKIM_VALID = -2\n");
    assert_eq!(config.score("SPF_FAIL"), 9.0);
    assert_eq!(config.score("DKIM_VALID"), -2.0);
    assert_eq!(config.score("SPF_PASS"), -0.2);
    assert_eq!(
        config.scores.len(),
        DEFAULT_SCORES.len() + config.defined.len()
    );
    assert_eq!(refused("[scores]\nSPF_FAIL = nan\n"), ["scores.SPF_FAIL"]);
}

#[test]
fn rsa_key_minimum_follows_rfc_8301() {
    assert_eq!(
        refused("[dkim]\nmin_rsa_bits = 512\n"),
        ["dkim.min_rsa_bits"]
    );
    assert_eq!(
        refused("[dkim]\nmin_rsa_bits = 8192\n"),
        ["dkim.min_rsa_bits"]
    );
    assert_eq!(
        parse("[dkim]\nmin_rsa_bits = 2048\n").dkim.min_rsa_bits,
        2048
    );
}

#[test]
fn no_check_may_ask_for_greylisting_which_is_per_recipient() {
    assert_eq!(
        refused("[spf.actions]\nsoftfail = \"greylist\"\n"),
        ["spf.actions.softfail"]
    );
    let config = parse("[spf]\nmode = \"enforce\"\n[spf.actions]\nsoftfail = \"tempfail\"\n");
    assert_eq!(config.spf.mode, Mode::Enforce);
    assert_eq!(config.spf.actions.softfail, Action::Tempfail);
}

#[test]
fn header_names_and_subject_prefix_are_checked() {
    assert_eq!(
        refused("[headers]\nsymbols_header = \"X-Kanmon Symbols\"\n"),
        ["headers.symbols_header"]
    );
    assert_eq!(
        refused("[headers]\nsymbols_header = \"x-spam-status\"\n"),
        ["headers.symbols_header"]
    );
    assert_eq!(
        parse("[headers]\nsymbols_header = \"\"\n")
            .headers
            .symbols_header,
        ""
    );
    assert_eq!(
        refused("[headers]\nsubject_prefix = \"[SPAM]\\r\\nBcc: x@example\"\n"),
        ["headers.subject_prefix"]
    );
    assert_eq!(
        refused("[headers]\nsubject_prefix = \"\"\n[actions]\nrewrite_subject = 8\n"),
        ["headers.subject_prefix"]
    );
    parse("[headers]\nsubject_prefix = \"【迷惑メール】\"\n");
}

#[test]
fn on_error_words() {
    assert_eq!(
        parse("on_error = \"tempfail\"\n").on_error,
        OnError::Tempfail
    );
    assert_eq!(Config::default().on_error, OnError::Accept);
}

#[test]
fn listeners_and_server() {
    let config = Config::default();
    assert_eq!(
        config.milter.listen,
        Listen::Inet("127.0.0.1:8897".parse().unwrap())
    );
    assert_eq!(
        config.policy.listen,
        Listen::Inet("127.0.0.1:8898".parse().unwrap())
    );
    assert_eq!(config.server.user.as_deref(), Some("kanmon"));
    // A section given without `listen` keeps the default socket.
    let config = parse(
        "[milter]\nsocket_group = \"postfix\"\n[policy]\nlisten = \"\"\n\
         [server]\nuser = \"\"\n",
    );
    assert_eq!(
        config.milter.listen,
        Listen::Inet("127.0.0.1:8897".parse().unwrap())
    );
    assert_eq!(config.milter.socket_group.as_deref(), Some("postfix"));
    assert_eq!(config.policy.listen, Listen::Off);
    assert_eq!(config.server.user, None);
    let config =
        parse("[milter]\nlisten = \"unix:/run/kanmon/milter.sock\"\nsocket_mode = \"0600\"\n");
    assert_eq!(
        config.milter.listen,
        Listen::Unix("/run/kanmon/milter.sock".into())
    );
    assert_eq!(config.milter.socket_mode, 0o600);
}

#[test]
fn store_settings() {
    let defaults = parse("");
    assert_eq!(defaults.store, kanmon_store::StoreSettings::default());
    assert_eq!(defaults.store.backend, kanmon_store::BackendKind::Embedded);
    let redis = parse(
        "[store]\nbackend = \"redis\"\nurl = \"redis+unix:///run/redis/redis.sock\"\n\
         prefix = \"mx-eu\"\ntimeout_ms = 250\n",
    );
    assert_eq!(redis.store.backend, kanmon_store::BackendKind::Redis);
    assert_eq!(redis.store.url, "redis+unix:///run/redis/redis.sock");
    assert_eq!(redis.store.prefix, "mx-eu");
    assert_eq!(redis.store.timeout, Duration::from_millis(250));
    let file = parse("[store]\npath = \"/srv/kanmon/state.redb\"\n");
    assert_eq!(
        file.store.path,
        std::path::PathBuf::from("/srv/kanmon/state.redb")
    );
}
