//! kanmon's in-process metrics: what `/metrics` shows Prometheus.
//!
//! One process-wide recorder ([`global`]), because the events happen in every layer — the
//! DNS resolver (kanmon-auth), the store (kanmon-store), the engine (kanmon-core) and the
//! daemon's front-ends — and threading a handle through all of them would touch every
//! constructor for a few counter increments. Each call site is one line.
//!
//! The counts are this process's since it started (Prometheus computes rates itself); the
//! per-hour counters the report and the dashboard read are kept in the store by
//! `kanmon_core::stats`, shared by every MX host.
//!
//! Cardinality is bounded by construction: every label value is a `&'static str` from a
//! fixed list (actions, declared symbols, check names, record types, store operations,
//! front-ends, error kinds), never text from mail or the network.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// Bucket bounds of scan and check durations, in seconds: from a cached verdict (1 ms) to
/// the default scan budget (`limits.scan_timeout_ms`, 10 s) and beyond.
const SCAN_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Bucket bounds of DNS lookups, in seconds: a nearby resolver answers in a millisecond, a
/// remote authority in tens of them; `[dns] timeout_ms` defaults to 2 s.
const DNS_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 2.0,
];

/// Bucket bounds of store calls, in seconds: the embedded file and a local Redis answer in
/// well under a millisecond; a commit that waits for the disk takes a few.
const STORE_BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
];

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn scan_histogram() -> Histogram {
    Histogram::new(SCAN_BUCKETS)
}

fn dns_histogram() -> Histogram {
    Histogram::new(DNS_BUCKETS)
}

fn store_histogram() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

/// The recorder: every metric kanmon exposes, registered once.
pub struct Metrics {
    registry: Registry,
    messages: Family<Labels, Counter>,
    symbol_hits: Family<Labels, Counter>,
    scans: Histograms,
    checks: Histograms,
    dns_lookups: Histograms,
    dns_failures: Family<Labels2, Counter>,
    store_calls: Histograms,
    store_errors: Family<Labels, Counter>,
    sessions: Family<Labels, Gauge>,
    errors: Family<Labels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::with_prefix("kanmon"),
            messages: Family::default(),
            symbol_hits: Family::default(),
            scans: Family::new_with_constructor(scan_histogram),
            checks: Family::new_with_constructor(scan_histogram),
            dns_lookups: Family::new_with_constructor(dns_histogram),
            dns_failures: Family::default(),
            store_calls: Family::new_with_constructor(store_histogram),
            store_errors: Family::default(),
            sessions: Family::default(),
            errors: Family::default(),
        };
        metrics.registered()
    }

    fn registered(mut self) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "messages",
            "Messages given a final verdict, by action",
            self.messages.clone(),
        );
        r.register(
            "symbol_hits",
            "Symbols that fired in final verdicts, by symbol",
            self.symbol_hits.clone(),
        );
        r.register_with_unit(
            "scan_duration",
            "Time from the start of a scan to its verdict, by kind (early: envelope only; final: with the message)",
            prometheus_client::registry::Unit::Seconds,
            self.scans.clone(),
        );
        r.register_with_unit(
            "check_duration",
            "Time each check took within a scan, by check",
            prometheus_client::registry::Unit::Seconds,
            self.checks.clone(),
        );
        r.register_with_unit(
            "dns_lookup_duration",
            "DNS questions sent to the nameservers (cache misses), by record type",
            prometheus_client::registry::Unit::Seconds,
            self.dns_lookups.clone(),
        );
        r.register(
            "dns_failures",
            "DNS questions that got no usable answer, by record type and reason (timeout, failed)",
            self.dns_failures.clone(),
        );
        r.register_with_unit(
            "store_call_duration",
            "Store calls, by operation",
            prometheus_client::registry::Unit::Seconds,
            self.store_calls.clone(),
        );
        r.register(
            "store_errors",
            "Store calls that failed, by operation",
            self.store_errors.clone(),
        );
        r.register(
            "sessions_active",
            "Connections being served now, by front-end (milter, policy)",
            self.sessions.clone(),
        );
        r.register(
            "errors",
            "Errors by kind (scan_panicked, scan_timed_out, milter_connection, policy_connection, api_scan)",
            self.errors.clone(),
        );
        self
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's recorder.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// A final verdict: its action and the symbols that fired.
pub fn verdict(action: &'static str, symbols: impl IntoIterator<Item = &'static str>) {
    let m = global();
    m.messages.get_or_create(&[("action", action)]).inc();
    for symbol in symbols {
        m.symbol_hits.get_or_create(&[("symbol", symbol)]).inc();
    }
}

/// A scan took `elapsed`; `kind` is "early" or "final".
pub fn scan(kind: &'static str, elapsed: Duration) {
    global()
        .scans
        .get_or_create(&[("kind", kind)])
        .observe(elapsed.as_secs_f64());
}

/// One check of a scan took `elapsed`.
pub fn check(check: &'static str, elapsed: Duration) {
    global()
        .checks
        .get_or_create(&[("check", check)])
        .observe(elapsed.as_secs_f64());
}

/// A DNS question went to the nameservers; `failure` is `None` when it got an answer
/// (NXDOMAIN is an answer), else "timeout" or "failed".
pub fn dns_lookup(record_type: &'static str, elapsed: Duration, failure: Option<&'static str>) {
    let m = global();
    m.dns_lookups
        .get_or_create(&[("type", record_type)])
        .observe(elapsed.as_secs_f64());
    if let Some(reason) = failure {
        m.dns_failures
            .get_or_create(&[("type", record_type), ("reason", reason)])
            .inc();
    }
}

/// A store call took `elapsed` and succeeded or not.
pub fn store_call(operation: &'static str, elapsed: Duration, ok: bool) {
    let m = global();
    m.store_calls
        .get_or_create(&[("operation", operation)])
        .observe(elapsed.as_secs_f64());
    if !ok {
        m.store_errors
            .get_or_create(&[("operation", operation)])
            .inc();
    }
}

/// An error that is not a store or DNS failure, by kind.
pub fn error(kind: &'static str) {
    global().errors.get_or_create(&[("kind", kind)]).inc();
}

/// A connection being served by `frontend`; the gauge goes down when this is dropped.
#[must_use = "the session counts as active until this is dropped"]
pub fn session(frontend: &'static str) -> ActiveSession {
    let gauge = global()
        .sessions
        .get_or_create(&[("frontend", frontend)])
        .clone();
    gauge.inc();
    ActiveSession(gauge)
}

/// One active connection ([`session`]).
#[derive(Debug)]
pub struct ActiveSession(Gauge);

impl Drop for ActiveSession {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_each_family_with_its_labels() {
        verdict("reject", ["SPF_FAIL"]);
        scan("final", Duration::from_millis(3));
        dns_lookup("TXT", Duration::from_millis(1), Some("timeout"));
        store_call("token_counts", Duration::from_micros(300), false);
        let active = session("milter");
        let text = global().encode();
        drop(active);
        for line in [
            "kanmon_messages_total{action=\"reject\"}",
            "kanmon_symbol_hits_total{symbol=\"SPF_FAIL\"}",
            "kanmon_scan_duration_seconds_bucket{le=\"0.005\",kind=\"final\"}",
            "kanmon_dns_failures_total{type=\"TXT\",reason=\"timeout\"}",
            "kanmon_store_errors_total{operation=\"token_counts\"}",
            "kanmon_sessions_active{frontend=\"milter\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            global()
                .encode()
                .contains("kanmon_sessions_active{frontend=\"milter\"} 0")
        );
    }
}
