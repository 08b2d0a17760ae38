//! DNS that fails: servers that never answer, and SERVFAIL. A scan ends within its time
//! budget and reports `temperror`, never an error exit or a hang (RFC 7208 §2.6.6, RFC 6376
//! §6.1.2, RFC 7489 §6.6.3 call a transient DNS failure a temporary error).

use super::*;

/// The newsletter from its own server: with working DNS every check passes
/// (`check::sample_messages_pass_with_their_envelopes`).
const NEWSLETTER_ENVELOPE: &[&str] = &[
    "--json",
    "--ip",
    "192.0.2.40",
    "--helo",
    "mta1.news.example.com",
    "--client-name",
    "mta1.news.example.com",
    "--from",
    "bounce+8f14e45f@bounces.news.example.com",
];

/// The scan budget of these tests, `limits.scan_timeout_ms`.
const BUDGET: Duration = Duration::from_millis(2_000);
/// What the binary may take besides the scan: starting, reading, printing, on a busy machine.
const SLACK: Duration = Duration::from_secs(2);

fn silent_config(servers: &[&Dns], dns_timeout_ms: u64) -> Kanmon {
    let servers: Vec<String> = servers
        .iter()
        .map(|dns| format!("\"{}\"", dns.addr))
        .collect();
    Kanmon::with_config(&format!(
        "authserv_id = \"mx.example.org\"\n\
         \n\
         [dns]\n\
         nameservers = [{}]\n\
         timeout_ms = {dns_timeout_ms}\n\
         \n\
         [limits]\n\
         scan_timeout_ms = {}\n",
        servers.join(", "),
        BUDGET.as_millis()
    ))
}

#[test]
fn silent_nameservers_give_temperror_within_the_scan_budget() {
    let (first, second) = (Dns::silent(), Dns::silent());
    let kanmon = silent_config(&[&first, &second], 300);
    let run = kanmon.check(NEWSLETTER_ENVELOPE, &sample("newsletter-dkim.eml"));
    let json = run.json();
    assert!(
        run.elapsed < BUDGET + SLACK,
        "took {:?} with a budget of {BUDGET:?}",
        run.elapsed
    );
    // Each lookup gives up after its attempts of dns.timeout_ms.
    for (part, reason) in [
        (
            &json["spf"],
            "bounces.news.example.com: dns lookup of bounces.news.example.com failed: dns lookup timed out",
        ),
        (
            &json["helo"],
            "mta1.news.example.com: dns lookup of mta1.news.example.com failed: dns lookup timed out",
        ),
        (
            &json["dkim"][0],
            "key lookup for rsa2048._domainkey.news.example.com failed: dns lookup timed out",
        ),
    ] {
        assert_eq!(part["result"], "temperror", "{part}");
        assert_eq!(part["reason"], reason, "{part}");
    }
    assert_eq!(json["dkim"][0]["domain"], "news.example.com");
    // DMARC asks only once SPF and DKIM are done; its lookup times out the same way, unless
    // a slow machine let the scan budget run out first, which is reported as a skip.
    let mut symbols = vec![
        "SPF_TEMPERROR",
        "SPF_HELO_TEMPERROR",
        "DKIM_SIGNED",
        "DKIM_TEMPERROR",
    ];
    assert_eq!(json["dmarc"]["result"], "temperror");
    assert_eq!(
        json["dmarc"]["reason"],
        "From news.example.com: _dmarc.news.example.com: dns lookup timed out"
    );
    // The DNS lists time out the same way: one note per list, never a listing.
    let mut skips = skipped(&json);
    assert_eq!(skips.pop().as_deref(), Some(BAYES_COLD_START));
    assert_eq!(skips.len(), 6, "{skips:#?}");
    assert!(
        skips
            .iter()
            .all(|s| s.starts_with("rbl ") && s.contains("failed: dns lookup timed out")),
        "{skips:#?}"
    );
    symbols.push("DMARC_TEMPERROR");
    assert_eq!(symbol_names(&json), symbols);
    assert_eq!(json["action"], "accept", "temperror only tags in tag mode");
}

/// `dns.timeout_ms` bounds each whole lookup, its retry included: with 1 s per lookup and
/// the smallest budget the configuration allows for it (2 s), SPF, HELO and DKIM time out
/// after one second each, in parallel, and DMARC, which waits for them, still gets its second
/// (or is cut off by the budget, on a slow machine). The budget's own cut-off of a lookup that
/// never ends is tested in kanmon-core (`engine::tests`).
#[test]
fn each_lookup_is_bounded_by_the_dns_timeout() {
    let dns = Dns::silent();
    let kanmon = silent_config(&[&dns], 1_000);
    let run = kanmon.check(NEWSLETTER_ENVELOPE, &sample("newsletter-dkim.eml"));
    let json = run.json();
    assert!(
        run.elapsed < BUDGET + SLACK,
        "took {:?} with a budget of {BUDGET:?}",
        run.elapsed
    );
    let timed_out = "dns lookup timed out";
    assert_eq!(json["spf"]["result"], "temperror");
    assert_eq!(
        json["spf"]["reason"],
        format!(
            "bounces.news.example.com: dns lookup of bounces.news.example.com failed: {timed_out}"
        )
    );
    assert_eq!(json["helo"]["result"], "temperror");
    assert_eq!(json["dkim"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["dkim"][0]["result"], "temperror");
    assert_eq!(json["dkim"][0]["domain"], "news.example.com");
    assert_eq!(json["dmarc"]["result"], "temperror");
    let dmarc = json["dmarc"]["reason"].as_str().expect("reason");
    assert!(
        dmarc == "From news.example.com: _dmarc.news.example.com: dns lookup timed out"
            || dmarc == "From news.example.com: timed out: the scan's time budget ran out",
        "{dmarc}"
    );
    assert_eq!(
        symbol_names(&json),
        [
            "SPF_TEMPERROR",
            "SPF_HELO_TEMPERROR",
            "DKIM_SIGNED",
            "DKIM_TEMPERROR",
            "DMARC_TEMPERROR"
        ]
    );
}

#[test]
fn servfail_gives_temperror_for_each_check() {
    let dns = Dns::serving(
        "bounces.news.example.com             SERVFAIL\n\
         mta1.news.example.com                SERVFAIL\n\
         rsa2048._domainkey.news.example.com  SERVFAIL\n\
         _dmarc.news.example.com              SERVFAIL\n",
    );
    let kanmon = Kanmon::new(&dns, "[spf]\nmode = \"enforce\"\n");
    let run = kanmon.check(NEWSLETTER_ENVELOPE, &sample("newsletter-dkim.eml"));
    let json = run.json();
    assert!(
        run.elapsed < SLACK,
        "SERVFAIL is an answer: {:?}",
        run.elapsed
    );
    for (part, name) in [
        (&json["spf"], "bounces.news.example.com"),
        (&json["helo"], "mta1.news.example.com"),
        (&json["dkim"][0], "rsa2048._domainkey.news.example.com"),
        (&json["dmarc"], "_dmarc.news.example.com"),
    ] {
        assert_eq!(part["result"], "temperror", "{part}");
        let reason = part["reason"].as_str().expect("reason");
        assert!(
            reason.contains(name) && reason.contains("Server Failure"),
            "{reason}"
        );
    }
    assert_eq!(
        symbol_names(&json),
        [
            "SPF_TEMPERROR",
            "SPF_HELO_TEMPERROR",
            "DKIM_SIGNED",
            "DKIM_TEMPERROR",
            "DMARC_TEMPERROR"
        ]
    );
    // SPF in enforce mode turns its temperror into a temporary refusal: the sender retries.
    assert_eq!(json["action"], "tempfail");
    let reason = json["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("SPF temperror: bounces.news.example.com: "),
        "{reason}"
    );
    assert_eq!(skipped(&json), [BAYES_COLD_START]);
}
