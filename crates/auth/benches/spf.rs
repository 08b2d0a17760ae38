//! SPF `check_host()` throughput with a warm cache, on a record with three includes: the
//! per-message cost once a sender's records are known.
//!
//! Two resolvers: the in-memory `StaticResolver` (the evaluator alone) and the production
//! `HickoryResolver` with its answer cache warmed against a real DNS server on loopback.
//! Target (issue 2): ≥ 500,000 checks/s on one core.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanmon_auth::dns::{HickoryResolver, Resolver, StaticResolver};
use kanmon_auth::spf::{SpfRequest, SpfResult, SpfVerifier};
use kanmon_testdns::{DnsServer, Entry, Value, Zone, zone_key};

const RECORDS: &[(&str, &str)] = &[
    (
        "example.com",
        "v=spf1 include:_spf1.example.com include:_spf2.example.com include:_spf3.example.com -all",
    ),
    (
        "_spf1.example.com",
        "v=spf1 ip4:198.51.100.0/24 ip4:198.51.101.0/24 ip6:2001:db8:1::/48 ~all",
    ),
    (
        "_spf2.example.com",
        "v=spf1 ip4:203.0.113.0/25 ip4:203.0.114.0/24 ip6:2001:db8:2::/48 ~all",
    ),
    (
        "_spf3.example.com",
        "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:3::/48 ~all",
    ),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_resolver<R: Resolver>(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    resolver: R,
) {
    let verifier = SpfVerifier::new(resolver);
    // Matches only in the last include: every record is read and evaluated.
    let ip: IpAddr = "192.0.2.77".parse().expect("ip");
    let request = SpfRequest::new(ip, "mx.example.com", "alice@example.com");
    let warm = rt.block_on(verifier.verify_mail_from(&request));
    assert_eq!(warm.result, SpfResult::Pass, "{}", warm.reason());
    let mut group = c.benchmark_group("spf_check_host_3_includes");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| rt.block_on(verifier.verify_mail_from(black_box(&request))));
    });
    group.finish();
}

fn spf(c: &mut Criterion) {
    let rt = runtime();

    let mut zone = StaticResolver::new();
    for (name, record) in RECORDS {
        zone = zone.with_txt(name, *record);
    }
    bench_resolver(c, "static_zone", &rt, zone);

    let server = rt.block_on(DnsServer::start());
    let mut served = Zone::new();
    for (name, record) in RECORDS {
        let txt = Value::Txt(vec![record.as_bytes().to_vec()]);
        served.insert(zone_key(name.as_bytes()), vec![Entry::Record(txt)]);
    }
    server.set_zone(served);
    let resolver = HickoryResolver::with_nameservers(&[server.addr], Duration::from_secs(2))
        .expect("resolver");
    bench_resolver(c, "hickory_warm_cache", &rt, resolver);
}

criterion_group!(benches, spf);
criterion_main!(benches);
