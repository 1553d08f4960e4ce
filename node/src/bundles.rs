//! Module bundles across the cluster (DESIGN.md "Module bundles and rolling upgrades").
//!
//! The cluster's current bundle lives in Raft. At start a node seeds it with its local
//! `runtime.path` if the cluster has none, then runs whatever the cluster has. A deploy
//! (console API, `shoal deploy`) is checked in a scratch VM, committed, then rolled out one
//! node at a time: each node builds a new VM pool and swaps it in for new calls (calls in
//! flight and running matches keep the old one), publishes its version in gossip, and only
//! then is the next node asked. A node that fails to load stops the rollout, and the cluster
//! goes back to the previous bundle the same way. A node that missed a rollout (down, or
//! cut off) catches up on its own.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use shoal_proto::Status;
use shoal_runtime::{ModuleBundle, PoolConfig, RuntimeHost, VmPool};
use shoal_storage::{BundleCommand, BundleRecord, Command, Reply};
use tokio::sync::Mutex;

use crate::core::Core;
use crate::realtime::Realtime;

/// How long one node may take to build and swap in a new pool.
pub const UPGRADE_TIMEOUT: Duration = Duration::from_secs(60);
/// A node whose version differs from the cluster's this long after a commit upgrades by
/// itself (it missed the rollout).
const CATCH_UP_AFTER: Duration = Duration::from_secs(20);
const CATCH_UP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a starting node keeps trying to read the cluster's bundle.
const STARTUP_BARRIER_FOR: Duration = Duration::from_secs(300);
/// How long a commit is retried while the cluster elects a leader.
const COMMIT_RETRY_FOR: Duration = Duration::from_secs(15);
/// How long a rollout waits for gossip to show a node's new version.
const GOSSIP_WAIT: Duration = Duration::from_secs(10);
/// Largest bundle accepted (all sources together).
pub const BUNDLE_MAX_BYTES: usize = 16 << 20;

/// How one node's step of a rollout went.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStep {
    pub node: String,
    pub ok: bool,
    pub ms: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// The outcome of a deploy or rollback.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub version: String,
    pub previous: String,
    pub steps: Vec<NodeStep>,
    /// Set when the rollout failed and the cluster went back to `previous`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rolled_back_because: String,
}

pub struct Bundles {
    core: Core,
    realtime: Realtime,
    host: Arc<dyn RuntimeHost>,
    /// One upgrade of this node at a time; one rollout driven from this node at a time.
    upgrading: Mutex<()>,
    rolling: Mutex<()>,
}

fn record_of(bundle: &ModuleBundle) -> BundleRecord {
    BundleRecord {
        version: bundle.version().to_string(),
        files: bundle.modules().iter().map(|m| (m.path.clone(), m.source.clone())).collect(),
        committed_at: crate::core::now(),
    }
}

fn bundle_of(record: &BundleRecord) -> Result<ModuleBundle, Status> {
    ModuleBundle::from_files(record.files.iter().map(|(p, s)| (p.clone(), s.clone()))).map_err(|e| Status::invalid(e.to_string()))
}

impl Bundles {
    pub fn new(core: Core, realtime: Realtime, host: Arc<dyn RuntimeHost>) -> Arc<Bundles> {
        Arc::new(Bundles { core, realtime, host, upgrading: Mutex::new(()), rolling: Mutex::new(()) })
    }

    fn pool_config(&self) -> PoolConfig {
        PoolConfig::from_node_config(&self.core.config)
    }

    /// The bundle this node starts with: the cluster's, seeded from `local` when the
    /// cluster has none yet.
    pub async fn startup_bundle(&self, local: ModuleBundle) -> anyhow::Result<ModuleBundle> {
        // A restart may meet an election or a slow catch-up: keep trying rather than exit.
        let deadline = Instant::now() + STARTUP_BARRIER_FOR;
        while let Err(e) = self.core.read_barrier().await {
            if Instant::now() >= deadline {
                anyhow::bail!("reading the cluster's bundle: {}", e.message);
            }
            tracing::info!(error = %e.message, "waiting for the cluster before loading its bundle");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let current = match self.core.reader.bundle_current()? {
            Some(c) => c,
            None => {
                self.core.propose(Command::Bundle(BundleCommand::Seed(record_of(&local)))).await.map_err(|e| anyhow::anyhow!("seeding the cluster's bundle: {}", e.message))?;
                self.core.read_barrier().await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
                self.core.reader.bundle_current()?.ok_or_else(|| anyhow::anyhow!("the seeded bundle is missing"))?
            }
        };
        if current.version != local.version() {
            tracing::warn!(
                local = %local.version(),
                cluster = %current.version,
                path = %self.core.config.runtime_path().display(),
                "local modules differ from the cluster's bundle; running the cluster's"
            );
        }
        Ok(bundle_of(&current)?)
    }

    /// Checks a bundle in a scratch VM; the error names the file and line.
    pub async fn validate(&self, files: Vec<(String, String)>) -> Result<ModuleBundle, Status> {
        let size: usize = files.iter().map(|(p, s)| p.len() + s.len()).sum();
        if size > BUNDLE_MAX_BYTES {
            return Err(Status::invalid(format!("bundle is {size} bytes; the limit is {BUNDLE_MAX_BYTES}")));
        }
        let bundle = ModuleBundle::from_files(files).map_err(|e| Status::invalid(e.to_string()))?;
        let mut config = self.pool_config();
        config.min_count = 1;
        config.max_count = 1;
        VmPool::validate(bundle.clone(), config, self.host.clone()).await.map_err(|e| Status::invalid(e.to_string()))?;
        Ok(bundle)
    }

    /// `POST /v2/console/bundle`: validate, commit, roll out (or back).
    pub async fn deploy(self: &Arc<Self>, files: Vec<(String, String)>) -> Result<Rollout, Status> {
        let _one = self.rolling.lock().await;
        let bundle = self.validate(files).await?;
        let previous = self.core.reader.bundle_current().map_err(crate::core::internal)?;
        self.commit_and_roll(record_of(&bundle), previous).await
    }

    /// `POST /v2/console/bundle/rollback`: back to the bundle before the current one.
    pub async fn rollback(self: &Arc<Self>) -> Result<Rollout, Status> {
        let _one = self.rolling.lock().await;
        self.core.read_barrier().await?;
        let previous = self.core.reader.bundle_previous().map_err(crate::core::internal)?.ok_or_else(|| Status::failed_precondition("There is no previous bundle to roll back to."))?;
        let current = self.core.reader.bundle_current().map_err(crate::core::internal)?;
        let mut target = previous;
        target.committed_at = crate::core::now();
        self.commit_and_roll(target, current).await
    }

    async fn commit_and_roll(self: &Arc<Self>, target: BundleRecord, previous: Option<BundleRecord>) -> Result<Rollout, Status> {
        let version = target.version.clone();
        self.propose_commit(target).await?;
        let mut rollout = Rollout {
            version: version.clone(),
            previous: previous.as_ref().map(|p| p.version.clone()).unwrap_or_default(),
            steps: Vec::new(),
            rolled_back_because: String::new(),
        };
        let upgraded = self.roll(&version, &mut rollout.steps).await;
        if let Err(failure) = upgraded {
            let Some(mut previous) = previous else {
                rollout.rolled_back_because = failure;
                return Ok(rollout);
            };
            tracing::warn!(version = %version, reason = %failure, "rollout failed; rolling back");
            rollout.rolled_back_because = failure;
            previous.committed_at = crate::core::now();
            let back = previous.version.clone();
            self.propose_commit(previous).await?;
            let mut back_steps = Vec::new();
            if let Err(e) = self.roll(&back, &mut back_steps).await {
                tracing::error!(version = %back, reason = %e, "rolling back failed too");
            }
            rollout.steps.extend(back_steps);
        }
        Ok(rollout)
    }

    /// Commits `record`, retrying while the cluster has no leader (a commit of the current
    /// version is a no-op, so a retry after an unknown outcome is safe).
    async fn propose_commit(&self, record: BundleRecord) -> Result<(), Status> {
        let deadline = Instant::now() + COMMIT_RETRY_FOR;
        loop {
            match self.core.propose(Command::Bundle(BundleCommand::Commit(record.clone()))).await {
                Ok(Reply::Bundle { .. }) => return Ok(()),
                Ok(_) => return Err(Status::internal()),
                Err(e) if e.code() == shoal_proto::ErrorCode::Unavailable && Instant::now() < deadline => {
                    tracing::info!(error = %e.message, "bundle commit waiting for a leader");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Upgrades every live node to `version`, one at a time in name order; stops at the
    /// first failure.
    async fn roll(&self, version: &str, steps: &mut Vec<NodeStep>) -> Result<(), String> {
        // Live members as gossip sees them (newest generation per name), in name order.
        let mut nodes: std::collections::BTreeMap<String, shoal_cluster::Member> = Default::default();
        for m in self.realtime.cluster.members().await {
            if nodes.get(&m.name).is_none_or(|old| old.generation < m.generation) {
                nodes.insert(m.name.clone(), m);
            }
        }
        for (node, member) in nodes {
            let started = Instant::now();
            let result = if node == *self.realtime.node {
                self.upgrade_local(version).await
            } else {
                match member.cluster_addr.parse() {
                    Ok(addr) => self.realtime.request_upgrade(addr, version, UPGRADE_TIMEOUT).await,
                    Err(_) => Err(Status::unavailable(format!("bad cluster address {}", member.cluster_addr))),
                }
            };
            if result.is_ok() {
                self.wait_gossip(&node, version).await;
            }
            let ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(()) => steps.push(NodeStep { node, ok: true, ms, error: String::new() }),
                Err(e) => {
                    let why = format!("{node}: {}", e.message);
                    steps.push(NodeStep { node, ok: false, ms, error: e.message });
                    return Err(why);
                }
            }
        }
        Ok(())
    }

    /// Waits (bounded) until gossip shows `node` running `version`, so the console status
    /// reflects each step before the next node starts.
    async fn wait_gossip(&self, node: &str, version: &str) {
        let deadline = Instant::now() + GOSSIP_WAIT;
        while Instant::now() < deadline {
            let members = self.realtime.cluster.members().await;
            if members.iter().filter(|m| m.name == node).max_by_key(|m| m.generation).is_some_and(|m| m.bundle_version == version) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(node, version, "gossip did not show the upgrade in time; continuing");
    }

    /// Builds a pool from the committed bundle `version` and swaps it in for new calls.
    pub async fn upgrade_local(&self, version: &str) -> Result<(), Status> {
        let _one = self.upgrading.lock().await;
        if self.core.runtime.get().is_some_and(|p| p.version() == version) {
            return Ok(());
        }
        self.core.read_barrier().await?;
        let record = self.core.reader.bundle_current().map_err(crate::core::internal)?;
        let record = match record {
            Some(r) if r.version == version => r,
            _ => return Err(Status::failed_precondition(format!("bundle {version} is not the cluster's current bundle"))),
        };
        let bundle = bundle_of(&record)?;
        let pool = VmPool::new(bundle, self.pool_config(), self.host.clone()).await.map_err(|e| {
            tracing::error!(version, error = %e, "the new bundle failed to load on this node");
            Status::invalid(e.to_string())
        })?;
        let old = self.core.runtime.set(pool);
        self.realtime.cluster.publish(shoal_cluster::gossip_keys::BUNDLE_VERSION, version).await;
        tracing::info!(version, previous = %old.map(|p| p.version().to_string()).unwrap_or_default(), "module bundle upgraded");
        Ok(())
    }
}

/// Upgrades this node when it runs another version than the cluster's well after the
/// commit (it was down or cut off during the rollout).
pub async fn catch_up_loop(weak: Weak<Bundles>) {
    let mut tick = tokio::time::interval(CATCH_UP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(b) = weak.upgrade() else { return };
        let Ok(Some(current)) = b.core.reader.bundle_current() else { continue };
        let running = b.core.runtime.get().map(|p| p.version().to_string()).unwrap_or_default();
        let age = crate::core::now() - current.committed_at;
        if running != current.version && age >= CATCH_UP_AFTER.as_secs() as i64 && b.rolling.try_lock().is_ok() {
            tracing::info!(running = %running, cluster = %current.version, "catching up with the cluster's bundle");
            if let Err(e) = b.upgrade_local(&current.version).await {
                tracing::warn!(error = %e.message, "catching up with the cluster's bundle failed");
            }
        }
    }
}
