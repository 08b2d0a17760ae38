//! What recording one message costs: the calls a typical final scan makes — six checks,
//! the scan, a verdict with five symbols, four DNS questions and eight store calls. Compare
//! with a scan's ~250 µs of CPU (docs/conformance.md, the milter bench).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

fn one_message() {
    for check in ["spf", "dkim", "dmarc", "rbl", "content", "bayes"] {
        kanmon_metrics::check(check, black_box(Duration::from_micros(40)));
    }
    kanmon_metrics::scan("final", black_box(Duration::from_micros(250)));
    kanmon_metrics::verdict(
        "add_header",
        [
            "SPF_PASS",
            "DKIM_VALID",
            "DMARC_PASS",
            "RCVD_IN_DNSWL_LOW",
            "BAYES_50",
        ],
    );
    for record_type in ["TXT", "TXT", "A", "PTR"] {
        kanmon_metrics::dns_lookup(record_type, black_box(Duration::from_micros(800)), None);
    }
    for operation in [
        "token_counts",
        "label",
        "greylist_touch",
        "get",
        "get",
        "stats_add",
        "relabel",
        "get",
    ] {
        kanmon_metrics::store_call(operation, black_box(Duration::from_micros(30)), true);
    }
}

fn record(c: &mut Criterion) {
    c.bench_function("metrics of one message", |b| b.iter(one_message));
}

criterion_group!(benches, record);
criterion_main!(benches);
