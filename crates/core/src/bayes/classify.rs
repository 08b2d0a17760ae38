//! The classifier's maths, pure: learned counts in, a spam probability and its log-odds out.
//!
//! Robinson's per-token probability f(w) (shrunk towards `robx` when a token was seen in few
//! messages), combined with Fisher's chi-square method as bogofilter and SpamAssassin do.
//! The chi-square tails are computed in log space: the direct series SpamAssassin and rspamd
//! use underflows to 0 once the evidence sum passes ~745, which saturates many spam at
//! exactly 1.0 and makes "spam caught at zero false positives" meaningless. The ranking key
//! is the log-odds L = ln I − ln(1 − I), which never saturates.

use kanmon_store::{ClassTotals, TokenCounts, TokenRead};

/// The classifier's constants (`[bayes]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Robinson's s: how strongly a rarely seen token is pulled towards `robx`.
    pub robs: f64,
    /// Robinson's x: the spam probability of a token never seen.
    pub robx: f64,
    /// Tokens with |f − 0.5| ≤ this are ignored.
    pub min_dev: f64,
    /// Learned spam and ham below which the classifier abstains.
    pub min_spam: u64,
    pub min_ham: u64,
    /// Tokens past `min_dev` needed for a result.
    pub min_tokens: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            // Chosen by 5-fold cross-validation on the corpus's TRAIN part only
            // (benches/bayes_accuracy.rs, docs/bayes.md); bogofilter has 0.0178, 0.52, 0.375.
            robs: 0.5,
            robx: 0.4,
            min_dev: 0.2,
            min_spam: 50,
            min_ham: 50,
            min_tokens: 3,
        }
    }
}

/// A message classified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    /// The spamicity I in [0, 1]; 0.5 is no or conflicting evidence.
    pub probability: f64,
    /// ln I − ln(1 − I): orders messages even where `probability` rounds to 0 or 1.
    pub log_odds: f64,
    /// Tokens that entered the combination.
    pub used: usize,
}

impl Classification {
    /// No token: no evidence either way.
    const UNDECIDED: Classification = Classification {
        probability: 0.5,
        log_odds: 0.0,
        used: 0,
    };
}

/// Why the classifier gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abstention {
    /// Too few messages learned.
    ColdStart {
        spam: u64,
        ham: u64,
        min_spam: u64,
        min_ham: u64,
    },
    /// Too few tokens of the message carry evidence.
    TooFewTokens { used: usize, needed: usize },
}

impl std::fmt::Display for Abstention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abstention::ColdStart {
                spam,
                ham,
                min_spam,
                min_ham,
            } => write!(
                f,
                "{spam} spam and {ham} ham learned, needs {min_spam} spam and {min_ham} ham"
            ),
            Abstention::TooFewTokens { used, needed } => write!(
                f,
                "too few known tokens ({used} carry evidence, needs {needed})"
            ),
        }
    }
}

/// Classifies one message from its tokens' counts.
pub fn classify(read: &TokenRead, params: &Params) -> Result<Classification, Abstention> {
    let totals = read.totals;
    if totals.spam < params.min_spam || totals.ham < params.min_ham {
        return Err(Abstention::ColdStart {
            spam: totals.spam,
            ham: totals.ham,
            min_spam: params.min_spam,
            min_ham: params.min_ham,
        });
    }
    let combined = fisher(evidence(read, params));
    if combined.used < params.min_tokens {
        return Err(Abstention::TooFewTokens {
            used: combined.used,
            needed: params.min_tokens,
        });
    }
    Ok(combined)
}

/// The probabilities f(w) of the tokens that carry evidence: seen before, and further than
/// `min_dev` from 0.5.
pub fn evidence<'r>(read: &'r TokenRead, params: &'r Params) -> impl Iterator<Item = f64> + 'r {
    read.counts
        .iter()
        .filter(|counts| counts.spam + counts.ham > 0)
        .map(|counts| token_probability(*counts, read.totals, params))
        .filter(|f| (f - 0.5).abs() > params.min_dev)
}

/// Robinson's f(w): the class-size-normalised spam ratio of a token, shrunk towards `robx`
/// by `robs` (bogofilter's formula; counts clipped to the class totals, as it does).
pub fn token_probability(counts: TokenCounts, totals: ClassTotals, params: &Params) -> f64 {
    let total_spam = totals.spam.max(1) as f64;
    let total_ham = totals.ham.max(1) as f64;
    let spam = counts.spam.min(totals.spam) as f64;
    let ham = counts.ham.min(totals.ham) as f64;
    let n = spam + ham;
    if n == 0.0 {
        return params.robx;
    }
    let p = spam * total_ham / (spam * total_ham + ham * total_spam);
    (params.robs * params.robx + n * p) / (params.robs + n)
}

/// Fisher's combination of token probabilities. No token gives I = 0.5, L = 0.
pub fn fisher(probabilities: impl IntoIterator<Item = f64>) -> Classification {
    let Some(LogSums {
        spam_log,
        ham_log,
        used,
    }) = log_sums(probabilities)
    else {
        return Classification::UNDECIDED;
    };
    let n = used as f64;
    // Ps = Q(n, −S), Ph = Q(n, −H): the chi-square survival function with 2n degrees of freedom.
    let (ln_not_ps, ln_ps) = ln_gamma_tails(n, -spam_log);
    let (ln_not_ph, ln_ph) = ln_gamma_tails(n, -ham_log);
    // I = (1 + Ph − Ps)/2 = (Ph + (1 − Ps))/2, and 1 − I = ((1 − Ph) + Ps)/2.
    let ln_i = log_add_exp(ln_ph, ln_not_ps) - std::f64::consts::LN_2;
    let ln_not_i = log_add_exp(ln_not_ph, ln_ps) - std::f64::consts::LN_2;
    Classification {
        probability: ln_i.exp().clamp(0.0, 1.0),
        log_odds: ln_i - ln_not_i,
        used,
    }
}

/// Robinson's geometric-mean combination (bogofilter's older "robinson" method), kept to
/// compare against [`fisher`]: S = 1 − (Π(1−f))^(1/n), H = 1 − (Π f)^(1/n),
/// I = (1 + (S − H)/(S + H))/2.
pub fn robinson(probabilities: impl IntoIterator<Item = f64>) -> Classification {
    let Some(LogSums {
        spam_log,
        ham_log,
        used,
    }) = log_sums(probabilities)
    else {
        return Classification::UNDECIDED;
    };
    let n = used as f64;
    let s = -(spam_log / n).exp_m1();
    let h = -(ham_log / n).exp_m1();
    let probability = (1.0 + (s - h) / (s + h)) / 2.0;
    // I/(1 − I) = S/H.
    Classification {
        probability,
        log_odds: s.ln() - h.ln(),
        used,
    }
}

/// What both combinations read from the token probabilities.
struct LogSums {
    /// Σ ln(1 − f): very negative means spam evidence.
    spam_log: f64,
    /// Σ ln f: very negative means ham evidence.
    ham_log: f64,
    used: usize,
}

/// The log sums of `probabilities` (each kept off 0 and 1), or `None` when there are none.
fn log_sums(probabilities: impl IntoIterator<Item = f64>) -> Option<LogSums> {
    let mut sums = LogSums {
        spam_log: 0.0,
        ham_log: 0.0,
        used: 0,
    };
    for f in probabilities {
        let f = f.clamp(1e-12, 1.0 - 1e-12);
        sums.spam_log += (-f).ln_1p();
        sums.ham_log += f.ln();
        sums.used += 1;
    }
    (sums.used > 0).then_some(sums)
}

/// ln(e^a + e^b), exact where either is −∞.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let high = a.max(b);
    if high == f64::NEG_INFINITY {
        return high;
    }
    high + ((a - high).exp() + (b - high).exp()).ln()
}

const EPSILON: f64 = 1e-15;
const TINY: f64 = 1e-300;
const MAX_ITERATIONS: usize = 100_000;

/// (ln P(a, x), ln Q(a, x)): the regularised lower and upper incomplete gamma functions, in
/// log space. The smaller tail is computed directly (series below a + 1, Lentz's continued
/// fraction above), the other from it.
pub fn ln_gamma_tails(a: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (f64::NEG_INFINITY, 0.0);
    }
    let ln_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // Series: P(a, x) = e^{−x} x^a / Γ(a) · Σ x^k / (a (a+1) … (a+k)).
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut denominator = a;
        for _ in 0..MAX_ITERATIONS {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * EPSILON {
                break;
            }
        }
        let ln_p = (ln_prefix + sum.ln()).min(0.0);
        (ln_p, ln_one_minus_exp(ln_p))
    } else {
        // Continued fraction for Q(a, x), modified Lentz.
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITERATIONS {
            let i = i as f64;
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < EPSILON {
                break;
            }
        }
        let ln_q = (ln_prefix + h.ln()).min(0.0);
        (ln_one_minus_exp(ln_q), ln_q)
    }
}

/// ln(1 − e^v) for v ≤ 0, accurate at both ends.
fn ln_one_minus_exp(v: f64) -> f64 {
    if v > -std::f64::consts::LN_2 {
        (-v.exp_m1()).ln()
    } else {
        (-v.exp()).ln_1p()
    }
}

/// ln Γ(z) for z > 0 (Lanczos, g = 7, nine coefficients; relative error ~1e-15).
pub fn ln_gamma(z: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if z < 0.5 {
        // Reflection: Γ(z) Γ(1 − z) = π / sin(πz).
        let pi = std::f64::consts::PI;
        return (pi / (pi * z).sin()).ln() - ln_gamma(1.0 - z);
    }
    let z = z - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (z + i as f64);
    }
    let t = z + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (z + 0.5) * t.ln() - t + sum.ln()
}

/// SpamAssassin's band names, made non-overlapping: exactly one fires.
pub const BANDS: [(&str, f64); 10] = [
    ("BAYES_00", 0.01),
    ("BAYES_05", 0.05),
    ("BAYES_20", 0.20),
    ("BAYES_40", 0.40),
    ("BAYES_50", 0.60),
    ("BAYES_60", 0.80),
    ("BAYES_80", 0.95),
    ("BAYES_95", 0.99),
    ("BAYES_99", 0.999),
    ("BAYES_999", 1.0),
];

/// The band of a classification, placed by its log-odds so saturation cannot merge bands:
/// the first whose upper edge p has L ≤ ln(p / (1 − p)) (SpamAssassin's "above min, at
/// most max").
pub fn band(log_odds: f64) -> &'static str {
    for (name, upper) in BANDS {
        if upper >= 1.0 || log_odds <= logit(upper) {
            return name;
        }
    }
    BANDS[BANDS.len() - 1].0
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(close(ln_gamma(1.0), 0.0f64.max(1e-16), 1.0) || ln_gamma(1.0).abs() < 1e-14);
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-13));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-13
        ));
        // ln(170!) = 706.5730622457874
        assert!(close(ln_gamma(171.0), 706.573_062_245_787_4, 1e-13));
    }

    /// Q(n, m) for integer n by the exact finite sum, where it does not underflow.
    fn q_direct(n: usize, m: f64) -> f64 {
        let mut term = (-m).exp();
        let mut sum = term;
        for i in 1..n {
            term *= m / i as f64;
            sum += term;
        }
        sum.min(1.0)
    }

    #[test]
    fn gamma_tails_agree_with_the_finite_sum() {
        for &(n, m) in &[
            (1, 0.5),
            (3, 2.0),
            (10, 4.0),
            (10, 25.0),
            (150, 400.0),
            (40, 39.0),
        ] {
            let (ln_p, ln_q) = ln_gamma_tails(n as f64, m);
            let expected = q_direct(n, m);
            assert!(
                close(ln_q.exp(), expected, 1e-9),
                "Q({n},{m}) = {} not {expected}",
                ln_q.exp()
            );
            assert!(close(ln_p.exp(), 1.0 - expected, 1e-9) || (1.0 - expected) < 1e-12);
        }
        // The research note's value where the direct series underflows: 4.07e-47 and 0.496.
        assert!(close(ln_gamma_tails(150.0, 400.0).1.exp(), 4.07e-47, 1e-2));
        let q = ln_gamma_tails(1000.0, 1000.0).1.exp();
        assert!((q - 0.496).abs() < 0.001, "Q(1000, 1000) = {q}");
        assert!((ln_gamma_tails(800.0, 760.0).1.exp() - 0.923).abs() < 0.001);
        assert!((ln_gamma_tails(2000.0, 1900.0).1.exp() - 0.988).abs() < 0.001);
    }

    #[test]
    fn robinson_probability_known_values() {
        let params = Params {
            robs: 0.0178,
            robx: 0.52,
            ..Params::default()
        };
        let totals = ClassTotals {
            spam: 100,
            ham: 300,
        };
        // Never seen: x.
        assert_eq!(
            token_probability(TokenCounts::default(), totals, &params),
            0.52
        );
        // 10 of 100 spam, 30 of 300 ham: equal rates, p = 0.5; f = (s·x + 40·0.5)/(s + 40).
        let f = token_probability(TokenCounts { spam: 10, ham: 30 }, totals, &params);
        let expected = (0.0178 * 0.52 + 40.0 * 0.5) / (0.0178 + 40.0);
        assert!(close(f, expected, 1e-15));
        // Counts above the class totals are clipped (a corrupt counter cannot outweigh).
        let clipped = token_probability(TokenCounts { spam: 500, ham: 0 }, totals, &params);
        let expected = (0.0178 * 0.52 + 100.0) / (0.0178 + 100.0);
        assert!(close(clipped, expected, 1e-15));
    }

    #[test]
    fn robinson_geometric_mean_known_value() {
        // f = 0.9, 0.8: S = 1 − √(0.1·0.2), H = 1 − √(0.72).
        let s = 1.0 - (0.02f64).sqrt();
        let h = 1.0 - (0.72f64).sqrt();
        let result = robinson([0.9, 0.8]);
        assert!(close(
            result.probability,
            (1.0 + (s - h) / (s + h)) / 2.0,
            1e-12
        ));
        assert!(close(result.log_odds, (s / h).ln(), 1e-12));
    }

    #[test]
    fn fisher_of_symmetric_evidence_is_one_half() {
        let result = fisher([0.9, 0.1, 0.8, 0.2]);
        assert!((result.probability - 0.5).abs() < 1e-12);
        assert!(result.log_odds.abs() < 1e-9);
        assert_eq!(fisher([]).probability, 0.5);
    }

    #[test]
    fn fisher_matches_the_direct_formula_for_few_tokens() {
        // Two tokens at 0.99 and 0.9: S = ln 0.01 + ln 0.1, H = ln 0.99 + ln 0.9.
        let probabilities = [0.99, 0.9];
        let s: f64 = probabilities.iter().map(|f: &f64| (1.0 - f).ln()).sum();
        let h: f64 = probabilities.iter().map(|f: &f64| f.ln()).sum();
        let ps = q_direct(2, -s);
        let ph = q_direct(2, -h);
        let expected = (1.0 + ph - ps) / 2.0;
        let result = fisher(probabilities);
        assert!(close(result.probability, expected, 1e-12));
        assert!(close(
            result.log_odds,
            (expected / (1.0 - expected)).ln(),
            1e-9
        ));
    }

    #[test]
    fn log_odds_keep_ordering_where_probability_saturates() {
        let strong = fisher(std::iter::repeat_n(0.99, 600));
        let stronger = fisher(std::iter::repeat_n(0.999, 600));
        assert_eq!(strong.probability, 1.0);
        assert_eq!(stronger.probability, 1.0);
        assert!(stronger.log_odds > strong.log_odds);
        assert!(strong.log_odds.is_finite());
        let hammy = fisher(std::iter::repeat_n(0.001, 600));
        assert!(hammy.log_odds < -100.0 && hammy.log_odds.is_finite());
    }

    #[test]
    fn band_edges_follow_spamassassin() {
        let at = |p: f64| band(logit(p));
        assert_eq!(band(f64::NEG_INFINITY), "BAYES_00");
        assert_eq!(at(0.0099), "BAYES_00");
        assert_eq!(at(0.0101), "BAYES_05");
        assert_eq!(at(0.05), "BAYES_05");
        assert_eq!(at(0.3), "BAYES_40");
        assert_eq!(at(0.5), "BAYES_50");
        assert_eq!(at(0.6001), "BAYES_60");
        assert_eq!(at(0.98), "BAYES_95");
        assert_eq!(at(0.995), "BAYES_99");
        assert_eq!(at(0.9991), "BAYES_999");
        assert_eq!(band(f64::INFINITY), "BAYES_999");
    }

    #[test]
    fn cold_start_abstains_and_says_how_far() {
        let read = TokenRead {
            totals: ClassTotals { spam: 12, ham: 3 },
            counts: vec![TokenCounts { spam: 5, ham: 0 }; 5],
        };
        let abstention = classify(&read, &Params::default()).unwrap_err();
        assert_eq!(
            abstention.to_string(),
            "12 spam and 3 ham learned, needs 50 spam and 50 ham"
        );
    }

    #[test]
    fn unknown_and_neutral_tokens_do_not_count() {
        let read = TokenRead {
            totals: ClassTotals {
                spam: 100,
                ham: 100,
            },
            counts: vec![
                TokenCounts::default(),
                TokenCounts { spam: 10, ham: 10 },
                TokenCounts { spam: 40, ham: 0 },
            ],
        };
        let abstention = classify(&read, &Params::default()).unwrap_err();
        assert_eq!(abstention, Abstention::TooFewTokens { used: 1, needed: 3 });
        let mut counts = read.counts.clone();
        counts.extend([
            TokenCounts { spam: 30, ham: 1 },
            TokenCounts { spam: 20, ham: 0 },
        ]);
        let result = classify(
            &TokenRead {
                totals: read.totals,
                counts,
            },
            &Params::default(),
        )
        .unwrap();
        assert_eq!(result.used, 3);
        assert!(result.probability > 0.99);
    }
}
