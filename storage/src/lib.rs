//! Shoal's durable state: one RocksDB per node holding the Raft log (openraft's
//! `RaftLogStorage`), the state machine (`RaftStateMachine`) that applies `Command`s
//! deterministically, and the read API served from the applied state.
//!
//! Owns: key layout (`keys`), records, commands and their apply logic, snapshots, the
//! leaderboard rank cache (`RankCache`) and reset/tournament schedules (`schedule`),
//! persistent notifications and chat history.
//! Must not import: the network (quinn, chitchat), the Lua runtime, HTTP.

use std::io::Cursor;

mod apply;
mod bundles;
mod channel_messages;
mod codec;
mod command;
pub mod keys;
mod leaderboard;
mod leaderboard_apply;
mod leaderboard_read;
mod log_store;
mod purge_gate;
mod notifications;
mod rank_cache;
mod read;
mod records;
pub mod schedule;
mod state_machine;

pub use bundles::BundleRecord;
pub use channel_messages::{ChannelMessageCursor, ChannelMessagePage, ChannelMessageRecord};
pub use codec::{decode, encode};
pub use command::*;
pub use leaderboard::*;
pub use log_store::LogStore;
pub use notifications::{NotificationCursor, NotificationRecord};
pub use rank_cache::{RankCache, RankKey};
pub use read::{ReadError, Reader, StorageListPosition, StoredObject};
pub use records::*;
pub use state_machine::StateMachine;

/// A cluster member as Raft knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterNode {
    pub name: String,
    /// host:port of the node's cluster (QUIC) endpoint.
    pub cluster_addr: String,
    /// host:port of the node's client API.
    pub api_addr: String,
}

impl std::fmt::Display for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.cluster_addr)
    }
}

openraft::declare_raft_types!(
    /// Shoal's Raft type configuration.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = u64,
        Node = ClusterNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
pub type StorageError = openraft::StorageError<NodeId>;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("opening rocksdb at {path}: {source}")]
    Db { path: String, source: rocksdb::Error },
    #[error("creating {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("rebuilding the rank cache from {path}: {source}")]
    RankCache { path: String, source: ReadError },
}

/// Opens (or creates) the node's database under `dir` and returns the Raft log store, the
/// state machine and a reader over the applied state. All three share one RocksDB.
pub fn open(dir: &std::path::Path) -> Result<(LogStore, StateMachine, Reader), OpenError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| OpenError::Io { path: dir.display().to_string(), source })?;
    let db_path = dir.join("db");
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let cfs = keys::ALL_CFS
        .iter()
        .map(|name| rocksdb::ColumnFamilyDescriptor::new(*name, rocksdb::Options::default()));
    let db = rocksdb::DB::open_cf_descriptors(&opts, &db_path, cfs)
        .map_err(|source| OpenError::Db { path: db_path.display().to_string(), source })?;
    let db = std::sync::Arc::new(db);
    let snapshot_dir = dir.join("snapshots");
    std::fs::create_dir_all(&snapshot_dir)
        .map_err(|source| OpenError::Io { path: snapshot_dir.display().to_string(), source })?;
    // Ranks come back from the ordering index, so they equal those before the restart.
    let ranks = rank_cache::RankCache::default();
    let started = std::time::Instant::now();
    leaderboard_read::rebuild_rank_cache(&db, &ranks)
        .map_err(|source| OpenError::RankCache { path: db_path.display().to_string(), source })?;
    let entries: u64 = ranks.partitions().iter().map(|p| p.2).sum();
    tracing::info!(entries, elapsed_ms = started.elapsed().as_millis() as u64, "rank cache rebuilt");
    let purge = purge_gate::PurgeGate::open(db.clone())
        .map_err(|source| OpenError::Db { path: db_path.display().to_string(), source })?;
    Ok((
        LogStore::new(db.clone(), purge.clone()),
        StateMachine::new(db.clone(), snapshot_dir, ranks.clone(), purge),
        Reader::new(db, ranks),
    ))
}

/// Write options that sync the WAL before returning.
fn synced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(true);
    w
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod leaderboard_tests;
#[cfg(test)]
mod notification_tests;
