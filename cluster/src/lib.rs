//! Shoal's cluster layer: one QUIC endpoint per node carrying all node-to-node traffic,
//! membership by gossip (chitchat over that endpoint), the Raft group every durable write
//! goes through (openraft over that endpoint), and transparent routing of writes and read
//! barriers to the leader.
//!
//! Owns: the transport and its peer authentication, gossip keys, Raft start-up,
//! bootstrap and membership changes. Must not import: the Lua runtime or HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chitchat::{ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, spawn_chitchat};
use shoal_config::NodeConfig;
use shoal_storage::{ClusterNode, LogStore, NodeId, StateMachine};
use tokio::sync::watch;

mod error;
mod gossip;
mod membership;
mod mesh;
mod network;
mod raft;
mod rpc;
mod transport;

pub use error::ClusterError;
pub use gossip::{Member, keys as gossip_keys};
pub use mesh::{MESH_QUEUE_LEN, Mesh, MeshHandler};
pub use raft::{RaftHandle, RaftStatus};

/// What the node tells the cluster about itself.
pub struct NodeInfo {
    pub name: String,
    pub node_id: NodeId,
    pub api_addr: SocketAddr,
    pub console_addr: SocketAddr,
}

/// A clonable handle over the node's cluster membership and Raft group.
#[derive(Clone)]
pub struct Cluster {
    pub raft: RaftHandle,
    chitchat: Arc<ChitchatHandle>,
    transport: transport::Transport,
    rpc_handler: Arc<rpc::Handler>,
    pub mesh: Mesh,
    cluster_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

fn host_or(address: &str, default: &str) -> String {
    if address.is_empty() { default.to_string() } else { address.to_string() }
}

impl Cluster {
    /// Binds the cluster port, starts gossip and Raft, and the membership loop.
    pub async fn start(
        config: &NodeConfig,
        info: NodeInfo,
        log: LogStore,
        sm: StateMachine,
    ) -> Result<Cluster, ClusterError> {
        let c = &config.cluster;
        if c.tls.ca.is_some() || c.tls.cert.is_some() || c.tls.key.is_some() {
            // Refuse rather than silently run without the TLS the operator asked for.
            return Err(ClusterError::Config(
                "cluster.tls (mutual TLS with CA files) is not supported yet; peers authenticate with cluster.secret".into(),
            ));
        }
        let bind: SocketAddr = format!("{}:{}", host_or(&c.address, "0.0.0.0"), c.port)
            .parse()
            .map_err(|e| ClusterError::Config(format!("cluster.address: {e}")))?;
        let (transport, gossip_rx) = transport::Transport::bind(bind, &info.name, &c.secret)?;
        let cluster_addr: SocketAddr = format!("{}:{}", host_or(&c.address, "127.0.0.1"), transport.local_addr().port())
            .parse()
            .map_err(|e| ClusterError::Config(format!("cluster.address: {e}")))?;
        let handler = rpc::Handler::new(Duration::from_millis(c.call_timeout_ms));
        transport.set_handler(handler.clone());
        let raft = RaftHandle::start(config, info.node_id, log, sm, transport.clone(), handler.clone()).await?;

        let self_node = ClusterNode {
            name: info.name.clone(),
            cluster_addr: cluster_addr.to_string(),
            api_addr: info.api_addr.to_string(),
        };
        // A lone node with no seeds is its own cluster right away.
        if c.bootstrap_expect == 1 && c.seeds.is_empty() && !raft.is_initialized().await {
            raft.initialize([(info.node_id, self_node.clone())].into()).await?;
            tracing::info!(node_id = info.node_id, "initialised single-member raft group");
        }

        let generation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let chitchat_config = ChitchatConfig {
            chitchat_id: ChitchatId::new(format!("{}/{}", info.name, info.node_id), generation, cluster_addr),
            cluster_id: "shoal".into(),
            gossip_interval: Duration::from_millis(c.gossip_interval_ms),
            listen_addr: cluster_addr,
            seed_nodes: c.seeds.clone(),
            failure_detector_config: FailureDetectorConfig {
                // The prior heartbeat interval: chitchat's 5 s default makes a node seen for
                // only a few heartbeats take ~40 s to be declared dead.
                initial_interval: Duration::from_millis(c.gossip_interval_ms * 5),
                dead_node_grace_period: Duration::from_secs(c.dead_node_grace_sec.max(1) * 2),
                ..Default::default()
            },
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: None,
        };
        let initial = vec![
            (gossip::keys::NAME.to_string(), info.name.clone()),
            (gossip::keys::NODE_ID.to_string(), info.node_id.to_string()),
            (gossip::keys::API_ADDR.to_string(), info.api_addr.to_string()),
            (gossip::keys::CONSOLE_ADDR.to_string(), info.console_addr.to_string()),
            (gossip::keys::CLUSTER_ADDR.to_string(), cluster_addr.to_string()),
            (gossip::keys::READY.to_string(), "false".to_string()),
        ];
        let gossip_transport = gossip::QuicGossip::new(transport.clone(), gossip_rx);
        let chitchat = spawn_chitchat(chitchat_config, initial, &gossip_transport)
            .await
            .map_err(|e| ClusterError::Transport(format!("starting gossip: {e}")))?;
        let chitchat = Arc::new(chitchat);

        if !c.seeds.is_empty() {
            check_duplicate_name(&chitchat, &info, generation).await?;
        }

        let (stop, mut stopped) = watch::channel(false);
        let mut reconciler = membership::Reconciler::new(
            raft.clone(),
            chitchat.clone(),
            c.bootstrap_expect,
            c.voters,
            Duration::from_secs(c.dead_node_grace_sec),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = tick.tick() => reconciler.tick().await,
                    _ = stopped.changed() => return,
                }
            }
        });
        let mesh = Mesh::new(transport.clone());
        Ok(Cluster { raft, chitchat, transport, rpc_handler: handler, mesh, cluster_addr, stop })
    }

    /// Installs the realtime layer's receiver of mesh frames and requests (once).
    pub fn set_mesh_handler(&self, handler: Arc<dyn MeshHandler>) {
        self.transport.set_mesh_handler(handler.clone());
        let _ = self.rpc_handler.app.set(handler);
    }

    /// Fault injection: cut this node off from the given peers' cluster addresses.
    pub fn set_partition(&self, peers: std::collections::HashSet<SocketAddr>) {
        self.transport.set_blocked(peers);
    }

    pub fn cluster_addr(&self) -> SocketAddr {
        self.cluster_addr
    }

    /// Live members, self included.
    pub async fn members(&self) -> Vec<Member> {
        membership::live_members(&self.chitchat).await
    }

    /// Publishes a key of this node's gossip state (e.g. bundle version, load).
    pub async fn publish(&self, key: &str, value: impl ToString + Send) {
        let value = value.to_string();
        self.chitchat.with_chitchat(|c| c.self_node_state().set(key, &value)).await;
    }

    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.raft.shutdown().await;
        let _ = self.chitchat.initiate_shutdown();
        self.transport.close();
    }
}

/// Refuses to join when a live member already uses this node's name with another id.
async fn check_duplicate_name(chitchat: &ChitchatHandle, info: &NodeInfo, generation: u64) -> Result<(), ClusterError> {
    // Give gossip a moment to learn the cluster from the seeds.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let live = membership::live_members(chitchat).await;
        if let Some(dup) = live
            .iter()
            .find(|m| m.name == info.name && m.node_id != info.node_id && m.generation < generation)
        {
            return Err(ClusterError::Config(format!(
                "a live member (node id {}) already uses the name {:?}; each node needs a unique --name",
                dup.node_id, info.name
            )));
        }
        if live.len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
