//! One function per operation. REST handlers (`api/`), and later the socket pipeline and
//! the Lua `nk` module, decode their input and call these; validation, Raft proposals,
//! reads and error mapping live here once.

use std::sync::Arc;

use shoal_cluster::RaftHandle;
use shoal_config::NodeConfig;
use shoal_proto::Status;
use shoal_storage::{Command, Reader, Reply};

use crate::tokens::TokenService;

pub mod account;
mod authenticate;
pub mod channel;
mod friends;
mod hooks;
pub mod leaderboard;
pub mod notifications;
mod rpc;
mod storage;
mod tournament;

pub use authenticate::AuthOutcome;
pub use rpc::RpcError;

/// Everything an operation needs: config, the Raft group, the local applied state and
/// the Lua VM pool (set once it is built: modules may call back into core while loading).
#[derive(Clone)]
pub struct Core {
    pub config: Arc<NodeConfig>,
    pub raft: RaftHandle,
    pub reader: Reader,
    pub tokens: Arc<TokenService>,
    pub runtime: Arc<RuntimeSlot>,
    /// The realtime layer (set at start, before the API serves).
    pub realtime: Arc<std::sync::OnceLock<crate::realtime::Realtime>>,
    /// Module bundle deploys and upgrades (set at start).
    pub bundles: Arc<std::sync::OnceLock<Arc<crate::bundles::Bundles>>>,
}

/// The VM pool new calls use. A module upgrade swaps it; calls already running keep the
/// pool they started on (they hold a clone).
#[derive(Default)]
pub struct RuntimeSlot {
    pool: std::sync::RwLock<Option<shoal_runtime::VmPool>>,
}

impl RuntimeSlot {
    pub fn get(&self) -> Option<shoal_runtime::VmPool> {
        self.pool.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs `pool` for new calls; returns the one it replaces.
    pub fn set(&self, pool: shoal_runtime::VmPool) -> Option<shoal_runtime::VmPool> {
        self.pool.write().unwrap_or_else(|e| e.into_inner()).replace(pool)
    }
}

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Logs an internal failure in full and returns the generic client error.
pub fn internal<E: std::fmt::Display>(e: E) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal()
}

impl Core {
    pub fn new(config: Arc<NodeConfig>, raft: RaftHandle, reader: Reader) -> Self {
        let s = &config.session;
        let tokens = Arc::new(TokenService::new(
            &s.encryption_key,
            &s.refresh_encryption_key,
            s.token_expiry_sec,
            s.refresh_token_expiry_sec,
        ));
        Core { config, raft, reader, tokens, runtime: Arc::default(), realtime: Arc::default(), bundles: Arc::default() }
    }

    /// Proposes a command through Raft; a deterministic rejection becomes Nakama's error.
    pub async fn propose(&self, cmd: Command) -> Result<Reply, Status> {
        match self.raft.write(cmd).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(rejection)) => Err(rejection.to_status()),
            Err(e) => {
                tracing::warn!(error = %e, "raft write failed");
                Err(e.to_status())
            }
        }
    }

    /// Waits until this node has applied every write acknowledged before the call.
    pub async fn read_barrier(&self) -> Result<(), Status> {
        self.raft.read_barrier().await.map_err(|e| {
            tracing::warn!(error = %e, "read barrier failed");
            e.to_status()
        })
    }
}
