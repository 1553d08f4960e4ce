//! Latency histograms and the result record every scenario prints and writes as JSON.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

#[derive(Debug, Serialize)]
pub struct Result {
    pub scenario: String,
    pub nodes: usize,
    pub clients: usize,
    pub duration_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Result {
    pub fn new(scenario: &str, nodes: usize, clients: usize, elapsed: Duration, h: &Histogram<u64>, errors: u64) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Result {
            scenario: scenario.into(),
            nodes,
            clients,
            duration_s: elapsed.as_secs_f64(),
            ok: h.len(),
            errors,
            throughput_per_s: h.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }

    pub fn table_row(&self) -> String {
        format!(
            "{:<24} {:>5} {:>7} {:>10.0}/s {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
            self.scenario, self.nodes, self.clients, self.throughput_per_s, self.p50_ms, self.p90_ms, self.p99_ms,
            self.p999_ms, self.max_ms, self.errors
        )
    }

    pub fn table_header() -> String {
        format!(
            "{:<24} {:>5} {:>7} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "scenario", "nodes", "clients", "throughput", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "errors"
        )
    }
}
