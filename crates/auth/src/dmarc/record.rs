//! The DMARC policy record (RFC 7489 §6.3, §6.4; RFC 9989 §4.7, §4.8).
//!
//! Parsing is lenient in the way both RFCs ask: `v=DMARC1` must come first, unknown tags are
//! ignored, and a known tag with a bad value falls back to its default (RFC 9989 §4.8: "Syntax
//! errors in the remainder of the record MUST be discarded in favor of default values").
//! The three policy tags are the exception: an invalid `p`, `sp` or `np` turns the record into
//! `p=none` if it names at least one valid aggregate-report URI, and makes it no policy at all
//! otherwise (RFC 7489 §6.6.3 step 6, RFC 9989 §4.10.1). Every value that was discarded is
//! listed in [`PolicyRecord::ignored`] so an administrator can see why.
//!
//! Both generations of tags are kept: `pct`, `rf` and `ri` (RFC 7489, removed by RFC 9989) and
//! `np`, `psd` and `t` (RFC 9091 and RFC 9989).

use std::fmt;

/// Longest record text kept (and parsed). A DMARC record is a few hundred octets; this caps
/// what a hostile zone can make us store per message (style point 5). Longer records are cut
/// at a tag boundary before parsing.
pub const MAX_RECORD_LEN: usize = 4096;
/// Most report URIs kept per tag; RFC 7489 §6.2 lets receivers limit the list ("at most two"
/// is its suggestion for delivery, we keep a few more for the report module to choose from).
pub const MAX_REPORT_URIS: usize = 8;

/// A Domain Owner Assessment Policy (`p`, `sp`, `np`): what the owner asks for mail that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// No preference; monitoring only.
    None,
    /// Treat as suspicious (e.g. deliver to the spam folder).
    Quarantine,
    /// Reject during the SMTP transaction.
    Reject,
}

impl Policy {
    /// The value as written in the record and in Authentication-Results (`p=reject`).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// The next-lower policy, for messages outside the `pct` sample or under `t=y`
    /// (RFC 7489 §6.6.4, RFC 9989 §4.7 `t`).
    pub fn lowered(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            Policy::Quarantine | Policy::None => Policy::None,
        }
    }

    fn parse(value: &str) -> Option<Policy> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode (`adkim`, `aspf`; RFC 7489 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alignment {
    /// Same organizational domain (the default).
    #[default]
    Relaxed,
    /// Identical domain names.
    Strict,
}

/// The `psd` flag (RFC 9989 §4.7): whether the record is a public suffix domain's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Psd {
    /// `psd=y`: a public suffix operator's record.
    Yes,
    /// `psd=n`: this domain is an organizational domain.
    No,
    /// `psd=u` or absent: unknown; the tree walk decides.
    #[default]
    Unknown,
}

/// One `rua`/`ruf` destination (RFC 7489 §6.2), kept for the report sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUri {
    /// The URI without the size suffix, e.g. `mailto:dmarc@example.com`.
    pub uri: String,
    /// The RFC 7489 `!size` limit in octets (`!10m` = 10 485 760). RFC 9989 §4.8 makes the
    /// suffix obsolete syntax that reporters should ignore; it is kept for RFC 7489 senders.
    pub max_size: Option<u64>,
}

impl ReportUri {
    /// The address of a `mailto:` URI (without any `?query`), or `None` for other schemes.
    pub fn mailto(&self) -> Option<&str> {
        let scheme_end = self.uri.find(':')?;
        if !self.uri[..scheme_end].eq_ignore_ascii_case("mailto") {
            return None;
        }
        let rest = &self.uri[scheme_end + 1..];
        let address = rest.split('?').next().unwrap_or(rest);
        (!address.is_empty()).then_some(address)
    }

    /// Parses one list element; `None` if it is not a URI (RFC 3986 §3.1 scheme, then `:`
    /// and something) or the size suffix is malformed.
    fn parse(element: &str) -> Option<ReportUri> {
        let element = element.trim();
        let (uri, max_size) = match element.rsplit_once('!') {
            Some((uri, size)) => (uri, Some(parse_size(size)?)),
            None => (element, None),
        };
        let (scheme, rest) = uri.split_once(':')?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let rest_ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_graphic());
        if !scheme_ok || !rest_ok {
            return None;
        }
        if scheme.eq_ignore_ascii_case("mailto") && !rest.contains('@') {
            return None;
        }
        Some(ReportUri {
            uri: uri.to_owned(),
            max_size,
        })
    }
}

/// `!` 1*DIGIT [ "k" / "m" / "g" / "t" ] (RFC 7489 §6.4), in octets; saturates on overflow.
fn parse_size(size: &str) -> Option<u64> {
    let (digits, unit) = match size.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&size[..i], Some(c.to_ascii_lowercase())),
        _ => (size, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let shift = match unit {
        None => 0,
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some(_) => return None,
    };
    let number = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(number.saturating_mul(1 << shift))
}

/// The `fo` failure-reporting options (RFC 7489 §6.3): colon-separated `0`, `1`, `d`, `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOptions {
    /// `0`: report when all mechanisms fail to produce an aligned pass (the default).
    pub all_fail: bool,
    /// `1`: report when any mechanism fails to produce an aligned pass.
    pub any_fail: bool,
    /// `d`: report every failed DKIM signature.
    pub dkim: bool,
    /// `s`: report every failed SPF evaluation.
    pub spf: bool,
}

impl Default for FailureOptions {
    fn default() -> Self {
        Self {
            all_fail: true,
            any_fail: false,
            dkim: false,
            spf: false,
        }
    }
}

impl FailureOptions {
    fn parse(value: &str) -> Option<FailureOptions> {
        let mut options = FailureOptions {
            all_fail: false,
            ..FailureOptions::default()
        };
        for option in value.split(':') {
            match option.trim().to_ascii_lowercase().as_str() {
                "0" => options.all_fail = true,
                "1" => options.any_fail = true,
                "d" => options.dkim = true,
                "s" => options.spf = true,
                _ => return None,
            }
        }
        Some(options)
    }
}

/// A parsed `v=DMARC1` policy record, with its text kept whole for aggregate reports
/// (RFC 7489 §7.2 `policy_published`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// The record as published (strings joined), capped at [`MAX_RECORD_LEN`].
    pub text: String,
    /// `p`: the policy for the domain itself; `none` when absent or invalid-with-`rua`.
    pub policy: Policy,
    /// `sp`: the policy for existing subdomains, if given.
    pub subdomain_policy: Option<Policy>,
    /// `np`: the policy for non-existent subdomains, if given (RFC 9091, RFC 9989).
    pub nonexistent_policy: Option<Policy>,
    /// `adkim`.
    pub dkim_alignment: Alignment,
    /// `aspf`.
    pub spf_alignment: Alignment,
    /// `pct` (0–100, default 100; RFC 7489 only).
    pub percent: u8,
    /// `t=y`: the owner is testing its policy (RFC 9989 §4.7).
    pub testing: bool,
    /// `psd`.
    pub psd: Psd,
    /// `rua`: aggregate report destinations (valid ones only).
    pub rua: Vec<ReportUri>,
    /// `ruf`: failure report destinations (valid ones only).
    pub ruf: Vec<ReportUri>,
    /// `fo`.
    pub failure_options: FailureOptions,
    /// `rf`: failure report formats (default `afrf`; RFC 7489 only).
    pub report_formats: Vec<String>,
    /// `ri`: requested aggregate interval in seconds (default 86400; RFC 7489 only).
    pub report_interval: u32,
    /// Tags whose values were discarded as invalid, as written (`pct=150`), so the reason
    /// can show them.
    pub ignored: Vec<String>,
}

/// Why a TXT record is not a usable DMARC policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record does not start with `v=DMARC1`; it is not DMARC at all and is skipped.
    #[error("not a DMARC record")]
    NotDmarc,
    /// `p`, `sp` or `np` is invalid and no valid `rua` rescues it (RFC 7489 §6.6.3 step 6).
    #[error("invalid {tag}={value} and no valid rua")]
    InvalidPolicy {
        /// The tag (`p`, `sp` or `np`).
        tag: &'static str,
        /// Its value as written.
        value: String,
    },
}

/// Whether TXT data claims to be DMARC: its first tag is `v=DMARC1` (RFC 7489 §6.6.3 step 2).
/// Records that fail this are discarded before counting (so an SPF record at `_dmarc` does
/// not make two records).
pub fn is_dmarc_record(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or("");
    match first.split_once('=') {
        Some((name, value)) => name.trim().eq_ignore_ascii_case("v") && value.trim() == "DMARC1",
        None => false,
    }
}

impl PolicyRecord {
    /// Parses a record's text (the TXT strings already joined).
    pub fn parse(txt: &str) -> Result<PolicyRecord, RecordError> {
        if !is_dmarc_record(txt) {
            return Err(RecordError::NotDmarc);
        }
        let text = cap(txt);
        let mut record = PolicyRecord {
            text: text.to_owned(),
            policy: Policy::None,
            subdomain_policy: None,
            nonexistent_policy: None,
            dkim_alignment: Alignment::Relaxed,
            spf_alignment: Alignment::Relaxed,
            percent: 100,
            testing: false,
            psd: Psd::Unknown,
            rua: Vec::new(),
            ruf: Vec::new(),
            failure_options: FailureOptions::default(),
            report_formats: vec!["afrf".to_owned()],
            report_interval: 86_400,
            ignored: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        let mut bad_policy: Option<(&'static str, String)> = None;
        // The first element is v=DMARC1, checked above.
        for tag in text.split(';').skip(1) {
            let Some((name, value)) = tag.split_once('=') else {
                // Empty elements (";;", a trailing ";") are allowed; anything else without
                // "=" is a syntax error in the remainder, which is ignored.
                if !tag.trim().is_empty() {
                    record.ignored.push(tag.trim().to_owned());
                }
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            // Implementation note: a repeated tag would make a DKIM tag-list invalid
            // (RFC 6376 §3.2), but discarding a p=reject record over a duplicate `ri`
            // would help spoofers; the first occurrence wins instead.
            if seen.contains(&name) {
                record.ignored.push(format!("{name}={value}"));
                continue;
            }
            seen.push(name.clone());
            let ok: bool = match name.as_str() {
                "p" | "sp" | "np" => {
                    let tag: &'static str = match name.as_str() {
                        "p" => "p",
                        "sp" => "sp",
                        _ => "np",
                    };
                    match Policy::parse(value) {
                        Some(policy) => {
                            match tag {
                                "p" => record.policy = policy,
                                "sp" => record.subdomain_policy = Some(policy),
                                _ => record.nonexistent_policy = Some(policy),
                            }
                            true
                        }
                        None => {
                            bad_policy.get_or_insert((tag, value.to_owned()));
                            false
                        }
                    }
                }
                "adkim" => parse_alignment(value)
                    .map(|a| record.dkim_alignment = a)
                    .is_some(),
                "aspf" => parse_alignment(value)
                    .map(|a| record.spf_alignment = a)
                    .is_some(),
                "pct" => parse_digits(value)
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|p| *p <= 100)
                    .map(|p| record.percent = p)
                    .is_some(),
                "t" => parse_yes_no(value).map(|t| record.testing = t).is_some(),
                "psd" => match value.to_ascii_lowercase().as_str() {
                    "y" => Some(Psd::Yes),
                    "n" => Some(Psd::No),
                    "u" => Some(Psd::Unknown),
                    _ => None,
                }
                .map(|psd| record.psd = psd)
                .is_some(),
                "rua" => parse_uris(value).map(|uris| record.rua = uris).is_some(),
                "ruf" => parse_uris(value).map(|uris| record.ruf = uris).is_some(),
                "fo" => FailureOptions::parse(value)
                    .map(|fo| record.failure_options = fo)
                    .is_some(),
                "rf" => parse_formats(value)
                    .map(|rf| record.report_formats = rf)
                    .is_some(),
                "ri" => value
                    .parse::<u32>()
                    .ok()
                    .map(|ri| record.report_interval = ri)
                    .is_some(),
                // Unknown tags MUST be ignored (RFC 9989 §4.7); they are not errors.
                _ => true,
            };
            if !ok {
                record.ignored.push(format!("{name}={value}"));
            }
        }
        if let Some((tag, value)) = bad_policy {
            if record.rua.is_empty() {
                return Err(RecordError::InvalidPolicy { tag, value });
            }
            // "act as if a record containing p=none was retrieved" (RFC 7489 §6.6.3 step 6):
            // the whole record, so a valid sp or np beside the invalid tag goes too.
            record.policy = Policy::None;
            record.subdomain_policy = None;
            record.nonexistent_policy = None;
        }
        Ok(record)
    }

    /// The policy for an existing subdomain: `sp`, else `p`.
    pub fn subdomain_policy_or_p(&self) -> Policy {
        self.subdomain_policy.unwrap_or(self.policy)
    }
}

fn cap(txt: &str) -> &str {
    if txt.len() <= MAX_RECORD_LEN {
        return txt;
    }
    let mut end = MAX_RECORD_LEN;
    while !txt.is_char_boundary(end) {
        end -= 1;
    }
    // Cut at the last complete tag so no value is half-read.
    match txt[..end].rfind(';') {
        Some(semicolon) => &txt[..semicolon],
        None => &txt[..end],
    }
}

/// 1*DIGIT as a number (Rust's parser would also take a leading "+").
fn parse_digits(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

fn parse_alignment(value: &str) -> Option<Alignment> {
    match value.to_ascii_lowercase().as_str() {
        "r" => Some(Alignment::Relaxed),
        "s" => Some(Alignment::Strict),
        _ => None,
    }
}

fn parse_yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "y" => Some(true),
        "n" => Some(false),
        _ => None,
    }
}

/// A URI list keeps its valid elements and drops the rest; it is invalid only when no element
/// is valid.
fn parse_uris(value: &str) -> Option<Vec<ReportUri>> {
    let uris: Vec<ReportUri> = value
        .split(',')
        .filter_map(ReportUri::parse)
        .take(MAX_REPORT_URIS)
        .collect();
    (!uris.is_empty()).then_some(uris)
}

fn parse_formats(value: &str) -> Option<Vec<String>> {
    let formats: Vec<String> = value
        .split(':')
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    let valid = formats
        .iter()
        .all(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    valid.then_some(formats)
}

#[cfg(test)]
mod tests;
