//! Node-to-node requests (bincode over `KIND_RPC` streams) and the handler that serves them
//! from this node's Raft.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openraft::Raft;
use openraft::error::{CheckIsLeaderError, ClientWriteError, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use shoal_storage::{Command, NodeId, Response, TypeConfig, decode, encode};

use crate::transport::RpcHandler;

#[derive(Serialize, Deserialize)]
pub enum PeerRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A client write forwarded to the leader.
    Write(Command),
    /// A follower asking the leader for a read index.
    ReadIndex,
    /// A realtime-layer request (`crate::mesh`), opaque here.
    App(Vec<u8>),
}

/// Why a forwarded operation failed on the receiving node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardError {
    /// Not the leader: certainly not applied.
    NotLeader { leader: Option<NodeId> },
    /// Anything else: outcome unknown.
    Unavailable(String),
}

#[derive(Serialize, Deserialize)]
pub enum PeerResponse {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    Write(Result<Response, ForwardError>),
    ReadIndex(Result<u64, ForwardError>),
    App(Vec<u8>),
    /// The request could not be decoded or the node is not ready.
    Refused(String),
}

/// Serves peer requests from this node's Raft (set once Raft exists).
pub struct Handler {
    pub raft: OnceLock<Raft<TypeConfig>>,
    pub app: OnceLock<Arc<dyn crate::mesh::MeshHandler>>,
    pub write_timeout: Duration,
}

impl Handler {
    pub fn new(write_timeout: Duration) -> Arc<Self> {
        Arc::new(Handler { raft: OnceLock::new(), app: OnceLock::new(), write_timeout })
    }

    async fn serve(&self, from: SocketAddr, req: PeerRequest) -> PeerResponse {
        let Some(raft) = self.raft.get() else { return PeerResponse::Refused("raft not started".into()) };
        match req {
            PeerRequest::AppendEntries(r) => PeerResponse::AppendEntries(raft.append_entries(r).await),
            PeerRequest::Vote(r) => PeerResponse::Vote(raft.vote(r).await),
            PeerRequest::InstallSnapshot(r) => PeerResponse::InstallSnapshot(raft.install_snapshot(r).await),
            PeerRequest::Write(cmd) => {
                let res = match tokio::time::timeout(self.write_timeout, raft.client_write(cmd)).await {
                    Err(_) => Err(ForwardError::Unavailable("timed out".into())),
                    Ok(Ok(r)) => Ok(r.data),
                    Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                        Err(ForwardError::NotLeader { leader: f.leader_id })
                    }
                    Ok(Err(e)) => Err(ForwardError::Unavailable(e.to_string())),
                };
                PeerResponse::Write(res)
            }
            PeerRequest::App(body) => match self.app.get() {
                Some(app) => PeerResponse::App(app.request(from, body).await),
                None => PeerResponse::Refused("realtime layer not started".into()),
            },
            PeerRequest::ReadIndex => {
                let res = match tokio::time::timeout(self.write_timeout, raft.get_read_log_id()).await {
                    Err(_) => Err(ForwardError::Unavailable("timed out".into())),
                    Ok(Ok((read, _applied))) => Ok(read.map(|l| l.index).unwrap_or(0)),
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
                        Err(ForwardError::NotLeader { leader: f.leader_id })
                    }
                    Ok(Err(e)) => Err(ForwardError::Unavailable(e.to_string())),
                };
                PeerResponse::ReadIndex(res)
            }
        }
    }
}

impl RpcHandler for Handler {
    fn handle(
        &self,
        from: SocketAddr,
        request: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + '_>> {
        Box::pin(async move {
            let resp = match decode::<PeerRequest>(&request) {
                Ok(req) => self.serve(from, req).await,
                Err(e) => {
                    tracing::warn!(%from, error = %e, "dropping an undecodable peer request");
                    PeerResponse::Refused(format!("undecodable request: {e}"))
                }
            };
            encode(&resp)
        })
    }
}
