//! Reads served from the local applied state. Callers that must see their own writes from
//! any node first wait for a read index (see the cluster crate); this module only reads.

use std::sync::Arc;

use rocksdb::{DB, Direction, IteratorMode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::decode;
use crate::keys::{self, CF_DATA, CF_META};
use crate::rank_cache::RankCache;
use crate::records::*;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("corrupt record: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// A records cursor from another board or partition (Nakama: 400 "Cursor is invalid or
    /// expired.").
    #[error("cursor is invalid or expired")]
    InvalidCursor,
}

/// Where a storage listing resumes: after this entry of the index it walks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageListPosition {
    /// Public index of a collection: ordered by (key, user).
    Public { key: String, user: Uuid },
    /// One owner's index: ordered by (read, key).
    Owner { read: u8, key: String },
    /// Every object of a collection (runtime listing): ordered by (user, key).
    All { user: Uuid, key: String },
}

/// One storage object with its address.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub collection: String,
    pub key: String,
    pub user_id: Uuid,
    pub record: StorageRecord,
}

#[derive(Clone)]
pub struct Reader {
    pub(crate) db: Arc<DB>,
    pub(crate) ranks: RankCache,
}

impl Reader {
    pub(crate) fn new(db: Arc<DB>, ranks: RankCache) -> Self {
        Reader { db, ranks }
    }

    pub(crate) fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_DATA).expect("data column family exists")
    }

    pub(crate) fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, ReadError> {
        match self.db.get_pinned_cf(self.cf(), key)? {
            Some(b) => Ok(Some(decode(&b)?)),
            None => Ok(None),
        }
    }

    fn get_uuid(&self, key: &[u8]) -> Result<Option<Uuid>, ReadError> {
        Ok(self.db.get_pinned_cf(self.cf(), key)?.and_then(|b| Uuid::from_slice(&b).ok()))
    }

    /// The index of the last entry applied to this node's state machine.
    pub fn applied_index(&self) -> Result<u64, ReadError> {
        let cf = self.db.cf_handle(CF_META).expect("meta column family exists");
        let raw = self.db.get_cf(cf, keys::META_LAST_APPLIED)?;
        let id: Option<openraft::LogId<u64>> = match raw {
            Some(b) => decode(&b)?,
            None => None,
        };
        Ok(id.map(|l| l.index).unwrap_or(0))
    }

    pub fn user(&self, id: &Uuid) -> Result<Option<UserRecord>, ReadError> {
        self.get(&keys::user(id))
    }
    pub fn user_id_by_username(&self, name: &str) -> Result<Option<Uuid>, ReadError> {
        self.get_uuid(&keys::username(name))
    }
    pub fn user_id_by_device(&self, id: &str) -> Result<Option<Uuid>, ReadError> {
        self.get_uuid(&keys::device(id))
    }
    pub fn user_id_by_custom(&self, id: &str) -> Result<Option<Uuid>, ReadError> {
        self.get_uuid(&keys::custom(id))
    }
    pub fn user_id_by_email(&self, email: &str) -> Result<Option<Uuid>, ReadError> {
        self.get_uuid(&keys::email(email))
    }

    pub fn storage_object(
        &self,
        collection: &str,
        user: &Uuid,
        key: &str,
    ) -> Result<Option<StorageRecord>, ReadError> {
        self.get(&keys::storage(collection, user, key))
    }

    /// Walks index keys under `prefix` strictly after `after` (or from the start), calling
    /// `f` until it returns false.
    fn walk(
        &self,
        prefix: &[u8],
        after: Option<Vec<u8>>,
        mut f: impl FnMut(&[u8]) -> Result<bool, ReadError>,
    ) -> Result<(), ReadError> {
        let start = after.clone().unwrap_or_else(|| prefix.to_vec());
        let it = self.db.iterator_cf(self.cf(), IteratorMode::From(&start, Direction::Forward));
        for item in it {
            let (k, _) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            if after.as_deref() == Some(&k[..]) {
                continue;
            }
            if !f(&k)? {
                break;
            }
        }
        Ok(())
    }

    /// Public (read = 2) objects of every user in a collection, ordered by (key, user).
    /// Returns up to `limit` objects and the position to resume from if more remain.
    pub fn storage_list_public(
        &self,
        collection: &str,
        after: Option<&StorageListPosition>,
        limit: usize,
    ) -> Result<(Vec<StoredObject>, Option<StorageListPosition>), ReadError> {
        let prefix = keys::storage_public_prefix(collection);
        let after = match after {
            Some(StorageListPosition::Public { key, user }) => {
                Some(keys::storage_public(collection, key, user))
            }
            _ => None,
        };
        let mut out = Vec::new();
        let mut more = false;
        self.walk(&prefix, after, |k| {
            let Some((key, pos)) = keys::decode_str(k, prefix.len()) else { return Ok(true) };
            let Some((user, _)) = keys::decode_uuid(k, pos) else { return Ok(true) };
            if out.len() == limit {
                more = true;
                return Ok(false);
            }
            if let Some(record) = self.storage_object(collection, &user, &key)? {
                out.push(StoredObject { collection: collection.into(), key, user_id: user, record });
            }
            Ok(true)
        })?;
        let next = match (more, out.last()) {
            (true, Some(o)) => Some(StorageListPosition::Public { key: o.key.clone(), user: o.user_id }),
            _ => None,
        };
        Ok((out, next))
    }

    /// One owner's objects in a collection with `read >= min_read`, ordered by (read, key).
    pub fn storage_list_owner(
        &self,
        user: &Uuid,
        collection: &str,
        min_read: u8,
        after: Option<&StorageListPosition>,
        limit: usize,
    ) -> Result<(Vec<StoredObject>, Option<StorageListPosition>), ReadError> {
        let prefix = keys::storage_owner_prefix(user, collection);
        let after = match after {
            Some(StorageListPosition::Owner { read, key }) => {
                Some(keys::storage_owner(user, collection, *read, key))
            }
            _ => Some(keys::storage_owner_read_prefix(user, collection, min_read))
                .filter(|_| min_read > 0),
        };
        let mut out: Vec<StoredObject> = Vec::new();
        let mut last_read = 0u8;
        let mut more = false;
        self.walk(&prefix, after, |k| {
            let read = k[prefix.len()];
            if read < min_read {
                return Ok(true);
            }
            let Some((key, _)) = keys::decode_str(k, prefix.len() + 1) else { return Ok(true) };
            if out.len() == limit {
                more = true;
                return Ok(false);
            }
            if let Some(record) = self.storage_object(collection, user, &key)? {
                last_read = read;
                out.push(StoredObject { collection: collection.into(), key, user_id: *user, record });
            }
            Ok(true)
        })?;
        let next = match (more, out.last()) {
            (true, Some(o)) => Some(StorageListPosition::Owner { read: last_read, key: o.key.clone() }),
            _ => None,
        };
        Ok((out, next))
    }

    /// Every object of a collection regardless of permissions (the runtime's view), ordered
    /// by (user, key).
    pub fn storage_list_all(
        &self,
        collection: &str,
        after: Option<&StorageListPosition>,
        limit: usize,
    ) -> Result<(Vec<StoredObject>, Option<StorageListPosition>), ReadError> {
        let prefix = keys::storage_collection_prefix(collection);
        let after = match after {
            Some(StorageListPosition::All { user, key }) => Some(keys::storage(collection, user, key)),
            _ => None,
        };
        let start = after.clone().unwrap_or_else(|| prefix.clone());
        let mut out = Vec::new();
        let mut more = false;
        let it = self.db.iterator_cf(self.cf(), IteratorMode::From(&start, Direction::Forward));
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if after.as_deref() == Some(&k[..]) {
                continue;
            }
            let Some((user, pos)) = keys::decode_uuid(&k, prefix.len()) else { continue };
            let Some((key, _)) = keys::decode_str(&k, pos) else { continue };
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(StoredObject { collection: collection.into(), key, user_id: user, record: decode(&v)? });
        }
        let next = match (more, out.last()) {
            (true, Some(o)) => Some(StorageListPosition::All { user: o.user_id, key: o.key.clone() }),
            _ => None,
        };
        Ok((out, next))
    }

    /// Every friend edge of a user.
    pub fn friend_edges(&self, user: &Uuid) -> Result<Vec<(Uuid, FriendEdge)>, ReadError> {
        let prefix = keys::friend_prefix(user);
        let mut out = Vec::new();
        let it = self.db.iterator_cf(self.cf(), IteratorMode::From(&prefix, Direction::Forward));
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if let Some((other, _)) = keys::decode_uuid(&k, prefix.len()) {
                out.push((other, decode(&v)?));
            }
        }
        Ok(out)
    }

    pub fn friend_edge(&self, user: &Uuid, other: &Uuid) -> Result<Option<FriendEdge>, ReadError> {
        self.get(&keys::friend(user, other))
    }

    pub fn session_revoked(&self, token_id: &str) -> Result<bool, ReadError> {
        Ok(self.db.get_pinned_cf(self.cf(), keys::revoked_session(token_id))?.is_some())
    }
    pub fn refresh_revoked(&self, token_id: &str) -> Result<bool, ReadError> {
        Ok(self.db.get_pinned_cf(self.cf(), keys::revoked_refresh(token_id))?.is_some())
    }
    /// Tokens of this user issued before this time (unix s) are revoked; 0 if none.
    pub fn revoked_before(&self, user: &Uuid) -> Result<i64, ReadError> {
        Ok(self.get::<i64>(&keys::revoked_all(user))?.unwrap_or(0))
    }
}
