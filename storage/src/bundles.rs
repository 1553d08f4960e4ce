//! The cluster's Lua module bundle, replicated through Raft so every node (including one
//! that joins or restarts later) runs the same code, and the bundle before it for rollback.

use serde::{Deserialize, Serialize};

use crate::apply::{Txn, TxnError};
use crate::command::{BundleCommand, Reply, Response};
use crate::keys;
use crate::read::{ReadError, Reader};

/// A bundle as stored: its files (relative path, source) and version (content hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    pub version: String,
    pub files: Vec<(String, String)>,
    /// Unix s, stamped by the proposer.
    pub committed_at: i64,
}

pub(crate) fn apply(txn: &mut Txn<'_>, cmd: &BundleCommand) -> Result<Response, TxnError> {
    let current: Option<BundleRecord> = txn.get(&keys::bundle_current())?;
    let version = match cmd {
        BundleCommand::Seed(record) => match current {
            Some(c) => c.version,
            None => {
                txn.put(keys::bundle_current(), record);
                record.version.clone()
            }
        },
        BundleCommand::Commit(record) => {
            if current.as_ref().is_some_and(|c| c.version == record.version) {
                record.version.clone()
            } else {
                if let Some(c) = &current {
                    txn.put(keys::bundle_previous(), c);
                }
                txn.put(keys::bundle_current(), record);
                record.version.clone()
            }
        }
    };
    Ok(Ok(Reply::Bundle { version }))
}

impl Reader {
    /// The bundle every node should run, once one was seeded.
    pub fn bundle_current(&self) -> Result<Option<BundleRecord>, ReadError> {
        self.get(&keys::bundle_current())
    }

    /// The bundle the current one replaced.
    pub fn bundle_previous(&self) -> Result<Option<BundleRecord>, ReadError> {
        self.get(&keys::bundle_previous())
    }
}

#[cfg(test)]
mod tests {
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};

    use super::*;
    use crate::{Command, TypeConfig, open};

    fn entry(index: u64, cmd: Command) -> Entry<TypeConfig> {
        Entry { log_id: LogId::new(CommittedLeaderId::new(1, 1), index), payload: EntryPayload::Normal(cmd) }
    }

    fn record(v: &str) -> BundleRecord {
        BundleRecord { version: v.into(), files: vec![("main.lua".into(), format!("-- {v}"))], committed_at: 1 }
    }

    #[tokio::test]
    async fn seed_once_commit_keeps_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let (_log, mut sm, reader) = open(dir.path()).unwrap();
        let version = |r: &Response| match r {
            Ok(Reply::Bundle { version }) => version.clone(),
            other => panic!("{other:?}"),
        };
        let r = sm
            .apply(vec![
                entry(1, Command::Bundle(BundleCommand::Seed(record("a")))),
                // A second seed (another node's local files) loses to the first.
                entry(2, Command::Bundle(BundleCommand::Seed(record("b")))),
                entry(3, Command::Bundle(BundleCommand::Commit(record("c")))),
                // Committing the current version again changes nothing.
                entry(4, Command::Bundle(BundleCommand::Commit(record("c")))),
            ])
            .await
            .unwrap();
        assert_eq!(r.iter().map(version).collect::<Vec<_>>(), ["a", "a", "c", "c"]);
        assert_eq!(reader.bundle_current().unwrap().unwrap().version, "c");
        assert_eq!(reader.bundle_previous().unwrap().unwrap().version, "a");
        // Rollback is a commit of the previous one.
        sm.apply(vec![entry(5, Command::Bundle(BundleCommand::Commit(record("a"))))]).await.unwrap();
        assert_eq!(reader.bundle_current().unwrap().unwrap().version, "a");
        assert_eq!(reader.bundle_previous().unwrap().unwrap().version, "c");
    }
}
