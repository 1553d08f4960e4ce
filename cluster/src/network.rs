//! The Raft network: openraft's RPCs as `PeerRequest`s over the QUIC transport.

use std::net::SocketAddr;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use shoal_storage::{ClusterNode, NodeId, TypeConfig, decode, encode};

use crate::error::ClusterError;
use crate::rpc::{PeerRequest, PeerResponse};
use crate::transport::Transport;

#[derive(Clone)]
pub struct PeerNetwork {
    transport: Transport,
}

impl PeerNetwork {
    pub fn new(transport: Transport) -> Self {
        PeerNetwork { transport }
    }
}

pub struct PeerClient {
    transport: Transport,
    target: NodeId,
    node: ClusterNode,
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &ClusterNode) -> Self::Network {
        PeerClient { transport: self.transport.clone(), target, node: node.clone() }
    }
}

type RpcErr<E> = RPCError<NodeId, ClusterNode, RaftError<NodeId, E>>;

impl PeerClient {
    async fn call<E: std::error::Error>(
        &self,
        req: PeerRequest,
        option: &RPCOption,
    ) -> Result<PeerResponse, RpcErr<E>> {
        let addr: SocketAddr = self
            .node
            .cluster_addr
            .parse()
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&ClusterError::Config(format!("bad address {}: {e}", self.node.cluster_addr)))))?;
        let timeout = option.hard_ttl().max(Duration::from_millis(50));
        match self.transport.rpc(addr, encode(&req), timeout).await {
            Ok(bytes) => decode::<PeerResponse>(&bytes)
                .map_err(|e| RPCError::Network(NetworkError::new(&ClusterError::Decode(e.to_string())))),
            Err(e @ ClusterError::Timeout { .. }) => Err(RPCError::Network(NetworkError::new(&e))),
            Err(e) => Err(RPCError::Unreachable(Unreachable::new(&e))),
        }
    }

    fn remote<E: std::error::Error>(&self, e: RaftError<NodeId, E>) -> RpcErr<E> {
        RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e))
    }

    fn unexpected<E: std::error::Error>(&self, what: &str) -> RpcErr<E> {
        RPCError::Network(NetworkError::new(&ClusterError::Decode(format!("unexpected response: {what}"))))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ClusterNode, RaftError<NodeId>>> {
        match self.call(PeerRequest::AppendEntries(rpc), &option).await? {
            PeerResponse::AppendEntries(r) => r.map_err(|e| self.remote(e)),
            PeerResponse::Refused(why) => Err(self.unexpected(&why)),
            _ => Err(self.unexpected("not an append-entries reply")),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        match self.call(PeerRequest::InstallSnapshot(rpc), &option).await? {
            PeerResponse::InstallSnapshot(r) => r.map_err(|e| self.remote(e)),
            PeerResponse::Refused(why) => Err(self.unexpected(&why)),
            _ => Err(self.unexpected("not an install-snapshot reply")),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ClusterNode, RaftError<NodeId>>> {
        match self.call(PeerRequest::Vote(rpc), &option).await? {
            PeerResponse::Vote(r) => r.map_err(|e| self.remote(e)),
            PeerResponse::Refused(why) => Err(self.unexpected(&why)),
            _ => Err(self.unexpected("not a vote reply")),
        }
    }
}
