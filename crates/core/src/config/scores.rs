//! The default score of every symbol, and how `[scores]` overrides them.
//!
//! The numbers follow rspamd's and SpamAssassin's defaults for the same evidence, scaled to
//! rspamd's thresholds (add_header 6, reject 15): authentication results alone move a score
//! by a point or two; only several pieces of evidence together reach a threshold.

use std::collections::{BTreeMap, HashMap};

use super::error::{ConfigErrors, join};
use super::suggest::closest;
use crate::checks;
use crate::symbol::DefinedSymbol;

/// Symbol → default score. Every declared symbol has exactly one entry (a test checks).
pub const DEFAULT_SCORES: &[(&str, f64)] = &[
    // SPF, MAIL FROM identity (rspamd R_SPF_*).
    ("SPF_PASS", -0.2),
    ("SPF_FAIL", 1.0),
    ("SPF_SOFTFAIL", 0.5),
    ("SPF_NEUTRAL", 0.0),
    ("SPF_NONE", 0.0),
    ("SPF_TEMPERROR", 0.0),
    ("SPF_PERMERROR", 0.0),
    // SPF, HELO identity (SpamAssassin SPF_HELO_*).
    ("SPF_HELO_PASS", 0.0),
    ("SPF_HELO_FAIL", 0.5),
    ("SPF_HELO_SOFTFAIL", 0.3),
    ("SPF_HELO_NEUTRAL", 0.0),
    ("SPF_HELO_NONE", 0.0),
    ("SPF_HELO_TEMPERROR", 0.0),
    ("SPF_HELO_PERMERROR", 0.0),
    // DKIM (SpamAssassin names, rspamd R_DKIM_* weights).
    ("DKIM_SIGNED", 0.1),
    ("DKIM_VALID", -0.1),
    ("DKIM_VALID_AU", -0.1),
    ("DKIM_VALID_EF", -0.1),
    ("DKIM_INVALID", 1.0),
    ("DKIM_POLICY", 0.0),
    ("DKIM_TEMPERROR", 0.0),
    ("DKIM_PERMERROR", 0.0),
    // DMARC (SpamAssassin names, rspamd DMARC_POLICY_* weights).
    ("DMARC_PASS", -0.5),
    ("DMARC_REJECT", 2.0),
    ("DMARC_QUAR", 1.5),
    ("DMARC_NONE", 0.1),
    ("DMARC_MISSING", 0.0),
    ("DMARC_TEMPERROR", 0.0),
    ("DMARC_PERMERROR", 0.0),
    // ARC (SpamAssassin names, rspamd ARC_* weights).
    ("ARC_SIGNED", 0.0),
    ("ARC_VALID", -0.1),
    ("ARC_INVALID", 1.0),
    ("ARC_TEMPERROR", 0.0),
    // S25R (kanmon's names; rspamd's nearest is HFILTER_HOSTNAME_UNKNOWN at 2.5). Small:
    // S25R misjudges some real MTAs (that is why its refusals are temporary), and a client
    // without a name also scores on RDNS_* when the rDNS check is on.
    ("S25R_GENERIC", 1.0),
    ("S25R_UNKNOWN_CLIENT", 0.5),
    // HELO and reverse DNS (rspamd HFILTER_* and RDNS_NONE, at about half rspamd's weight:
    // each alone is common among small but real mail servers).
    ("HFILTER_HELO_BAREIP", 1.0),
    ("HELO_LOCALHOST", 1.0),
    ("HFILTER_HELO_NOT_FQDN", 1.0),
    ("RDNS_NONE", 1.0),
    ("HFILTER_HOSTNAME_UNKNOWN", 0.5),
    // Greylisting (kanmon's names): evidence of how the sender behaved, not a judgement;
    // 0 so greylisting changes the delivery time and never the score.
    ("GREYLIST_DEFERRED", 0.0),
    ("GREYLIST_PASSED", 0.0),
    ("GREYLIST_WHITELISTED", 0.0),
    ("GREYLIST_AUTOWHITELISTED", 0.0),
    ("GREYLIST_UNAVAILABLE", 0.0),
    // Postfix header_checks/body_checks files: an entry that refuses or holds scores the
    // add_header threshold, so in content.mode = "tag" the message is still marked spam
    // (the file's author judged it so); WARN-like entries only inform.
    ("HEADER_CHECKS", 6.0),
    ("HEADER_CHECKS_WARN", 0.0),
    ("BODY_CHECKS", 6.0),
    ("BODY_CHECKS_WARN", 0.0),
    // Bayes (SpamAssassin's band names, non-overlapping). Scaled so Bayes alone reaches
    // add_header (6) at BAYES_99 and never reject (15); confident ham gets rspamd's
    // BAYES_HAM weight so one weak rule cannot tag mail Bayes is sure of.
    ("BAYES_00", -3.0),
    ("BAYES_05", -1.5),
    ("BAYES_20", -0.5),
    ("BAYES_40", 0.0),
    ("BAYES_50", 0.0),
    ("BAYES_60", 1.5),
    ("BAYES_80", 3.0),
    ("BAYES_95", 4.5),
    ("BAYES_99", 6.0),
    ("BAYES_999", 7.0),
    ("BAYES_UNAVAILABLE", 0.0),
    // The message itself.
    ("HEADER_UNREADABLE", 1.0),
];

/// The complete score table: defaults, the symbols the file defines with their entries'
/// scores, then the file's `[scores]`; an unknown symbol is an error naming it, with the
/// nearest known name when there is one.
pub(super) fn resolve(
    errors: &mut ConfigErrors,
    overrides: &BTreeMap<String, f64>,
    defined: &[DefinedSymbol],
) -> HashMap<&'static str, f64> {
    let mut scores: HashMap<&'static str, f64> = DEFAULT_SCORES.iter().copied().collect();
    scores.extend(defined.iter().map(|symbol| (symbol.name, symbol.score)));
    for (name, &score) in overrides {
        let path = join("scores", name);
        let known = checks::declared(name)
            .map(|symbol| symbol.name)
            .or_else(|| defined.iter().find(|s| s.name == name).map(|s| s.name));
        match known {
            Some(name) if score.is_finite() => {
                scores.insert(name, score);
            }
            Some(_) => errors.push(path, "must be a finite number"),
            None => {
                let names = checks::catalogue()
                    .map(|symbol| symbol.name)
                    .chain(defined.iter().map(|symbol| symbol.name));
                let message = match closest(name, names) {
                    Some(near) => format!("unknown symbol; did you mean {near}?"),
                    None => "unknown symbol; `kanmon config symbols` lists every symbol".to_owned(),
                };
                errors.push(path, message);
            }
        }
    }
    scores
}
