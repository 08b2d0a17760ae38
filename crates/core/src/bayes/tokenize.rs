//! Message → token keys: the words of the decoded text, character bigrams of text written
//! without spaces (CJK, Thai…), URL hosts, and a short list of header fields, each kind under
//! its own prefix so "free" in the Subject and "free" in the body count apart.
//!
//! Two rules shape what is read. Learning a message and scanning it must give the same keys
//! (or forgetting moves other counters than learning did), so nothing added at or after our
//! own MX is read: our Received hops, Delivered-To, Return-Path, X-Spam-*, Authentication-
//! Results, mailbox annotations (X-Keywords, Status…). And keys are persisted, so the hash is
//! xxh3-64 with a fixed seed tied to [`TOKENIZER_VERSION`]: a change that gives a token
//! another key, or makes ordinary mail give tokens it did not, must bump it (forgetting a
//! message learned before would take off counts never added). Taking fewer tokens, as the
//! third round did, only leaves counts behind and kept it (docs/bayes.md).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use kanmon_auth::domain::organizational_domain;
use kanmon_store::TokenKey;

use crate::content::Content;

/// Version of the token rules; stored with the learned counts, compared before classifying.
pub const TOKENIZER_VERSION: &str = "v1";

/// The hash seed: the first 8 bytes of SHA-256("kanmon-bayes-tok-v1"), fixed forever for v1.
const SEED: u64 = 0x5c1f_6e0b_9a43_d2e7;

/// Separates a token's prefix from its text in the hashed bytes.
const PREFIX_END: u8 = 0x1f;

/// Word lengths in characters: shorter words are dropped, longer ones shortened to `sk:`
/// plus their first [`SKIP_KEEP`] characters (bogofilter's 3/30, SpamBayes' "skip" tokens).
const MIN_WORD: usize = 3;
const MAX_WORD: usize = 30;
const SKIP_KEEP: usize = 7;
/// Body words read at most, and body bytes: bounds the work a crafted message can cause.
const MAX_BODY_WORDS: usize = 10_000;
const MAX_BODY_BYTES: usize = 256 * 1024;
/// OSB window (rspamd): each word paired with the four before it, with these multipliers.
const OSB_MULTIPLIERS: [u64; 4] = [3, 5, 11, 23];

/// How to tokenise.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizerOptions {
    /// Distinct keys per message at most.
    pub max_tokens: usize,
    /// Host names (lowercase) whose Received hops are ours: hops `by` them, or by
    /// `localhost`, are never read.
    pub local_hosts: Vec<String>,
    /// Also emit orthogonal sparse bigrams of body words (rspamd's OSB), for comparison.
    pub osb: bool,
    /// CJK/Thai character pairs per message at most (100): overlapping pairs are correlated
    /// and Fisher's χ² counts each as independent evidence, so a long Japanese ham drowned
    /// everything else in pairs seen once in Japanese spam (docs/bayes.md, third round).
    pub max_pairs: usize,
    /// Also emit `uc:WORD` for words of four or more capitals, for comparison: off since the
    /// third round, because they repeat the evidence of the same word in lowercase.
    pub capitals: bool,
}

impl Default for TokenizerOptions {
    fn default() -> Self {
        Self {
            max_tokens: 2_000,
            local_hosts: Vec::new(),
            osb: false,
            max_pairs: 100,
            capitals: false,
        }
    }
}

/// The keys of one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    /// Distinct keys, in the order first seen.
    pub keys: Vec<TokenKey>,
    /// Whether `max_tokens`, or the body limits, cut the message short. The cap on character
    /// pairs does not count: it chooses which tokens carry evidence, it does not lose text.
    pub truncated: bool,
    /// The token texts (`prefix:text`), when asked for ([`tokenize_texts`]).
    pub texts: Vec<String>,
}

/// The token keys of a decoded message.
pub fn tokenize(content: &Content, options: &TokenizerOptions) -> Tokens {
    let mut sink = Sink::new(options, false);
    read_message(&mut sink, content, options);
    sink.finish()
}

/// Like [`tokenize`], also keeping each token's text: for tests and for explaining.
pub fn tokenize_texts(content: &Content, options: &TokenizerOptions) -> Tokens {
    let mut sink = Sink::new(options, true);
    read_message(&mut sink, content, options);
    sink.finish()
}

/// The key of one token: xxh3-64 of `prefix ‖ 0x1f ‖ text` with the versioned seed.
pub fn token_key(prefix: &str, text: &str) -> TokenKey {
    let mut bytes = Vec::with_capacity(prefix.len() + 1 + text.len());
    bytes.extend_from_slice(prefix.as_bytes());
    bytes.push(PREFIX_END);
    bytes.extend_from_slice(text.as_bytes());
    xxh3_64_with_seed(&bytes, SEED)
}

struct Sink {
    seen: HashSet<TokenKey>,
    keys: Vec<TokenKey>,
    max: usize,
    truncated: bool,
    texts: Option<Vec<String>>,
    buffer: Vec<u8>,
    /// Character pairs still allowed.
    pairs_left: usize,
    capitals: bool,
}

impl Sink {
    fn new(options: &TokenizerOptions, keep_texts: bool) -> Self {
        Self {
            seen: HashSet::new(),
            keys: Vec::new(),
            max: options.max_tokens,
            truncated: false,
            texts: keep_texts.then(Vec::new),
            buffer: Vec::with_capacity(64),
            pairs_left: options.max_pairs,
            capitals: options.capitals,
        }
    }

    fn full(&self) -> bool {
        self.keys.len() >= self.max
    }

    fn push(&mut self, prefix: &str, text: &str) {
        self.buffer.clear();
        self.buffer.extend_from_slice(prefix.as_bytes());
        self.buffer.push(PREFIX_END);
        self.buffer.extend_from_slice(text.as_bytes());
        let key = xxh3_64_with_seed(&self.buffer, SEED);
        self.push_key(key, || format!("{prefix}:{text}"));
    }

    fn push_key(&mut self, key: TokenKey, text: impl FnOnce() -> String) {
        if self.seen.contains(&key) {
            return;
        }
        if self.full() {
            self.truncated = true;
            return;
        }
        self.seen.insert(key);
        self.keys.push(key);
        if let Some(texts) = &mut self.texts {
            texts.push(text());
        }
    }

    fn finish(self) -> Tokens {
        Tokens {
            keys: self.keys,
            truncated: self.truncated,
            texts: self.texts.unwrap_or_default(),
        }
    }
}

fn read_message(sink: &mut Sink, content: &Content, options: &TokenizerOptions) {
    if let Some(subject) = &content.subject {
        read_text(sink, "s", subject, None);
    }
    read_headers(sink, content, options);
    for url in &content.urls {
        if let Some(host) = crate::content::url_host(url) {
            url_tokens(sink, &host);
        }
    }
    let mut body = BodyState {
        words: MAX_BODY_WORDS,
        osb: options.osb.then(OsbPipe::default),
    };
    let mut bytes = MAX_BODY_BYTES;
    for part in &content.text_parts {
        if body.words == 0 || bytes == 0 {
            sink.truncated = true;
            break;
        }
        let text = cut(part, bytes);
        if text.len() < part.len() {
            sink.truncated = true;
        }
        bytes -= text.len();
        read_text(sink, "b", text, Some(&mut body));
    }
}

/// What reading the body carries from word to word.
struct BodyState {
    /// Words still to read.
    words: usize,
    osb: Option<OsbPipe>,
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `c` belongs to a script written without spaces between words.
fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF        // Thai, Lao
        | 0x1000..=0x109F      // Myanmar
        | 0x1780..=0x17FF      // Khmer
        | 0x1100..=0x11FF      // Hangul Jamo
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF      // Katakana extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width Katakana
        | 0x20000..=0x2FA1F) // CJK extensions B–F
}

/// Characters kept inside a word when letters or digits are on both sides.
fn is_joiner(c: char) -> bool {
    matches!(c, '.' | '-' | '\'' | '_' | '@' | '$' | '!' | '*')
}

/// Full-width ASCII forms folded to ASCII, then lowercase: "ＦＲＥＥ" and "free" are one
/// word (the part of NFKC that matters for mail).
fn fold(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Words of `text` under `prefix`, and bigrams of its unspaced runs. With a body state,
/// counts words against its budget and feeds its OSB pipe.
fn read_text(sink: &mut Sink, prefix: &str, text: &str, mut body: Option<&mut BodyState>) {
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    for raw in text.chars() {
        let c = fold(raw);
        if is_unspaced(c) {
            flush_word(sink, prefix, &mut word, body.as_deref_mut());
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            emit_bigrams(sink, &run);
            run.clear();
        }
        if c.is_alphanumeric() || is_joiner(c) {
            word.push(c);
        } else {
            flush_word(sink, prefix, &mut word, body.as_deref_mut());
        }
    }
    flush_word(sink, prefix, &mut word, body);
    if !run.is_empty() {
        emit_bigrams(sink, &run);
    }
}

fn flush_word(sink: &mut Sink, prefix: &str, word: &mut String, body: Option<&mut BodyState>) {
    if word.is_empty() {
        return;
    }
    if let Some(body) = body {
        if body.words == 0 {
            sink.truncated = true;
            word.clear();
            return;
        }
        body.words -= 1;
        if let Some(pipe) = &mut body.osb
            && let Some(token) = word_token(word)
        {
            pipe.push(sink, &token);
        }
    }
    emit_word(sink, prefix, word);
    word.clear();
}

/// `c:XY` for each overlapping pair of a run while the message's pairs last (each pair
/// counts, repeated or not), `c:X` for a run of one.
fn emit_bigrams(sink: &mut Sink, run: &[char]) {
    let mut text = String::with_capacity(8);
    if run.len() == 1 {
        text.push(run[0]);
        sink.push("c", &text);
        return;
    }
    for pair in run.windows(2) {
        if sink.pairs_left == 0 {
            return;
        }
        sink.pairs_left -= 1;
        text.clear();
        text.push(pair[0]);
        text.push(pair[1]);
        sink.push("c", &text);
    }
}

/// Emits the token(s) of one raw word: the normalised word, and (if asked for) `uc:WORD`
/// for words of four or more capitals.
fn emit_word(sink: &mut Sink, prefix: &str, word: &str) {
    let trimmed = word.trim_matches(|c: char| matches!(c, '-' | '\'' | '.' | '!' | '*' | '_'));
    let letters = trimmed.chars().filter(|c| c.is_alphabetic()).count();
    if sink.capitals
        && letters >= 4
        && trimmed.chars().all(|c| !c.is_lowercase())
        && trimmed.chars().count() <= MAX_WORD
    {
        sink.push("uc", trimmed);
    }
    if let Some(token) = word_token(trimmed) {
        sink.push(prefix, &token);
    }
}

/// The normalised token of a word: lowercase; long digit runs and hex strings by shape;
/// too short → none; too long → `sk:` and its start.
fn word_token(word: &str) -> Option<String> {
    let word = word.trim_matches(|c: char| matches!(c, '-' | '\'' | '.' | '!' | '*' | '_'));
    let length = word.chars().count();
    if length < MIN_WORD {
        return None;
    }
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return Some(if length > 5 {
            format!("n:{length}")
        } else {
            word.to_owned()
        });
    }
    if length >= 16 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("hex:{length}"));
    }
    let lower = word.to_lowercase();
    if length > MAX_WORD {
        let start: String = lower.chars().take(SKIP_KEEP).collect();
        return Some(format!("sk:{start}"));
    }
    Some(lower)
}

/// rspamd's orthogonal sparse bigrams: each body word with each of the four words before it,
/// the distance part of the key.
#[derive(Default)]
struct OsbPipe {
    /// Hashes of the last words, newest first.
    window: Vec<u64>,
}

impl OsbPipe {
    fn push(&mut self, sink: &mut Sink, word: &str) {
        let hash = xxh3_64_with_seed(word.as_bytes(), SEED ^ 0x05b);
        for (i, earlier) in self.window.iter().enumerate() {
            let key = hash.wrapping_add(earlier.wrapping_mul(OSB_MULTIPLIERS[i]));
            sink.push_key(key, || format!("osb{}:{word}", i + 1));
        }
        self.window.insert(0, hash);
        self.window.truncate(OSB_MULTIPLIERS.len());
    }
}

/// Header fields never read: added in transit or at delivery (by us or the mailbox), list
/// machinery, dates. Lowercase; a trailing `*` matches any suffix.
const IGNORED: &[&str] = &[
    "date",
    "sender",
    "x-sender",
    "delivered-to",
    "delivery-date",
    "envelope-to",
    "x-envelope-to",
    "x-envelope-from",
    "x-list*",
    "mailing-list",
    "list-*",
    "x-mailman-version",
    "x-beenthere",
    "x-loop",
    "mail-followup-to",
    "resent-*",
    "original-*",
    "x-spam*",
    "x-mailscanner*",
    "x-virus-scanned",
    "x-bogosity",
    "content-class",
    "thread-*",
    "x-originalarrivaltime",
    "status",
    "x-status",
    "x-flags",
    "x-keywords",
    "replied",
    "forwarded",
    "lines",
    "content-length",
    "x-uid",
    "x-uidl",
    "x-imapbase",
    "x-mozilla-status*",
    "return-path",
    "x-original-to",
    "authentication-results",
    "arc-*",
    "received-spf",
    "precedence",
    "errors-to",
    "x-kanmon*",
    "x-razor*",
    "x-pyzor*",
    "x-dcc-*",
];

/// Whether header `name` (lowercase) is never read.
pub fn is_ignored_header(name: &str) -> bool {
    IGNORED
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(start) => name.starts_with(start),
            None => name == *pattern,
        })
}

fn read_headers(sink: &mut Sink, content: &Content, options: &TokenizerOptions) {
    let mut received = Vec::new();
    for (name, value) in &content.headers {
        let name = name.to_ascii_lowercase();
        if is_ignored_header(&name) {
            continue;
        }
        match name.as_str() {
            "received" => {
                received.push(value.as_str());
                continue;
            }
            "subject" => {}
            "from" | "reply-to" => address_tokens(sink, value, true),
            "to" | "cc" => recipient_tokens(sink, &name, value),
            "x-mailer" | "user-agent" | "x-mimeole" | "organization" => {
                read_text(sink, "x", value, None);
                sink.push("xv", &shape(value, 40));
            }
            "content-type" => content_type_tokens(sink, value),
            "message-id" => message_id_tokens(sink, value),
            _ => {}
        }
        sink.push("h", &name);
    }
    received_tokens(sink, &received, &options.local_hosts);
}

/// Digits → 9, at most `max` characters, lowercased: the shape of an identifier.
fn shape(value: &str, max: usize) -> String {
    value
        .chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Addresses of a From/To-style value rendered as `Name <addr>, addr, …`.
fn addresses(value: &str) -> Vec<(Option<&str>, &str)> {
    value
        .split(", ")
        .filter_map(|item| {
            let item = item.trim();
            match item.rsplit_once('<') {
                Some((name, rest)) => {
                    let address = rest.trim_end_matches('>').trim();
                    let name = name.trim().trim_matches('"').trim();
                    Some(((!name.is_empty()).then_some(name), address))
                }
                None if item.contains('@') => Some((None, item)),
                None if !item.is_empty() => Some((Some(item), "")),
                None => None,
            }
        })
        .collect()
}

fn address_tokens(sink: &mut Sink, value: &str, with_local: bool) {
    for (name, address) in addresses(value) {
        if let Some(name) = name {
            read_text(sink, "fn", name, None);
        }
        if let Some((local, domain)) = address.rsplit_once('@') {
            let domain = domain.to_ascii_lowercase();
            if with_local {
                sink.push("fu", &shape(local, 30));
            }
            sink.push("fd", &domain);
            sink.push("frd", organizational_domain(&domain));
        }
    }
}

/// Recipient domains and how many recipients there are, never their local parts (which
/// name the mailbox, not the mail).
fn recipient_tokens(sink: &mut Sink, name: &str, value: &str) {
    let found = addresses(value);
    for (_, address) in &found {
        if let Some((_, domain)) = address.rsplit_once('@') {
            let domain = domain.to_ascii_lowercase();
            sink.push("td", &domain);
            sink.push("trd", organizational_domain(&domain));
        }
    }
    let bucket = match found.len() {
        0 => "0",
        1 => "1",
        2..=5 => "2-5",
        _ => "6+",
    };
    sink.push("tn", &format!("{name}:{bucket}"));
}

fn content_type_tokens(sink: &mut Sink, value: &str) {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    sink.push("ct", &media);
    for parameter in parts {
        let Some((key, val)) = parameter.split_once('=') else {
            continue;
        };
        let val = val.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "charset" => sink.push("cs", &val.to_ascii_lowercase()),
            "boundary" => {
                let shape: String = val
                    .chars()
                    .take(30)
                    .map(|c| if c.is_ascii_hexdigit() { 'H' } else { c })
                    .collect();
                sink.push("cb", &shape);
            }
            _ => {}
        }
    }
}

fn message_id_tokens(sink: &mut Sink, value: &str) {
    let id = value.trim().trim_start_matches('<').trim_end_matches('>');
    let Some((left, right)) = id.rsplit_once('@') else {
        sink.push("mids", &id_shape(id));
        return;
    };
    let right = right.to_ascii_lowercase();
    sink.push("mid", organizational_domain(&right));
    sink.push("mids", &id_shape(left));
}

/// Digits → 9, other hex letters → h, first 24 characters.
fn id_shape(text: &str) -> String {
    text.chars()
        .take(24)
        .map(|c| match c {
            '0'..='9' => '9',
            'a'..='f' | 'A'..='F' => 'h',
            c => c,
        })
        .collect()
}

/// The two oldest Received hops before our own: their host names' registrable domains,
/// their IPv4 networks, and the protocol words.
fn received_tokens(sink: &mut Sink, hops: &[&str], local_hosts: &[String]) {
    let theirs: Vec<&str> = hops
        .iter()
        .copied()
        .filter(|hop| !by_local_host(hop, local_hosts))
        .collect();
    let oldest = &theirs[theirs.len().saturating_sub(2)..];
    for hop in oldest {
        let mut after_with = false;
        for word in hop.split(|c: char| c.is_whitespace() || "()[];<>=".contains(c)) {
            if word.is_empty() {
                continue;
            }
            let lower = word.to_ascii_lowercase();
            if after_with {
                sink.push("rw", &lower);
                after_with = false;
                continue;
            }
            match lower.as_str() {
                "with" => after_with = true,
                "from" | "by" | "for" | "id" | "helo" | "envelope-from" => {}
                _ => {
                    if let Ok(ip) = lower.parse::<Ipv4Addr>() {
                        sink.push("rip", &ip_network(ip));
                    } else if lower.contains('.')
                        && lower.bytes().any(|b| b.is_ascii_alphabetic())
                        && !lower.contains('@')
                        && lower
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                    {
                        sink.push("rh", organizational_domain(lower.trim_end_matches('.')));
                    }
                }
            }
        }
    }
}

/// Whether a Received hop was made `by` one of our hosts (or localhost).
fn by_local_host(hop: &str, local_hosts: &[String]) -> bool {
    let mut words = hop.split_whitespace();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("by")
            && let Some(host) = words.next()
        {
            let host = host.trim_end_matches([';', '.']).to_ascii_lowercase();
            return host.starts_with("localhost") || local_hosts.contains(&host);
        }
    }
    false
}

/// An IPv4 address's /24, or the whole address inside 10/8 and 192.168/16 (SA's rule).
fn ip_network(ip: Ipv4Addr) -> String {
    let [a, b, c, _] = ip.octets();
    if a == 10 || (a == 192 && b == 168) {
        ip.to_string()
    } else {
        format!("{a}.{b}.{c}")
    }
}

fn url_tokens(sink: &mut Sink, host: &str) {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        sink.push("uip", host);
        return;
    }
    sink.push("u", host);
    sink.push("ud", organizational_domain(host));
}
