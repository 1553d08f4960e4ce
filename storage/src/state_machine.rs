//! The state machine: applies committed entries into the `data` column family, one atomic
//! WriteBatch per `apply` call that also records the last-applied log id and membership.
//! Snapshots are a consistent copy of `data` plus that metadata, kept as a file.
//!
//! Durability: the batch is not fsynced on its own. The log and the state machine share one
//! RocksDB, hence one WAL, written in order: the state-machine batch comes after the log
//! entries it applies, and the log flusher's next WAL sync makes both durable. After a crash
//! the state machine is at some earlier last-applied id, consistent with a log prefix, and
//! openraft re-applies the committed entries after it from the (synced) log. A client write
//! is acknowledged only once committed, i.e. durable in a majority of logs. Syncing here as
//! well cost one serial fsync per apply and capped a node at ~1,800 writes/s.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageIOError,
    StoredMembership,
};
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::apply::{Txn, apply_command};
use crate::codec::{decode, encode};
use crate::command::{Command, Reply, Response};
use crate::keys::{self, CF_DATA, CF_META};
use crate::rank_cache::RankCache;
use crate::purge_gate::PurgeGate;
use crate::{ClusterNode, NodeId, StorageError, TypeConfig, synced};

type Membership = StoredMembership<NodeId, ClusterNode>;

#[derive(Clone)]
pub struct StateMachine {
    db: Arc<DB>,
    snapshot_dir: PathBuf,
    /// Shared with the `Reader`; changed only after the batch of an apply is written.
    ranks: RankCache,
    /// Told of every snapshot saved, so the log is purged only as far as one on disk.
    purge: PurgeGate,
}

/// What a snapshot file holds.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, ClusterNode>,
    data: Vec<u8>,
}

/// The snapshot payload sent to other nodes: every (key, value) of the `data` column family.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl StateMachine {
    pub(crate) fn new(db: Arc<DB>, snapshot_dir: PathBuf, ranks: RankCache, purge: PurgeGate) -> Self {
        StateMachine { db, snapshot_dir, ranks, purge }
    }

    fn cf_data(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_DATA).expect("data column family exists")
    }
    fn cf_meta(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_META).expect("meta column family exists")
    }

    fn read_applied(&self) -> Result<(Option<LogId<NodeId>>, Membership), StorageError> {
        let get = |k: &[u8]| {
            self.db.get_cf(self.cf_meta(), k).map_err(|e| StorageIOError::read_state_machine(&e))
        };
        let applied = match get(keys::META_LAST_APPLIED)? {
            Some(b) => decode(&b).map_err(|e| StorageIOError::read_state_machine(&e))?,
            None => None,
        };
        let membership = match get(keys::META_MEMBERSHIP)? {
            Some(b) => decode(&b).map_err(|e| StorageIOError::read_state_machine(&e))?,
            None => Membership::default(),
        };
        Ok((applied, membership))
    }

    fn current_snapshot_path(&self) -> PathBuf {
        self.snapshot_dir.join("current.snap")
    }

    fn save_snapshot_file(&self, file: &SnapshotFile) -> Result<(), StorageError> {
        let tmp = self.snapshot_dir.join("current.snap.tmp");
        let sig = Some(file.meta.signature());
        std::fs::write(&tmp, encode(file))
            .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, self.current_snapshot_path()))
            .and_then(|_| std::fs::File::open(&self.snapshot_dir)?.sync_all())
            .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        self.purge
            .snapshot_saved(file.meta.last_log_id)
            .map_err(|e| StorageIOError::write_snapshot(sig, &e).into())
    }
}

/// Applies one command; a rejection rolls back exactly that command's writes.
fn apply_one(txn: &mut Txn<'_>, cmd: &Command) -> Result<Response, StorageError> {
    let r = apply_command(txn, cmd).map_err(|e| StorageIOError::write_state_machine(&e))?;
    if r.is_ok() {
        txn.commit_command();
    } else {
        txn.rollback_command();
    }
    Ok(r)
}

/// Sets the rank of written records from the cache as it stands after the apply.
fn fill_ranks(ranks: &RankCache, reply: &mut Response) {
    match reply {
        Ok(Reply::LeaderboardRecord(rr)) => {
            let r = &rr.record;
            rr.rank = ranks
                .rank_of(&r.leaderboard_id, r.expiry_time, r.score, r.subscore, &r.owner_id)
                .map_or(0, |v| v as i64);
        }
        Ok(Reply::Batch(inner)) => {
            for r in inner {
                fill_ranks(ranks, r);
            }
        }
        _ => {}
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // A RocksDB snapshot gives a consistent view of data + metadata while applies go on.
        let snap = self.db.snapshot();
        let read_meta = |k: &[u8]| -> Result<Option<Vec<u8>>, StorageError> {
            snap.get_cf(self.cf_meta(), k).map_err(|e| StorageIOError::read_state_machine(&e).into())
        };
        let last_applied: Option<LogId<NodeId>> = match read_meta(keys::META_LAST_APPLIED)? {
            Some(b) => decode(&b).map_err(|e| StorageIOError::read_state_machine(&e))?,
            None => None,
        };
        let membership: Membership = match read_meta(keys::META_MEMBERSHIP)? {
            Some(b) => decode(&b).map_err(|e| StorageIOError::read_state_machine(&e))?,
            None => Membership::default(),
        };
        let mut entries = Vec::new();
        for item in snap.iterator_cf(self.cf_data(), IteratorMode::Start) {
            let (k, v) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
            entries.push((k.to_vec(), v.to_vec()));
        }
        let data = encode(&SnapshotData { entries });
        let snapshot_id = match last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, data.len()),
            None => format!("0-0-{}", data.len()),
        };
        let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership, snapshot_id };
        let file = SnapshotFile { meta: meta.clone(), data };
        self.save_snapshot_file(&file)?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(file.data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId<NodeId>>, Membership), StorageError> {
        self.read_applied()
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut txn = Txn::new(&self.db);
        let mut replies = Vec::new();
        let mut last_applied = None;
        let mut membership = None;
        for entry in entries {
            last_applied = Some(entry.log_id);
            let reply = match &entry.payload {
                EntryPayload::Blank => Ok(Reply::Done),
                EntryPayload::Normal(Command::Batch(cmds)) => {
                    let mut out = Vec::with_capacity(cmds.len());
                    for cmd in cmds {
                        out.push(apply_one(&mut txn, cmd)?);
                    }
                    Ok(Reply::Batch(out))
                }
                EntryPayload::Normal(cmd) => apply_one(&mut txn, cmd)?,
                EntryPayload::Membership(m) => {
                    membership = Some(Membership::new(Some(entry.log_id), m.clone()));
                    Ok(Reply::Done)
                }
            };
            replies.push(reply);
        }
        let Some(last_applied) = last_applied else { return Ok(replies) };
        let mut batch = WriteBatch::default();
        let cf = self.cf_data();
        let (writes, rank_ops) = txn.into_writes();
        for (k, v) in writes {
            match v {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
        }
        batch.put_cf(self.cf_meta(), keys::META_LAST_APPLIED, encode(&Some(last_applied)));
        if let Some(m) = membership {
            batch.put_cf(self.cf_meta(), keys::META_MEMBERSHIP, encode(&m));
        }
        // Atomic, in WAL order after the entries it applies; made durable by the log flusher
        // (see the module docs).
        self.db
            .write_opt(batch, &WriteOptions::default())
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        // Only now, with the accepted writes in RocksDB, does the rank cache follow them.
        self.ranks.apply(rank_ops);
        for reply in &mut replies {
            fill_ranks(&self.ranks, reply);
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, ClusterNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let sig = Some(meta.signature());
        let bytes = snapshot.into_inner();
        let data: SnapshotData =
            decode(&bytes).map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;
        let mut batch = WriteBatch::default();
        let cf = self.cf_data();
        // Replace the whole state machine: clear every existing key, then load the snapshot.
        for item in self.db.iterator_cf(cf, IteratorMode::Start) {
            let (k, _) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
            batch.delete_cf(cf, k);
        }
        for (k, v) in &data.entries {
            batch.put_cf(cf, k, v);
        }
        batch.put_cf(self.cf_meta(), keys::META_LAST_APPLIED, encode(&meta.last_log_id));
        batch.put_cf(self.cf_meta(), keys::META_MEMBERSHIP, encode(&meta.last_membership));
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        crate::leaderboard_read::rebuild_rank_cache(&self.db, &self.ranks)
            .map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;
        self.save_snapshot_file(&SnapshotFile { meta: meta.clone(), data: bytes })
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let path = self.current_snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageIOError::read_snapshot(None, &e).into()),
        };
        let file: SnapshotFile =
            decode(&bytes).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(Snapshot { meta: file.meta, snapshot: Box::new(Cursor::new(file.data)) }))
    }
}
