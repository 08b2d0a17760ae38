//! Configuration: one TOML file, every key defaulted, validated all at once.
//!
//! Data flow (STYLE.md point 4):
//! 1. [`de`] reads the text into [`RawConfig`] (plain serde types): TOML syntax, then every
//!    key against the keys `RawConfig` has (all unknown keys at once), then the values' types;
//! 2. [`Config::from_raw`] ([`validate`]) checks every value and builds the types the engine
//!    trusts: parsed networks and sockets, durations, the complete score table;
//! 3. errors name the key path and, when read from text, its line ([`ConfigErrors`]).
//!
//! Loading is all-or-nothing, so a reload either takes the whole new file or keeps the old
//! one. `contrib/kanmon.toml` ([`DEFAULT_TOML`]) is the commented default; the tests prove it
//! parses to [`Config::default`] and names every key and symbol. `docs/config.md` is the
//! reference an administrator reads.

mod bayes;
mod checks_table;
mod de;
mod error;
mod greylist;
mod http;
mod listen;
mod network;
mod pattern_set;
mod raw;
mod rbl;
mod rbl_lists;
mod regexp_table;
mod rules;
mod s25r;
mod scores;
mod senders;
mod signing;
mod stats;
mod suggest;
mod symbols;
mod validate;
mod word;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

pub use bayes::Bayes;
pub use checks_table::{
    ChecksTable, Condition, DEFAULT_DEFER_TEXT, DEFAULT_REJECT_TEXT, Entry, TableAction, TableKind,
    parse_checks_table,
};
pub use error::{ConfigError, ConfigErrors};
pub use greylist::{
    ClientEntry, ClientMatch, Greylist, GreylistOnly, RecipientEntry, RecipientMatch,
};
pub use http::{Http, MIN_API_TOKEN_LEN};
pub use listen::Listen;
pub use pattern_set::{FlaggedPattern, MAX_SET_BYTES, PatternFlags, PatternSet};
pub use raw::{
    DEFAULT_MILTER_LISTEN, DEFAULT_POLICY_LISTEN, OnError, RawActions, RawArc, RawBayes, RawConfig,
    RawContent, RawDkim, RawDkimActions, RawDmarc, RawDmarcActions, RawDns, RawHeaders, RawHelo,
    RawHttp, RawLimits, RawMilter, RawPolicy, RawRule, RawS25r, RawSenderRule, RawSenders,
    RawServer, RawSpf, RawSpfActions, RawStore, StoreBackend,
};
pub use raw::{
    RawCode, RawDkimKey, RawList, RawRbl, RawRhsbl, RawSigning, RawSigningEntry, RawStats,
};
pub use rbl::{AnswerPattern, Code, CodeMatch, DnsList, Identities, MAX_URI_DOMAINS, Rbl, Reading};
pub use regexp_table::{Pattern, TableEntry, parse_ok_table};
pub use rules::{ContentRules, MIN_SCAN_BYTES, Rule, RuleGroup, Target};
pub use s25r::{S25r, WhitelistEntry, WhitelistMatch};
pub use scores::DEFAULT_SCORES;
pub use senders::{SenderIdentity, SenderRule, Senders};
pub use signing::{
    DkimKey, FromPattern, MAX_EXPIRE, Signing, SigningRule, parse_canonicalization, parse_expire,
};
pub use stats::{MAX_HISTORY_LEARNABLE, MAX_HISTORY_SIZE, MAX_RETENTION_DAYS, MAX_TOP_N, Stats};
pub use symbols::MAX_SYMBOL_LEN;
pub use validate::{
    DNS_TIMEOUT_MS, MAX_CONNECTIONS, MAX_DRAIN_TIMEOUT_MS, MAX_SCAN_TIMEOUT_MS, MIN_HEADER_BYTES,
    MIN_HEADER_FIELDS, MIN_MESSAGE_BYTES, RSA_BITS, SCAN_TIMEOUT_DNS_ROUNDS, STORE_TIMEOUT_MS,
};

use crate::check::Mode;
use crate::checks;
use crate::symbol::DefinedSymbol;

/// Where kanmon looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/kanmon/kanmon.toml";

/// The commented default configuration, as shipped in `contrib/kanmon.toml`: what
/// `kanmon config default` prints.
pub const DEFAULT_TOML: &str = include_str!("../../../../contrib/kanmon.toml");

/// The validated configuration. Field meanings, units and defaults: `docs/config.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The authserv-id of our Authentication-Results fields (this host's name by default).
    pub authserv_id: String,
    /// Networks whose mail is ours; IPv4-mapped IPv6 networks are stored as IPv4.
    pub internal_hosts: Vec<IpNet>,
    pub on_error: OnError,
    pub dns: Dns,
    pub limits: Limits,
    pub spf: Spf,
    pub dkim: Dkim,
    pub dmarc: Dmarc,
    pub arc: Arc,
    pub s25r: S25r,
    pub helo: Helo,
    /// `[senders]` with the `[[sender_rules]]`.
    pub senders: Senders,
    pub greylist: Greylist,
    /// The DNS lists (`[rbl]`, `[[dnsbl]]`, `[[rhsbl]]`, `[[uribl]]`).
    pub rbl: Rbl,
    /// `[content]` and `[[rules]]`: rules on the decoded message.
    pub content: ContentRules,
    /// `[bayes]`: the classifier's settings.
    pub bayes: Bayes,
    /// `[signing]`, `[[dkim_keys]]`, `[[signing_table]]`: outbound DKIM signing.
    pub signing: Signing,
    pub thresholds: Thresholds,
    pub headers: RawHeaders,
    /// Symbols the file defines (list return codes, rules), in file order.
    pub defined: Vec<DefinedSymbol>,
    /// Every symbol's score, declared or defined: the defaults with `[scores]` applied.
    pub scores: HashMap<&'static str, f64>,
    pub milter: Frontend,
    pub policy: Frontend,
    pub server: Server,
    /// Where state is kept (`[store]`).
    pub store: kanmon_store::StoreSettings,
    /// The dashboard, `/metrics` and the scan API (`[http]`).
    pub http: Http,
    /// What is recorded about the mail (`[stats]`).
    pub stats: Stats,
}

/// A front-end's listener (`[milter]`, `[policy]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub listen: Listen,
    /// Permission bits of a unix socket.
    pub socket_mode: u32,
    /// Group of a unix socket; `None`: the daemon user's group.
    pub socket_group: Option<String>,
}

/// How `kanmon serve` runs (`[server]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Who the daemon runs as when started as root; `None` when not set (refused as root).
    pub user: Option<String>,
    /// Connections served at once per front-end.
    pub max_connections: usize,
    /// How long a draining daemon waits for messages in progress.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// Where every lookup goes; empty: the nameservers of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// Bound on each lookup, its retry included.
    pub timeout: Duration,
    /// Answers kept in kanmon's own cache; 0 keeps none.
    pub cache_size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_fields: usize,
    pub max_header_bytes: usize,
    pub max_dkim_signatures: usize,
    pub max_mime_parts: usize,
    /// Wall-clock budget of one scan; at least twice [`Dns::timeout`].
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
    /// Never [`Mode::Enforce`]: validation refuses it.
    pub mode: Mode,
}

/// `[helo]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helo {
    /// Never [`Mode::Enforce`]: validation refuses it.
    pub mode: Mode,
}

/// Score thresholds, checked to be finite, above 0 and in order
/// add_header ≤ rewrite_subject ≤ reject.
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
        let raw = de::deserialize(text)?;
        Config::from_raw(raw).map_err(|errors| errors.located_in(text))
    }

    /// Validates raw configuration, reporting every bad value, not just the first.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigErrors> {
        validate::validate(raw)
    }

    /// Whether mail from `ip` is ours (scanned as outbound).
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.internal_hosts.iter().any(|net| net.contains(&ip))
    }

    /// The score of a declared or defined symbol.
    pub fn score(&self, symbol: &str) -> f64 {
        self.scores.get(symbol).copied().unwrap_or(0.0)
    }

    /// Every symbol a scan under this configuration may emit, with its description: the
    /// checks' declared ones, then those the file defines.
    pub fn symbols(&self) -> impl Iterator<Item = (&'static str, &str)> {
        checks::catalogue()
            .map(|symbol| (symbol.name, symbol.description))
            .chain(
                self.defined
                    .iter()
                    .map(|symbol| (symbol.name, symbol.description.as_str())),
            )
    }
}
