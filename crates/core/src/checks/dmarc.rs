//! DMARC evidence, named by the domain's published policy as SpamAssassin does
//! (`DMARC_REJECT` for a failure under `p=reject`), and the action an `enforce` mode takes
//! for the owner's disposition after `pct` sampling.

use kanmon_auth::dmarc::{DmarcResult, Policy};

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{Dmarc, RawDmarcActions};
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "DMARC_PASS",
        description: "DMARC: an identifier aligned with the From domain passed",
    },
    Symbol {
        name: "DMARC_REJECT",
        description: "DMARC: failed, and the From domain asks to reject such mail",
    },
    Symbol {
        name: "DMARC_QUAR",
        description: "DMARC: failed, and the From domain asks to quarantine such mail",
    },
    Symbol {
        name: "DMARC_NONE",
        description: "DMARC: failed, and the From domain only monitors (p=none)",
    },
    Symbol {
        name: "DMARC_MISSING",
        description: "DMARC: the From domain publishes no DMARC policy",
    },
    Symbol {
        name: "DMARC_TEMPERROR",
        description: "DMARC: a DNS failure stopped the check",
    },
    Symbol {
        name: "DMARC_PERMERROR",
        description: "DMARC: the From field or the domain's record is unusable",
    },
];

pub(crate) struct DmarcCheck {
    actions: RawDmarcActions,
}

impl DmarcCheck {
    pub(crate) fn new(config: &Dmarc) -> Self {
        Self {
            actions: config.actions.clone(),
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        let Some(dmarc) = &scan.auth.dmarc else {
            return outcome;
        };
        let symbol = match dmarc.result {
            DmarcResult::Pass => "DMARC_PASS",
            DmarcResult::Fail => match dmarc.policy.unwrap_or(Policy::None) {
                Policy::Reject => "DMARC_REJECT",
                Policy::Quarantine => "DMARC_QUAR",
                Policy::None => "DMARC_NONE",
            },
            DmarcResult::None => "DMARC_MISSING",
            DmarcResult::TempError => "DMARC_TEMPERROR",
            DmarcResult::PermError => "DMARC_PERMERROR",
        };
        outcome.hit(symbol, dmarc.reason());
        if dmarc.result == DmarcResult::Fail {
            let action = match dmarc.disposition {
                Policy::Reject => self.actions.reject,
                Policy::Quarantine => self.actions.quarantine,
                Policy::None => Action::Accept,
            };
            if action != Action::Accept {
                outcome.enforce = Some((
                    action,
                    format!("DMARC {}: {}", dmarc.disposition, dmarc.reason()),
                ));
            }
        }
        outcome
    }
}

impl Check for DmarcCheck {
    fn name(&self) -> CheckName {
        CheckName::Dmarc
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
