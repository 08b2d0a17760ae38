//! DKIM evidence: whether the message is signed, whether a signature verified, and whether
//! the signer is the author's or the envelope sender's domain (SpamAssassin's
//! `DKIM_VALID_AU` / `DKIM_VALID_EF`).

use kanmon_auth::dkim::{DkimOutput, DkimResult};

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{Dkim, RawDkimActions};
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "DKIM_SIGNED",
        description: "DKIM: the message carries at least one signature",
    },
    Symbol {
        name: "DKIM_VALID",
        description: "DKIM: at least one signature verified",
    },
    Symbol {
        name: "DKIM_VALID_AU",
        description: "DKIM: a signature by the author's (From) domain verified",
    },
    Symbol {
        name: "DKIM_VALID_EF",
        description: "DKIM: a signature by the envelope sender's domain verified",
    },
    Symbol {
        name: "DKIM_INVALID",
        description: "DKIM: the message is signed but no signature verified",
    },
    Symbol {
        name: "DKIM_POLICY",
        description: "DKIM: a signature was refused by local policy (rsa-sha1, short key)",
    },
    Symbol {
        name: "DKIM_TEMPERROR",
        description: "DKIM: a DNS failure stopped a signature check",
    },
    Symbol {
        name: "DKIM_PERMERROR",
        description: "DKIM: a signature or its key record is unusable",
    },
];

pub(crate) struct DkimCheck {
    actions: RawDkimActions,
}

impl DkimCheck {
    pub(crate) fn new(config: &Dkim) -> Self {
        Self {
            actions: config.actions.clone(),
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        let signatures: Vec<&DkimOutput> = scan
            .auth
            .dkim
            .iter()
            .filter(|d| d.result != DkimResult::None)
            .collect();
        if signatures.is_empty() {
            return outcome;
        }
        outcome.hit("DKIM_SIGNED", list(&signatures, |_| true));
        let passed: Vec<&DkimOutput> = signatures
            .iter()
            .copied()
            .filter(|d| d.result == DkimResult::Pass)
            .collect();
        let failed: Vec<&DkimOutput> = signatures
            .iter()
            .copied()
            .filter(|d| d.result == DkimResult::Fail)
            .collect();
        if passed.is_empty() && !failed.is_empty() {
            // rspamd's R_DKIM_REJECT: a signature that does not verify, not one that could
            // not be checked (those have their own symbols below).
            outcome.hit("DKIM_INVALID", reasons(&failed));
        }
        if !passed.is_empty() {
            outcome.hit("DKIM_VALID", list(&passed, |_| true));
            let author = author_domain(scan);
            if let Some(author) = author.as_deref()
                && passed.iter().any(|d| covers(&d.domain, author))
            {
                outcome.hit(
                    "DKIM_VALID_AU",
                    list(&passed, |d| covers(&d.domain, author)),
                );
            }
            if let Some(sender) = scan.envelope.mail_from_domain()
                && passed.iter().any(|d| covers(&d.domain, &sender))
            {
                outcome.hit(
                    "DKIM_VALID_EF",
                    list(&passed, |d| covers(&d.domain, &sender)),
                );
            }
        }
        for (result, symbol) in [
            (DkimResult::Policy, "DKIM_POLICY"),
            (DkimResult::TempError, "DKIM_TEMPERROR"),
            (DkimResult::PermError, "DKIM_PERMERROR"),
        ] {
            let matching: Vec<&DkimOutput> = signatures
                .iter()
                .copied()
                .filter(|d| d.result == result)
                .collect();
            if !matching.is_empty() {
                outcome.hit(symbol, reasons(&matching));
            }
        }
        if passed.is_empty() {
            outcome.enforce = self.enforcement(&signatures);
        }
        outcome
    }

    /// The action for a message with no valid signature, from its most hopeful result: a
    /// `temperror` may pass on retry, so it decides before a `fail`, then `permerror`.
    fn enforcement(&self, signatures: &[&DkimOutput]) -> Option<(Action, String)> {
        let order = [
            (DkimResult::TempError, self.actions.temperror),
            (DkimResult::Fail, self.actions.fail),
            (DkimResult::PermError, self.actions.permerror),
        ];
        let (signature, action) = order.iter().find_map(|&(result, action)| {
            signatures
                .iter()
                .find(|d| d.result == result)
                .map(|d| (*d, action))
        })?;
        (action != Action::Accept).then(|| {
            (
                action,
                format!(
                    "DKIM {}: d={}: {}",
                    signature.result,
                    signature.domain,
                    signature.reason()
                ),
            )
        })
    }
}

/// Whether a signature by `signer` speaks for `domain`: the same domain or a parent of it.
fn covers(signer: &str, domain: &str) -> bool {
    let signer = signer.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    domain == signer || domain.ends_with(&format!(".{signer}"))
}

/// The author domain, as DMARC read it or, when DMARC did not run, from the From field.
fn author_domain(scan: &Scan<'_>) -> Option<String> {
    scan.author_domains().into_iter().next()
}

fn list(signatures: &[&DkimOutput], keep: impl Fn(&DkimOutput) -> bool) -> String {
    signatures
        .iter()
        .filter(|d| keep(d))
        .map(|d| format!("d={} s={}", d.domain, d.selector))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reasons(signatures: &[&DkimOutput]) -> String {
    signatures
        .iter()
        .map(|d| format!("d={} s={}: {}", d.domain, d.selector, d.reason()))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Check for DkimCheck {
    fn name(&self) -> CheckName {
        CheckName::Dkim
    }

    fn needs_message(&self) -> bool {
        true
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(self.examine(scan)))
    }
}
