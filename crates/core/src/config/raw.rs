//! The configuration file as written: plain serde types, every key defaulted, unknown keys
//! refused. [`super::Config::from_raw`] validates it into the types the engine trusts.
//!
//! The defaults here are the documented defaults: `contrib/kanmon.toml` repeats them with
//! comments, and a test proves the two agree. The types also serialize, which gives the
//! key tree the parser checks a file against ([`RawConfig::with_every_key`]).
//!
//! Enum-valued keys go through [`word`] so a wrong value lists the allowed words.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scores::DEFAULT_SCORES;
use super::word::word;
use crate::check::Mode;
use crate::verdict::Action;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// The authserv-id of our Authentication-Results fields; empty means this host's name.
    pub authserv_id: String,
    /// Networks (or single addresses) whose mail is ours, scanned as outbound.
    pub internal_hosts: Vec<String>,
    /// What a front-end does when a scan cannot be completed: "accept" or "tempfail".
    #[serde(deserialize_with = "word")]
    pub on_error: OnError,
    pub dns: RawDns,
    pub limits: RawLimits,
    pub spf: RawSpf,
    pub dkim: RawDkim,
    pub dmarc: RawDmarc,
    pub arc: RawArc,
    pub s25r: RawS25r,
    pub helo: RawHelo,
    pub senders: RawSenders,
    pub sender_rules: Vec<RawSenderRule>,
    pub greylist: RawGreylist,
    pub rbl: RawRbl,
    /// DNS lists asked about the client address; writing any replaces the default set.
    pub dnsbl: Vec<RawList>,
    /// DNS lists asked about the sender's domains; writing any replaces the default set.
    pub rhsbl: Vec<RawRhsbl>,
    /// DNS lists asked about the domains of the message's URLs; writing any replaces the
    /// default set.
    pub uribl: Vec<RawList>,
    pub content: RawContent,
    /// `[[rules]]`: regular expressions on the decoded message, each a symbol. None by
    /// default (and then not serialized: an empty top-level array would clash with a
    /// `[[rules]]` entry written after it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RawRule>,
    pub bayes: RawBayes,
    /// `[signing]`: how outbound mail is DKIM-signed.
    pub signing: RawSigning,
    /// `[[dkim_keys]]`: the private keys signing may use. None by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_keys: Vec<RawDkimKey>,
    /// `[[signing_table]]`: which From addresses are signed with which keys. None by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_table: Vec<RawSigningEntry>,
    pub actions: RawActions,
    pub headers: RawHeaders,
    /// Symbol name → score, overriding the defaults.
    pub scores: BTreeMap<String, f64>,
    pub milter: RawMilter,
    pub policy: RawPolicy,
    pub server: RawServer,
    pub store: RawStore,
    pub http: RawHttp,
    pub stats: RawStats,
}

impl RawConfig {
    /// The defaults with every optional key set and every symbol listed under `[scores]`:
    /// serialized, the tree of every key a file may contain.
    pub fn with_every_key() -> Self {
        let mut raw = Self::default();
        raw.actions.rewrite_subject = Some(raw.actions.add_header);
        raw.sender_rules = vec![RawSenderRule {
            domain: Some(String::new()),
            domain_suffix: Some(String::new()),
            action: Some(Action::Reject),
            symbol: Some(String::new()),
            ..RawSenderRule::default()
        }];
        let every_list_key = RawList::with_every_key();
        raw.dnsbl = vec![every_list_key.clone()];
        raw.uribl = vec![every_list_key.clone()];
        raw.rhsbl = vec![RawRhsbl::from_list(every_list_key)];
        raw.rules = vec![RawRule {
            name: "EXAMPLE".to_owned(),
            on: "body".to_owned(),
            pattern: "example".to_owned(),
            score: Some(1.0),
            action: Some("reject".to_owned()),
            description: Some("example".to_owned()),
            case_insensitive: true,
        }];
        raw.dkim_keys = vec![RawDkimKey::default()];
        raw.signing_table = vec![RawSigningEntry::default()];
        raw.scores = DEFAULT_SCORES
            .iter()
            .map(|&(name, score)| (name.to_owned(), score))
            .collect();
        raw
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            authserv_id: String::new(),
            internal_hosts: vec!["127.0.0.0/8".to_owned(), "::1".to_owned()],
            on_error: OnError::Accept,
            dns: RawDns::default(),
            limits: RawLimits::default(),
            spf: RawSpf::default(),
            dkim: RawDkim::default(),
            dmarc: RawDmarc::default(),
            arc: RawArc::default(),
            s25r: RawS25r::default(),
            helo: RawHelo::default(),
            senders: RawSenders::default(),
            sender_rules: Vec::new(),
            greylist: RawGreylist::default(),
            rbl: RawRbl::default(),
            dnsbl: super::rbl_lists::default_dnsbl(),
            rhsbl: super::rbl_lists::default_rhsbl(),
            uribl: super::rbl_lists::default_uribl(),
            content: RawContent::default(),
            rules: Vec::new(),
            bayes: RawBayes::default(),
            signing: RawSigning::default(),
            dkim_keys: Vec::new(),
            signing_table: Vec::new(),
            actions: RawActions::default(),
            headers: RawHeaders::default(),
            scores: BTreeMap::new(),
            milter: RawMilter::default(),
            policy: RawPolicy::default(),
            server: RawServer::default(),
            store: RawStore::default(),
            http: RawHttp::default(),
            stats: RawStats::default(),
        }
    }
}

/// The safe action when a scan fails: never a silent reject, never a lost message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Deliver, with a header saying the scan failed.
    #[default]
    Accept,
    /// Refuse temporarily; the sender retries.
    Tempfail,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDns {
    /// `ip:port` (or a bare address, port 53) of the servers every lookup goes to; empty
    /// means those of /etc/resolv.conf.
    pub nameservers: Vec<String>,
    /// Bound on each attempt at a lookup, in milliseconds.
    pub timeout_ms: u64,
    /// Names whose answers kanmon's own cache keeps; 0 keeps none.
    pub cache_size: usize,
}

impl Default for RawDns {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_ms: 2_000,
            cache_size: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    /// Largest message scanned, in bytes; of a larger one only the envelope is checked.
    pub max_message_bytes: usize,
    /// Most header fields read from one message; more is `HEADER_UNREADABLE`.
    pub max_header_fields: usize,
    /// Most bytes in one message's header section; more is `HEADER_UNREADABLE`.
    pub max_header_bytes: usize,
    /// Most DKIM signatures verified per message; the rest are reported unchecked.
    pub max_dkim_signatures: usize,
    /// Most MIME text parts decoded per message.
    pub max_mime_parts: usize,
    /// Wall-clock budget for one whole scan, in milliseconds.
    pub scan_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 50 * 1024 * 1024,
            max_header_fields: 1_000,
            max_header_bytes: 1024 * 1024,
            max_dkim_signatures: 10,
            max_mime_parts: 100,
            scan_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSpf {
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Also check the HELO identity (RFC 7208 §2.3).
    pub helo: bool,
    /// SPF result → action, applied in `enforce` mode.
    pub actions: RawSpfActions,
}

impl Default for RawSpf {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            helo: true,
            actions: RawSpfActions::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSpfActions {
    #[serde(deserialize_with = "word")]
    pub pass: Action,
    #[serde(deserialize_with = "word")]
    pub fail: Action,
    #[serde(deserialize_with = "word")]
    pub softfail: Action,
    #[serde(deserialize_with = "word")]
    pub neutral: Action,
    #[serde(deserialize_with = "word")]
    pub none: Action,
    #[serde(deserialize_with = "word")]
    pub permerror: Action,
    #[serde(deserialize_with = "word")]
    pub temperror: Action,
}

impl Default for RawSpfActions {
    fn default() -> Self {
        Self {
            pass: Action::Accept,
            fail: Action::Reject,
            softfail: Action::Accept,
            neutral: Action::Accept,
            none: Action::Accept,
            permerror: Action::Reject,
            temperror: Action::Tempfail,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDkim {
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Accept rsa-sha1 signatures (RFC 8301 forbids it; for measuring old mail only).
    pub allow_sha1: bool,
    /// Smallest RSA key accepted, in bits: 1024 to 4096 (RFC 8301 §3.2).
    pub min_rsa_bits: usize,
    /// Best DKIM result of the message → action, applied in `enforce` mode.
    pub actions: RawDkimActions,
}

impl Default for RawDkim {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            allow_sha1: false,
            min_rsa_bits: 1024,
            actions: RawDkimActions::default(),
        }
    }
}

/// Defaults after OpenDKIM's `On-BadSignature accept`, `On-SignatureError accept`,
/// `On-DNSError tempfail`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDkimActions {
    #[serde(deserialize_with = "word")]
    pub fail: Action,
    #[serde(deserialize_with = "word")]
    pub permerror: Action,
    #[serde(deserialize_with = "word")]
    pub temperror: Action,
}

impl Default for RawDkimActions {
    fn default() -> Self {
        Self {
            fail: Action::Accept,
            permerror: Action::Accept,
            temperror: Action::Tempfail,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDmarc {
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Use the RFC 9989 DNS tree walk instead of the Public Suffix List to find the
    /// organizational domain.
    pub tree_walk: bool,
    /// Disposition → action, applied in `enforce` mode to a failing message.
    pub actions: RawDmarcActions,
}

impl Default for RawDmarc {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            tree_walk: false,
            actions: RawDmarcActions::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDmarcActions {
    #[serde(deserialize_with = "word")]
    pub reject: Action,
    #[serde(deserialize_with = "word")]
    pub quarantine: Action,
}

impl Default for RawDmarcActions {
    fn default() -> Self {
        Self {
            reject: Action::Reject,
            quarantine: Action::AddHeader,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawArc {
    /// `off` or `tag`: an ARC result informs, it never refuses mail on its own.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
}

impl Default for RawArc {
    fn default() -> Self {
        Self { mode: Mode::Tag }
    }
}

/// `[helo]`: the HELO name and the client's reverse DNS, as scored evidence.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawHelo {
    /// `off` or `tag`: these facts score, they never refuse mail on their own.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
}

impl Default for RawHelo {
    fn default() -> Self {
        Self { mode: Mode::Tag }
    }
}

/// `[s25r]`: Selective SMTP Rejection (http://gabacho-net.jp/en/anti-spam/) on the client's
/// verified host name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawS25r {
    /// `enforce` answers a match with a temporary refusal ("S25R check: be patient").
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// More regular expressions on the client name, tried after the six published rules.
    pub extra_rules: Vec<String>,
    /// Clients never judged: an address or network, or else a regular expression matched
    /// against the client name and the client address.
    pub whitelist: Vec<String>,
    /// A Postfix regexp table of `/pattern/ OK` lines, such as S25R's white-list.txt;
    /// empty for none.
    pub whitelist_file: String,
    /// Judge IPv4 clients only, as S25R's rules were written for IPv4 access networks.
    pub ipv4_only: bool,
}

impl Default for RawS25r {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            extra_rules: Vec::new(),
            whitelist: Vec::new(),
            whitelist_file: String::new(),
            ipv4_only: true,
        }
    }
}

/// `[greylist]`: deferring the first attempt of each (client network, sender, recipient)
/// triplet, postgrey's way, with its state in the store.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawGreylist {
    /// `off` by default: greylisting delays first mail, so an administrator opts in; `tag`
    /// records what would have been deferred without deferring.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Seconds after the first attempt from which a retry is accepted (postgrey: 300).
    pub delay_s: u64,
    /// Seconds after the first attempt within which the retry must come (postgrey: 2 days).
    pub retry_window_s: u64,
    /// Seconds a triplet that passed, and a client network's passes, are remembered after
    /// they were last seen (postgrey: 35 days).
    pub max_age_s: u64,
    /// Client networks that passed this many times are no longer greylisted; 0 never
    /// (postgrey `--auto-whitelist-clients`: 5).
    pub auto_whitelist_after: u64,
    /// Prefix length of an IPv4 client's network in the triplet.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 client's network in the triplet.
    pub ipv6_prefix: u8,
    /// `all`, or `suspicious`: only clients S25R matched or whose score before DATA
    /// reaches `min_score`.
    #[serde(deserialize_with = "word")]
    pub only: super::greylist::GreylistOnly,
    pub min_score: f64,
    /// A postgrey `postgrey_whitelist_clients` file; empty for none.
    pub whitelist_clients_file: String,
    /// A postgrey `postgrey_whitelist_recipients` file; empty for none.
    pub whitelist_recipients_file: String,
    /// Client entries in the same forms as the file's lines.
    pub whitelist_clients: Vec<String>,
    /// Recipient entries in the same forms as the file's lines.
    pub whitelist_recipients: Vec<String>,
}

impl Default for RawGreylist {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            delay_s: 300,
            retry_window_s: 172_800,
            max_age_s: 3_024_000,
            auto_whitelist_after: 5,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            only: super::greylist::GreylistOnly::All,
            min_score: 3.0,
            whitelist_clients_file: String::new(),
            whitelist_recipients_file: String::new(),
            whitelist_clients: Vec::new(),
            whitelist_recipients: Vec::new(),
        }
    }
}

/// `[rbl]`: how the DNS lists of `[[dnsbl]]`, `[[rhsbl]]` and `[[uribl]]` are used.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRbl {
    /// `enforce` refuses mail that a list with `enforce = true` lists; `tag` only records it.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Most URL domains of one message asked of each `[[uribl]]` list.
    pub max_uri_domains: usize,
}

impl Default for RawRbl {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            max_uri_domains: 20,
        }
    }
}

/// `[content]`: how the rules on the decoded message (`[[rules]]` and Postfix
/// header_checks/body_checks files) run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawContent {
    /// `enforce` lets rules with an action (reject, tempfail, tag) act; `tag` records what
    /// they would have done; `off` runs no rule at all.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Postfix header_checks regexp tables, matched against each decoded header line.
    pub header_checks: Vec<String>,
    /// Postfix body_checks regexp tables, matched against each line of the decoded text.
    pub body_checks: Vec<String>,
    /// Most bytes of decoded text, and of raw body, the rules scan per message.
    pub max_scan_bytes: usize,
}

impl Default for RawContent {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            header_checks: Vec::new(),
            body_checks: Vec::new(),
            max_scan_bytes: 256 * 1024,
        }
    }
}

/// `[bayes]`: the Bayesian classifier over the counts learned into the store.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawBayes {
    /// `tag` classifies and scores the BAYES_* bands; `off` never reads the store. There is
    /// no `enforce`: a probability scores, it never refuses on its own.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Learned spam below which the classifier abstains (cold start).
    pub min_spam: u64,
    /// Learned ham below which the classifier abstains.
    pub min_ham: u64,
    /// Tokens whose probability is within this of 0.5 are ignored.
    pub min_dev: f64,
    /// Robinson's s: how strongly a rarely seen token is pulled towards `robx`.
    pub robs: f64,
    /// Robinson's x: the probability given a token never seen.
    pub robx: f64,
    /// Distinct tokens read per message at most.
    pub max_tokens: usize,
    /// Host names whose Received hops are ours (besides localhost): never tokenised, as
    /// they are added after the scan.
    pub local_hosts: Vec<String>,
    /// Learn messages the other checks judged clearly (off by default).
    pub autolearn: bool,
    /// Learned as spam at this score or above, BAYES_* symbols left out.
    pub autolearn_spam: f64,
    /// Learned as ham at this score or below, BAYES_* symbols left out.
    pub autolearn_ham: f64,
}

impl Default for RawBayes {
    fn default() -> Self {
        let params = crate::bayes::Params::default();
        Self {
            mode: Mode::Tag,
            min_spam: params.min_spam,
            min_ham: params.min_ham,
            min_dev: params.min_dev,
            robs: params.robs,
            robx: params.robx,
            max_tokens: crate::bayes::TokenizerOptions::default().max_tokens,
            local_hosts: Vec::new(),
            autolearn: false,
            autolearn_spam: 12.0,
            autolearn_ham: -0.5,
        }
    }
}

/// One `[[dnsbl]]` or `[[uribl]]` list.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawList {
    /// The list's DNS zone, e.g. "zen.spamhaus.org".
    pub zone: String,
    /// The symbol of a listing that no `codes` entry maps; without `codes`, of every one.
    pub symbol: Option<String>,
    /// That symbol's score.
    pub score: Option<f64>,
    /// Refuse listed mail when `[rbl] mode = "enforce"`.
    pub enforce: bool,
    /// Answers → symbols.
    pub codes: Vec<RawCode>,
    /// More answers that mean "query refused" rather than "listed".
    pub blocked: Vec<String>,
    /// The 0-score symbol of a refused query; default `<symbol>_BLOCKED`.
    pub blocked_symbol: Option<String>,
}

impl RawList {
    /// An entry with every optional key set: the schema of a list's keys.
    fn with_every_key() -> Self {
        Self {
            zone: "bl.example".to_owned(),
            symbol: Some("EXAMPLE".to_owned()),
            score: Some(0.0),
            enforce: false,
            codes: vec![RawCode {
                answers: vec!["127.0.0.2".to_owned()],
                mask: Some(0),
                symbol: Some("EXAMPLE_CODE".to_owned()),
                score: Some(0.0),
            }],
            blocked: vec!["127.0.0.1".to_owned()],
            blocked_symbol: Some("EXAMPLE_BLOCKED".to_owned()),
        }
    }
}

/// One `[[rhsbl]]` list: the keys of [`RawList`], and which domains it is asked about.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRhsbl {
    pub zone: String,
    pub symbol: Option<String>,
    pub score: Option<f64>,
    pub enforce: bool,
    pub codes: Vec<RawCode>,
    pub blocked: Vec<String>,
    pub blocked_symbol: Option<String>,
    /// Which domains: "mail_from" (envelope sender), "from" (header From), "helo".
    pub identities: Vec<String>,
}

impl Default for RawRhsbl {
    fn default() -> Self {
        Self::from_list(RawList::default())
    }
}

impl RawRhsbl {
    /// `list`'s keys, asked about every identity.
    pub(super) fn from_list(list: RawList) -> Self {
        Self {
            zone: list.zone,
            symbol: list.symbol,
            score: list.score,
            enforce: list.enforce,
            codes: list.codes,
            blocked: list.blocked,
            blocked_symbol: list.blocked_symbol,
            identities: ["mail_from", "from", "helo"].map(str::to_owned).to_vec(),
        }
    }

    /// The keys it shares with the other kinds of list.
    pub(super) fn list(&self) -> RawList {
        RawList {
            zone: self.zone.clone(),
            symbol: self.symbol.clone(),
            score: self.score,
            enforce: self.enforce,
            codes: self.codes.clone(),
            blocked: self.blocked.clone(),
            blocked_symbol: self.blocked_symbol.clone(),
        }
    }
}

/// One `codes` entry of a list: the answers it maps, and to which symbol.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCode {
    /// "127.0.0.2", "127.0.0.4-127.0.0.7" or "127.0.*.3".
    pub answers: Vec<String>,
    /// Or: the answer has any of these bits set (multi lists such as SURBL's).
    pub mask: Option<u32>,
    pub symbol: Option<String>,
    pub score: Option<f64>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRule {
    /// The symbol it defines (UPPER_SNAKE).
    pub name: String,
    /// What it matches: "body", "rawbody", "uri", "headers" or "header:Name".
    pub on: String,
    /// A regular expression (Rust regex syntax).
    pub pattern: String,
    /// The symbol's score; 0 when only an action is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// "reject", "tempfail" or "tag", done in `content.mode = "enforce"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What a match means; written from `on` and `pattern` when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Match letters regardless of case (as `(?i)` in the pattern does).
    pub case_insensitive: bool,
}

/// Score thresholds; the defaults are rspamd's.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawActions {
    pub add_header: f64,
    /// Unset by default: subjects are not rewritten.
    pub rewrite_subject: Option<f64>,
    pub reject: f64,
}

impl Default for RawActions {
    fn default() -> Self {
        Self {
            add_header: 6.0,
            rewrite_subject: None,
            reject: 15.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawHeaders {
    pub authentication_results: bool,
    pub received_spf: bool,
    /// The SpamAssassin-style fields (X-Spam-Status and its companions).
    pub spam_status: bool,
    /// The header listing every symbol with its score; empty for none.
    pub symbols_header: String,
    /// Prepended to the Subject under `rewrite_subject`.
    pub subject_prefix: String,
}

impl Default for RawHeaders {
    fn default() -> Self {
        Self {
            authentication_results: true,
            received_spf: true,
            spam_status: true,
            symbols_header: "X-Kanmon-Symbols".to_owned(),
            subject_prefix: "***SPAM***".to_owned(),
        }
    }
}

/// The milter's default socket. The neighbours' defaults are taken: OpenDKIM 8891, OpenDMARC
/// 8893, rspamd 11332–11334, postgrey 10023, amavis 10024–10025; 8897 and 8898 are not the
/// default of any mail filter in Debian.
pub const DEFAULT_MILTER_LISTEN: &str = "inet:127.0.0.1:8897";

/// The policy server's default socket (see [`DEFAULT_MILTER_LISTEN`]).
pub const DEFAULT_POLICY_LISTEN: &str = "inet:127.0.0.1:8898";

/// `[milter]`: where the milter listens.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMilter {
    /// `inet:HOST:PORT` or `unix:PATH`; an empty string turns the milter off.
    pub listen: String,
    /// Permissions of a unix socket, octal.
    pub socket_mode: String,
    /// Group of a unix socket (e.g. "postfix"); empty: the group of `server.user`.
    pub socket_group: String,
}

impl Default for RawMilter {
    fn default() -> Self {
        Self {
            listen: DEFAULT_MILTER_LISTEN.to_owned(),
            socket_mode: DEFAULT_SOCKET_MODE.to_owned(),
            socket_group: String::new(),
        }
    }
}

/// `[policy]`: where the policy server listens; the keys mean what they mean in `[milter]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPolicy {
    pub listen: String,
    pub socket_mode: String,
    pub socket_group: String,
}

impl Default for RawPolicy {
    fn default() -> Self {
        Self {
            listen: DEFAULT_POLICY_LISTEN.to_owned(),
            socket_mode: DEFAULT_SOCKET_MODE.to_owned(),
            socket_group: String::new(),
        }
    }
}

/// Owner and group may connect: Postfix's processes run as `postfix`, which is put in the
/// socket's group.
const DEFAULT_SOCKET_MODE: &str = "0660";

/// How `kanmon serve` runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    /// The user the daemon switches to when started as root; empty is refused then.
    pub user: String,
    /// Connections served at once per front-end; more wait in the listen queue.
    pub max_connections: usize,
    /// How long SIGTERM waits for messages in progress, in milliseconds.
    pub drain_timeout_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            user: "kanmon".to_owned(),
            max_connections: 1_000,
            drain_timeout_ms: 30_000,
        }
    }
}

/// `[http]`: the dashboard, `/metrics` and the scan API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawHttp {
    /// ADDRESS:PORT; empty turns the web server off.
    pub listen: String,
    /// Argon2 PHC string of the dashboard password; empty: no password (loopback only).
    pub password_hash: String,
    /// Bearer token for `/api/*` and `/metrics` when not on loopback; empty: none.
    pub api_token: String,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// Seconds a connection may pass without a byte either way before it is closed.
    pub idle_timeout_secs: u64,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8025".to_owned(),
            password_hash: String::new(),
            api_token: String::new(),
            max_connections: 64,
            idle_timeout_secs: 30,
        }
    }
}

/// Which store keeps kanmon's state (`store.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// One file on this machine.
    #[default]
    Embedded,
    /// A Redis server, shared by several MX hosts.
    Redis,
    /// Memory only: nothing survives a restart.
    Memory,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStore {
    #[serde(deserialize_with = "word")]
    pub backend: StoreBackend,
    /// The embedded store's file; empty: the default location.
    pub path: String,
    /// The Redis server.
    pub url: String,
    /// Prefix of every Redis key.
    pub prefix: String,
    /// Longest a store call may take, in milliseconds.
    pub timeout_ms: u64,
    /// Longest a connection to the Redis server may take to open, in milliseconds.
    pub connect_timeout_ms: u64,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Embedded,
            path: String::new(),
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "kanmon".to_owned(),
            timeout_ms: 500,
            connect_timeout_ms: 2_000,
        }
    }
}

/// `[stats]`: what is recorded about the mail for `kanmon report`, `kanmon history` and the
/// dashboard.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStats {
    /// Days an hour's counters are kept.
    pub retention_days: u64,
    /// Days a history entry is kept.
    pub history_retention_days: u64,
    /// How many of the latest messages history searches look at; 0 records no history.
    pub history_size: usize,
    /// Keep each message's Subject in its history entry.
    pub history_subjects: bool,
    /// Keep the latest this many messages in memory, so the dashboard can learn them.
    pub history_learnable: usize,
    /// Sender domains and client networks of tagged or refused mail named per hour.
    pub top_n: usize,
}

impl Default for RawStats {
    fn default() -> Self {
        Self {
            retention_days: 92,
            history_retention_days: 7,
            history_size: 10_000,
            history_subjects: false,
            history_learnable: 0,
            top_n: 20,
        }
    }
}

/// `[senders]`: how the `[[sender_rules]]` are applied.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSenders {
    /// `enforce` carries out the rules' `action`; `tag` records it as would-enforce.
    #[serde(deserialize_with = "word")]
    pub mode: Mode,
    /// Domains no sender rule judges, with their subdomains: the whitelist wins.
    pub whitelist: Vec<String>,
}

impl Default for RawSenders {
    fn default() -> Self {
        Self {
            mode: Mode::Tag,
            whitelist: Vec::new(),
        }
    }
}

/// One `[[sender_rules]]` entry: a domain, or every domain under a suffix (a TLD such as
/// `cyou`), judged in the envelope sender, the header From and the HELO name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSenderRule {
    /// This domain exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// This domain and every domain under it (`cyou` is the whole TLD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_suffix: Option<String>,
    /// Which identities: "mail_from", "from", "helo".
    pub on: Vec<String>,
    /// Added to the message's score on a match.
    pub score: f64,
    /// "reject" or "tempfail" on a match, in `enforce` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The symbol's name; by default made from the domain (`SENDER_SUFFIX_CYOU`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
}

impl Default for RawSenderRule {
    fn default() -> Self {
        Self {
            domain: None,
            domain_suffix: None,
            on: SENDER_IDENTITIES.iter().map(|&s| s.to_owned()).collect(),
            score: 0.0,
            action: None,
            symbol: None,
        }
    }
}

/// The identities a sender rule may judge, in the order they are reported.
pub(super) const SENDER_IDENTITIES: [&str; 3] = ["mail_from", "from", "helo"];

/// `[signing]`: how outbound mail (internal hosts, authenticated clients) is signed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSigning {
    /// Header/body canonicalisation, each `simple` or `relaxed`.
    pub canonicalization: String,
    /// Header fields signed, each as often as it occurs.
    pub headers: Vec<String>,
    /// Header fields signed once more than they occur, so none can be added.
    pub oversign: Vec<String>,
    /// `x=` this long after `t=` ("30d"); empty: no `x=`.
    pub expire: String,
    /// Accept key files their group may read (root:kanmon 0640).
    pub allow_group_readable_keys: bool,
}

impl Default for RawSigning {
    fn default() -> Self {
        Self {
            canonicalization: "relaxed/relaxed".to_owned(),
            headers: kanmon_auth::dkim::DEFAULT_SIGNED_HEADERS
                .iter()
                .map(|&h| h.to_owned())
                .collect(),
            oversign: vec!["from".to_owned()],
            expire: String::new(),
            allow_group_readable_keys: false,
        }
    }
}

/// One `[[dkim_keys]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDkimKey {
    /// What `[[signing_table]]` entries call it.
    pub name: String,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The private key file (PEM or DER, RSA or Ed25519).
    pub file: String,
}

/// One `[[signing_table]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSigningEntry {
    /// A glob on the header From address (`*@example.com`, `example.com`, `.example.com`).
    pub from: String,
    /// `[[dkim_keys]]` names: each signs a matching message.
    pub keys: Vec<String>,
}
