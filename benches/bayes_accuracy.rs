//! Bayes accuracy and speed on the SpamAssassin public corpus (issue 7), split exactly as
//! `../shared/corpus/split.tsv` says: learn TRAIN, classify TEST, next to the anchors in
//! `../shared/corpus/anchors.md`.
//!
//! 1. Every message is decoded and tokenised once (unigrams, and unigrams + OSB pairs).
//! 2. Model and parameters are chosen by 5-fold cross-validation on TRAIN only
//!    (folds from a hash of "cv/group/id", independent of the TEST split): minimise FN at the
//!    default threshold (P > 0.99, where BAYES_99 alone reaches add_header) with at most one
//!    FP, ties broken by ROC AUC, then FN at 0 FP. TEST plays no part in the choice.
//! 3. TRAIN is learned into a real embedded store (temp dir) through `learn_tokens` and
//!    `Store::relabel`, with up to 128 relabels in flight so the store's group commit shares
//!    fsyncs; learn rate and store size are measured.
//! 4. TEST is classified once: by the Bayes check alone (the store read plus the maths), by
//!    the whole engine with the default configuration (no envelope; DNS answers NXDOMAIN,
//!    as the anchors ran with network tests off) and, for the comparison, by the other
//!    models from in-memory counts of the same TRAIN. One CSV row per TEST message goes to
//!    `target/bayes-accuracy/test.csv`, so every metric can be recomputed.
//!
//! `KANMON_CORPUS` names the extracted `msgs` directory (default `target/corpus/msgs`), with
//! `split.tsv` beside it; `scripts/bench-accuracy` fills both. `KANMON_BAYES_CV_ONLY=1` stops
//! after step 2; `KANMON_BAYES_EXPLAIN=1` only prints the shipped model's CV on TRAIN with the
//! ham it scored highest and the spam it scored lowest, and the tokens that moved them;
//! `KANMON_BAYES_REPEATED=N` only compares the tokeniser candidates of the third round by N
//! repetitions of the cross-validation, each with its own folds.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use kanmon_core::bayes::{
    self, Classification, Params, TokenizerOptions, band, evidence, fisher, robinson, token_key,
};
use kanmon_core::content::Content;
use kanmon_core::{Config, Engine, Envelope};
use kanmon_store::{Class, ClassTotals, Store, StoreSettings, TokenCounts, TokenKey, TokenRead};

const FOLDS: u64 = 5;
const IN_FLIGHT: usize = 128;
const MAX_PARTS: usize = 100;

struct Message {
    group: String,
    id: String,
    spam: bool,
    train: bool,
    raw: Vec<u8>,
    unigrams: Vec<TokenKey>,
    osb: Vec<TokenKey>,
    /// The keys under each of [`TOKENIZER_CANDIDATES`]' options (only for
    /// `KANMON_BAYES_REPEATED`, else empty).
    candidates: Vec<Vec<TokenKey>>,
}

impl Message {
    fn fold(&self) -> u64 {
        self.fold_of(0)
    }

    /// The fold of this message in repetition `repetition` of the cross-validation
    /// (0 is the one the model was first chosen on).
    fn fold_of(&self, repetition: u32) -> u64 {
        let seed = if repetition == 0 {
            "cv".to_owned()
        } else {
            format!("cv{repetition}")
        };
        token_key(&seed, &format!("{}/{}", self.group, self.id)) % FOLDS
    }

    fn keys(&self, model: Tokens) -> &[TokenKey] {
        match model {
            Tokens::Unigram => &self.unigrams,
            Tokens::Osb => &self.osb,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tokens {
    Unigram,
    Osb,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Combining {
    Fisher,
    Robinson,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Variant {
    tokens: Tokens,
    combining: Combining,
    params: Params,
}

impl Variant {
    fn describe(&self) -> String {
        let tokens = match self.tokens {
            Tokens::Unigram => "unigrams",
            Tokens::Osb => "unigrams + OSB",
        };
        let combining = match self.combining {
            Combining::Fisher => "Fisher χ²",
            Combining::Robinson => "Robinson geometric mean",
        };
        format!(
            "{combining}, {tokens}, min_dev {}, s {}, x {}",
            self.params.min_dev, self.params.robs, self.params.robx
        )
    }
}

/// Per-class document frequencies in memory: the same numbers the store keeps.
#[derive(Default)]
struct Counts {
    tokens: HashMap<TokenKey, TokenCounts>,
    totals: ClassTotals,
}

impl Counts {
    fn learn(&mut self, keys: &[TokenKey], spam: bool) {
        for key in keys {
            let counts = self.tokens.entry(*key).or_default();
            if spam {
                counts.spam += 1;
            } else {
                counts.ham += 1;
            }
        }
        if spam {
            self.totals.spam += 1;
        } else {
            self.totals.ham += 1;
        }
    }

    fn read(&self, keys: &[TokenKey]) -> TokenRead {
        TokenRead {
            totals: self.totals,
            counts: keys
                .iter()
                .map(|key| self.tokens.get(key).copied().unwrap_or_default())
                .collect(),
        }
    }
}

/// The log-odds of a message under a variant; an abstention is "no evidence" (0).
fn log_odds(read: &TokenRead, variant: &Variant) -> f64 {
    log_odds_of_most_significant(read, variant, None)
}

/// [`log_odds`] combining at most `most_significant` tokens (those farthest from 0.5).
fn log_odds_of_most_significant(
    read: &TokenRead,
    variant: &Variant,
    most_significant: Option<usize>,
) -> f64 {
    let params = &variant.params;
    if read.totals.spam < params.min_spam || read.totals.ham < params.min_ham {
        return 0.0;
    }
    let mut probabilities: Vec<f64> = evidence(read, params).collect();
    if let Some(limit) = most_significant
        && probabilities.len() > limit
    {
        probabilities.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
        probabilities.truncate(limit);
    }
    let combined: Classification = match variant.combining {
        Combining::Fisher => fisher(probabilities),
        Combining::Robinson => robinson(probabilities),
    };
    if combined.used < params.min_tokens {
        return 0.0;
    }
    combined.log_odds
}

/// L above which a message is called spam by Bayes alone: P > 0.99 (BAYES_99 and up).
fn bayes_threshold() -> f64 {
    (0.99f64 / 0.01).ln()
}

#[derive(Debug, Clone, Copy, Default)]
struct Metrics {
    hams: usize,
    spams: usize,
    fp: usize,
    fn_: usize,
    fn_at_0_fp: usize,
    fn_at_1_fp: usize,
    auc: f64,
    /// Spam whose key equals some ham's key.
    ties: usize,
}

impl Metrics {
    /// `scored`: (is spam, ranking key); called spam when the key is above `threshold`
    /// (`at_or_above`: at or above).
    fn of(scored: &[(bool, f64)], threshold: f64, at_or_above: bool) -> Metrics {
        let called = |key: f64| {
            if at_or_above {
                key >= threshold
            } else {
                key > threshold
            }
        };
        let mut ham_keys: Vec<f64> = scored.iter().filter(|s| !s.0).map(|s| s.1).collect();
        ham_keys.sort_by(|a, b| b.total_cmp(a));
        let spam_keys: Vec<f64> = scored.iter().filter(|s| s.0).map(|s| s.1).collect();
        let top = ham_keys.first().copied().unwrap_or(f64::NEG_INFINITY);
        let second = ham_keys.get(1).copied().unwrap_or(f64::NEG_INFINITY);
        let ham_set: std::collections::HashSet<u64> =
            ham_keys.iter().map(|k| k.to_bits()).collect();
        Metrics {
            hams: ham_keys.len(),
            spams: spam_keys.len(),
            fp: ham_keys.iter().filter(|&&k| called(k)).count(),
            fn_: spam_keys.iter().filter(|&&k| !called(k)).count(),
            fn_at_0_fp: spam_keys.iter().filter(|&&k| k <= top).count(),
            fn_at_1_fp: spam_keys.iter().filter(|&&k| k <= second).count(),
            auc: auc(scored),
            ties: spam_keys
                .iter()
                .filter(|k| ham_set.contains(&k.to_bits()))
                .count(),
        }
    }

    fn fp_rate(&self) -> f64 {
        100.0 * self.fp as f64 / self.hams.max(1) as f64
    }

    fn fn_rate(&self) -> f64 {
        100.0 * self.fn_ as f64 / self.spams.max(1) as f64
    }

    fn row(&self, name: &str) -> String {
        let spams = self.spams.max(1) as f64;
        format!(
            "| {name} | {:.2}% ({}) | {:.2}% ({}) | {:.2}% ({}) | {:.2}% ({}) | {:.5} | {} |",
            self.fp_rate(),
            self.fp,
            self.fn_rate(),
            self.fn_,
            100.0 * self.fn_at_0_fp as f64 / spams,
            self.fn_at_0_fp,
            100.0 * self.fn_at_1_fp as f64 / spams,
            self.fn_at_1_fp,
            self.auc,
            self.ties
        )
    }
}

/// Mann–Whitney ROC AUC with average ranks for ties.
fn auc(scored: &[(bool, f64)]) -> f64 {
    let mut sorted: Vec<(bool, f64)> = scored.to_vec();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].1 == sorted[i].1 {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += sorted[i..=j].iter().filter(|s| s.0).count() as f64 * average;
        i = j + 1;
    }
    let spams = scored.iter().filter(|s| s.0).count() as f64;
    let hams = scored.len() as f64 - spams;
    (rank_sum - spams * (spams + 1.0) / 2.0) / (spams * hams)
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("KANMON_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/corpus/msgs"),
        PathBuf::from,
    )
}

fn load(dir: &Path, with_candidates: bool) -> Vec<Message> {
    let split = dir.parent().unwrap().join("split.tsv");
    let manifest = std::fs::read_to_string(&split)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-accuracy)", split.display()));
    let options = TokenizerOptions::default();
    let osb_options = TokenizerOptions {
        osb: true,
        ..TokenizerOptions::default()
    };
    manifest
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (group, id, label, set) = (fields[0], fields[1], fields[2], fields[3]);
            let path = dir.join(label).join(group).join(format!("{id}.eml"));
            let raw = std::fs::read(&path).unwrap();
            let content = Content::derive(&raw, &Envelope::default(), MAX_PARTS);
            Message {
                group: group.to_owned(),
                id: id.to_owned(),
                spam: label == "spam",
                train: set == "train",
                unigrams: bayes::tokenize(&content, &options).keys,
                osb: bayes::tokenize(&content, &osb_options).keys,
                candidates: TOKENIZER_CANDIDATES
                    .iter()
                    .filter(|_| with_candidates)
                    .map(|(pairs, capitals)| {
                        let options = TokenizerOptions {
                            max_pairs: *pairs,
                            capitals: *capitals,
                            ..TokenizerOptions::default()
                        };
                        bayes::tokenize(&content, &options).keys
                    })
                    .collect(),
                raw,
            }
        })
        .collect()
}

fn grid() -> Vec<Variant> {
    let mut variants = Vec::new();
    for tokens in [Tokens::Unigram, Tokens::Osb] {
        for combining in [Combining::Fisher, Combining::Robinson] {
            for min_dev in [0.0, 0.05, 0.1, 0.2, 0.3, 0.375] {
                for robs in [0.0178, 0.1, 0.5] {
                    for robx in [0.4, 0.52, 0.6] {
                        variants.push(Variant {
                            tokens,
                            combining,
                            params: Params {
                                min_dev,
                                robs,
                                robx,
                                ..Params::default()
                            },
                        });
                    }
                }
            }
        }
    }
    variants
}

/// Cross-validated metrics of every variant on TRAIN.
fn cross_validate(messages: &[Message], variants: &[Variant]) -> Vec<(Variant, Metrics)> {
    let train: Vec<&Message> = messages.iter().filter(|m| m.train).collect();
    let mut scored: Vec<Vec<(bool, f64)>> = vec![Vec::new(); variants.len()];
    for fold in 0..FOLDS {
        for tokens in [Tokens::Unigram, Tokens::Osb] {
            let mut counts = Counts::default();
            for message in train.iter().filter(|m| m.fold() != fold) {
                counts.learn(message.keys(tokens), message.spam);
            }
            for message in train.iter().filter(|m| m.fold() == fold) {
                let read = counts.read(message.keys(tokens));
                for (i, variant) in variants.iter().enumerate() {
                    if variant.tokens == tokens {
                        scored[i].push((message.spam, log_odds(&read, variant)));
                    }
                }
            }
        }
    }
    variants
        .iter()
        .zip(scored)
        .map(|(variant, scored)| (*variant, Metrics::of(&scored, bayes_threshold(), false)))
        .collect()
}

/// The CV objective: FN at the default threshold with at most one FP, then AUC, then FN at
/// 0 FP.
fn better(a: &Metrics, b: &Metrics) -> bool {
    let key = |m: &Metrics| (m.fp > 1, m.fn_, -(m.auc * 1e9) as i64, m.fn_at_0_fp);
    key(a) < key(b)
}

fn choose(results: &[(Variant, Metrics)], filter: impl Fn(&Variant) -> bool) -> (Variant, Metrics) {
    let mut best: Option<(Variant, Metrics)> = None;
    for (variant, metrics) in results.iter().filter(|(v, _)| filter(v)) {
        if best.as_ref().is_none_or(|(_, b)| better(metrics, b)) {
            best = Some((*variant, *metrics));
        }
    }
    best.unwrap()
}

/// Tokeniser options of the structural candidates of the repeated cross-validation:
/// (CJK pairs at most, `uc:` capitals tokens). The first is the tokeniser shipped until that
/// study; the last won it and is the default now.
const TOKENIZER_CANDIDATES: [(usize, bool); 4] =
    [(500, true), (100, true), (500, false), (100, false)];

/// A structural candidate: one of [`TOKENIZER_CANDIDATES`], and optionally only the most
/// significant tokens combined (SpamAssassin combines at most 150).
struct Candidate {
    name: &'static str,
    /// Index into [`TOKENIZER_CANDIDATES`].
    tokenizer: usize,
    most_significant: Option<usize>,
}

/// Fisher over unigrams with the shipped parameters (the model every candidate keeps).
fn shipped() -> Variant {
    Variant {
        tokens: Tokens::Unigram,
        combining: Combining::Fisher,
        params: Params::default(),
    }
}

const CANDIDATES: [Candidate; 6] = [
    Candidate {
        name: "A as first shipped",
        tokenizer: 0,
        most_significant: None,
    },
    Candidate {
        name: "B pairs ≤ 100",
        tokenizer: 1,
        most_significant: None,
    },
    Candidate {
        name: "C no capitals",
        tokenizer: 2,
        most_significant: None,
    },
    Candidate {
        name: "D pairs ≤ 100, no capitals",
        tokenizer: 3,
        most_significant: None,
    },
    Candidate {
        name: "E 150 most significant",
        tokenizer: 0,
        most_significant: Some(150),
    },
    Candidate {
        name: "F pairs ≤ 100, 150 most significant",
        tokenizer: 1,
        most_significant: Some(150),
    },
];

/// `KANMON_BAYES_REPEATED=N`: the structural candidates by N repetitions of the 5-fold
/// cross-validation on TRAIN, each with its own folds; means over the repetitions. The
/// decision rule was written down before the first run (docs/bayes.md, "A third round").
fn repeated_cross_validation(messages: &[Message], repetitions: u32) {
    #[derive(Default, Clone)]
    struct Sums {
        fp: f64,
        fn_: f64,
        fp_999: f64,
        fn_999: f64,
        fn_at_0_fp: f64,
        fn_at_1_fp: f64,
        auc: f64,
        fp_range: (usize, usize),
        ham_ever_fp: std::collections::HashSet<String>,
    }
    let shipped = shipped();
    let train: Vec<&Message> = messages.iter().filter(|m| m.train).collect();
    let hams = train.iter().filter(|m| !m.spam).count() as f64;
    let spams = train.iter().filter(|m| m.spam).count() as f64;
    let mut sums = vec![
        Sums {
            fp_range: (usize::MAX, 0),
            ..Sums::default()
        };
        CANDIDATES.len()
    ];
    let edge_999 = (0.999f64 / 0.001).ln();
    for repetition in 0..repetitions {
        let mut scored: Vec<Vec<(bool, f64)>> = vec![Vec::new(); CANDIDATES.len()];
        let mut names: Vec<Vec<String>> = vec![Vec::new(); CANDIDATES.len()];
        for fold in 0..FOLDS {
            for tokenizer in 0..TOKENIZER_CANDIDATES.len() {
                let mut counts = Counts::default();
                for message in train.iter().filter(|m| m.fold_of(repetition) != fold) {
                    counts.learn(&message.candidates[tokenizer], message.spam);
                }
                for message in train.iter().filter(|m| m.fold_of(repetition) == fold) {
                    let read = counts.read(&message.candidates[tokenizer]);
                    for (i, candidate) in CANDIDATES.iter().enumerate() {
                        if candidate.tokenizer == tokenizer {
                            scored[i].push((
                                message.spam,
                                log_odds_of_most_significant(
                                    &read,
                                    &shipped,
                                    candidate.most_significant,
                                ),
                            ));
                            names[i].push(format!("{}/{}", message.group, message.id));
                        }
                    }
                }
            }
        }
        for (i, sum) in sums.iter_mut().enumerate() {
            let at_99 = Metrics::of(&scored[i], bayes_threshold(), false);
            let at_999 = Metrics::of(&scored[i], edge_999, false);
            sum.fp += at_99.fp as f64;
            sum.fn_ += at_99.fn_ as f64;
            sum.fp_999 += at_999.fp as f64;
            sum.fn_999 += at_999.fn_ as f64;
            sum.fn_at_0_fp += at_99.fn_at_0_fp as f64;
            sum.fn_at_1_fp += at_99.fn_at_1_fp as f64;
            sum.auc += at_99.auc;
            sum.fp_range = (sum.fp_range.0.min(at_99.fp), sum.fp_range.1.max(at_99.fp));
            for ((spam, l), name) in scored[i].iter().zip(&names[i]) {
                if !spam && *l > bayes_threshold() {
                    sum.ham_ever_fp.insert(name.clone());
                }
            }
        }
    }
    let n = f64::from(repetitions);
    println!(
        "## {repetitions} × 5-fold cross-validation on TRAIN ({hams} ham, {spams} spam), means\n"
    );
    println!(
        "| candidate | FP at P > 0.99 (range) | FN at P > 0.99 | FP at P > 0.999 | FN at P > 0.999 | FN at 0 FP | FN at ≤1 FP | ROC AUC | ham ever FP |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (candidate, sum) in CANDIDATES.iter().zip(&sums) {
        let mut ever: Vec<&String> = sum.ham_ever_fp.iter().collect();
        ever.sort();
        println!(
            "| {} | {:.2} ({}–{}) | {:.2}% | {:.2} | {:.2}% | {:.2}% | {:.2}% | {:.5} | {} |",
            candidate.name,
            sum.fp / n,
            sum.fp_range.0,
            sum.fp_range.1,
            100.0 * sum.fn_ / n / spams,
            sum.fp_999 / n,
            100.0 * sum.fn_999 / n / spams,
            100.0 * sum.fn_at_0_fp / n / spams,
            100.0 * sum.fn_at_1_fp / n / spams,
            sum.auc / n,
            ever.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}

/// `KANMON_BAYES_EXPLAIN=1`: the shipped model's cross-validation on TRAIN only, its
/// highest-scored ham and lowest-scored spam with the tokens that moved them most — where
/// tokeniser work should look, without a glance at TEST.
fn explain(messages: &[Message]) {
    let params = Params::default();
    let train: Vec<&Message> = messages.iter().filter(|m| m.train).collect();
    let folds: Vec<Counts> = (0..FOLDS)
        .map(|fold| {
            let mut counts = Counts::default();
            for message in train.iter().filter(|m| m.fold() != fold) {
                counts.learn(&message.unigrams, message.spam);
            }
            counts
        })
        .collect();
    let mut scored: Vec<(f64, &Message)> = train
        .iter()
        .map(|m| {
            let read = folds[m.fold() as usize].read(&m.unigrams);
            (fisher(evidence(&read, &params)).log_odds, *m)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hams: Vec<&(f64, &Message)> = scored.iter().filter(|(_, m)| !m.spam).take(12).collect();
    let spams: Vec<&(f64, &Message)> = scored
        .iter()
        .rev()
        .filter(|(_, m)| m.spam)
        .take(8)
        .collect();
    let threshold = hams.get(1).map_or(0.0, |h| h.0);
    let missed = scored
        .iter()
        .filter(|(l, m)| m.spam && *l <= threshold)
        .count();
    let pairs: Vec<(bool, f64)> = scored.iter().map(|(l, m)| (m.spam, *l)).collect();
    let metrics = Metrics::of(&pairs, bayes_threshold(), false);
    println!("{}", metrics.row("CV, shipped model"));
    println!("CV: spam at or below the 2nd-highest ham (L {threshold:.1}): {missed}\n");
    for (label, list) in [("HAM scored highest", hams), ("SPAM scored lowest", spams)] {
        println!("## {label}");
        for (l, message) in list {
            let content = Content::derive(&message.raw, &Envelope::default(), MAX_PARTS);
            let tokens = bayes::tokenize::tokenize_texts(&content, &TokenizerOptions::default());
            let counts = &folds[message.fold() as usize];
            let read = counts.read(&tokens.keys);
            let mut used: Vec<(f64, &str, TokenCounts)> = tokens
                .texts
                .iter()
                .zip(&read.counts)
                .filter(|(_, c)| c.spam + c.ham > 0)
                .map(|(text, c)| {
                    (
                        bayes::classify::token_probability(*c, read.totals, &params),
                        text.as_str(),
                        *c,
                    )
                })
                .filter(|(f, _, _)| (f - 0.5).abs() > params.min_dev)
                .collect();
            used.sort_by(|a, b| b.0.total_cmp(&a.0));
            let spammy = used.iter().filter(|u| u.0 > 0.5).count();
            println!(
                "{}/{} L {l:.1}: {} keys, {} used ({spammy} spammy); subject {:?}",
                message.group,
                message.id,
                tokens.keys.len(),
                used.len(),
                content
                    .subject
                    .clone()
                    .unwrap_or_default()
                    .chars()
                    .take(60)
                    .collect::<String>()
            );
            let show = |slice: &[(f64, &str, TokenCounts)]| {
                slice
                    .iter()
                    .map(|(f, t, c)| format!("{t}={f:.2}({}/{})", c.spam, c.ham))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!("   spam side: {}", show(&used[..used.len().min(25)]));
            let tail = used.len().saturating_sub(12);
            println!("   ham side:  {}", show(&used[tail..]));
        }
        println!();
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // A value that is not a repetition count must not fall through to scoring TEST.
    let repetitions: Option<u32> = std::env::var("KANMON_BAYES_REPEATED").ok().map(|n| {
        n.parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("KANMON_BAYES_REPEATED={n:?}: want a positive number"))
    });
    let dir = corpus_dir();
    let started = Instant::now();
    let messages = load(&dir, repetitions.is_some());
    let load_secs = started.elapsed().as_secs_f64();
    let train: Vec<&Message> = messages.iter().filter(|m| m.train).collect();
    let test: Vec<&Message> = messages.iter().filter(|m| !m.train).collect();
    println!(
        "corpus: {} messages ({} TRAIN, {} TEST), decoded and tokenised in {load_secs:.1} s",
        messages.len(),
        train.len(),
        test.len()
    );
    let mean = |f: &dyn Fn(&Message) -> usize| {
        messages.iter().map(f).sum::<usize>() as f64 / messages.len() as f64
    };
    println!(
        "keys per message: unigrams {:.0} mean, with OSB {:.0} mean\n",
        mean(&|m| m.unigrams.len()),
        mean(&|m| m.osb.len())
    );

    if std::env::var_os("KANMON_BAYES_EXPLAIN").is_some() {
        explain(&messages);
        return;
    }
    if let Some(repetitions) = repetitions {
        repeated_cross_validation(&messages, repetitions);
        return;
    }

    // 2. Cross-validation on TRAIN.
    let started = Instant::now();
    let results = cross_validate(&messages, &grid());
    println!(
        "## 5-fold cross-validation on TRAIN ({:.1} s)\n",
        started.elapsed().as_secs_f64()
    );
    println!("| variant | FP | FN | FN at 0 FP | FN at ≤1 FP | ROC AUC | ties |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (variant, metrics) in &results {
        println!("{}", metrics.row(&variant.describe()));
    }
    let families: [(&str, Tokens, Combining); 3] = [
        ("Fisher unigrams", Tokens::Unigram, Combining::Fisher),
        ("Robinson unigrams", Tokens::Unigram, Combining::Robinson),
        ("Fisher OSB", Tokens::Osb, Combining::Fisher),
    ];
    let mut chosen = Vec::new();
    println!("\nbest per family by the CV objective:");
    for (name, tokens, combining) in families {
        let (variant, metrics) =
            choose(&results, |v| v.tokens == tokens && v.combining == combining);
        println!("  {name}: {}  {}", variant.describe(), metrics.row("cv"));
        chosen.push((name, variant));
    }
    let (winner, _) = choose(&results, |_| true);
    println!("overall: {}\n", winner.describe());
    if std::env::var_os("KANMON_BAYES_CV_ONLY").is_some() {
        return;
    }
    let defaults = Params::default();
    if winner.tokens != Tokens::Unigram
        || winner.combining != Combining::Fisher
        || winner.params != defaults
    {
        println!(
            "NOTE: the CV winner differs from the shipped defaults ({:?}); TEST below uses the defaults\n",
            defaults
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        path: dir.path().join("kanmon.redb"),
        ..StoreSettings::default()
    };

    // 3. Learn TRAIN into the embedded store, many relabels in flight.
    let store = runtime.block_on(Store::open(&settings)).unwrap();
    runtime
        .block_on(bayes::claim_version(&store))
        .unwrap()
        .unwrap();
    let raws: Vec<(Arc<Vec<u8>>, bool)> = train
        .iter()
        .map(|m| (Arc::new(m.raw.clone()), m.spam))
        .collect();
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (raw, spam) in raws {
            while tasks.len() >= IN_FLIGHT {
                tasks.join_next().await.unwrap().unwrap();
            }
            let store = store.clone();
            tasks.spawn(async move {
                let learnable = bayes::learn_tokens(&raw, &TokenizerOptions::default());
                let class = if spam { Class::Spam } else { Class::Ham };
                store
                    .relabel(&learnable.digest, Some(class), &learnable.keys)
                    .await
                    .unwrap();
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    });
    let learn_secs = started.elapsed().as_secs_f64();
    let summary = runtime.block_on(store.summary()).unwrap();
    let file_bytes = std::fs::metadata(&settings.path)
        .map(|m| m.len())
        .unwrap_or(0);

    // 4a. TEST by the Bayes check's path alone: decode, tokenise, one read, the maths.
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut bayes_alone = Vec::new();
    let started = Instant::now();
    for message in &test {
        let content = Content::derive(&message.raw, &Envelope::default(), MAX_PARTS);
        let keys = bayes::tokenize(&content, &TokenizerOptions::default()).keys;
        let read = single.block_on(store.token_counts(&keys)).unwrap();
        let l = match bayes::classify(&read, &defaults) {
            Ok(c) => c.log_odds,
            Err(_) => 0.0,
        };
        bayes_alone.push(l);
    }
    let classify_secs = started.elapsed().as_secs_f64();

    // 4b. TEST through the whole engine with the default configuration.
    let config = Config::parse("").unwrap();
    let engine = Engine::new(config, kanmon_core::kanmon_auth::dns::StaticResolver::new())
        .with_store(store.clone());
    let mut verdicts = Vec::new();
    let started = Instant::now();
    for message in &test {
        let verdict = single.block_on(engine.scan_message(&Envelope::default(), &message.raw));
        verdicts.push(verdict);
    }
    let engine_secs = started.elapsed().as_secs_f64();

    // 4c. The other models from in-memory counts of the same TRAIN.
    let mut memory = HashMap::new();
    for tokens in [Tokens::Unigram, Tokens::Osb] {
        let mut counts = Counts::default();
        for message in &train {
            counts.learn(message.keys(tokens), message.spam);
        }
        memory.insert(tokens as u8, counts);
    }
    let bogofilter = Variant {
        tokens: Tokens::Unigram,
        combining: Combining::Fisher,
        params: Params {
            min_dev: 0.375,
            robs: 0.0178,
            robx: 0.52,
            ..defaults
        },
    };
    let shipped = shipped();
    let mut comparisons = vec![("kanmon Bayes, shipped defaults (in-memory counts)", shipped)];
    comparisons.push(("Fisher unigrams, bogofilter's constants", bogofilter));
    for (name, variant) in &chosen {
        comparisons.push((name, *variant));
    }

    let mut csv = String::from("group,id,label,bayes_p,bayes_log_odds,band,score,action\n");
    let threshold = bayes_threshold();
    let mut engine_scored = Vec::new();
    let mut alone_scored = Vec::new();
    for ((message, l), verdict) in test.iter().zip(&bayes_alone).zip(&verdicts) {
        let p = 1.0 / (1.0 + (-l).exp());
        // Total score, Bayes' log-odds breaking ties (less than any score step).
        engine_scored.push((message.spam, verdict.score + 0.01 * (l / 50.0).tanh()));
        alone_scored.push((message.spam, *l));
        writeln!(
            csv,
            "{},{},{},{p:.6},{l:.4},{},{:.2},{}",
            message.group,
            message.id,
            if message.spam { "spam" } else { "ham" },
            band(*l),
            verdict.score,
            verdict.action
        )
        .unwrap();
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bayes-accuracy");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("test.csv"), csv).unwrap();

    println!(
        "## TEST ({} ham, {} spam), once\n",
        test.iter().filter(|m| !m.spam).count(),
        test.iter().filter(|m| m.spam).count()
    );
    println!(
        "| system | FP rate | FN rate | FN at 0 FP | FN at ≤1 FP | ROC AUC | spam tied with a ham |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let add_header = engine_scored_threshold();
    println!(
        "{}",
        Metrics::of(&engine_scored, add_header, true).row("kanmon default config (score ≥ 6)")
    );
    println!(
        "{}",
        Metrics::of(&alone_scored, threshold, false)
            .row("kanmon Bayes alone, embedded store (P > 0.99)")
    );
    println!(
        "{}",
        Metrics::of(&alone_scored, 0.0, false).row("kanmon Bayes alone, embedded store (P > 0.5)")
    );
    for (name, variant) in &comparisons {
        let counts = &memory[&(variant.tokens as u8)];
        let scored: Vec<(bool, f64)> = test
            .iter()
            .map(|m| {
                (
                    m.spam,
                    log_odds(&counts.read(m.keys(variant.tokens)), variant),
                )
            })
            .collect();
        println!(
            "{}",
            Metrics::of(&scored, threshold, false)
                .row(&format!("{name}: {} (P > 0.99)", variant.describe()))
        );
    }
    let shipped_memory: Vec<f64> = test
        .iter()
        .map(|m| {
            log_odds(
                &memory[&(Tokens::Unigram as u8)].read(&m.unigrams),
                &shipped,
            )
        })
        .collect();
    let same = shipped_memory
        .iter()
        .zip(&bayes_alone)
        .all(|(a, b)| (a - b).abs() < 1e-9 || (a.is_infinite() && a == b));
    println!("\nembedded store and in-memory counts agree on every TEST message: {same}");

    let mut fp_groups: HashMap<&str, usize> = HashMap::new();
    for (message, verdict) in test.iter().zip(&verdicts) {
        if !message.spam && verdict.score >= add_header {
            *fp_groups.entry(message.group.as_str()).or_default() += 1;
        }
    }
    println!("default-config FP per ham group: {fp_groups:?}");

    println!("\n## Speed\n");
    println!(
        "learn TRAIN ({} msgs, embedded store, {IN_FLIGHT} in flight, 2 worker threads): {:.2} s, {:.0} msgs/s",
        train.len(),
        learn_secs,
        train.len() as f64 / learn_secs
    );
    println!(
        "store: {} tokens, {} spam + {} ham learned, file {:.1} MiB",
        summary.tokens,
        summary.learned.spam,
        summary.learned.ham,
        file_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "classify TEST, Bayes path alone (decode + tokenise + one store read + maths), one thread: {:.0} msgs/s ({:.3} ms/msg)",
        test.len() as f64 / classify_secs,
        1000.0 * classify_secs / test.len() as f64
    );
    println!(
        "classify TEST, whole engine default config, one thread: {:.0} msgs/s ({:.3} ms/msg)",
        test.len() as f64 / engine_secs,
        1000.0 * engine_secs / test.len() as f64
    );
    println!(
        "peak RSS of this bench process: {:.0} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
}

/// The default add_header threshold.
fn engine_scored_threshold() -> f64 {
    Config::default().thresholds.add_header
}
