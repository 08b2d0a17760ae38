//! SPF evidence: the MAIL FROM identity's result (RFC 7208 §2.4) and the HELO identity's
//! (§2.3), and the action an `enforce` mode takes for each result.

use kanmon_auth::spf::{SpfOutput, SpfResult};

use crate::check::{Check, CheckFuture, CheckName, Outcome};
use crate::config::{RawSpfActions, Spf};
use crate::scan::Scan;
use crate::symbol::Symbol;
use crate::verdict::Action;

pub(super) const SYMBOLS: &[Symbol] = &[
    Symbol {
        name: "SPF_PASS",
        description: "SPF: the client may send for the MAIL FROM domain",
    },
    Symbol {
        name: "SPF_FAIL",
        description: "SPF: the MAIL FROM domain says the client may not send for it",
    },
    Symbol {
        name: "SPF_SOFTFAIL",
        description: "SPF: the MAIL FROM domain says the client probably may not send for it",
    },
    Symbol {
        name: "SPF_NEUTRAL",
        description: "SPF: the MAIL FROM domain makes no assertion about the client",
    },
    Symbol {
        name: "SPF_NONE",
        description: "SPF: the MAIL FROM domain publishes no SPF record",
    },
    Symbol {
        name: "SPF_TEMPERROR",
        description: "SPF: a DNS failure stopped the MAIL FROM check",
    },
    Symbol {
        name: "SPF_PERMERROR",
        description: "SPF: the MAIL FROM domain's SPF record is broken",
    },
    Symbol {
        name: "SPF_HELO_PASS",
        description: "SPF: the client may use its HELO name",
    },
    Symbol {
        name: "SPF_HELO_FAIL",
        description: "SPF: the HELO domain says the client may not use it",
    },
    Symbol {
        name: "SPF_HELO_SOFTFAIL",
        description: "SPF: the HELO domain says the client probably may not use it",
    },
    Symbol {
        name: "SPF_HELO_NEUTRAL",
        description: "SPF: the HELO domain makes no assertion about the client",
    },
    Symbol {
        name: "SPF_HELO_NONE",
        description: "SPF: the HELO domain publishes no SPF record",
    },
    Symbol {
        name: "SPF_HELO_TEMPERROR",
        description: "SPF: a DNS failure stopped the HELO check",
    },
    Symbol {
        name: "SPF_HELO_PERMERROR",
        description: "SPF: the HELO domain's SPF record is broken",
    },
];

pub(crate) struct SpfCheck {
    actions: RawSpfActions,
}

impl SpfCheck {
    pub(crate) fn new(config: &Spf) -> Self {
        Self {
            actions: config.actions.clone(),
        }
    }

    fn action(&self, result: SpfResult) -> Action {
        let a = &self.actions;
        match result {
            SpfResult::Pass => a.pass,
            SpfResult::Fail => a.fail,
            SpfResult::SoftFail => a.softfail,
            SpfResult::Neutral => a.neutral,
            SpfResult::None => a.none,
            SpfResult::PermError => a.permerror,
            SpfResult::TempError => a.temperror,
        }
    }

    fn examine(&self, scan: &Scan<'_>) -> Outcome {
        let mut outcome = Outcome::default();
        if let Some(spf) = &scan.auth.spf {
            outcome.hit(mail_from_symbol(spf.result), spf.reason());
            let action = self.action(spf.result);
            if action != Action::Accept {
                outcome.enforce = Some((action, enforce_reason("SPF", spf)));
            }
        }
        if let Some(helo) = &scan.auth.spf_helo {
            outcome.hit(helo_symbol(helo.result), helo.reason());
            // RFC 7208 §2.3: a HELO `fail` may refuse the session on its own; other HELO
            // results only inform.
            let action = self.action(helo.result);
            let stronger = outcome
                .enforce
                .as_ref()
                .is_none_or(|(current, _)| action > *current);
            if helo.result == SpfResult::Fail && action != Action::Accept && stronger {
                outcome.enforce = Some((action, enforce_reason("SPF HELO", helo)));
            }
        }
        outcome
    }
}

/// "SPF fail: 203.0.113.5 is not permitted by spoofed.test (-all)", with the domain's own
/// explanation (`exp=`) after it when it gave one (RFC 7208 §8.4).
fn enforce_reason(what: &str, spf: &SpfOutput) -> String {
    let mut reason = format!("{what} {}: {}", spf.result, spf.reason());
    if let Some(explanation) = &spf.explanation {
        reason.push_str(": ");
        reason.push_str(explanation);
    }
    reason
}

fn mail_from_symbol(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "SPF_PASS",
        SpfResult::Fail => "SPF_FAIL",
        SpfResult::SoftFail => "SPF_SOFTFAIL",
        SpfResult::Neutral => "SPF_NEUTRAL",
        SpfResult::None => "SPF_NONE",
        SpfResult::TempError => "SPF_TEMPERROR",
        SpfResult::PermError => "SPF_PERMERROR",
    }
}

fn helo_symbol(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "SPF_HELO_PASS",
        SpfResult::Fail => "SPF_HELO_FAIL",
        SpfResult::SoftFail => "SPF_HELO_SOFTFAIL",
        SpfResult::Neutral => "SPF_HELO_NEUTRAL",
        SpfResult::None => "SPF_HELO_NONE",
        SpfResult::TempError => "SPF_HELO_TEMPERROR",
        SpfResult::PermError => "SPF_HELO_PERMERROR",
    }
}

impl Check for SpfCheck {
    fn name(&self) -> CheckName {
        CheckName::Spf
    }

    fn needs_message(&self) -> bool {
        false
    }

    fn symbols(&self) -> &'static [Symbol] {
        SYMBOLS
    }

    fn check<'a>(&'a self, scan: &'a Scan<'a>) -> CheckFuture<'a> {
        Box::pin(std::future::ready(self.examine(scan)))
    }
}
