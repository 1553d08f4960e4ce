//! Latency histograms and the result record every request/response scenario prints and
//! writes as JSON.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::sysstat::SysStats;

/// Latencies in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Records `d` (at least 1 µs) into `h`.
pub fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    h.saturating_record(d.as_micros().clamp(1, u64::MAX as u128) as u64);
}

/// Milliseconds of a histogram quantile.
pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[derive(Debug, Clone, Serialize)]
pub struct Result {
    pub scenario: String,
    pub nodes: usize,
    pub clients: usize,
    /// "closed" (each client waits for its answer) or "open" (fixed arrival rate).
    pub mode: String,
    pub target_rate_per_s: Option<f64>,
    pub duration_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub sys: SysStats,
}

impl Result {
    pub fn table_row(&self) -> String {
        let mut row = format!(
            "{:<28} {:>5} {:>7} {:>10.0}/s {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>8.0} {:>8.0} {:>8.0}",
            self.label(),
            self.nodes,
            self.clients,
            self.throughput_per_s,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.errors,
            self.sys.server_cpu_pct,
            self.sys.server_rss_peak_mb,
            self.sys.client_cpu_pct
        );
        if !self.errors_by_kind.is_empty() {
            row.push_str(&format!("\n    errors: {}", errors_text(&self.errors_by_kind)));
        }
        row
    }

    /// CPU microseconds per answered request: (server, load generator).
    pub fn cpu_us_per_request(&self) -> (f64, f64) {
        let per = |pct: f64| pct / 100.0 * self.sys.window_s * 1e6 / self.ok.max(1) as f64;
        (per(self.sys.server_cpu_pct), per(self.sys.client_cpu_pct))
    }

    /// The scenario name, with the arrival rate for an open-loop run.
    pub fn label(&self) -> String {
        match self.target_rate_per_s {
            Some(rate) => format!("{} (open {rate:.0}/s)", self.scenario),
            None => self.scenario.clone(),
        }
    }

    pub fn table_header() -> String {
        format!(
            "{:<28} {:>5} {:>7} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8}",
            "scenario", "nodes", "clients", "throughput", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "errors", "srv cpu%",
            "srv MB", "cli cpu%"
        )
    }

    pub fn print(&self) {
        println!("{}", Self::table_header());
        println!("{}", self.table_row());
    }
}

/// `http 503 ×12, timeout ×3`, most frequent first.
pub fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = errors.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ")
}
