//! [`RawConfig`] into [`Config`]: every value checked, every bad one reported.
//!
//! Each bound is a named constant with where its number comes from (STYLE.md point 5). A
//! lower bound is there to catch a unit slip (`timeout_ms = 2` meant as seconds) or a value
//! that would quietly switch a check off for all mail; an upper bound where a larger value
//! would outlast what Postfix waits for. Values that must agree with each other (the
//! thresholds, the scan budget and the DNS timeout) are checked together.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use ipnet::IpNet;

use super::error::ConfigErrors;
use super::listen::{parse_listen, parse_mode};
use super::network::{parse_nameserver, parse_network};
use super::raw::{RawActions, RawConfig, RawHeaders, RawServer, RawStore, StoreBackend};
use super::{
    Arc, Config, Dkim, Dmarc, Dns, Frontend, Helo, Limits, Listen, Server, Spf, Thresholds, scores,
};
use crate::check::Mode;
use crate::verdict::Action;

/// `dns.timeout_ms`: at least 100 ms, below which a cold lookup through a recursive
/// resolver fails routinely (and `2` was more likely meant as seconds); at most 30 s,
/// glibc's cap on resolv.conf's `timeout:` (resolv.conf(5)).
pub const DNS_TIMEOUT_MS: RangeInclusive<u64> = 100..=30_000;

/// `limits.scan_timeout_ms` is at least this many times `dns.timeout_ms`: the
/// authentication stage runs in two rounds (SPF, DKIM and ARC together, then DMARC, which
/// needs their results), and each round must be able to wait out at least one lookup, or
/// one slow answer in the first round leaves DMARC no time at all.
pub const SCAN_TIMEOUT_DNS_ROUNDS: u64 = 2;

/// `limits.scan_timeout_ms` at most 300 s: Postfix's `milter_content_timeout` default;
/// past it Postfix stops waiting for the milter and applies `milter_default_action`.
pub const MAX_SCAN_TIMEOUT_MS: u64 = 300_000;

/// `limits.max_message_bytes` at least 64 KiB: RFC 5321 §4.5.3.1.7 requires every SMTP
/// server to take messages of at least that size, so a smaller limit would leave ordinary
/// mail unchecked.
pub const MIN_MESSAGE_BYTES: usize = 64 * 1024;

/// `limits.max_header_bytes` at least 64 KiB: OpenDKIM reads header sections up to that
/// size, and mail with long Received and ARC chains gets close to it.
pub const MIN_HEADER_BYTES: usize = 64 * 1024;

/// `limits.max_header_fields` at least 256: RFC 8617 §4.2.1 allows 50 ARC sets (150
/// fields) and Postfix passes 50 Received fields (`hopcount_limit`), so a legitimate
/// message can carry over 200 fields.
pub const MIN_HEADER_FIELDS: usize = 256;

/// `dkim.min_rsa_bits`: RFC 8301 §3.2 forbids keys under 1024 bits and requires verifiers
/// to handle keys up to 4096 bits, so a larger minimum would refuse every RSA signature.
pub const RSA_BITS: RangeInclusive<usize> = kanmon_auth::dkim::MIN_RSA_BITS..=4096;

/// Header fields kanmon writes itself, so `headers.symbols_header` may not take their name.
const OWN_FIELDS: &[&str] = &[
    "Authentication-Results",
    "Received-SPF",
    "X-Spam-Checker-Version",
    "X-Spam-Flag",
    "X-Spam",
    "X-Spam-Score",
    "X-Spam-Level",
    "X-Spam-Status",
];

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let authserv_id = authserv_id(&mut errors, &raw.authserv_id);
    let internal_hosts = internal_hosts(&mut errors, &raw.internal_hosts);
    let dns = dns(&mut errors, &raw);
    let limits = limits(&mut errors, &raw);
    check_actions(&mut errors, &raw);
    if !RSA_BITS.contains(&raw.dkim.min_rsa_bits) {
        errors.push(
            "dkim.min_rsa_bits",
            format!(
                "must be from {} to {} (RFC 8301 §3.2), not {}",
                RSA_BITS.start(),
                RSA_BITS.end(),
                raw.dkim.min_rsa_bits
            ),
        );
    }
    if raw.arc.mode == Mode::Enforce {
        errors.push(
            "arc.mode",
            "must be \"off\" or \"tag\": an ARC result informs, it never refuses mail on its own",
        );
    }
    if raw.helo.mode == Mode::Enforce {
        errors.push(
            "helo.mode",
            "must be \"off\" or \"tag\": the HELO name and reverse DNS score, they never refuse mail on their own",
        );
    }
    let s25r = super::s25r::validate(&mut errors, &raw.s25r);
    let greylist = super::greylist::validate(&mut errors, &raw.greylist);
    let bayes = super::bayes::validate(&mut errors, &raw.bayes, &authserv_id);
    let thresholds = thresholds(&mut errors, &raw.actions);
    headers(&mut errors, &raw.headers, &thresholds);
    let mut definitions = super::symbols::Definitions::default();
    let senders = super::senders::validate(
        &mut errors,
        &mut definitions,
        &raw.senders,
        &raw.sender_rules,
    );
    let rbl = super::rbl::validate(
        &mut errors,
        &mut definitions,
        &raw.rbl,
        &raw.dnsbl,
        &raw.rhsbl,
        &raw.uribl,
    );
    let content = super::rules::validate(&mut errors, &mut definitions, &raw.content, &raw.rules);
    let signing = super::signing::validate(
        &mut errors,
        &raw.signing,
        &raw.dkim_keys,
        &raw.signing_table,
    );
    let defined = definitions.into_symbols();
    let scores = scores::resolve(&mut errors, &raw.scores, &defined);
    let milter = frontend(
        &mut errors,
        "milter",
        &raw.milter.listen,
        &raw.milter.socket_mode,
        &raw.milter.socket_group,
    );
    let policy = frontend(
        &mut errors,
        "policy",
        &raw.policy.listen,
        &raw.policy.socket_mode,
        &raw.policy.socket_group,
    );
    if milter.listen != Listen::Off && milter.listen == policy.listen {
        errors.push(
            "policy.listen",
            format!("{} is already milter.listen", policy.listen),
        );
    }
    let server = server(&mut errors, &raw.server);
    let store = store(&mut errors, &raw.store);
    let http = super::http::validate(&mut errors, &raw.http);
    let stats = super::stats::validate(&mut errors, &raw.stats);
    errors.into_result()?;
    Ok(Config {
        authserv_id,
        internal_hosts,
        on_error: raw.on_error,
        dns,
        limits,
        spf: Spf {
            mode: raw.spf.mode,
            helo: raw.spf.helo,
            actions: raw.spf.actions,
        },
        dkim: Dkim {
            mode: raw.dkim.mode,
            allow_sha1: raw.dkim.allow_sha1,
            min_rsa_bits: raw.dkim.min_rsa_bits,
            actions: raw.dkim.actions,
        },
        dmarc: Dmarc {
            mode: raw.dmarc.mode,
            tree_walk: raw.dmarc.tree_walk,
            actions: raw.dmarc.actions,
        },
        arc: Arc { mode: raw.arc.mode },
        s25r,
        helo: Helo {
            mode: raw.helo.mode,
        },
        senders,
        greylist,
        rbl,
        content,
        bayes,
        signing,
        thresholds,
        headers: raw.headers,
        defined,
        scores,
        milter,
        policy,
        server,
        store,
        http,
        stats,
    })
}

/// `server.max_connections` from 1 to 100 000: above that the file descriptors alone
/// (one per connection plus one per DNS socket) pass any usual `ulimit -n`.
pub const MAX_CONNECTIONS: RangeInclusive<usize> = 1..=100_000;

/// `server.drain_timeout_ms` at most 90 s: systemd's default `TimeoutStopSec`, after which
/// it kills the daemon anyway.
pub const MAX_DRAIN_TIMEOUT_MS: u64 = 90_000;

fn frontend(
    errors: &mut ConfigErrors,
    section: &str,
    listen: &str,
    mode: &str,
    group: &str,
) -> Frontend {
    let listen = parse_listen(listen).unwrap_or_else(|e| {
        errors.push(format!("{section}.listen"), e);
        Listen::Off
    });
    let socket_mode = parse_mode(mode).unwrap_or_else(|e| {
        errors.push(format!("{section}.socket_mode"), e);
        0o660
    });
    if !is_user_name(group) && !group.is_empty() {
        errors.push(
            format!("{section}.socket_group"),
            format!("{group:?} is not a group name"),
        );
    }
    Frontend {
        listen,
        socket_mode,
        socket_group: (!group.is_empty()).then(|| group.to_owned()),
    }
}

fn server(errors: &mut ConfigErrors, raw: &RawServer) -> Server {
    if !raw.user.is_empty() && !is_user_name(&raw.user) {
        errors.push("server.user", format!("{:?} is not a user name", raw.user));
    }
    if raw.user == "root" {
        errors.push(
            "server.user",
            "kanmon does not run as root; name an unprivileged user such as \"kanmon\"",
        );
    }
    if !MAX_CONNECTIONS.contains(&raw.max_connections) {
        errors.push(
            "server.max_connections",
            format!(
                "must be from {} to {}, not {}",
                MAX_CONNECTIONS.start(),
                MAX_CONNECTIONS.end(),
                raw.max_connections
            ),
        );
    }
    if raw.drain_timeout_ms > MAX_DRAIN_TIMEOUT_MS {
        errors.push(
            "server.drain_timeout_ms",
            format!(
                "must be at most {MAX_DRAIN_TIMEOUT_MS} (systemd's stop timeout), not {}",
                raw.drain_timeout_ms
            ),
        );
    }
    Server {
        user: (!raw.user.is_empty()).then(|| raw.user.clone()),
        max_connections: raw.max_connections,
        drain_timeout: Duration::from_millis(raw.drain_timeout_ms),
    }
}

/// `store.timeout_ms` and `store.connect_timeout_ms`: at least 1 ms, and at most 60 s, well
/// below Postfix's milter and policy timeouts, so a stuck store cannot stall mail.
pub const STORE_TIMEOUT_MS: RangeInclusive<u64> = 1..=60_000;

fn store(errors: &mut ConfigErrors, raw: &RawStore) -> kanmon_store::StoreSettings {
    use kanmon_store::{BackendKind, StoreSettings};
    let defaults = StoreSettings::default();
    for (key, value) in [
        ("store.timeout_ms", raw.timeout_ms),
        ("store.connect_timeout_ms", raw.connect_timeout_ms),
    ] {
        if !STORE_TIMEOUT_MS.contains(&value) {
            errors.push(
                key,
                format!(
                    "must be from {} to {}, not {value}",
                    STORE_TIMEOUT_MS.start(),
                    STORE_TIMEOUT_MS.end()
                ),
            );
        }
    }
    // The prefix goes inside a Redis hash tag `{prefix}`: braces would end it early.
    if raw.prefix.is_empty()
        || raw
            .prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '{' || c == '}')
    {
        errors.push(
            "store.prefix",
            format!(
                "{:?} cannot prefix keys: use letters, digits and punctuation other than braces",
                raw.prefix
            ),
        );
    }
    let backend = match raw.backend {
        StoreBackend::Embedded => BackendKind::Embedded,
        StoreBackend::Redis => BackendKind::Redis,
        StoreBackend::Memory => BackendKind::Memory,
    };
    if backend == BackendKind::Redis && raw.url.trim().is_empty() {
        errors.push("store.url", "store.backend is \"redis\": name the server");
    }
    StoreSettings {
        backend,
        path: if raw.path.is_empty() {
            defaults.path
        } else {
            raw.path.clone().into()
        },
        url: raw.url.clone(),
        prefix: raw.prefix.clone(),
        timeout: Duration::from_millis(raw.timeout_ms),
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms),
    }
}

/// A POSIX portable user or group name (letters, digits, `.`, `_`, `-`, not starting with `-`),
/// as useradd(8) accepts by default.
fn is_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The configured authserv-id, or this host's name when it is empty.
fn authserv_id(errors: &mut ConfigErrors, configured: &str) -> String {
    if configured.is_empty() {
        return host_name();
    }
    if !is_authserv_id(configured) {
        errors.push(
            "authserv_id",
            format!(
                "{configured:?} is not a host name or similar token (no spaces, control characters or any of ()<>@,;:\\\"/[]?=)"
            ),
        );
    }
    configured.to_owned()
}

/// RFC 8601 §2.5: the authserv-id is a `value` (token or quoted-string); we only write
/// tokens, so refuse what would need quoting.
fn is_authserv_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// This host's name, as OpenDKIM's `AuthservID` defaults to it; `localhost` when it cannot
/// be read or is not a usable token.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| is_authserv_id(name))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn internal_hosts(errors: &mut ConfigErrors, hosts: &[String]) -> Vec<IpNet> {
    hosts
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            parse_network(text)
                .map_err(|e| errors.push(format!("internal_hosts[{i}]"), e))
                .ok()
        })
        .collect()
}

fn dns(errors: &mut ConfigErrors, raw: &RawConfig) -> Dns {
    let nameservers: Vec<SocketAddr> = raw
        .dns
        .nameservers
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            parse_nameserver(text)
                .map_err(|e| errors.push(format!("dns.nameservers[{i}]"), e))
                .ok()
        })
        .collect();
    in_range(
        errors,
        "dns.timeout_ms",
        raw.dns.timeout_ms,
        &DNS_TIMEOUT_MS,
        "ms",
    );
    Dns {
        nameservers,
        timeout: Duration::from_millis(raw.dns.timeout_ms),
        cache_size: raw.dns.cache_size,
    }
}

fn limits(errors: &mut ConfigErrors, raw: &RawConfig) -> Limits {
    let limits = &raw.limits;
    at_least(
        errors,
        "limits.max_message_bytes",
        limits.max_message_bytes,
        MIN_MESSAGE_BYTES,
        "RFC 5321 §4.5.3.1.7: every SMTP server takes messages this large",
    );
    at_least(
        errors,
        "limits.max_header_fields",
        limits.max_header_fields,
        MIN_HEADER_FIELDS,
        "50 ARC sets and 50 Received fields must fit",
    );
    at_least(
        errors,
        "limits.max_header_bytes",
        limits.max_header_bytes,
        MIN_HEADER_BYTES,
        "OpenDKIM reads header sections this large",
    );
    at_least(
        errors,
        "limits.max_dkim_signatures",
        limits.max_dkim_signatures,
        1,
        "to verify no DKIM signatures, set dkim.mode = \"off\"",
    );
    at_least(
        errors,
        "limits.max_mime_parts",
        limits.max_mime_parts,
        1,
        "a message has at least one part",
    );
    let dns_timeout = raw.dns.timeout_ms;
    let least = dns_timeout.saturating_mul(SCAN_TIMEOUT_DNS_ROUNDS);
    if limits.scan_timeout_ms < least {
        errors.push_located(
            "limits.scan_timeout_ms",
            &["limits.scan_timeout_ms", "dns.timeout_ms"],
            format!(
                "must be at least {SCAN_TIMEOUT_DNS_ROUNDS} × dns.timeout_ms ({least} ms), not {} ms: \
                 DMARC waits for SPF and DKIM, and each needs time for a lookup",
                limits.scan_timeout_ms
            ),
        );
    } else if limits.scan_timeout_ms > MAX_SCAN_TIMEOUT_MS {
        errors.push(
            "limits.scan_timeout_ms",
            format!(
                "must be at most {MAX_SCAN_TIMEOUT_MS} ms (Postfix's milter_content_timeout), not {} ms",
                limits.scan_timeout_ms
            ),
        );
    }
    Limits {
        max_message_bytes: limits.max_message_bytes,
        max_header_fields: limits.max_header_fields,
        max_header_bytes: limits.max_header_bytes,
        max_dkim_signatures: limits.max_dkim_signatures,
        max_mime_parts: limits.max_mime_parts,
        scan_timeout: Duration::from_millis(limits.scan_timeout_ms),
    }
}

fn in_range(
    errors: &mut ConfigErrors,
    path: &str,
    value: u64,
    range: &RangeInclusive<u64>,
    unit: &str,
) {
    if !range.contains(&value) {
        errors.push(
            path,
            format!(
                "must be from {} to {} {unit}, not {value}",
                range.start(),
                range.end()
            ),
        );
    }
}

fn at_least(errors: &mut ConfigErrors, path: &str, value: usize, least: usize, why: &str) {
    if value < least {
        errors.push(
            path,
            format!("must be at least {least}, not {value} ({why})"),
        );
    }
}

/// Actions a check may ask for. Greylisting is decided per recipient by `[greylist]`
/// (a triplet needs the recipient, and a retry must be let through), so no check may ask
/// for it for a whole message: `[greylist] only = "suspicious"` is how evidence selects
/// the clients to greylist.
fn check_actions(errors: &mut ConfigErrors, raw: &RawConfig) {
    let spf = &raw.spf.actions;
    let dkim = &raw.dkim.actions;
    let dmarc = &raw.dmarc.actions;
    let named = [
        ("spf.actions.pass", spf.pass),
        ("spf.actions.fail", spf.fail),
        ("spf.actions.softfail", spf.softfail),
        ("spf.actions.neutral", spf.neutral),
        ("spf.actions.none", spf.none),
        ("spf.actions.permerror", spf.permerror),
        ("spf.actions.temperror", spf.temperror),
        ("dkim.actions.fail", dkim.fail),
        ("dkim.actions.permerror", dkim.permerror),
        ("dkim.actions.temperror", dkim.temperror),
        ("dmarc.actions.reject", dmarc.reject),
        ("dmarc.actions.quarantine", dmarc.quarantine),
    ];
    for (path, action) in named {
        if action == Action::Greylist {
            errors.push(
                path,
                "\"greylist\" is not a check's action: greylisting is [greylist] (only = \"suspicious\" greylists clients by their score); use \"tempfail\" to defer",
            );
        }
    }
}

/// The score thresholds: finite, above 0 (a message with no evidence scores 0, and must not
/// be tagged or refused for it), and in order add_header ≤ rewrite_subject ≤ reject. An
/// order error names `[actions]` as a whole, since either value may be the wrong one.
fn thresholds(errors: &mut ConfigErrors, raw: &RawActions) -> Thresholds {
    let mut usable = true;
    for (path, value) in [
        ("actions.add_header", Some(raw.add_header)),
        ("actions.rewrite_subject", raw.rewrite_subject),
        ("actions.reject", Some(raw.reject)),
    ] {
        let Some(value) = value else { continue };
        if !value.is_finite() {
            errors.push(path, "must be a finite number");
            usable = false;
        } else if value <= 0.0 {
            errors.push(
                path,
                format!("must be above 0, not {value}: a message with no evidence at all scores 0"),
            );
            usable = false;
        }
    }
    if usable {
        let order = [
            ("add_header", Some(raw.add_header)),
            ("rewrite_subject", raw.rewrite_subject),
            ("reject", Some(raw.reject)),
        ];
        let set: Vec<(&str, f64)> = order
            .iter()
            .filter_map(|&(name, value)| value.map(|v| (name, v)))
            .collect();
        for pair in set.windows(2) {
            if let [(low_name, low), (high_name, high)] = *pair
                && low > high
            {
                errors.push_located(
                    "actions",
                    &[&format!("actions.{low_name}"), &format!("actions.{high_name}"), "actions"],
                    format!(
                        "{low_name} ({low}) is above {high_name} ({high}); the thresholds must be in the order add_header ≤ rewrite_subject ≤ reject"
                    ),
                );
            }
        }
    }
    Thresholds {
        add_header: raw.add_header,
        rewrite_subject: raw.rewrite_subject,
        reject: raw.reject,
    }
}

fn headers(errors: &mut ConfigErrors, raw: &RawHeaders, thresholds: &Thresholds) {
    let name = raw.symbols_header.as_str();
    // RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon.
    if name.contains(|c: char| c == ':' || !c.is_ascii_graphic()) {
        errors.push(
            "headers.symbols_header",
            format!("{name:?} is not a header field name (printable ASCII, no spaces or ':')"),
        );
    } else if let Some(own) = OWN_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name)) {
        errors.push(
            "headers.symbols_header",
            format!("{own} is a field kanmon writes itself; choose another name"),
        );
    }
    let prefix = raw.subject_prefix.as_str();
    if prefix.chars().any(char::is_control) {
        errors.push(
            "headers.subject_prefix",
            "must not contain control characters (a line break would start a new header field)",
        );
    }
    if prefix.trim().is_empty() && thresholds.rewrite_subject.is_some() {
        errors.push_located(
            "headers.subject_prefix",
            &["headers.subject_prefix", "actions.rewrite_subject"],
            "must not be empty while actions.rewrite_subject is set",
        );
    }
}
