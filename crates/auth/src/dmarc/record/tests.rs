//! Unit tests of the record parser, including RFC 7489 Appendix B's records.

use super::*;

fn parse(txt: &str) -> PolicyRecord {
    PolicyRecord::parse(txt).unwrap()
}

#[test]
fn rfc7489_appendix_b_records() {
    // B.2.1: entire domain, monitoring only.
    let b21 = parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com");
    assert_eq!(b21.policy, Policy::None);
    assert_eq!(b21.rua[0].mailto(), Some("dmarc-feedback@example.com"));
    assert_eq!(b21.percent, 100);
    // B.2.2: per-message failure reports.
    let b22 = parse(
        "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; \
         ruf=mailto:auth-reports@example.com",
    );
    assert_eq!(b22.ruf[0].uri, "mailto:auth-reports@example.com");
    assert_eq!(b22.failure_options, FailureOptions::default());
    // B.2.3: the third party's authorization record has no policy; RFC 9989 §4.7 reads
    // a missing p as p=none.
    assert_eq!(parse("v=DMARC1").policy, Policy::None);
    // B.2.4: subdomain, sampling, two aggregate URIs, one with a size limit (the zone
    // file's strings joined).
    let b24 = parse(
        "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,\
         mailto:tld-test@thirdparty.example.net!10m; pct=25",
    );
    assert_eq!(b24.policy, Policy::Quarantine);
    assert_eq!(b24.percent, 25);
    assert_eq!(
        b24.rua,
        [
            ReportUri {
                uri: "mailto:dmarc-feedback@example.com".into(),
                max_size: None
            },
            ReportUri {
                uri: "mailto:tld-test@thirdparty.example.net".into(),
                max_size: Some(10 * 1024 * 1024)
            },
        ]
    );
    // B.3.1: the receiver example's record.
    let b31 = parse("v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com");
    assert_eq!(b31.policy, Policy::Reject);
    assert_eq!(b31.spf_alignment, Alignment::Relaxed);
}

#[test]
fn every_tag() {
    let r = parse(
        "v=DMARC1;p=reject;sp=quarantine;np=reject;adkim=s;aspf=s;pct=50;t=y;psd=n;\
         rua=mailto:a@example.com;ruf=mailto:f@example.com!0G,https://r.example/f;\
         fo=0:1:d:s;rf=afrf:iodef;ri=3600",
    );
    assert_eq!(r.policy, Policy::Reject);
    assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
    assert_eq!(r.nonexistent_policy, Some(Policy::Reject));
    assert_eq!(r.dkim_alignment, Alignment::Strict);
    assert_eq!(r.spf_alignment, Alignment::Strict);
    assert_eq!(r.percent, 50);
    assert!(r.testing);
    assert_eq!(r.psd, Psd::No);
    assert_eq!(r.ruf[0].max_size, Some(0));
    assert_eq!(r.ruf[1].mailto(), None);
    assert_eq!(
        r.failure_options,
        FailureOptions {
            all_fail: true,
            any_fail: true,
            dkim: true,
            spf: true
        }
    );
    assert_eq!(r.report_formats, ["afrf", "iodef"]);
    assert_eq!(r.report_interval, 3600);
    assert!(r.ignored.is_empty());
}

#[test]
fn unusual_but_valid() {
    // Spaces and tabs around separators and "=", upper-case tag names and keywords,
    // trailing and doubled semicolons, p not second (RFC 9989 dropped the order rule),
    // unknown tags.
    let r = parse("v = DMARC1 ;\tP = Reject ;; SP=None; future=thing; x ; ADKIM=S;");
    assert_eq!(r.policy, Policy::Reject);
    assert_eq!(r.subdomain_policy, Some(Policy::None));
    assert_eq!(r.dkim_alignment, Alignment::Strict);
    assert_eq!(r.ignored, ["x"]);
    let r = parse("v=DMARC1; rua=mailto:a@example.com; p=quarantine");
    assert_eq!(r.policy, Policy::Quarantine);
    // Duplicate tags: the first wins.
    let r = parse("v=DMARC1; p=reject; p=none");
    assert_eq!(r.policy, Policy::Reject);
    assert_eq!(r.ignored, ["p=none"]);
}

#[test]
fn not_dmarc() {
    for txt in [
        "v=spf1 -all",
        "v=DMARC2; p=reject",
        "v=dmarc1; p=reject",
        "p=reject; v=DMARC1",
        " ; v=DMARC1; p=reject",
        "",
        "v=DMARC1x; p=reject",
    ] {
        assert_eq!(
            PolicyRecord::parse(txt),
            Err(RecordError::NotDmarc),
            "{txt}"
        );
    }
    assert!(is_dmarc_record("v=DMARC1"));
    assert!(is_dmarc_record(" v=DMARC1 ;p=none"));
}

#[test]
fn invalid_values_fall_back_to_defaults() {
    let r = parse(
        "v=DMARC1; p=reject; adkim=x; aspf=relaxed; pct=150; t=maybe; psd=q; \
         fo=2; rf=; ri=-1; ruf=not a uri",
    );
    assert_eq!(r.policy, Policy::Reject);
    assert_eq!(r.dkim_alignment, Alignment::Relaxed);
    assert_eq!(r.percent, 100);
    assert!(!r.testing);
    assert_eq!(r.psd, Psd::Unknown);
    assert_eq!(r.failure_options, FailureOptions::default());
    assert_eq!(r.report_interval, 86_400);
    assert!(r.ruf.is_empty());
    assert_eq!(r.ignored.len(), 9);
    assert_eq!(parse("v=DMARC1; p=none; pct=abc").percent, 100);
    assert_eq!(parse("v=DMARC1; p=none; pct=0").percent, 0);
    assert_eq!(parse("v=DMARC1; p=none; pct=+5").percent, 100);
    assert_eq!(parse("v=DMARC1; p=none; pct=050").percent, 50);
    assert_eq!(
        parse("v=DMARC1; p=none; ri=99999999999").report_interval,
        86_400
    );
}

#[test]
fn invalid_policy_needs_rua() {
    assert_eq!(
        PolicyRecord::parse("v=DMARC1; p=rejct"),
        Err(RecordError::InvalidPolicy {
            tag: "p",
            value: "rejct".into()
        })
    );
    assert!(matches!(
        PolicyRecord::parse("v=DMARC1; p=reject; sp=bogus; rua=bad"),
        Err(RecordError::InvalidPolicy { tag: "sp", .. })
    ));
    // With a valid rua the whole record acts as p=none.
    let r = parse("v=DMARC1; p=reject; np=maybe; sp=reject; rua=mailto:d@example.com");
    assert_eq!(r.policy, Policy::None);
    assert_eq!(r.subdomain_policy, None);
    assert_eq!(r.nonexistent_policy, None);
}

#[test]
fn report_uris() {
    let r = parse("v=DMARC1; p=none; rua=mailto:a@example.com!x, bogus ,mailto:b@example.com!20k");
    assert_eq!(r.rua.len(), 1);
    assert_eq!(r.rua[0].max_size, Some(20 * 1024));
    let many = (0..20)
        .map(|i| format!("mailto:r{i}@example.com"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        parse(&format!("v=DMARC1; rua={many}")).rua.len(),
        MAX_REPORT_URIS
    );
    assert_eq!(parse_size("99999999999999999999t"), Some(u64::MAX));
    assert_eq!(parse_size("k"), None);
    assert_eq!(
        ReportUri::parse("mailto:d@example.com?subject=x")
            .unwrap()
            .mailto(),
        Some("d@example.com")
    );
    assert!(ReportUri::parse("mailto:nobody").is_none());
    assert!(ReportUri::parse("1http://x").is_none());
}

#[test]
fn never_panics_on_random_records() {
    let pieces = [
        "v=DMARC1",
        ";",
        "=",
        " ",
        "p",
        "sp",
        "np",
        "reject",
        "none",
        "pct",
        "101",
        "rua",
        "mailto:a@b.c",
        "!",
        "10m",
        ",",
        "fo",
        "0:1",
        ":",
        "t",
        "y",
        "psd",
        "ri",
        "é",
        "\t",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut text = String::from("v=DMARC1;");
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for _ in 0..(state % 30) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push_str(pieces[(state % pieces.len() as u64) as usize]);
        }
        if let Ok(record) = PolicyRecord::parse(&text) {
            assert!(record.percent <= 100);
        }
    }
}

#[test]
fn long_records_are_capped() {
    let long = format!("v=DMARC1; p=reject; {}", "x=yyyyyyyy; ".repeat(1000));
    let r = parse(&long);
    assert!(r.text.len() <= MAX_RECORD_LEN);
    assert_eq!(r.policy, Policy::Reject);
    // Multi-byte text near the cap must not split a character.
    let _ = PolicyRecord::parse(&format!("v=DMARC1; p=none; z={}", "é".repeat(5000)));
}
