//! The load loop every request/response scenario shares. `clients` workers run a call
//! until the window ends:
//!
//! - closed loop (default): each worker sends its next request when the last one answered,
//!   latency from send to answer;
//! - open loop (`rate`): requests are due at a fixed total arrival rate whatever the
//!   answers; a free worker takes the next due slot, waits for its time and sends. Latency
//!   counts from the due time, so a server that falls behind shows it as latency instead of
//!   being sent less (no coordinated omission); `clients` bounds the requests in flight.
//!
//! Failures are counted by kind. Server CPU/RSS are sampled over the same window.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::report;
use crate::sysstat::{Sampler, SysStats};

/// One call's outcome: `Err(kind)` names the failure (`http 503`, `timeout`, …).
pub type Outcome = Result<(), String>;

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub clients: usize,
    pub seconds: u64,
    /// Total arrivals per second (open loop); None is closed loop.
    pub rate: Option<f64>,
}

impl Load {
    pub fn closed(clients: usize, seconds: u64) -> Load {
        Load { clients, seconds, rate: None }
    }
}

/// What one window measured.
pub struct Run {
    pub clients: usize,
    pub rate: Option<f64>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    pub sys: SysStats,
}

impl Run {
    pub fn result(&self, scenario: &str, nodes: usize) -> report::Result {
        let h = &self.latency;
        let secs = self.elapsed.as_secs_f64();
        report::Result {
            scenario: scenario.into(),
            nodes,
            clients: self.clients,
            mode: if self.rate.is_some() { "open" } else { "closed" }.into(),
            target_rate_per_s: self.rate,
            duration_s: secs,
            ok: h.len(),
            errors: self.errors.values().sum(),
            errors_by_kind: self.errors.clone(),
            throughput_per_s: h.len() as f64 / secs,
            p50_ms: report::quantile_ms(h, 0.50),
            p90_ms: report::quantile_ms(h, 0.90),
            p99_ms: report::quantile_ms(h, 0.99),
            p999_ms: report::quantile_ms(h, 0.999),
            max_ms: h.max() as f64 / 1000.0,
            sys: self.sys.clone(),
        }
    }
}

/// Runs `call(worker, n)` (n counts from 1 per worker in closed loop, is the global slot
/// number in open loop) for `load.seconds`.
pub async fn run<F, Fut>(load: Load, call: F) -> Run
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    run_until(load.clients, load.rate, tokio::time::sleep(Duration::from_secs(load.seconds)), call).await
}

/// As [`run`], until `stop` completes.
pub async fn run_until<F, Fut>(clients: usize, rate: Option<f64>, stop: impl Future<Output = ()>, call: F) -> Run
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = Sampler::start();
    let start = Instant::now();
    let pace = rate.map(|rate| Arc::new(Pace { start, rate, next: AtomicU64::new(0) }));
    let tasks: Vec<_> = (0..clients).map(|i| tokio::spawn(worker(i, pace.clone(), stop_rx.clone(), call.clone()))).collect();
    stop.await;
    let _ = stop_tx.send(true);
    let elapsed = start.elapsed();
    let sys = sampler.stop().await;
    let (mut latency, mut errors) = (report::histogram(), BTreeMap::new());
    for t in tasks {
        if let Ok((h, e)) = t.await {
            let _ = latency.add(h);
            merge_errors(&mut errors, e);
        }
    }
    Run { clients, rate, elapsed, latency, errors, sys }
}

/// Adds the counts of `from` into `into`.
pub fn merge_errors(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

/// The open loop's schedule: slot k is due at `start + k / rate`.
struct Pace {
    start: Instant,
    rate: f64,
    next: AtomicU64,
}

impl Pace {
    fn take(&self) -> (u64, Instant) {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        (k, self.start + Duration::from_secs_f64(k as f64 / self.rate))
    }
}

async fn worker<F, Fut>(i: usize, pace: Option<Arc<Pace>>, mut stop: watch::Receiver<bool>, call: F) -> (Histogram<u64>, BTreeMap<String, u64>)
where
    F: Fn(usize, u64) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let (mut h, mut errors) = (report::histogram(), BTreeMap::new());
    let mut n = 0u64;
    while !*stop.borrow() {
        let since = match &pace {
            None => {
                n += 1;
                Instant::now()
            }
            Some(p) => {
                let (k, due) = p.take();
                n = k;
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = stop.changed() => break,
                }
                due
            }
        };
        match call(i, n).await {
            Ok(()) => report::record(&mut h, since.elapsed()),
            Err(kind) => *errors.entry(kind).or_insert(0) += 1,
        }
    }
    (h, errors)
}
