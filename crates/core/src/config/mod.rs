//! Configuration: one TOML file, every key defaulted, validated all at once.
//!
//! Data flow (STYLE.md point 4): the text is deserialized into [`RawConfig`] (plain serde
//! types, unknown keys refused), then [`Config::from_raw`] checks every value and builds the
//! types the engine trusts: parsed networks and sockets, durations, the complete score table.
//! Each error names the key path and, when loaded from text, its line. Loading is
//! all-or-nothing, so a reload either takes the whole new file or keeps the old one.

mod error;
mod raw;
mod scores;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

pub use error::{ConfigError, ConfigErrors};
pub use raw::{
    OnError, RawActions, RawArc, RawConfig, RawDkim, RawDkimActions, RawDmarc, RawDmarcActions,
    RawDns, RawHeaders, RawLimits, RawSpf, RawSpfActions,
};
pub use scores::DEFAULT_SCORES;

use crate::check::Mode;
use crate::verdict::Action;

/// Where kanmon looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/kanmon/kanmon.toml";

/// The commented default configuration, as shipped in `contrib/kanmon.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../../contrib/kanmon.toml");

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub authserv_id: String,
    pub internal_hosts: Vec<IpNet>,
    pub on_error: OnError,
    pub dns: Dns,
    pub limits: Limits,
    pub spf: Spf,
    pub dkim: Dkim,
    pub dmarc: Dmarc,
    pub arc: Arc,
    pub thresholds: Thresholds,
    pub headers: RawHeaders,
    /// Every declared symbol's score: the defaults with `[scores]` applied.
    pub scores: HashMap<&'static str, f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// Empty: the system resolver.
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub cache_size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_fields: usize,
    pub max_header_bytes: usize,
    pub max_dkim_signatures: usize,
    pub max_mime_parts: usize,
    pub scan_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spf {
    pub mode: Mode,
    pub helo: bool,
    pub actions: RawSpfActions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dkim {
    pub mode: Mode,
    pub allow_sha1: bool,
    pub min_rsa_bits: usize,
    pub actions: RawDkimActions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dmarc {
    pub mode: Mode,
    pub tree_walk: bool,
    pub actions: RawDmarcActions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arc {
    pub mode: Mode,
}

/// Score thresholds, checked to be in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub add_header: f64,
    pub rewrite_subject: Option<f64>,
    pub reject: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default()).expect("invariant: the defaults are valid")
    }
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(ConfigError::new(
                "",
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        Config::parse(&text)
    }

    /// Parses and validates configuration text; errors carry key paths and line numbers.
    pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
        let raw = error::deserialize(text)?;
        Config::from_raw(raw).map_err(|errors| errors.located_in(text))
    }

    /// Validates raw configuration, reporting every bad value, not just the first.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let authserv_id = if raw.authserv_id.is_empty() {
            host_name()
        } else {
            if !is_authserv_id(&raw.authserv_id) {
                errors.push(
                    "authserv_id",
                    "must be a host name or similar token (no spaces, ';' or '\"')",
                );
            }
            raw.authserv_id.clone()
        };
        let internal_hosts = raw
            .internal_hosts
            .iter()
            .enumerate()
            .filter_map(|(i, text)| match parse_network(text) {
                Ok(net) => Some(net),
                Err(e) => {
                    errors.push(format!("internal_hosts[{i}]"), e);
                    None
                }
            })
            .collect();
        let nameservers = raw
            .dns
            .nameservers
            .iter()
            .enumerate()
            .filter_map(|(i, text)| match text.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    errors.push(
                        format!("dns.nameservers[{i}]"),
                        format!("{text:?} is not ip:port (e.g. \"127.0.0.1:53\", \"[::1]:53\")"),
                    );
                    None
                }
            })
            .collect();
        positive(&mut errors, "dns.timeout_ms", raw.dns.timeout_ms as f64);
        let limits = &raw.limits;
        positive(
            &mut errors,
            "limits.max_message_bytes",
            limits.max_message_bytes as f64,
        );
        positive(
            &mut errors,
            "limits.max_header_fields",
            limits.max_header_fields as f64,
        );
        positive(
            &mut errors,
            "limits.max_header_bytes",
            limits.max_header_bytes as f64,
        );
        positive(
            &mut errors,
            "limits.max_dkim_signatures",
            limits.max_dkim_signatures as f64,
        );
        positive(
            &mut errors,
            "limits.max_mime_parts",
            limits.max_mime_parts as f64,
        );
        positive(
            &mut errors,
            "limits.scan_timeout_ms",
            limits.scan_timeout_ms as f64,
        );
        check_actions(&mut errors, &raw);
        if raw.dkim.min_rsa_bits < kanmon_auth::dkim::MIN_RSA_BITS {
            errors.push(
                "dkim.min_rsa_bits",
                format!(
                    "must be at least {} (RFC 8301 §3.2)",
                    kanmon_auth::dkim::MIN_RSA_BITS
                ),
            );
        }
        if raw.arc.mode == Mode::Enforce {
            errors.push(
                "arc.mode",
                "must be \"off\" or \"tag\": an ARC result informs, it never refuses mail on its own",
            );
        }
        let thresholds = thresholds(&mut errors, &raw.actions);
        let scores = scores::resolve(&mut errors, &raw.scores);
        if raw
            .headers
            .symbols_header
            .contains(|c: char| c == ':' || !c.is_ascii_graphic())
        {
            errors.push("headers.symbols_header", "must be a header field name");
        }
        errors.into_result()?;
        Ok(Config {
            authserv_id,
            internal_hosts,
            on_error: raw.on_error,
            dns: Dns {
                nameservers,
                timeout: Duration::from_millis(raw.dns.timeout_ms),
                cache_size: raw.dns.cache_size,
            },
            limits: Limits {
                max_message_bytes: limits.max_message_bytes,
                max_header_fields: limits.max_header_fields,
                max_header_bytes: limits.max_header_bytes,
                max_dkim_signatures: limits.max_dkim_signatures,
                max_mime_parts: limits.max_mime_parts,
                scan_timeout: Duration::from_millis(limits.scan_timeout_ms),
            },
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
            thresholds,
            headers: raw.headers,
            scores,
        })
    }

    /// Whether mail from `ip` is ours (scanned as outbound).
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.internal_hosts.iter().any(|net| net.contains(&ip))
    }

    /// The score of a declared symbol.
    pub fn score(&self, symbol: &str) -> f64 {
        self.scores.get(symbol).copied().unwrap_or(0.0)
    }
}

fn positive(errors: &mut ConfigErrors, path: &str, value: f64) {
    if value <= 0.0 {
        errors.push(path, "must be greater than 0");
    }
}

/// Actions a check may ask for. Greylisting needs the greylist store, which is not built
/// yet, so it cannot be named here.
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
                "\"greylist\" is not available until greylisting is configured",
            );
        }
    }
}

fn thresholds(errors: &mut ConfigErrors, raw: &RawActions) -> Thresholds {
    for (path, value) in [
        ("actions.add_header", Some(raw.add_header)),
        ("actions.rewrite_subject", raw.rewrite_subject),
        ("actions.reject", Some(raw.reject)),
    ] {
        if value.is_some_and(|v| !v.is_finite()) {
            errors.push(path, "must be a finite number");
        }
    }
    if raw.add_header > raw.reject {
        errors.push("actions.add_header", "must not be above actions.reject");
    }
    if let Some(rewrite) = raw.rewrite_subject
        && !(raw.add_header..=raw.reject).contains(&rewrite)
    {
        errors.push(
            "actions.rewrite_subject",
            "must lie between actions.add_header and actions.reject",
        );
    }
    Thresholds {
        add_header: raw.add_header,
        rewrite_subject: raw.rewrite_subject,
        reject: raw.reject,
    }
}

/// `192.0.2.0/24`, `2001:db8::/32`, or a single address.
fn parse_network(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    match text.parse::<IpAddr>() {
        Ok(ip) => Ok(IpNet::from(ip)),
        Err(_) => Err(format!(
            "{text:?} is not a network (e.g. \"192.0.2.0/24\", \"2001:db8::/32\", \"::1\")"
        )),
    }
}

/// RFC 8601 §2.5: the authserv-id is a `value` (token or quoted-string); we only write
/// tokens, so refuse what would need quoting.
fn is_authserv_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// This host's name, as OpenDKIM's `AuthservID HOSTNAME` uses it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| is_authserv_id(name))
        .unwrap_or_else(|| "localhost".to_owned())
}
