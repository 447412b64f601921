//! Prometheus counters for `GET /metrics`: requests by endpoint and status, a latency
//! histogram, reloads, and the served model's version.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// What the server has answered so far.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    // cumulative counts, one per bucket, then +Inf
    buckets: [AtomicU64; BUCKETS.len() + 1],
    micros: AtomicU64,
    /// Reloads that swapped a model in.
    pub(crate) reloads: AtomicU64,
    /// Reloads refused (the model did not load; the old one kept serving).
    pub(crate) refused: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub(crate) fn record(&self, endpoint: &'static str, status: u16, took: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry((endpoint, status)).or_default() += 1;
        drop(requests);
        let s = took.as_secs_f64();
        let at = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[at].fetch_add(1, Ordering::Relaxed);
        self.micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter, with the model's `version`.
    pub(crate) fn render(&self, version: u64) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP netrex_requests_total Requests answered, by endpoint and status.\n");
        out.push_str("# TYPE netrex_requests_total counter\n");
        for ((endpoint, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "netrex_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP netrex_request_seconds Time to answer a request.\n");
        out.push_str("# TYPE netrex_request_seconds histogram\n");
        let mut total = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            total += count.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "netrex_request_seconds_bucket{{le=\"{le}\"}} {total}");
        }
        let seconds = self.micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "netrex_request_seconds_sum {seconds}");
        let _ = writeln!(out, "netrex_request_seconds_count {total}");
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "netrex_reloads_total",
            "Models swapped in.",
            self.reloads.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "netrex_reloads_refused_total",
            "Reloads refused; the old model kept serving.",
            self.refused.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP netrex_model_version The served model's version (1 at start, +1 a reload).\n# TYPE netrex_model_version gauge\nnetrex_model_version {version}"
        );
        out
    }
}
