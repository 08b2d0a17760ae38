//! Authentication outcomes for the header tests, built directly as kanmon-auth reports them
//! for realistic messages (every field of the output types is public).

use std::net::IpAddr;

use kanmon_auth::arc::{ArcOutput, ArcResult, ArcSetOutput, ChainStatus, SignatureCheck};
use kanmon_auth::dkim::{Algorithm, DkimOutput, DkimResult};
use kanmon_auth::dmarc::{DmarcOutput, DmarcResult, Policy, PolicyRecord, PolicyTag};
use kanmon_auth::spf::{Identity, SpfOutput, SpfResult};

use crate::auth::AuthResults;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn spf(result: SpfResult, client: &str, sender: &str, mechanism: Option<&str>) -> SpfOutput {
    let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
    SpfOutput {
        result,
        identity: Identity::MailFrom,
        ip: ip(client),
        sender: sender.to_owned(),
        domain: domain.to_owned(),
        mechanism: mechanism.map(str::to_owned),
        explanation: None,
        problem: None,
    }
}

pub(super) fn spf_pass() -> SpfOutput {
    spf(
        SpfResult::Pass,
        "192.0.2.1",
        "alice@example.org",
        Some("ip4:192.0.2.0/24"),
    )
}

pub(super) fn spf_fail() -> SpfOutput {
    spf(
        SpfResult::Fail,
        "203.0.113.5",
        "alice@spoofed.test",
        Some("-all"),
    )
}

pub(super) fn spf_softfail() -> SpfOutput {
    spf(
        SpfResult::SoftFail,
        "203.0.113.5",
        "bob@example.org",
        Some("~all"),
    )
}

pub(super) fn spf_none() -> SpfOutput {
    spf(SpfResult::None, "192.0.2.1", "carol@no-spf.example", None)
}

pub(super) fn spf_temperror() -> SpfOutput {
    SpfOutput {
        problem: Some("DNS timeout looking up example.org TXT".to_owned()),
        ..spf(SpfResult::TempError, "192.0.2.1", "alice@example.org", None)
    }
}

pub(super) fn spf_permerror() -> SpfOutput {
    SpfOutput {
        problem: Some("syntax error at \"ip4:192.0.2.0/33)\"".to_owned()),
        ..spf(SpfResult::PermError, "192.0.2.1", "alice@example.org", None)
    }
}

/// `MAIL FROM:<>` from a client that said `HELO mail.example.org`: checked as
/// `postmaster@mail.example.org` (RFC 7208 §2.4).
pub(super) fn spf_null_sender() -> SpfOutput {
    SpfOutput {
        identity: Identity::Helo,
        ..spf(
            SpfResult::Pass,
            "192.0.2.1",
            "postmaster@mail.example.org",
            Some("a"),
        )
    }
}

pub(super) fn dkim_rsa_pass() -> DkimOutput {
    DkimOutput {
        result: DkimResult::Pass,
        domain: "example.com".to_owned(),
        selector: "sel1".to_owned(),
        identity: None,
        algorithm: Some(Algorithm::RsaSha256),
        body_length: None,
        unsigned_body_bytes: None,
        header_b: "AbCd/Ef12+gh".to_owned(),
        testing: false,
        key_bits: Some(2048),
        problem: None,
    }
}

pub(super) fn dkim_ed25519_fail() -> DkimOutput {
    DkimOutput {
        result: DkimResult::Fail,
        domain: "example.com".to_owned(),
        selector: "ed1".to_owned(),
        identity: Some("news@example.com".to_owned()),
        algorithm: Some(Algorithm::Ed25519Sha256),
        body_length: None,
        unsigned_body_bytes: None,
        header_b: "Zm9vYmFyYmF6".to_owned(),
        testing: false,
        key_bits: None,
        problem: Some("body hash did not verify".to_owned()),
    }
}

pub(super) fn dkim_permerror_no_key() -> DkimOutput {
    DkimOutput {
        result: DkimResult::PermError,
        domain: "example.net".to_owned(),
        selector: "sel9".to_owned(),
        identity: None,
        algorithm: Some(Algorithm::RsaSha256),
        body_length: None,
        unsigned_body_bytes: None,
        header_b: "QUJDREVGR0hJ".to_owned(),
        testing: false,
        key_bits: None,
        problem: Some("no key record at sel9._domainkey.example.net".to_owned()),
    }
}

fn dmarc(result: DmarcResult, from: &str, record: Option<&str>) -> DmarcOutput {
    let record = record.map(|text| PolicyRecord::parse(text).unwrap());
    DmarcOutput {
        result,
        from_domain: from.to_owned(),
        other_from_domains: Vec::new(),
        policy_domain: record.as_ref().map(|_| from.to_owned()),
        policy: record.as_ref().map(|r| r.policy),
        policy_tag: record.as_ref().map(|_| PolicyTag::P),
        record,
        disposition: Policy::None,
        lowered: false,
        spf_aligned: None,
        dkim_aligned: None,
        spf: None,
        dkim_passed: Vec::new(),
        problem: None,
    }
}

pub(super) fn dmarc_pass() -> DmarcOutput {
    DmarcOutput {
        dkim_aligned: Some("example.com".to_owned()),
        ..dmarc(
            DmarcResult::Pass,
            "example.com",
            Some("v=DMARC1; p=reject; rua=mailto:d@example.com"),
        )
    }
}

pub(super) fn dmarc_fail_reject() -> DmarcOutput {
    DmarcOutput {
        disposition: Policy::Reject,
        spf: Some(("spoofed.test".to_owned(), SpfResult::Fail)),
        ..dmarc(
            DmarcResult::Fail,
            "spoofed.test",
            Some("v=DMARC1; p=reject"),
        )
    }
}

/// `pct=25` and this message outside the sample: reject lowered to quarantine
/// (RFC 7489 §6.6.4).
pub(super) fn dmarc_fail_pct_lowered() -> DmarcOutput {
    DmarcOutput {
        disposition: Policy::Quarantine,
        lowered: true,
        ..dmarc(
            DmarcResult::Fail,
            "spoofed.test",
            Some("v=DMARC1; p=reject; pct=25"),
        )
    }
}

/// From a subdomain, where the organizational domain's `sp=quarantine` applies.
pub(super) fn dmarc_fail_subdomain() -> DmarcOutput {
    DmarcOutput {
        policy_domain: Some("spoofed.test".to_owned()),
        policy: Some(Policy::Quarantine),
        policy_tag: Some(PolicyTag::Sp),
        disposition: Policy::Quarantine,
        ..dmarc(
            DmarcResult::Fail,
            "news.spoofed.test",
            Some("v=DMARC1; p=reject; sp=quarantine"),
        )
    }
}

pub(super) fn dmarc_none() -> DmarcOutput {
    DmarcOutput {
        problem: Some("no DMARC record".to_owned()),
        ..dmarc(DmarcResult::None, "example.net", None)
    }
}

pub(super) fn dmarc_permerror() -> DmarcOutput {
    DmarcOutput {
        problem: Some("multiple DMARC records".to_owned()),
        ..dmarc(DmarcResult::PermError, "example.net", None)
    }
}

fn check(domain: &str, selector: &str) -> SignatureCheck {
    SignatureCheck {
        result: DkimResult::Pass,
        domain: domain.to_owned(),
        selector: selector.to_owned(),
        problem: None,
    }
}

fn arc_set(instance: u32, cv: ChainStatus, domain: &str) -> ArcSetOutput {
    ArcSetOutput {
        instance,
        cv: Some(cv),
        seal: check(domain, "arc"),
        message_signature: check(domain, "arc"),
        authentication_results: format!("{domain}; spf=pass smtp.mailfrom=example.com"),
        remote_ip: Some("192.0.2.1".to_owned()),
    }
}

/// Two hops: a forwarder, then a mailing list, both sets verifying.
pub(super) fn arc_pass() -> ArcOutput {
    ArcOutput {
        result: ArcResult::Pass,
        sets: vec![
            arc_set(1, ChainStatus::None, "forwarder.example"),
            arc_set(2, ChainStatus::Pass, "lists.example.org"),
        ],
        highest_instance: 2,
        oldest_pass: Some(0),
        problem: None,
    }
}

/// A spoofed message: SPF fail, a valid signature from an unrelated domain, DMARC fail
/// under p=reject, no ARC.
pub(super) fn full_auth() -> AuthResults {
    AuthResults {
        spf: Some(spf_fail()),
        spf_helo: None,
        dkim: vec![dkim_rsa_pass()],
        arc: Some(ArcOutput::none()),
        dmarc: Some(dmarc_fail_reject()),
    }
}
