//! ARC evidence: whether the message carries a chain and whether it validated. ARC informs
//! (RFC 8617 §7.2 leaves its use to local policy); it never asks for an action itself.

use kanmon_auth::arc::ArcResult;

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::scan::Scan;
use crate::symbol::Symbol;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "ARC_SIGNED",
        description: "ARC: the message carries an ARC chain",
    },
    Symbol {
        name: "ARC_VALID",
        description: "ARC: the chain validated (cv=pass)",
    },
    Symbol {
        name: "ARC_INVALID",
        description: "ARC: the chain is broken (cv=fail)",
    },
    Symbol {
        name: "ARC_TEMPERROR",
        description: "ARC: a DNS failure stopped the chain validation",
    },
];

pub(crate) struct ArcCheck;

impl ArcCheck {
    fn examine(scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        let Some(arc) = &scan.auth.arc else {
            return outcome;
        };
        let symbol = match arc.result {
            ArcResult::None => return outcome,
            ArcResult::Pass => "ARC_VALID",
            ArcResult::Fail => "ARC_INVALID",
            ArcResult::TempError => "ARC_TEMPERROR",
        };
        let sets = arc.set_count();
        outcome.hit(
            "ARC_SIGNED",
            format!("{sets} ARC set{}", if sets == 1 { "" } else { "s" }),
        );
        outcome.hit(symbol, arc.reason());
        outcome
    }
}

impl Check for ArcCheck {
    fn name(&self) -> CheckName {
        CheckName::Arc
    }

    fn needs_message(&self) -> bool {
        true
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(Self::examine(scan)))
    }
}
