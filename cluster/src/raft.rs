//! `RaftHandle`: a clonable handle over the node's openraft instance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use shoal_config::NodeConfig;
use shoal_storage::{ClusterNode, Command, LogStore, NodeId, Response, StateMachine, TypeConfig};

use crate::error::ClusterError;
use crate::network::PeerNetwork;

#[derive(Clone)]
pub struct RaftHandle {
    raft: Raft<TypeConfig>,
    node_id: NodeId,
    call_timeout: Duration,
}

/// A point-in-time view of this node's Raft state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftStatus {
    pub node_id: NodeId,
    pub role: &'static str,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub last_log_index: u64,
    pub applied_index: u64,
}

impl RaftHandle {
    /// Starts Raft over the given stores. With `cluster.bootstrap_expect = 1` an uninitialised
    /// node initialises a single-member group with itself as the voter; a node restarted from
    /// its data dir resumes its existing group.
    pub async fn start(
        config: &NodeConfig,
        node_id: NodeId,
        self_node: ClusterNode,
        log: LogStore,
        sm: StateMachine,
    ) -> Result<Self, ClusterError> {
        let c = &config.cluster;
        let raft_config = Config {
            cluster_name: "shoal".into(),
            heartbeat_interval: c.heartbeat_interval_ms,
            election_timeout_min: c.election_timeout_min_ms,
            election_timeout_max: c.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(10_000),
            max_in_snapshot_log_to_keep: 1_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Init(e.to_string()))?;
        let raft = Raft::new(node_id, Arc::new(raft_config), PeerNetwork::default(), log, sm)
            .await
            .map_err(|e| ClusterError::Init(e.to_string()))?;
        let handle = RaftHandle { raft, node_id, call_timeout: Duration::from_millis(c.call_timeout_ms) };
        let initialized =
            handle.raft.is_initialized().await.map_err(|e| ClusterError::Init(e.to_string()))?;
        if !initialized && c.bootstrap_expect == 1 {
            let members = BTreeMap::from([(node_id, self_node)]);
            handle.raft.initialize(members).await.map_err(|e| ClusterError::Init(e.to_string()))?;
            tracing::info!(node_id, "initialised single-member raft group");
        }
        Ok(handle)
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Waits until some node is leader, up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeId, ClusterError> {
        let m = self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|e| ClusterError::Unavailable(e.to_string()))?;
        m.current_leader.ok_or_else(|| ClusterError::Unavailable("no leader".into()))
    }

    /// Proposes a command and waits until it is committed and applied on this node.
    pub async fn write(&self, cmd: Command) -> Result<Response, ClusterError> {
        let ms = self.call_timeout.as_millis() as u64;
        match tokio::time::timeout(self.call_timeout, self.raft.client_write(cmd)).await {
            Err(_) => Err(ClusterError::Timeout { ms }),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(ClusterError::NotLeader { leader: f.leader_id })
            }
            Ok(Err(e)) => Err(ClusterError::Unavailable(e.to_string())),
        }
    }

    /// Returns once this node's state machine has applied everything committed before the
    /// call: reads after it see every write acknowledged before it.
    pub async fn read_barrier(&self) -> Result<(), ClusterError> {
        let ms = self.call_timeout.as_millis() as u64;
        match tokio::time::timeout(self.call_timeout, self.raft.ensure_linearizable()).await {
            Err(_) => Err(ClusterError::Timeout { ms }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(RaftError::APIError(e))) => match e {
                openraft::error::CheckIsLeaderError::ForwardToLeader(f) => {
                    Err(ClusterError::NotLeader { leader: f.leader_id })
                }
                other => Err(ClusterError::Unavailable(other.to_string())),
            },
            Ok(Err(e)) => Err(ClusterError::Unavailable(e.to_string())),
        }
    }

    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Learner => "learner",
            ServerState::Candidate => "candidate",
            ServerState::Shutdown => "shutdown",
        };
        RaftStatus {
            node_id: self.node_id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
        }
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
