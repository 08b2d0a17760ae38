//! The default DNS lists: a conservative set that scores and never refuses (no entry has
//! `enforce`), each list's return codes mapped to SpamAssassin's symbol names, weights
//! between SpamAssassin's and rspamd's scaled to kanmon's thresholds (add_header 6,
//! reject 15), so that no one list alone tags a message and only several together reject.
//!
//! Return codes as the lists document them:
//! - zen.spamhaus.org: 127.0.0.2 SBL, .3 SBL CSS, .4–.7 XBL, .9 DROP, .10–.11 PBL;
//! - bl.spamcop.net: 127.0.0.2;
//! - list.dnswl.org: 127.0.<category>.<trust 0–3>; 127.0.0.255 "over the free limit";
//! - dbl.spamhaus.org: 127.0.1.2 spam, .4 phish, .5 malware, .6 botnet C&C, .102–.106 the
//!   same kinds on abused legitimate domains; 127.0.1.255 "IP queries prohibited";
//! - multi.surbl.org: bits 8 PH, 16 MW, 64 ABUSE, 128 CR; 127.0.0.1 "blocked";
//! - multi.uribl.com: bits 2 black, 4 grey, 8 red; 127.0.0.1 "query refused".
//!
//! Every Spamhaus zone answers 127.255.255.252–.255 for a refused query; the check treats
//! the whole 127.255.255.0/24, and anything outside 127.0.0.0/8, as refused for every list.
//! Usage terms (docs/config.md): free for low volume and non-commercial use; Spamhaus and
//! URIBL refuse queries that arrive through large public resolvers, which is what the
//! `*_BLOCKED` symbols report.

use super::raw::{RawCode, RawList, RawRhsbl};

fn answers(answers: &[&str], symbol: &str, score: f64) -> RawCode {
    RawCode {
        answers: answers.iter().map(|a| (*a).to_owned()).collect(),
        mask: None,
        symbol: Some(symbol.to_owned()),
        score: Some(score),
    }
}

fn mask(mask: u32, symbol: &str, score: f64) -> RawCode {
    RawCode {
        answers: Vec::new(),
        mask: Some(mask),
        symbol: Some(symbol.to_owned()),
        score: Some(score),
    }
}

fn list(zone: &str, codes: Vec<RawCode>, blocked: &[&str], blocked_symbol: &str) -> RawList {
    RawList {
        zone: zone.to_owned(),
        codes,
        blocked: blocked.iter().map(|a| (*a).to_owned()).collect(),
        blocked_symbol: Some(blocked_symbol.to_owned()),
        ..RawList::default()
    }
}

pub(super) fn default_dnsbl() -> Vec<RawList> {
    vec![
        list(
            "zen.spamhaus.org",
            vec![
                answers(&["127.0.0.2", "127.0.0.9"], "RCVD_IN_SBL", 3.0),
                answers(&["127.0.0.3"], "RCVD_IN_SBL_CSS", 2.5),
                answers(&["127.0.0.4-127.0.0.7"], "RCVD_IN_XBL", 3.0),
                // Low: the PBL lists end-user ranges, not spam seen; S25R says the same.
                answers(&["127.0.0.10-127.0.0.11"], "RCVD_IN_PBL", 1.5),
            ],
            &[],
            "RCVD_IN_ZEN_BLOCKED",
        ),
        RawList {
            zone: "bl.spamcop.net".to_owned(),
            symbol: Some("RCVD_IN_BL_SPAMCOP_NET".to_owned()),
            score: Some(1.5),
            ..RawList::default()
        },
        list(
            "list.dnswl.org",
            vec![
                answers(&["127.0.*.0"], "RCVD_IN_DNSWL_NONE", 0.0),
                answers(&["127.0.*.1"], "RCVD_IN_DNSWL_LOW", -0.7),
                answers(&["127.0.*.2"], "RCVD_IN_DNSWL_MED", -2.0),
                answers(&["127.0.*.3"], "RCVD_IN_DNSWL_HI", -4.0),
            ],
            &["127.0.0.255"],
            "RCVD_IN_DNSWL_BLOCKED",
        ),
    ]
}

pub(super) fn default_rhsbl() -> Vec<RawRhsbl> {
    vec![RawRhsbl::from_list(list(
        "dbl.spamhaus.org",
        vec![
            answers(&["127.0.1.2"], "DBL_SENDER_SPAM", 2.5),
            answers(&["127.0.1.4-127.0.1.6"], "DBL_SENDER_MALICIOUS", 4.0),
        ],
        &["127.0.1.255"],
        "DBL_SENDER_BLOCKED",
    ))]
}

pub(super) fn default_uribl() -> Vec<RawList> {
    vec![
        list(
            "dbl.spamhaus.org",
            vec![
                answers(&["127.0.1.2"], "URIBL_DBL_SPAM", 4.0),
                answers(&["127.0.1.4"], "URIBL_DBL_PHISH", 5.0),
                answers(&["127.0.1.5"], "URIBL_DBL_MALWARE", 5.0),
                answers(&["127.0.1.6"], "URIBL_DBL_BOTNETCC", 5.0),
                answers(&["127.0.1.102"], "URIBL_DBL_ABUSE_SPAM", 1.5),
                answers(&["127.0.1.103"], "URIBL_DBL_ABUSE_REDIR", 0.5),
                answers(&["127.0.1.104"], "URIBL_DBL_ABUSE_PHISH", 2.5),
                answers(&["127.0.1.105"], "URIBL_DBL_ABUSE_MALW", 2.5),
                answers(&["127.0.1.106"], "URIBL_DBL_ABUSE_BOTCC", 2.5),
            ],
            &["127.0.1.255"],
            "URIBL_DBL_BLOCKED",
        ),
        list(
            "multi.surbl.org",
            vec![
                mask(8, "URIBL_PH_SURBL", 4.0),
                mask(16, "URIBL_MW_SURBL", 4.0),
                mask(64, "URIBL_ABUSE_SURBL", 3.0),
                mask(128, "URIBL_CR_SURBL", 2.0),
            ],
            &["127.0.0.1"],
            "SURBL_BLOCKED",
        ),
        list(
            "multi.uribl.com",
            vec![
                mask(2, "URIBL_BLACK", 3.0),
                mask(4, "URIBL_GREY", 1.0),
                mask(8, "URIBL_RED", 0.5),
            ],
            &["127.0.0.1"],
            "URIBL_BLOCKED",
        ),
    ]
}
