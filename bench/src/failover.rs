//! `failover`: a three-node cluster under open-loop storage writes sent through the two
//! followers. Each round SIGKILLs the leader (as the cluster status reports it) and measures
//! the gap: from the kill until a write *sent after the kill* succeeds. Also how long until
//! the survivors report a new leader, and how long the killed node takes from restart to a
//! ready cluster of three again. The load is open loop so that requests held by the dead
//! leader do not stop new ones from being sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use shoal_tests::TestCluster;

use crate::load;
use crate::{http, report};

const NODES: usize = 3;
/// Users the writes are spread over.
const USERS: usize = 16;
/// Requests in flight at most: the rate times the request timeout, so hung requests never
/// hold back the schedule.
const SLOTS_PER_RATE: f64 = 10.0;
/// Steady writes before each kill.
const STEADY: Duration = Duration::from_secs(1);
/// How long one round waits for writes to resume and a new leader.
const RESUME_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct Round {
    pub killed: String,
    /// Kill → first success of a write sent after the kill.
    pub gap_ms: f64,
    /// Kill → the survivors' status names another leader.
    pub new_leader_ms: f64,
    pub new_leader: String,
    /// Restart of the killed node → all three ready with one leader.
    pub restart_to_ready_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub rate_per_s: f64,
    pub rounds: Vec<Round>,
    pub gap_p50_ms: f64,
    pub gap_p99_ms: f64,
    pub gap_max_ms: f64,
    /// Every write of the run (steady state, outages and restarts).
    pub writes: report::Result,
}

/// The nearest-rank `q` quantile of `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]
}

pub async fn run(rounds: usize, rate: f64) -> anyhow::Result<Figures> {
    let mut cluster = TestCluster::start(NODES, &[0, 1, 2], &["--logger.level", "warn"]).await?;
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base()).collect();
    let tokens = Arc::new(http::sessions(&bases, "bench-failover", USERS, USERS).await?);
    let targets: Arc<RwLock<Vec<String>>> = Arc::new(RwLock::new(bases.clone()));
    let epoch = Instant::now();
    let us = move || epoch.elapsed().as_micros() as u64;
    let (kill_at_us, first_ok_us) = (Arc::new(AtomicU64::new(u64::MAX)), Arc::new(AtomicU64::new(u64::MAX)));
    let slots = (rate * SLOTS_PER_RATE).ceil() as usize;
    let client = http::client(slots);
    let call = {
        let (targets, kill_at_us, first_ok_us) = (targets.clone(), kill_at_us.clone(), first_ok_us.clone());
        move |_, n: u64| {
            let base = {
                let t = targets.read().expect("targets");
                t[n as usize % t.len()].clone()
            };
            let body = json!({"objects": [{"collection": "bench", "key": format!("k{}", n % 100), "value": format!("{{\"n\":{n}}}")}]});
            let req = client.put(format!("{base}/v2/storage")).bearer_auth(&tokens[n as usize % USERS]).json(&body);
            let (kill_at_us, first_ok_us, sent) = (kill_at_us.clone(), first_ok_us.clone(), us());
            async move {
                http::send_ok(req).await?;
                if sent >= kill_at_us.load(Ordering::Relaxed) {
                    first_ok_us.fetch_min(us(), Ordering::Relaxed);
                }
                Ok(())
            }
        }
    };
    let mut out = Vec::new();
    let mut outcome = Ok(());
    let driver = async {
        outcome = async {
            for round in 0..rounds {
                cluster.wait_ready(NODES).await?;
                let leader = cluster.leader().await.context("no leader")?;
                *targets.write().expect("targets") =
                    bases.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, b)| b.clone()).collect();
                tokio::time::sleep(STEADY).await;
                first_ok_us.store(u64::MAX, Ordering::Relaxed);
                let killed_at = us();
                kill_at_us.store(killed_at, Ordering::Relaxed);
                cluster.nodes[leader].kill();
                // Polls the survivors' status until it names another leader and a write sent
                // after the kill has succeeded.
                let mut new_leader = None;
                while new_leader.is_none() || first_ok_us.load(Ordering::Relaxed) == u64::MAX {
                    anyhow::ensure!(us() - killed_at < RESUME_WAIT.as_micros() as u64, "writes did not resume within {RESUME_WAIT:?}");
                    if new_leader.is_none()
                        && let Some(l) = cluster.leader().await.filter(|&l| l != leader)
                    {
                        new_leader = Some((l, us()));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let (elected, elected_at) = new_leader.expect("polled until known");
                let gap_ms = first_ok_us.load(Ordering::Relaxed).saturating_sub(killed_at) as f64 / 1000.0;
                let restart = Instant::now();
                cluster.nodes[leader].spawn().await?;
                cluster.wait_ready(NODES).await?;
                let r = Round {
                    killed: cluster.nodes[leader].name.clone(),
                    gap_ms,
                    new_leader_ms: elected_at.saturating_sub(killed_at) as f64 / 1000.0,
                    new_leader: cluster.nodes[elected].name.clone(),
                    restart_to_ready_ms: restart.elapsed().as_secs_f64() * 1000.0,
                };
                println!(
                    "round {}: killed {} → writes resumed after {:.0} ms, {} leader after {:.0} ms; restarted and ready in {:.0} ms",
                    round + 1,
                    r.killed,
                    r.gap_ms,
                    r.new_leader,
                    r.new_leader_ms,
                    r.restart_to_ready_ms
                );
                out.push(r);
            }
            anyhow::Ok(())
        }
        .await;
    };
    let run = load::run_until(slots, Some(rate), driver, call).await;
    outcome?;
    let gaps: Vec<f64> = out.iter().map(|r| r.gap_ms).collect();
    Ok(Figures {
        rate_per_s: rate,
        gap_p50_ms: quantile(&gaps, 0.50),
        gap_p99_ms: quantile(&gaps, 0.99),
        gap_max_ms: quantile(&gaps, 1.0),
        rounds: out,
        writes: run.result("failover-writes", NODES),
    })
}

impl Figures {
    pub fn print(&self) {
        println!(
            "failover over {} leader kills: writes resumed after p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.rounds.len(),
            self.gap_p50_ms,
            self.gap_p99_ms,
            self.gap_max_ms
        );
        self.writes.print();
    }
}
