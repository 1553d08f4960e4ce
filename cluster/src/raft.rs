//! `RaftHandle`: a clonable handle over the node's openraft instance. Writes and read
//! barriers issued on any node reach the leader transparently.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use shoal_config::NodeConfig;
use shoal_storage::{ClusterNode, Command, LogStore, NodeId, Reply, Response, StateMachine, TypeConfig, decode, encode};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::ClusterError;
use crate::network::PeerNetwork;
use crate::rpc::{ForwardError, Handler, PeerRequest, PeerResponse};
use crate::transport::Transport;

type WriteRequest = (Command, oneshot::Sender<Result<Response, ClusterError>>);

#[derive(Clone)]
pub struct RaftHandle {
    raft: Raft<TypeConfig>,
    node_id: NodeId,
    call_timeout: Duration,
    transport: Transport,
    /// Coalesces concurrent writes into batch entries (absent on the batcher's own handle).
    batcher: Option<mpsc::Sender<WriteRequest>>,
}

/// Most commands coalesced into one log entry.
const BATCH_MAX: usize = 256;
/// Batches in flight at once; a write that finds a free slot goes out immediately.
const BATCHES_IN_FLIGHT: usize = 4;
const WRITE_QUEUE_LEN: usize = 4096;

/// Takes queued writes, proposes them as one `Command::Batch` entry (or alone), and hands
/// each caller its own response. Stops when every handle is dropped.
async fn run_batcher(direct: RaftHandle, mut rx: mpsc::Receiver<WriteRequest>) {
    let slots = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let direct = direct.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if batch.len() == 1 {
                let (cmd, tx) = batch.pop().expect("one write");
                let _ = tx.send(direct.write_entry(cmd).await);
                return;
            }
            let (cmds, txs): (Vec<Command>, Vec<_>) = batch.into_iter().unzip();
            let n = txs.len();
            match direct.write_entry(Command::Batch(cmds)).await {
                Ok(Ok(Reply::Batch(responses))) if responses.len() == n => {
                    for (tx, r) in txs.into_iter().zip(responses) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Ok(other) => {
                    tracing::error!(reply = ?other, "unexpected reply to a batch");
                    for tx in txs {
                        let _ = tx.send(Err(ClusterError::Unavailable("unexpected reply to a batch".into())));
                    }
                }
                Err(e) => {
                    for tx in txs {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
        });
    }
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
    /// Voters and learners of the current membership.
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub nodes: BTreeMap<NodeId, ClusterNode>,
}

enum Next {
    Retry,
    Forward(Option<NodeId>, ClusterNode),
}

const RETRY_PAUSE: Duration = Duration::from_millis(25);

impl RaftHandle {
    /// Starts Raft over the given stores and transport.
    pub async fn start(
        config: &NodeConfig,
        node_id: NodeId,
        log: LogStore,
        sm: StateMachine,
        transport: Transport,
        handler: Arc<Handler>,
    ) -> Result<Self, ClusterError> {
        let c = &config.cluster;
        let raft_config = Config {
            cluster_name: "shoal".into(),
            heartbeat_interval: c.heartbeat_interval_ms,
            election_timeout_min: c.election_timeout_min_ms,
            election_timeout_max: c.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(c.snapshot_logs_since_last),
            max_in_snapshot_log_to_keep: c.snapshot_logs_to_keep,
            // Each snapshot chunk (and the install the last one waits for) may take as long
            // as any other cross-node call; openraft's 200 ms default fails big transfers
            // on a loaded machine and retries them from the start, forever.
            install_snapshot_timeout: c.call_timeout_ms,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Init(e.to_string()))?;
        let raft = Raft::new(node_id, Arc::new(raft_config), PeerNetwork::new(transport.clone()), log, sm)
            .await
            .map_err(|e| ClusterError::Init(e.to_string()))?;
        let _ = handler.raft.set(raft.clone());
        let direct = RaftHandle {
            raft,
            node_id,
            call_timeout: Duration::from_millis(c.call_timeout_ms),
            transport,
            batcher: None,
        };
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_LEN);
        tokio::spawn(run_batcher(direct.clone(), rx));
        Ok(RaftHandle { batcher: Some(tx), ..direct })
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// Initialises a new group with these voters (only on a node with no Raft state).
    pub async fn initialize(&self, members: BTreeMap<NodeId, ClusterNode>) -> Result<(), ClusterError> {
        self.raft.initialize(members).await.map_err(|e| ClusterError::Init(e.to_string()))
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

    fn leader_node(&self, leader: Option<NodeId>, node: Option<ClusterNode>) -> Next {
        match (leader, node) {
            (l, Some(n)) => Next::Forward(l, n),
            (Some(id), None) => {
                let m = self.raft.metrics().borrow().membership_config.clone();
                match m.membership().get_node(&id) {
                    Some(n) => Next::Forward(Some(id), n.clone()),
                    None => Next::Retry,
                }
            }
            (None, None) => Next::Retry,
        }
    }

    /// Sends a request to the leader. If this node learns of another leader (or of none),
    /// or of a new term, while waiting, the call ends at once with `LeaderChanged`: a leader
    /// that died with the request would otherwise hold the caller until its deadline. The
    /// term matters when the same node is elected again after a restart: the request went
    /// down with the old process, on a connection nothing will ever answer.
    async fn forward(
        &self,
        leader: Option<NodeId>,
        node: &ClusterNode,
        req: &PeerRequest,
        remaining: Duration,
    ) -> Result<PeerResponse, ClusterError> {
        let addr: SocketAddr =
            node.cluster_addr.parse().map_err(|e| ClusterError::Config(format!("bad leader address: {e}")))?;
        let mut metrics = self.raft.metrics();
        let term = metrics.borrow().current_term;
        let leader_changed = async move {
            loop {
                let changed = {
                    let m = metrics.borrow_and_update();
                    m.current_leader != leader || m.current_term != term
                };
                if changed {
                    return;
                }
                if metrics.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        };
        tokio::select! {
            res = self.transport.rpc(addr, encode(req), remaining) => {
                let bytes = res?;
                decode(&bytes).map_err(|e| ClusterError::Decode(e.to_string()))
            }
            _ = leader_changed => Err(ClusterError::LeaderChanged),
        }
    }

    /// Proposes a command and waits until it is committed and applied. Concurrent writes
    /// are coalesced into batch entries (each command still applied and answered on its
    /// own). On a follower the entry is forwarded to the leader.
    pub async fn write(&self, cmd: Command) -> Result<Response, ClusterError> {
        let Some(batcher) = &self.batcher else { return self.write_entry(cmd).await };
        let ms = self.call_timeout.as_millis() as u64;
        let (tx, rx) = oneshot::channel();
        match tokio::time::timeout(self.call_timeout, batcher.send((cmd, tx))).await {
            Ok(Ok(())) => {}
            // Never queued, so certainly not applied.
            Ok(Err(_)) => return Err(ClusterError::Unavailable("raft is shutting down".into())),
            Err(_) => return Err(ClusterError::Unreachable("write queue full".into())),
        }
        // write_entry has its own deadline; this one only guards a lost batch task.
        match tokio::time::timeout(self.call_timeout + Duration::from_secs(1), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ClusterError::Unavailable("write dropped".into())),
            Err(_) => Err(ClusterError::Timeout { ms }),
        }
    }

    /// Proposes one log entry; "not the leader" answers are retried (they are certainly
    /// not applied) until the call's deadline.
    async fn write_entry(&self, cmd: Command) -> Result<Response, ClusterError> {
        let deadline = Instant::now() + self.call_timeout;
        let ms = self.call_timeout.as_millis() as u64;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClusterError::Timeout { ms });
            }
            let next = match tokio::time::timeout(remaining, self.raft.client_write(cmd.clone())).await {
                Err(_) => return Err(ClusterError::Timeout { ms }),
                Ok(Ok(resp)) => return Ok(resp.data),
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                    self.leader_node(f.leader_id, f.leader_node)
                }
                Ok(Err(e)) => return Err(ClusterError::Unavailable(e.to_string())),
            };
            match next {
                Next::Retry => tokio::time::sleep(RETRY_PAUSE.min(remaining)).await,
                Next::Forward(leader, node) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    match self.forward(leader, &node, &PeerRequest::Write(cmd.clone()), remaining).await {
                        Ok(PeerResponse::Write(Ok(r))) => return Ok(r),
                        Ok(PeerResponse::Write(Err(ForwardError::NotLeader { .. }))) => {
                            tokio::time::sleep(RETRY_PAUSE.min(remaining)).await
                        }
                        Ok(PeerResponse::Write(Err(ForwardError::Unavailable(e)))) => {
                            return Err(ClusterError::Unavailable(e));
                        }
                        Ok(_) => return Err(ClusterError::Unavailable("unexpected reply from the leader".into())),
                        // Not connected: the request never left, so it is safe to retry.
                        Err(ClusterError::Unreachable(_)) => tokio::time::sleep(RETRY_PAUSE.min(remaining)).await,
                        Err(ClusterError::Timeout { .. }) => return Err(ClusterError::Timeout { ms }),
                        // The write may have reached the old leader: outcome unknown.
                        Err(e) => return Err(ClusterError::Unavailable(e.to_string())),
                    }
                }
            }
        }
    }

    /// Returns once this node has applied everything committed before the call (a read
    /// index obtained from the leader), so reads after it see every acknowledged write.
    pub async fn read_barrier(&self) -> Result<(), ClusterError> {
        let deadline = Instant::now() + self.call_timeout;
        let ms = self.call_timeout.as_millis() as u64;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClusterError::Timeout { ms });
            }
            let next = match tokio::time::timeout(remaining, self.raft.ensure_linearizable()).await {
                Err(_) => return Err(ClusterError::Timeout { ms }),
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
                    self.leader_node(f.leader_id, f.leader_node)
                }
                Ok(Err(e)) => return Err(ClusterError::Unavailable(e.to_string())),
            };
            let (leader, node) = match next {
                Next::Retry => {
                    tokio::time::sleep(RETRY_PAUSE.min(remaining)).await;
                    continue;
                }
                Next::Forward(leader, node) => (leader, node),
            };
            match self.forward(leader, &node, &PeerRequest::ReadIndex, remaining).await {
                Ok(PeerResponse::ReadIndex(Ok(index))) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    return self
                        .raft
                        .wait(Some(remaining))
                        .applied_index_at_least(Some(index), "read index applied")
                        .await
                        .map(|_| ())
                        .map_err(|_| ClusterError::Timeout { ms });
                }
                // Reads are idempotent: any of these is retried.
                Ok(PeerResponse::ReadIndex(Err(ForwardError::NotLeader { .. })))
                | Err(ClusterError::Unreachable(_))
                | Err(ClusterError::LeaderChanged) => tokio::time::sleep(RETRY_PAUSE.min(remaining)).await,
                Ok(PeerResponse::ReadIndex(Err(ForwardError::Unavailable(e)))) => {
                    return Err(ClusterError::Unavailable(e));
                }
                Ok(_) => return Err(ClusterError::Unavailable("unexpected reply from the leader".into())),
                Err(ClusterError::Timeout { .. }) => return Err(ClusterError::Timeout { ms }),
                Err(e) => return Err(ClusterError::Unavailable(e.to_string())),
            }
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
        let membership = m.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let learners: Vec<NodeId> = membership.learner_ids().collect();
        let nodes = membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
        RaftStatus {
            node_id: self.node_id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            voters,
            learners,
            nodes,
        }
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
