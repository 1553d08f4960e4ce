//! The nemesis: injects one fault at a time on a schedule drawn from the seeded RNG,
//! heals it, and waits for the cluster to be ready again before the next. Never more
//! than a minority of the nodes is down, paused or cut off at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use serde_json::json;

use crate::cluster::{Cluster, MODULE};
use crate::history::{History, Micros, secs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    KillLeader,
    KillRandom,
    Pause,
    PartitionLeader,
    PartitionMinority,
    Mixed,
    /// Kill a node for longer than `cluster.dead_node_grace_sec`, so the leader removes
    /// it from the voters, then restart it: it must rejoin and be promoted again.
    Membership,
    /// Restart a follower and kill the leader while the follower is still starting.
    RestartOverlap,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillLeader => "kill-leader",
            Scenario::KillRandom => "kill-random",
            Scenario::Pause => "pause",
            Scenario::PartitionLeader => "partition-leader",
            Scenario::PartitionMinority => "partition-minority",
            Scenario::Mixed => "mixed",
            Scenario::Membership => "membership",
            Scenario::RestartOverlap => "restart-overlap",
        }
    }

    pub fn faults(self) -> Vec<Fault> {
        use Fault::*;
        match self {
            Scenario::KillLeader => vec![KillLeader],
            Scenario::KillRandom => vec![KillRandom],
            Scenario::Pause => vec![PauseLeader, PauseRandom],
            Scenario::PartitionLeader => vec![PartitionLeader],
            Scenario::PartitionMinority => vec![PartitionMinority],
            Scenario::Mixed => Fault::ALL.to_vec(),
            Scenario::Membership => vec![KillLong, KillLeader, KillLong, PauseLeader],
            Scenario::RestartOverlap => vec![RestartOverlap],
        }
    }

    /// Node flags the scenario needs unless the user sets them.
    pub fn node_flags(self) -> Vec<(String, String)> {
        match self {
            Scenario::Membership => vec![("cluster.dead_node_grace_sec".into(), "6".into())],
            _ => Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    KillLeader,
    KillRandom,
    PauseLeader,
    PauseRandom,
    PartitionLeader,
    PartitionMinority,
    /// Cut the link between two nodes only; both still reach the rest.
    PartitionBridge,
    /// Deploy a new module bundle through a random node; the rollout runs on while the
    /// next faults happen.
    Deploy,
    /// SIGKILL one node for longer than the dead-node grace, then restart it.
    KillLong,
    /// SIGKILL a follower, restart it, and SIGKILL the leader 0.1–1.5 s later, while the
    /// follower is still starting (one node down at a time); restart the leader after
    /// 0.3–3 s.
    RestartOverlap,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::KillLeader,
        Fault::KillRandom,
        Fault::PauseLeader,
        Fault::PauseRandom,
        Fault::PartitionLeader,
        Fault::PartitionMinority,
        Fault::PartitionBridge,
        Fault::Deploy,
        Fault::RestartOverlap,
    ];
    pub fn is_partition(self) -> bool {
        matches!(self, Fault::PartitionLeader | Fault::PartitionMinority | Fault::PartitionBridge)
    }
}

/// How long a deploy may take to answer (validation, commit, every node's swap).
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(180);

/// How the schedule picks faults: at random from the scenario's list, or in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Random,
    RoundRobin,
}

#[derive(Clone, Debug)]
pub struct TimelineEvent {
    pub at: Micros,
    pub text: String,
}

/// A moment the cluster lost its leader (kill, pause or isolation of the leader).
#[derive(Clone, Debug)]
pub struct LeaderLoss {
    pub at: Micros,
    pub cause: &'static str,
}

#[derive(Default)]
pub struct NemesisReport {
    pub timeline: Vec<TimelineEvent>,
    /// SIGKILLs whose node came back and the cluster was ready again.
    pub kill_cycles: usize,
    pub leader_kills: usize,
    pub pauses: usize,
    pub partitions: usize,
    pub leader_losses: Vec<LeaderLoss>,
    /// Time from healing a fault to the cluster being ready, per fault.
    pub recoveries: Vec<Duration>,
    /// The cluster did not come back (the run stops injecting faults then).
    pub liveness: Vec<String>,
    pub skipped_partitions: bool,
    /// Rolling deploys started.
    pub deploys: usize,
}

pub struct Nemesis<'a> {
    cluster: &'a mut Cluster,
    history: Arc<History>,
    rng: StdRng,
    faults: Vec<Fault>,
    order: Order,
    pub report: NemesisReport,
    /// How long the cluster gets to be ready again after a fault.
    pub recovery_timeout: Duration,
    /// Nodes the current fault SIGKILLed (counted as cycles once the cluster is ready).
    last_kill_count: usize,
    /// Deploys in flight, and what they reported when done.
    deploying: Vec<tokio::task::JoinHandle<()>>,
    deploy_log: Arc<Mutex<Vec<TimelineEvent>>>,
}

impl<'a> Nemesis<'a> {
    pub fn new(cluster: &'a mut Cluster, history: Arc<History>, seed: u64, faults: Vec<Fault>, order: Order) -> Nemesis<'a> {
        let mut report = NemesisReport::default();
        let faults = if cluster.partitions {
            faults
        } else {
            report.skipped_partitions = faults.iter().any(|f| f.is_partition());
            faults.into_iter().filter(|f| !f.is_partition()).collect()
        };
        Nemesis { cluster, history, rng: StdRng::seed_from_u64(seed), faults, order, report, recovery_timeout: Duration::from_secs(60), last_kill_count: 0, deploying: Vec::new(), deploy_log: Default::default() }
    }

    fn log(&mut self, text: String) {
        let at = self.history.now();
        eprintln!("[{:>9}] {text}", secs(at));
        self.report.timeline.push(TimelineEvent { at, text });
    }

    fn minority(&self) -> usize {
        (self.cluster.nodes.len() - 1) / 2
    }

    fn name(&self, i: usize) -> String {
        self.cluster.nodes[i].name.clone()
    }

    fn names(&self, v: &[usize]) -> String {
        v.iter().map(|&i| self.name(i)).collect::<Vec<_>>().join(",")
    }

    async fn sleep_ms(&mut self, lo: u64, hi: u64) -> Duration {
        let d = Duration::from_millis(self.rng.random_range(lo..=hi));
        tokio::time::sleep(d).await;
        d
    }

    /// Injects faults until `deadline`, heals everything, and waits for deploys in flight.
    pub async fn run(&mut self, deadline: Instant) {
        self.inject_until(deadline).await;
        for h in std::mem::take(&mut self.deploying) {
            let _ = tokio::time::timeout(DEPLOY_TIMEOUT, h).await;
        }
        let done = std::mem::take(&mut *self.deploy_log.lock().expect("deploy log"));
        self.report.timeline.extend(done);
        self.report.timeline.sort_by_key(|e| e.at);
    }

    async fn inject_until(&mut self, deadline: Instant) {
        if self.report.skipped_partitions {
            self.log("partition faults SKIPPED: the nodes do not serve POST /v2/console/debug/partition".into());
        }
        if self.faults.is_empty() || self.minority() == 0 {
            self.log("no faults to inject (no applicable fault, or too few nodes for a minority)".into());
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
            return;
        }
        let mut turn = 0;
        // After starting a deploy, the next fault follows at once so that it hits the
        // rollout in progress.
        let mut hit_the_rollout = false;
        while Instant::now() < deadline {
            if !hit_the_rollout {
                self.sleep_ms(1000, 3000).await;
            }
            if Instant::now() >= deadline {
                break;
            }
            let fault = match self.order {
                Order::Random => *self.faults.choose(&mut self.rng).expect("faults"),
                Order::RoundRobin => self.faults[turn % self.faults.len()],
            };
            turn += 1;
            if let Err(e) = self.inject(fault).await {
                self.log(format!("fault {fault:?} could not be applied: {e:#}"));
            }
            hit_the_rollout = fault == Fault::Deploy && self.faults.iter().any(|f| *f != Fault::Deploy);
            if hit_the_rollout {
                continue;
            }
            if let Err(e) = self.cluster.heal().await {
                self.report.liveness.push(format!("healing after {fault:?}: {e:#}"));
                self.log(format!("heal failed: {e:#}"));
                return;
            }
            match self.cluster.wait_ready(self.recovery_timeout).await {
                Ok(d) => {
                    self.report.recoveries.push(d);
                    self.log(format!("cluster ready again after {:.2}s", d.as_secs_f64()));
                    if matches!(fault, Fault::KillLeader | Fault::KillRandom | Fault::KillLong | Fault::RestartOverlap) {
                        self.report.kill_cycles += self.last_kill_count;
                    }
                }
                Err(e) => {
                    self.report.liveness.push(format!("after {fault:?}: {e:#}"));
                    self.log(format!("cluster did NOT recover: {e:#}"));
                    return;
                }
            }
        }
    }

    async fn leader(&mut self) -> anyhow::Result<usize> {
        self.cluster.wait_leader(Duration::from_secs(10)).await.ok_or_else(|| anyhow::anyhow!("no leader within 10 s"))
    }

    /// Picks `k` distinct random nodes, or the leader plus k-1 others.
    fn pick(&mut self, k: usize, include: Option<usize>) -> Vec<usize> {
        let mut all: Vec<usize> = (0..self.cluster.nodes.len()).filter(|i| Some(*i) != include).collect();
        all.shuffle(&mut self.rng);
        let mut v: Vec<usize> = include.into_iter().collect();
        v.extend(all.into_iter().take(k - v.len()));
        v.sort();
        v
    }

    async fn inject(&mut self, fault: Fault) -> anyhow::Result<()> {
        self.last_kill_count = 0;
        match fault {
            Fault::KillLong => {
                let victim = self.pick(1, None)[0];
                let was_leader = self.cluster.leader().await == Some(victim);
                self.cluster.nodes[victim].kill();
                self.log(format!("SIGKILL {}{} for longer than the dead-node grace", self.name(victim), if was_leader { " (leader)" } else { "" }));
                if was_leader {
                    self.report.leader_kills += 1;
                    self.report.leader_losses.push(LeaderLoss { at: self.history.now(), cause: "kill" });
                }
                let grace = self.cluster.dead_node_grace.as_millis() as u64;
                let down = self.sleep_ms(grace + 4000, grace + 8000).await;
                self.cluster.restart(victim)?;
                self.log(format!("restart {} after {:.2}s down", self.name(victim), down.as_secs_f64()));
                self.last_kill_count = 1;
            }
            Fault::RestartOverlap => {
                let leader = self.leader().await?;
                let follower = self.pick(2, Some(leader)).into_iter().find(|&i| i != leader).expect("a follower");
                self.cluster.nodes[follower].kill();
                self.log(format!("SIGKILL {}", self.name(follower)));
                self.sleep_ms(300, 1500).await;
                self.cluster.restart(follower)?;
                self.log(format!("restart {}", self.name(follower)));
                self.sleep_ms(100, 1500).await;
                self.cluster.nodes[leader].kill();
                self.log(format!("SIGKILL {} (leader) while {} starts", self.name(leader), self.name(follower)));
                self.report.leader_kills += 1;
                self.report.leader_losses.push(LeaderLoss { at: self.history.now(), cause: "kill" });
                let down = self.sleep_ms(300, 3000).await;
                self.cluster.restart(leader)?;
                self.log(format!("restart {} after {:.2}s down", self.name(leader), down.as_secs_f64()));
                self.last_kill_count = 2;
            }
            Fault::KillLeader | Fault::KillRandom => {
                let leader = self.leader().await.ok();
                let k = self.rng.random_range(1..=self.minority());
                let victims = if fault == Fault::KillLeader {
                    self.pick(k, Some(leader.ok_or_else(|| anyhow::anyhow!("no leader to kill"))?))
                } else {
                    self.pick(k, None)
                };
                let has_leader = leader.is_some_and(|l| victims.contains(&l));
                for &v in &victims {
                    self.cluster.nodes[v].kill();
                }
                self.log(format!("SIGKILL {}{}", self.names(&victims), if has_leader { " (leader)" } else { "" }));
                if has_leader {
                    self.report.leader_kills += 1;
                    self.report.leader_losses.push(LeaderLoss { at: self.history.now(), cause: "kill" });
                }
                let down = self.sleep_ms(300, 3000).await;
                for &v in &victims {
                    self.cluster.restart(v)?;
                }
                self.log(format!("restart {} after {:.2}s down", self.names(&victims), down.as_secs_f64()));
                self.last_kill_count = victims.len();
            }
            Fault::PauseLeader | Fault::PauseRandom => {
                let victim = if fault == Fault::PauseLeader { self.leader().await? } else { self.pick(1, None)[0] };
                let was_leader = fault == Fault::PauseLeader || self.cluster.leader().await == Some(victim);
                self.cluster.nodes[victim].pause()?;
                self.log(format!("SIGSTOP {}{}", self.name(victim), if was_leader { " (leader)" } else { "" }));
                if was_leader {
                    self.report.leader_losses.push(LeaderLoss { at: self.history.now(), cause: "pause" });
                }
                let e = self.cluster.election_timeout_max.as_millis() as u64;
                let held = self.sleep_ms(2 * e, 4 * e).await;
                self.cluster.nodes[victim].resume()?;
                self.log(format!("SIGCONT {} after {:.2}s", self.name(victim), held.as_secs_f64()));
                self.report.pauses += 1;
            }
            Fault::PartitionLeader | Fault::PartitionMinority => {
                let side = if fault == Fault::PartitionLeader {
                    let l = self.leader().await?;
                    self.pick(1, Some(l))
                } else {
                    let k = self.rng.random_range(1..=self.minority());
                    self.pick(k, None)
                };
                let leader = self.cluster.leader().await;
                let has_leader = leader.is_some_and(|l| side.contains(&l));
                self.cluster.partition(&side).await?;
                let rest: Vec<usize> = (0..self.cluster.nodes.len()).filter(|i| !side.contains(i)).collect();
                self.log(format!("partition {} | {}{}", self.names(&side), self.names(&rest), if has_leader { " (leader isolated)" } else { "" }));
                if has_leader {
                    self.report.leader_losses.push(LeaderLoss { at: self.history.now(), cause: "partition" });
                }
                let held = self.sleep_ms(3000, 8000).await;
                self.cluster.partition(&[]).await?;
                self.log(format!("heal partition after {:.2}s", held.as_secs_f64()));
                self.report.partitions += 1;
            }
            Fault::Deploy => {
                self.report.deploys += 1;
                let n = self.report.deploys;
                let via = self.pick(1, None)[0];
                let name = self.name(via);
                self.log(format!("deploy bundle #{n} through {name} (rollout continues in the background)"));
                let (api, console, history, log) = (self.cluster.api.clone(), self.cluster.nodes[via].console(), self.history.clone(), self.deploy_log.clone());
                let body = json!({ "files": { "chaos.lua": format!("{MODULE}\n-- chaos deploy {n}\n") } });
                self.deploying.push(tokio::spawn(async move {
                    let r = api.console_post(&console, "/v2/console/bundle", &body, DEPLOY_TIMEOUT).await;
                    let text = match r {
                        Ok(r) if r.status == 200 => {
                            let v = &r.body;
                            let steps: Vec<String> = v["steps"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|s| format!("{}{}", s["node"].as_str().unwrap_or("?"), if s["ok"] == true { "" } else { " FAILED" }))
                                .collect();
                            let back = v["rolled_back_because"].as_str().unwrap_or("");
                            let version: String = v["version"].as_str().unwrap_or("").chars().take(12).collect();
                            if back.is_empty() {
                                format!("deploy #{n} via {name}: version {version} rolled out ({})", steps.join(", "))
                            } else {
                                format!("deploy #{n} via {name}: version {version} ROLLED BACK: {back} ({})", steps.join(", "))
                            }
                        }
                        Ok(r) => format!("deploy #{n} via {name}: {} {}", r.status, r.body),
                        Err(e) => format!("deploy #{n} via {name}: no answer ({e:?})"),
                    };
                    eprintln!("[{:>9}] {text}", secs(history.now()));
                    log.lock().expect("deploy log").push(TimelineEvent { at: history.now(), text });
                }));
            }
            Fault::PartitionBridge => {
                let pair = self.pick(2, None);
                self.cluster.cut_link(pair[0], pair[1]).await?;
                self.log(format!("cut link {} <-> {} (both still reach the others)", self.name(pair[0]), self.name(pair[1])));
                let held = self.sleep_ms(3000, 8000).await;
                self.cluster.partition(&[]).await?;
                self.log(format!("restore link after {:.2}s", held.as_secs_f64()));
                self.report.partitions += 1;
            }
        }
        Ok(())
    }
}
