//! Keeps the Raft log from being purged past the last durable snapshot.
//!
//! openraft 0.9 asks the log store to purge the entries a received snapshot covers in the
//! same step as it hands the snapshot to the state-machine worker, without waiting for the
//! install to finish. A node killed in between restarts with its log purged beyond its
//! snapshot and stops at openraft's `purge_upto <= snapshot_last_log_id` check, for good.
//!
//! So a purge only records what openraft wants gone; entries are deleted up to the lesser of
//! that and the last snapshot saved to disk, and the rest follows when the state machine
//! saves the next snapshot. Keeping entries openraft believes purged is harmless: it never
//! reads below its purge point, and on restart it is told the true (lower) one.

use std::sync::{Arc, Mutex};

use openraft::LogId;
use rocksdb::{DB, WriteBatch};

use crate::codec::{decode, encode};
use crate::keys::{self, CF_LOG, CF_META};
use crate::{NodeId, synced};

#[derive(Default)]
struct Marks {
    /// The last log id covered by a snapshot that is on disk.
    durable: Option<LogId<NodeId>>,
    /// The furthest purge openraft has asked for.
    wanted: Option<LogId<NodeId>>,
    /// What has been deleted (and recorded as `last_purged`).
    done: Option<LogId<NodeId>>,
}

#[derive(Clone)]
pub(crate) struct PurgeGate {
    db: Arc<DB>,
    marks: Arc<Mutex<Marks>>,
}

impl PurgeGate {
    pub(crate) fn open(db: Arc<DB>) -> Result<PurgeGate, rocksdb::Error> {
        let meta = |key: &[u8]| -> Result<Option<LogId<NodeId>>, rocksdb::Error> {
            let cf = db.cf_handle(CF_META).expect("meta column family exists");
            Ok(db.get_cf(cf, key)?.and_then(|b| decode(&b).ok()))
        };
        let done = meta(keys::META_LAST_PURGED)?;
        let durable = meta(keys::META_SNAPSHOT)?;
        let marks = Marks { durable, wanted: done, done };
        Ok(PurgeGate { db, marks: Arc::new(Mutex::new(marks)) })
    }

    /// openraft asks for the log up to `upto` to be purged.
    pub(crate) fn want(&self, upto: LogId<NodeId>) -> Result<(), rocksdb::Error> {
        let mut m = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        if m.wanted < Some(upto) {
            m.wanted = Some(upto);
        }
        self.catch_up(&mut m)
    }

    /// A snapshot covering the log up to `last` is now on disk.
    pub(crate) fn snapshot_saved(&self, last: Option<LogId<NodeId>>) -> Result<(), rocksdb::Error> {
        let mut m = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let cf = self.db.cf_handle(CF_META).expect("meta column family exists");
        self.db.put_cf_opt(cf, keys::META_SNAPSHOT, encode(&last), &synced())?;
        m.durable = last;
        self.catch_up(&mut m)
    }

    fn catch_up(&self, m: &mut Marks) -> Result<(), rocksdb::Error> {
        let target = match (m.wanted, m.durable) {
            (Some(w), Some(d)) => if w.index <= d.index { w } else { d },
            _ => return Ok(()),
        };
        if m.done.is_some_and(|d| d.index >= target.index) {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        let meta = self.db.cf_handle(CF_META).expect("meta column family exists");
        let log = self.db.cf_handle(CF_LOG).expect("log column family exists");
        batch.put_cf(meta, keys::META_LAST_PURGED, encode(&target));
        batch.delete_range_cf(log, keys::log_key(0), keys::log_key(target.index + 1));
        self.db.write_opt(batch, &synced())?;
        if target != m.wanted.unwrap_or(target) {
            tracing::info!(
                purged = target.index,
                wanted = m.wanted.map(|w| w.index),
                "log purge held at the last durable snapshot"
            );
        }
        m.done = Some(target);
        Ok(())
    }
}
