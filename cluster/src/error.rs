//! Cluster errors say whether a write may still land: `NotLeader` (certainly not applied)
//! versus `Timeout`/`Unavailable` (outcome unknown).

use shoal_proto::{ErrorCode, Status};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// This node is not the leader; the write was certainly not applied.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The deadline passed; the write may or may not be applied.
    #[error("timed out after {ms} ms")]
    Timeout { ms: u64 },
    /// Raft is shutting down or failed; the write may or may not be applied.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    #[error("raft initialisation failed: {0}")]
    Init(String),
    /// Another leader appeared while a forwarded request was in flight; the request's
    /// outcome is unknown.
    #[error("the leader changed while the request was in flight")]
    LeaderChanged,
    /// The peer could not be reached; nothing was sent.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error("cluster transport: {0}")]
    Transport(String),
    #[error("peer authentication failed: {0}")]
    Auth(String),
    #[error("bad message from peer: {0}")]
    Decode(String),
    #[error("{0}")]
    Config(String),
}

impl ClusterError {
    /// True when the operation certainly did not take effect, so a blind retry is safe.
    pub fn is_certainly_not_applied(&self) -> bool {
        matches!(self, ClusterError::NotLeader { .. } | ClusterError::Unreachable(_))
    }

    pub fn to_status(&self) -> Status {
        Status::new(ErrorCode::Unavailable, "Cluster is unavailable, please retry.")
    }
}
