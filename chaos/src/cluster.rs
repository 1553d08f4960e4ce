//! The supervised cluster: N real `shoal` processes on loopback, each with its own ports,
//! data dir and log, plus the faults the nemesis applies to them (SIGKILL and restart,
//! SIGSTOP/SIGCONT, partitions through the console's fault seam).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Deserialize;
use serde_json::json;

use crate::client::Api;
use crate::node::{NodeProc, free_port, strip_ansi};

/// The Lua module every node loads.
pub const MODULE: &str = include_str!("../modules/chaos.lua");

/// Shoal's default election timeout upper bound (`cluster.election_timeout_max_ms`).
const ELECTION_TIMEOUT_MAX_MS_DEFAULT: u64 = 600;
/// Longer than any fault but the membership scenario's long kill, which lowers it.
const DEAD_NODE_GRACE_SEC_DEFAULT: u64 = 120;

/// One member of `GET /v2/console/cluster`.
#[derive(Debug, Clone, Deserialize)]
pub struct MemberStatus {
    pub name: String,
    #[serde(default)]
    pub raft_role: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub term: u64,
    #[serde(default)]
    pub applied_index: u64,
    #[serde(default)]
    pub bundle_version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClusterStatus {
    #[serde(default)]
    pub leader: String,
    #[serde(default)]
    pub nodes: Vec<MemberStatus>,
}

impl ClusterStatus {
    pub fn me(&self, name: &str) -> Option<&MemberStatus> {
        self.nodes.iter().find(|m| m.name == name)
    }
}

pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub bin: PathBuf,
    pub api: Api,
    /// Whether the nodes serve `POST /v2/console/debug/partition`.
    pub partitions: bool,
    /// The nodes' election timeout upper bound; pauses last longer than this.
    pub election_timeout_max: Duration,
    /// How long a dead node stays a voter (`cluster.dead_node_grace_sec`).
    pub dead_node_grace: Duration,
}

impl Cluster {
    /// Lays out `n` nodes under `dir` (ports, data dirs, the module) without starting them.
    /// `extra` are `(key, value)` config flags passed to every node as `--key value`.
    pub fn new(n: usize, bin: PathBuf, dir: PathBuf, extra: &[(String, String)]) -> anyhow::Result<Cluster> {
        let modules = dir.join("modules");
        std::fs::create_dir_all(&modules)?;
        std::fs::write(modules.join("chaos.lua"), MODULE)?;
        let mut nodes: Vec<NodeProc> = Vec::new();
        let mut used = BTreeSet::new();
        let mut port = |udp: bool| -> anyhow::Result<u16> {
            loop {
                let p = free_port(udp)?;
                if used.insert(p) {
                    return Ok(p);
                }
            }
        };
        for i in 0..n {
            let name = format!("n{}", i + 1);
            let (api_port, console_port, cluster_port) = (port(false)?, port(false)?, port(true)?);
            let ndir = dir.join(&name);
            std::fs::create_dir_all(&ndir)?;
            let seed = nodes.first().map(|f: &NodeProc| f.cluster_port).unwrap_or(cluster_port);
            let mut flags: Vec<(String, String)> = [
                ("name", name.clone()),
                ("data_dir", ndir.join("data").display().to_string()),
                ("socket.port", api_port.to_string()),
                ("console.port", console_port.to_string()),
                ("cluster.port", cluster_port.to_string()),
                ("cluster.secret", "chaos-secret".into()),
                ("cluster.bootstrap_expect", n.to_string()),
                ("cluster.seeds", format!("127.0.0.1:{seed}")),
                ("cluster.dead_node_grace_sec", DEAD_NODE_GRACE_SEC_DEFAULT.to_string()),
                ("cluster.fault_injection", "true".into()),
                ("session.token_expiry_sec", "7200".into()),
                ("session.refresh_token_expiry_sec", "86400".into()),
                ("runtime.path", modules.display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            // Extra flags override the defaults above.
            for (k, v) in extra {
                match flags.iter_mut().find(|(fk, _)| fk == k) {
                    Some(f) => f.1 = v.clone(),
                    None => flags.push((k.clone(), v.clone())),
                }
            }
            let args: Vec<String> = flags.into_iter().flat_map(|(k, v)| [format!("--{k}"), v]).collect();
            nodes.push(NodeProc { name, api_port, console_port, cluster_port, dir: ndir, args, child: None, paused: false, starts: 0 });
        }
        let flag = |key: &str, default: u64| extra.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(default);
        Ok(Cluster {
            nodes,
            bin,
            api: Api::new()?,
            partitions: false,
            election_timeout_max: Duration::from_millis(flag("cluster.election_timeout_max_ms", ELECTION_TIMEOUT_MAX_MS_DEFAULT)),
            dead_node_grace: Duration::from_secs(flag("cluster.dead_node_grace_sec", DEAD_NODE_GRACE_SEC_DEFAULT)),
        })
    }

    /// Starts every node and waits until the cluster is ready.
    pub async fn start(&mut self, timeout: Duration) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            self.nodes[i].launch(&self.bin)?;
        }
        self.wait_ready(timeout).await?;
        self.partitions = self.probe_partitions().await;
        Ok(())
    }

    async fn probe_partitions(&self) -> bool {
        let r = self.api.console_post(&self.nodes[0].console(), "/v2/console/debug/partition", &json!({"blocked": []}), Duration::from_secs(3)).await;
        matches!(r, Ok(r) if r.status == 200)
    }

    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes[i].kill();
        self.nodes[i].launch(&self.bin)
    }

    /// The cluster status as node `i` sees it (None if it does not answer within 1 s).
    pub async fn status(&self, i: usize) -> Option<ClusterStatus> {
        if !self.nodes[i].is_up() || self.nodes[i].paused {
            return None;
        }
        let v = self.api.console_get(&self.nodes[i].console(), "/v2/console/cluster", Duration::from_secs(1)).await?;
        serde_json::from_value(v).ok()
    }

    /// True if node `i` answers `GET /healthcheck` within 1 s.
    pub async fn serves(&self, i: usize) -> bool {
        if !self.nodes[i].is_up() || self.nodes[i].paused {
            return false;
        }
        let url = format!("{}/healthcheck", self.nodes[i].base());
        self.api.get_ok(&url, Duration::from_secs(1)).await
    }

    /// The node that says it is the leader (highest term if several do), as an index.
    pub async fn leader(&self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for i in 0..self.nodes.len() {
            let Some(s) = self.status(i).await else { continue };
            let name = &self.nodes[i].name;
            if &s.leader == name {
                let term = s.me(name).map(|m| m.term).unwrap_or(0);
                if best.is_none_or(|(t, _)| term > t) {
                    best = Some((term, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Waits for a node to claim leadership.
    pub async fn wait_leader(&self, timeout: Duration) -> Option<usize> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(l) = self.leader().await {
                return Some(l);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// True when every node serves its API (`/healthcheck`; a restarted node reports
    /// ready in gossip before it has finished starting), sees all members ready, and all
    /// agree on one leader.
    pub async fn is_ready(&self) -> bool {
        let n = self.nodes.len();
        let mut leaders = BTreeSet::new();
        for i in 0..n {
            if !self.serves(i).await {
                return false;
            }
            let Some(s) = self.status(i).await else { return false };
            let ready = s.nodes.iter().filter(|m| m.ready).count();
            if ready < n || s.leader.is_empty() {
                return false;
            }
            leaders.insert(s.leader);
        }
        leaders.len() == 1
    }

    /// Waits until [`Cluster::is_ready`]; returns how long that took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if self.is_ready().await {
                return Ok(start.elapsed());
            }
            if let Some((name, status)) = self.crashed() {
                bail!("{name} exited on its own ({status}) while waiting for the cluster to be ready; its log ends: {}", self.log_tail(&name));
            }
            if start.elapsed() > timeout {
                let views: Vec<String> = futures::future::join_all((0..self.nodes.len()).map(|i| self.status(i)))
                    .await
                    .into_iter()
                    .zip(&self.nodes)
                    .map(|(s, n)| match s {
                        None => format!("{}: no console answer", n.name),
                        Some(s) => format!(
                            "{}: leader {:?}, {}",
                            n.name,
                            s.leader,
                            s.nodes.iter().map(|m| format!("{}={}{}", m.name, m.raft_role, if m.ready { "" } else { "(not ready)" })).collect::<Vec<_>>().join(" ")
                        ),
                    })
                    .collect();
                let mut silent = Vec::new();
                for i in 0..self.nodes.len() {
                    if !self.serves(i).await {
                        silent.push(self.nodes[i].name.clone());
                    }
                }
                let silent = if silent.is_empty() { String::new() } else { format!(" (API not serving: {})", silent.join(",")) };
                bail!("cluster not ready after {timeout:?}{silent}: {}", views.join("; "));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last non-empty log line of node `name`, without colour codes.
    pub fn log_tail(&self, name: &str) -> String {
        let Some(n) = self.nodes.iter().find(|n| n.name == name) else { return String::new() };
        let text = std::fs::read_to_string(n.log_path()).unwrap_or_default();
        strip_ansi(text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(""))
    }

    /// A node whose process exited without being killed by us.
    pub fn crashed(&mut self) -> Option<(String, String)> {
        self.nodes.iter_mut().find_map(|n| n.exited().map(|s| (n.name.clone(), s.to_string())))
    }

    /// Waits until every node reports the same applied index twice in a row.
    pub async fn wait_converged(&self, timeout: Duration) -> anyhow::Result<u64> {
        let start = Instant::now();
        let mut last = None;
        loop {
            let mut idx = BTreeSet::new();
            for i in 0..self.nodes.len() {
                match self.status(i).await.and_then(|s| s.me(&self.nodes[i].name).map(|m| m.applied_index)) {
                    Some(a) => idx.insert(a),
                    None => idx.insert(u64::MAX),
                };
            }
            if idx.len() == 1 && !idx.contains(&u64::MAX) {
                let a = *idx.iter().next().expect("one");
                if last == Some(a) {
                    return Ok(a);
                }
                last = Some(a);
            } else {
                last = None;
            }
            if start.elapsed() > timeout {
                bail!("applied indexes did not converge within {timeout:?}: {idx:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until every node reports the same module bundle version for itself.
    pub async fn wait_bundle_converged(&self, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let mut versions = Vec::new();
            for i in 0..self.nodes.len() {
                let v = self.status(i).await.and_then(|s| s.me(&self.nodes[i].name).map(|m| m.bundle_version.clone()));
                versions.push(v.unwrap_or_default());
            }
            if !versions[0].is_empty() && versions.iter().all(|v| v == &versions[0]) {
                return Ok(versions[0].clone());
            }
            if start.elapsed() > timeout {
                let shown: Vec<String> = versions.iter().zip(&self.nodes).map(|(v, n)| format!("{}={}", n.name, v.chars().take(12).collect::<String>())).collect();
                return Err(format!("bundle versions still differ after {timeout:?}: {}", shown.join(" ")));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Makes node `i` drop all cluster traffic to and from `blocked` (node indexes).
    pub async fn set_blocked(&self, i: usize, blocked: &[usize]) -> anyhow::Result<()> {
        let addrs: Vec<String> = blocked.iter().map(|&b| self.nodes[b].cluster_addr()).collect();
        let r = self
            .api
            .console_post(&self.nodes[i].console(), "/v2/console/debug/partition", &json!({ "blocked": addrs }), Duration::from_secs(3))
            .await
            .map_err(|e| anyhow::anyhow!("partition call to {}: {e:?}", self.nodes[i].name))?;
        if r.status != 200 {
            bail!("partition call to {} answered {} {}", self.nodes[i].name, r.status, r.body);
        }
        Ok(())
    }

    /// Cuts the cluster into `side` and the rest (both directions).
    pub async fn partition(&self, side: &[usize]) -> anyhow::Result<()> {
        let other: Vec<usize> = (0..self.nodes.len()).filter(|i| !side.contains(i)).collect();
        for &i in side {
            self.set_blocked(i, &other).await?;
        }
        for &i in &other {
            self.set_blocked(i, side).await?;
        }
        Ok(())
    }

    /// Cuts the link between two nodes only (each still reaches the others).
    pub async fn cut_link(&self, a: usize, b: usize) -> anyhow::Result<()> {
        self.set_blocked(a, &[b]).await?;
        self.set_blocked(b, &[a]).await
    }

    /// Resumes paused nodes, restarts dead ones and clears every partition.
    pub async fn heal(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused {
                self.nodes[i].resume()?;
            }
        }
        for i in 0..self.nodes.len() {
            if !self.nodes[i].is_up() {
                self.nodes[i].launch(&self.bin.clone())?;
            }
        }
        if self.partitions {
            for i in 0..self.nodes.len() {
                // A node that just restarted has no partition; one that does not answer
                // yet is retried once it serves.
                let start = Instant::now();
                while let Err(e) = self.set_blocked(i, &[]).await {
                    if let Some((name, status)) = self.crashed() {
                        bail!("{name} exited on its own ({status}); its log ends: {}", self.log_tail(&name));
                    }
                    if start.elapsed() > Duration::from_secs(60) {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Ok(())
    }

    /// Lines mentioning `panicked` in any node log, as "node: line"; each Rust panic
    /// ("thread … panicked at …") first, with the message line after it.
    pub fn panics(&self) -> Vec<String> {
        let (mut panics, mut mentions) = (Vec::new(), Vec::new());
        for n in &self.nodes {
            let text = std::fs::read_to_string(n.log_path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                if l.contains("panicked at") {
                    let msg = lines.get(i + 1).map(|m| m.trim()).unwrap_or("");
                    panics.push(format!("{}: {} {}", n.name, l.trim(), msg.chars().take(400).collect::<String>()));
                } else if l.contains("panicked") {
                    mentions.push(format!("{}: {}", n.name, strip_ansi(l.trim())));
                }
            }
        }
        panics.extend(mentions);
        panics
    }

    /// SIGCONT and SIGKILL every node.
    pub fn shutdown(&mut self) {
        for n in &mut self.nodes {
            if n.paused {
                let _ = n.resume();
            }
            n.kill();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}
