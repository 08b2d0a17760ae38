//! RFC 7208 Appendix A.1: the example zone and the simple records evaluated against it, each
//! with the client addresses that must pass and some that must fail.

use std::net::IpAddr;

use kanmon_auth::dns::StaticResolver;
use kanmon_auth::spf::{SpfRequest, SpfResult, SpfVerifier};

/// The zone of RFC 7208 Appendix A (the `www` CNAME left out: no record here uses it).
fn appendix_a_zone(record: &str) -> StaticResolver {
    let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
    StaticResolver::new()
        .with_txt("example.com", record)
        .with_mx("example.com", 10, "mail-a.example.com")
        .with_mx("example.com", 20, "mail-b.example.com")
        .with_ip("example.com", ip("192.0.2.10"))
        .with_ip("example.com", ip("192.0.2.11"))
        .with_ip("amy.example.com", ip("192.0.2.65"))
        .with_ip("bob.example.com", ip("192.0.2.66"))
        .with_ip("mail-a.example.com", ip("192.0.2.129"))
        .with_ip("mail-b.example.com", ip("192.0.2.130"))
        .with_mx("example.org", 10, "mail-c.example.org")
        .with_ip("mail-c.example.org", ip("192.0.2.140"))
        .with_ptr(ip("192.0.2.10"), "example.com")
        .with_ptr(ip("192.0.2.11"), "example.com")
        .with_ptr(ip("192.0.2.65"), "amy.example.com")
        .with_ptr(ip("192.0.2.66"), "bob.example.com")
        .with_ptr(ip("192.0.2.129"), "mail-a.example.com")
        .with_ptr(ip("192.0.2.130"), "mail-b.example.com")
        .with_ptr(ip("192.0.2.140"), "mail-c.example.org")
        .with_ptr(ip("10.0.0.4"), "bob.example.com")
}

async fn result(record: &str, client: &str) -> SpfResult {
    let verifier = SpfVerifier::new(appendix_a_zone(record));
    let request = SpfRequest::new(
        client.parse().expect("ip"),
        "mx.example.net",
        "joe@example.com",
    );
    verifier.verify_mail_from(&request).await.result
}

/// (record, clients that pass, clients that fail) from RFC 7208 Appendix A.1.
const EXAMPLES: &[(&str, &[&str], &[&str])] = &[
    ("v=spf1 +all", &["192.0.2.10", "203.0.113.1"], &[]),
    (
        "v=spf1 a -all",
        &["192.0.2.10", "192.0.2.11"],
        &["192.0.2.65", "192.0.2.129"],
    ),
    // example.org has no A records: nothing passes.
    (
        "v=spf1 a:example.org -all",
        &[],
        &["192.0.2.10", "192.0.2.140"],
    ),
    (
        "v=spf1 mx -all",
        &["192.0.2.129", "192.0.2.130"],
        &["192.0.2.10", "192.0.2.140"],
    ),
    (
        "v=spf1 mx:example.org -all",
        &["192.0.2.140"],
        &["192.0.2.129"],
    ),
    (
        "v=spf1 mx mx:example.org -all",
        &["192.0.2.129", "192.0.2.130", "192.0.2.140"],
        &["192.0.2.10"],
    ),
    (
        "v=spf1 mx/30 mx:example.org/30 -all",
        &["192.0.2.128", "192.0.2.131", "192.0.2.141", "192.0.2.143"],
        &["192.0.2.127", "192.0.2.132", "192.0.2.144"],
    ),
    // bob.example.com's PTR for 10.0.0.4 does not validate: bob has 192.0.2.66.
    (
        "v=spf1 ptr -all",
        &[
            "192.0.2.10",
            "192.0.2.11",
            "192.0.2.65",
            "192.0.2.66",
            "192.0.2.129",
            "192.0.2.130",
        ],
        &["192.0.2.140", "10.0.0.4"],
    ),
    (
        "v=spf1 ip4:192.0.2.128/28 -all",
        &["192.0.2.128", "192.0.2.140", "192.0.2.143"],
        &["192.0.2.65", "192.0.2.144"],
    ),
];

#[tokio::test]
async fn rfc7208_appendix_a1_simple_examples() {
    for (record, passing, failing) in EXAMPLES {
        for client in *passing {
            assert_eq!(
                result(record, client).await,
                SpfResult::Pass,
                "{record} for {client}"
            );
        }
        for client in *failing {
            assert_eq!(
                result(record, client).await,
                SpfResult::Fail,
                "{record} for {client}"
            );
        }
    }
}
