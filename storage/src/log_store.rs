//! The Raft log in RocksDB's `log` column family; vote and purge point in `meta`.
//! Every write is synced before openraft is told it is durable.
//!
//! Appends are group-committed: `append` writes its entries (readable at once) without
//! waiting for the disk, and a flusher thread syncs the WAL once for every append queued
//! meanwhile, then reports each of them durable in order. No async worker ever blocks on
//! an fsync.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogId, StorageIOError, Vote};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use crate::codec::{decode, encode};
use crate::keys::{self, CF_LOG, CF_META};
use crate::purge_gate::PurgeGate;
use crate::{NodeId, StorageError, TypeConfig, synced};

#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
    /// Purges go through it: never past the last snapshot on disk (see `purge_gate`).
    purge: PurgeGate,
}

/// Syncs the WAL for batches of appends and completes their callbacks in order. Stops
/// when every `LogStore` clone is dropped.
/// The thread holds the DB only while flushing, so closing the stores closes the DB.
fn spawn_flusher(db: &Arc<DB>) -> std::sync::mpsc::Sender<LogFlushed<TypeConfig>> {
    let (tx, rx) = std::sync::mpsc::channel::<LogFlushed<TypeConfig>>();
    let weak = Arc::downgrade(db);
    std::thread::Builder::new()
        .name("raft-log-flush".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                let res: Result<(), String> = match weak.upgrade() {
                    Some(db) => db.flush_wal(true).map_err(|e| e.to_string()),
                    None => Err("database closed".into()),
                };
                for cb in batch {
                    cb.log_io_completed(res.clone().map_err(std::io::Error::other));
                }
            }
        })
        .expect("spawning the raft log flusher thread");
    tx
}

impl LogStore {
    pub(crate) fn new(db: Arc<DB>, purge: PurgeGate) -> Self {
        let flusher = spawn_flusher(&db);
        LogStore { db, flusher, purge }
    }
    fn cf_log(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_LOG).expect("log column family exists")
    }
    fn cf_meta(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_META).expect("meta column family exists")
    }
    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        let raw = self.db.get_cf(self.cf_meta(), key).map_err(|e| StorageIOError::read(&e))?;
        match raw {
            Some(b) => Ok(Some(decode(&b).map_err(|e| StorageIOError::read(&e))?)),
            None => Ok(None),
        }
    }
    fn put_meta<T: serde::Serialize>(&self, key: &[u8], v: &T) -> Result<(), StorageError> {
        self.db
            .put_cf_opt(self.cf_meta(), key, encode(v), &synced())
            .map_err(|e| StorageIOError::write(&e).into())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        let it = self
            .db
            .iterator_cf(self.cf_log(), IteratorMode::From(&keys::log_key(start), Direction::Forward));
        for item in it {
            let (k, v) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let idx = keys::log_index(&k);
            if !range.contains(&idx) {
                break;
            }
            out.push(decode(&v).map_err(|e| StorageIOError::read_logs(&e))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId<NodeId>> = self.get_meta(keys::META_LAST_PURGED)?;
        let mut it = self.db.iterator_cf(self.cf_log(), IteratorMode::End);
        let last = match it.next() {
            Some(item) => {
                let (_, v) = item.map_err(|e| StorageIOError::read_logs(&e))?;
                let e: Entry<TypeConfig> = decode(&v).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(*e.get_log_id())
            }
            None => last_purged,
        };
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(keys::META_VOTE, vote)
            .map_err(|_| StorageIOError::write_vote(&std::io::Error::other("vote write failed")).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(keys::META_VOTE)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        let cf = self.cf_log();
        for e in entries {
            batch.put_cf(cf, keys::log_key(e.get_log_id().index), encode(&e));
        }
        // Written to the memtable and WAL buffer: readable now, durable once flushed.
        if let Err(e) = self.db.write_opt(batch, &WriteOptions::default()) {
            callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
            return Err(StorageIOError::write_logs(&e).into());
        }
        if let Err(std::sync::mpsc::SendError(cb)) = self.flusher.send(callback) {
            cb.log_io_completed(Err(std::io::Error::other("log flusher stopped")));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf_log(), keys::log_key(log_id.index), keys::log_key(u64::MAX));
        batch.delete_cf(self.cf_log(), keys::log_key(u64::MAX));
        self.db.write_opt(batch, &synced()).map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        self.purge.want(log_id).map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
impl LogStore {
    pub(crate) fn put_entry_for_test(&self, e: &Entry<TypeConfig>) {
        self.db
            .put_cf_opt(self.cf_log(), keys::log_key(e.get_log_id().index), encode(e), &synced())
            .unwrap();
    }
}
