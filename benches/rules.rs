//! Scan throughput with content rules over the SpamAssassin public corpus (6,046 real
//! messages, `../shared/corpus/`): `Engine::scan_message` on one core (a current-thread
//! runtime, one message after another) with the default checks, and no rules, 10 rules
//! (5 body + 5 header) or 2,000 rules (1,000 body + 1,000 header), plus the 2,000 rules
//! again as Postfix body_checks/header_checks files.
//!
//! Targets (issue 6): at least 2,000 messages/s per core with 2,000 rules, and 10 → 2,000
//! rules costing less than 2×, which holds because each target's rules are one
//! [`regex::RegexSet`] scanned once per input.
//!
//! The rules are synthetic but shaped like real ones (SpamAssassin's and the seeds'): words
//! and phrases from spam and from ordinary mail, some anchored, some with classes,
//! alternations, `\s+` between words and `(?i)`; generated from a fixed seed, so every run
//! measures the same rules. Some match corpus messages, as real rules do.
//!
//! DNS lists: the rules-only variants turn `[rbl]` off; the `+ 10 DNS lists` variants ask ten
//! lists (5 DNSBL, 2 RHSBL, 3 URIBL, the client listed on two of them) about every message's
//! client, sender, HELO and up to 20 URL domains, which is issue 6's combined target.
//!
//! DNS: the production resolver against a loopback server that answers the listings and
//! NXDOMAIN (with an SOA, so negative answers are cached) for the rest, its cache warmed by a
//! first pass, so the numbers are CPU cost, not lookups.
//!
//! The corpus: `KANMON_CORPUS` (a directory of `.eml` files, searched recursively), by
//! default `target/corpus/msgs`, which `scripts/bench-rules` fills with npm and
//! `../shared/corpus/extract.py` before running this bench.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kanmon_core::{Config, Engine, Envelope};
use kanmon_testdns::DnsServer;

/// Passes over the corpus per measurement; the best pass is reported (the machine is shared).
const PASSES: usize = 3;

/// Words and phrases of spam and of ordinary mail, for the synthetic rules. They hold no
/// regex metacharacters, so they need no escaping.
const WORDS: &[&str] = &[
    "free",
    "click here",
    "unsubscribe",
    "viagra",
    "mortgage",
    "refinance",
    "lowest rates",
    "act now",
    "limited time",
    "winner",
    "congratulations",
    "casino",
    "lottery",
    "investment",
    "guaranteed",
    "risk free",
    "no obligation",
    "credit card",
    "debt",
    "weight loss",
    "diet",
    "pills",
    "pharmacy",
    "prescription",
    "cheap",
    "discount",
    "save",
    "offer",
    "special",
    "promotion",
    "bonus",
    "cash",
    "money back",
    "earn",
    "income",
    "work from home",
    "business",
    "opportunity",
    "million",
    "dollars",
    "bank",
    "account",
    "password",
    "verify",
    "urgent",
    "confidential",
    "transfer",
    "beneficiary",
    "inheritance",
    "nigeria",
    "stock",
    "shares",
    "profit",
    "marketing",
    "email list",
    "bulk",
    "remove",
    "opt out",
    "subscribe",
    "newsletter",
    "meeting",
    "project",
    "patch",
    "kernel",
    "release",
    "mailing list",
    "python",
    "perl",
    "linux",
    "debian",
    "redhat",
    "spamassassin",
    "razor",
    "procmail",
    "exmh",
    "cvs",
    "bug",
    "thanks",
    "regards",
    "attached",
    "schedule",
    "conference",
    "report",
    "review",
    "draft",
    "未承諾広告",
    "出会い",
    "無料",
    "副業",
    "限定",
    "今すぐ",
    "当選",
    "お得",
    "セール",
    "配信停止",
];

/// A small deterministic generator (xorshift), so the rules are the same on every run.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn word(&mut self) -> String {
        WORDS[self.below(WORDS.len())].to_owned()
    }

    /// One pattern of a realistic shape.
    fn pattern(&mut self, anchored_prefix: &str) -> String {
        let pattern = match self.below(8) {
            0 => format!("{}\\s+{}", self.word(), self.word()),
            1 => format!("{anchored_prefix}{}", self.word()),
            2 => format!("\\b{}[0-9]{{2,}}\\b", self.word()),
            3 => format!("({}|{}) {}", self.word(), self.word(), self.word()),
            4 => format!("{}[!.]{{2,}}", self.word()),
            5 => format!("\\${}[0-9,]+ {}", self.below(9) + 1, self.word()),
            _ => format!("{} {}", self.word(), self.word()),
        };
        if self.below(3) == 0 {
            format!("(?i){pattern}")
        } else {
            pattern
        }
    }
}

/// `[[rules]]` entries: `body` rules on the decoded text, `header` rules on Subject, From
/// and every header line.
/// Ten DNS lists: five on the client address (the client is listed on two), two on the
/// sender's domains, three on URL domains.
const TEN_LISTS: &str = r#"
[[dnsbl]]
zone = "zen.bench"
codes = [
    { answers = ["127.0.0.2"], symbol = "LIST_SBL", score = 3.0 },
    { answers = ["127.0.0.4-127.0.0.7"], symbol = "LIST_XBL", score = 3.0 },
]
blocked_symbol = "LIST_ZEN_BLOCKED"
[[dnsbl]]
zone = "bl1.bench"
symbol = "LIST_BL1"
score = 1.0
[[dnsbl]]
zone = "bl2.bench"
symbol = "LIST_BL2"
score = 1.0
[[dnsbl]]
zone = "bl3.bench"
symbol = "LIST_BL3"
score = 1.0
[[dnsbl]]
zone = "wl.bench"
codes = [{ answers = ["127.0.*.2"], symbol = "LIST_WL", score = -1.0 }]
blocked_symbol = "LIST_WL_BLOCKED"
[[rhsbl]]
zone = "dbl.bench"
symbol = "LIST_DBL"
score = 2.0
[[rhsbl]]
zone = "rhs.bench"
symbol = "LIST_RHS"
score = 1.0
[[uribl]]
zone = "dbl.bench"
symbol = "LIST_URI_DBL"
score = 2.0
[[uribl]]
zone = "multi.surbl.bench"
codes = [{ mask = 8, symbol = "LIST_SURBL_PH", score = 2.0 }]
blocked_symbol = "LIST_SURBL_BLOCKED"
[[uribl]]
zone = "multi.uribl.bench"
codes = [{ mask = 2, symbol = "LIST_URIBL_BLACK", score = 2.0 }]
blocked_symbol = "LIST_URIBL_BLOCKED"
"#;

/// What the lists answer; every other question is NXDOMAIN.
const LISTINGS: &str = "\
40.2.0.192.zen.bench A 127.0.0.4
40.2.0.192.wl.bench A 127.0.10.2
";

fn rules_toml(body: usize, header: usize) -> String {
    let mut random = Seeded(0x6b61_6e6d_6f6e);
    let mut toml = String::new();
    for i in 0..body {
        let pattern = random.pattern("^");
        let _ = write!(
            toml,
            "[[rules]]\nname = \"BENCH_BODY_{i}\"\non = \"body\"\npattern = '{pattern}'\nscore = 0.1\n\n"
        );
    }
    for i in 0..header {
        let (on, prefix) = match random.below(5) {
            0 | 1 => ("header:Subject", "^"),
            2 => ("header:From", "^"),
            _ => ("headers", "^Subject: "),
        };
        let pattern = random.pattern(prefix);
        let _ = write!(
            toml,
            "[[rules]]\nname = \"BENCH_HEADER_{i}\"\non = \"{on}\"\npattern = '{pattern}'\nscore = 0.1\n\n"
        );
    }
    toml
}

/// The same rules as Postfix files (`/pattern/ WARN`), in a temporary directory.
fn checks_files(dir: &Path, body: usize, header: usize) -> String {
    let mut random = Seeded(0x6b61_6e6d_6f6e);
    let mut body_file = String::new();
    for _ in 0..body {
        let pattern = random.pattern("^").replace('/', "\\/");
        let _ = writeln!(body_file, "/{pattern}/ WARN");
    }
    let mut header_file = String::new();
    for _ in 0..header {
        let prefix = match random.below(5) {
            0 | 1 => "^Subject: ",
            2 => "^From: ",
            _ => "^Subject: ",
        };
        let pattern = random.pattern(prefix).replace('/', "\\/");
        let _ = writeln!(header_file, "/{pattern}/ WARN");
    }
    let (body_path, header_path) = (dir.join("body_checks"), dir.join("header_checks"));
    std::fs::write(&body_path, body_file).unwrap();
    std::fs::write(&header_path, header_file).unwrap();
    format!(
        "[content]\nbody_checks = [{:?}]\nheader_checks = [{:?}]\n",
        body_path.display().to_string(),
        header_path.display().to_string()
    )
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("KANMON_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/corpus/msgs"),
        PathBuf::from,
    )
}

fn read_corpus(dir: &Path, messages: &mut Vec<Vec<u8>>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/bench-rules (or set KANMON_CORPUS)",
                dir.display()
            )
        })
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_corpus(&path, messages);
        } else if path.extension().is_some_and(|e| e == "eml") {
            messages.push(std::fs::read(&path).unwrap());
        }
    }
}

struct Measured {
    per_second: f64,
    rule_hits: usize,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    server: &DnsServer,
    extra: &str,
    messages: &[Vec<u8>],
) -> Measured {
    let config = Config::parse(&format!(
        "authserv_id = \"mx.example.org\"\n{extra}\n[dns]\nnameservers = [\"{}\"]\n",
        server.addr
    ))
    .unwrap();
    let engine = {
        let _context = runtime.enter();
        Engine::from_config(config).unwrap()
    };
    let envelope = Envelope {
        client_ip: Some("192.0.2.40".parse().unwrap()),
        helo: Some("mta1.sender.example".to_owned()),
        mail_from: Some("news@sender.example".to_owned()),
        rcpt_to: vec!["bob@example.org".to_owned()],
        ..Envelope::default()
    };
    let is_rule = |name: &str| name.starts_with("BENCH_") || name.ends_with("_CHECKS_WARN");
    // The warm-up pass fills the DNS cache and counts the rules' hits.
    let mut rule_hits = 0;
    for message in messages {
        let verdict = runtime.block_on(engine.scan_message(&envelope, message));
        rule_hits += verdict.hits.iter().filter(|h| is_rule(h.name)).count();
    }
    let mut best = 0.0f64;
    for _ in 0..PASSES {
        let started = Instant::now();
        for message in messages {
            std::hint::black_box(runtime.block_on(engine.scan_message(&envelope, message)));
        }
        best = best.max(messages.len() as f64 / started.elapsed().as_secs_f64());
    }
    Measured {
        per_second: best,
        rule_hits,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let dir = corpus_dir();
    let mut messages = Vec::new();
    read_corpus(&dir, &mut messages);
    assert!(
        messages.len() > 1_000,
        "{}: only {} messages; run scripts/bench-rules",
        dir.display(),
        messages.len()
    );
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "corpus: {} messages, {:.1} MB, from {}",
        messages.len(),
        bytes as f64 / 1e6,
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(DnsServer::start());
    server.set_negative_ttl(Some(3_600));
    server.set_zone(kanmon_testdns::parse_zone(LISTINGS).unwrap());
    let files = tempfile::tempdir().unwrap();
    let no_lists = "[rbl]\nmode = \"off\"\n";
    let variants = [
        ("no rules", no_lists.to_owned()),
        (
            "10 rules (5 body + 5 header)",
            format!("{no_lists}{}", rules_toml(5, 5)),
        ),
        (
            "200 rules (100 body + 100 header)",
            format!("{no_lists}{}", rules_toml(100, 100)),
        ),
        (
            "2,000 rules (1,000 body + 1,000 header)",
            format!("{no_lists}{}", rules_toml(1_000, 1_000)),
        ),
        (
            "2,000 entries as body_checks + header_checks files",
            format!("{no_lists}{}", checks_files(files.path(), 1_000, 1_000)),
        ),
        (
            "10 DNS lists + 10 rules",
            format!("{TEN_LISTS}{}", rules_toml(5, 5)),
        ),
        (
            "10 DNS lists + 2,000 rules",
            format!("{TEN_LISTS}{}", rules_toml(1_000, 1_000)),
        ),
    ];
    // Each group's ratio is to its own 10-rule variant: rules alone, or rules with the lists.
    let mut baselines: Vec<(&str, f64)> = Vec::new();
    for (name, extra) in &variants {
        let started = Instant::now();
        let measured = measure(&runtime, &server, extra, &messages);
        let group = if name.starts_with("10 DNS lists") {
            "10 DNS lists"
        } else {
            "rules"
        };
        let ratio = match baselines.iter().find(|(g, _)| *g == group) {
            Some((_, ten)) => format!(", {:.2}× the time of 10 rules", ten / measured.per_second),
            None if name.contains("10 rules") => {
                baselines.push((group, measured.per_second));
                String::new()
            }
            None => String::new(),
        };
        println!(
            "{name:52} {:8.0} messages/s ({:6.1} µs each; {} rule hits in the corpus{ratio}) [{:.0} s]",
            measured.per_second,
            1e6 / measured.per_second,
            measured.rule_hits,
            started.elapsed().as_secs_f64()
        );
    }
}
