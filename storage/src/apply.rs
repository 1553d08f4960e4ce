//! Applying commands: pure functions of (current state, command) over a transaction that
//! buffers writes. A rejected command leaves no trace; the caller writes every accepted
//! command of one `apply` call in one RocksDB WriteBatch.

use std::collections::BTreeMap;

use rocksdb::{DB, Direction, IteratorMode};
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::command::*;
use crate::keys;
use crate::rank_cache::RankOp;
use crate::records::*;

type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Reads through two layers of buffered writes (this command's, then earlier commands' of
/// the same apply call) to the `data` column family.
pub struct Txn<'a> {
    db: &'a DB,
    base: Overlay,
    cur: Overlay,
    /// Rank-cache changes of accepted commands, then of the current one; applied to the
    /// cache only after the batch is written.
    base_rank: Vec<RankOp>,
    cur_rank: Vec<RankOp>,
}

#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("corrupt record: {0}")]
    Decode(#[from] bincode::error::DecodeError),
}

impl<'a> Txn<'a> {
    pub fn new(db: &'a DB) -> Self {
        Txn { db, base: Overlay::new(), cur: Overlay::new(), base_rank: Vec::new(), cur_rank: Vec::new() }
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(keys::CF_DATA).expect("data column family exists")
    }

    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        if let Some(v) = self.cur.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.base.get(key) {
            return Ok(v.clone());
        }
        Ok(self.db.get_cf(self.cf(), key)?)
    }

    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, TxnError> {
        match self.get_raw(key)? {
            Some(b) => Ok(Some(decode(&b)?)),
            None => Ok(None),
        }
    }

    pub fn put<T: serde::Serialize>(&mut self, key: Vec<u8>, v: &T) {
        self.cur.insert(key, Some(encode(v)));
    }

    pub fn put_raw(&mut self, key: Vec<u8>, v: Vec<u8>) {
        self.cur.insert(key, Some(v));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.cur.insert(key, None);
    }

    /// Every live (key, value) under `prefix`, in key order, with buffered writes applied.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, TxnError> {
        let end = keys::prefix_end(prefix);
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let it = self
            .db
            .iterator_cf(self.cf(), IteratorMode::From(prefix, Direction::Forward));
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            merged.insert(k.to_vec(), Some(v.to_vec()));
        }
        for layer in [&self.base, &self.cur] {
            for (k, v) in layer.range(prefix.to_vec()..end.clone()) {
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect())
    }

    /// Records a rank-cache change of the current command.
    pub(crate) fn rank_op(&mut self, op: RankOp) {
        self.cur_rank.push(op);
    }

    /// Keeps this command's writes.
    pub fn commit_command(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        self.base.extend(cur);
        self.base_rank.append(&mut self.cur_rank);
    }

    /// Drops this command's writes.
    pub fn rollback_command(&mut self) {
        self.cur.clear();
        self.cur_rank.clear();
    }

    /// The accepted writes, for the WriteBatch, and the rank-cache changes to apply after it.
    pub(crate) fn into_writes(self) -> (Overlay, Vec<RankOp>) {
        (self.base, self.base_rank)
    }
}

/// Applies one command; on `Err(Rejection)` the caller rolls the command back.
pub fn apply_command(txn: &mut Txn<'_>, cmd: &Command) -> Result<Response, TxnError> {
    Ok(match cmd {
        Command::CreateUser { user } => create_user(txn, user)?,
        Command::UpdateUser { user_id, update, now } => update_user(txn, user_id, update, *now)?,
        Command::DeleteUser { user_id, now } => delete_user(txn, user_id, *now)?,
        Command::Link { user_id, link, now } => link_identity(txn, user_id, link, *now)?,
        Command::Unlink { user_id, link, now } => unlink_identity(txn, user_id, link, *now)?,
        Command::StorageWrite { ops, now } => storage_write(txn, ops, *now)?,
        Command::StorageDelete { ops } => storage_delete(txn, ops)?,
        Command::FriendsAdd { user_id, targets, metadata, now, position } => {
            friends_add(txn, user_id, targets, metadata, *now, *position)?
        }
        Command::FriendsDelete { user_id, targets } => friends_delete(txn, user_id, targets)?,
        Command::FriendsBlock { user_id, targets, now, position } => {
            friends_block(txn, user_id, targets, *now, *position)?
        }
        Command::RevokeTokens { session, refresh } => {
            for (tid, exp) in session {
                txn.put(keys::revoked_session(tid), exp);
            }
            for (tid, exp) in refresh {
                txn.put(keys::revoked_refresh(tid), exp);
            }
            Ok(Reply::Done)
        }
        Command::RevokeAllBefore { user_id, before } => {
            revoke_all(txn, user_id, *before)?;
            Ok(Reply::Done)
        }
        // Batches are unpacked by the state machine; a nested one is refused.
        Command::Batch(_) => Ok(Reply::Batch(Vec::new())),
        Command::Leaderboard(cmd) => crate::leaderboard_apply::apply(txn, cmd)?,
        Command::Notification(cmd) => crate::notifications::apply(txn, cmd)?,
        Command::ChannelMessage(cmd) => crate::channel_messages::apply(txn, cmd)?,
        Command::Bundle(cmd) => crate::bundles::apply(txn, cmd)?,
    })
}

fn revoke_all(txn: &mut Txn<'_>, user_id: &Uuid, before: i64) -> Result<(), TxnError> {
    let prev: Option<i64> = txn.get(&keys::revoked_all(user_id))?;
    txn.put(keys::revoked_all(user_id), &prev.unwrap_or(0).max(before));
    Ok(())
}

fn identity_keys(user: &UserRecord) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for d in &user.devices {
        out.push(keys::device(d));
    }
    if !user.custom_id.is_empty() {
        out.push(keys::custom(&user.custom_id));
    }
    if !user.email.is_empty() {
        out.push(keys::email(&user.email));
    }
    out
}

fn create_user(txn: &mut Txn<'_>, user: &UserRecord) -> Result<Response, TxnError> {
    // If another proposal already claimed one of this user's identifiers, answer with that
    // user: two concurrent "authenticate with create" calls end with one account.
    for k in identity_keys(user) {
        if let Some(raw) = txn.get_raw(&k)? {
            let owner = Uuid::from_slice(&raw).unwrap_or_default();
            if let Some(existing) = txn.get::<UserRecord>(&keys::user(&owner))? {
                return Ok(Ok(Reply::User { user: existing, created: false }));
            }
        }
    }
    if txn.get_raw(&keys::username(&user.username))?.is_some() {
        return Ok(Err(Rejection::UsernameTaken));
    }
    if txn.get_raw(&keys::user(&user.id))?.is_some() {
        // A duplicate id is a proposer bug (ids are random v4); refuse rather than overwrite.
        return Ok(Err(Rejection::UsernameTaken));
    }
    for k in identity_keys(user) {
        txn.put_raw(k, user.id.as_bytes().to_vec());
    }
    txn.put_raw(keys::username(&user.username), user.id.as_bytes().to_vec());
    txn.put(keys::user(&user.id), user);
    Ok(Ok(Reply::User { user: user.clone(), created: true }))
}

fn load_user(txn: &Txn<'_>, id: &Uuid) -> Result<Option<UserRecord>, TxnError> {
    txn.get(&keys::user(id))
}

fn update_user(
    txn: &mut Txn<'_>,
    id: &Uuid,
    up: &UserUpdate,
    now: i64,
) -> Result<Response, TxnError> {
    let Some(mut user) = load_user(txn, id)? else { return Ok(Err(Rejection::UserNotFound)) };
    if let Some(name) = &up.username
        && *name != user.username
    {
        if txn.get_raw(&keys::username(name))?.is_some() {
            return Ok(Err(Rejection::UsernameTaken));
        }
        txn.delete(keys::username(&user.username));
        txn.put_raw(keys::username(name), id.as_bytes().to_vec());
        user.username = name.clone();
    }
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *field = v.clone();
        }
    };
    set(&mut user.display_name, &up.display_name);
    set(&mut user.avatar_url, &up.avatar_url);
    set(&mut user.lang_tag, &up.lang_tag);
    set(&mut user.location, &up.location);
    set(&mut user.timezone, &up.timezone);
    set(&mut user.metadata, &up.metadata);
    user.update_time = now;
    txn.put(keys::user(id), &user);
    Ok(Ok(Reply::Done))
}

fn delete_user(txn: &mut Txn<'_>, id: &Uuid, now: i64) -> Result<Response, TxnError> {
    let Some(user) = load_user(txn, id)? else { return Ok(Ok(Reply::Done)) };
    for k in identity_keys(&user) {
        txn.delete(k);
    }
    txn.delete(keys::username(&user.username));
    txn.delete(keys::user(id));
    // Storage objects: walk the owner index.
    for (k, _) in txn.scan_prefix(&keys::storage_owner_all(id))? {
        let Some((collection, key, read)) = parse_owner_key(&k) else { continue };
        txn.delete(keys::storage(&collection, id, &key));
        if read == 2 {
            txn.delete(keys::storage_public(&collection, &key, id));
        }
        txn.delete(k);
    }
    // Friend edges, both directions.
    for (k, _) in txn.scan_prefix(&keys::friend_prefix(id))? {
        if let Some((other, _)) = keys::decode_uuid(&k, 17) {
            txn.delete(keys::friend(&other, id));
            adjust_edge_count(txn, &other, -1)?;
        }
        txn.delete(k);
    }
    crate::leaderboard_apply::delete_owner_records(txn, id)?;
    crate::notifications::delete_user_notifications(txn, id)?;
    revoke_all(txn, id, now)?;
    Ok(Ok(Reply::Done))
}

/// (collection, key, read) of a `storage_owner` index key.
fn parse_owner_key(k: &[u8]) -> Option<(String, String, u8)> {
    let (_, pos) = keys::decode_uuid(k, 1)?;
    let (collection, pos) = keys::decode_str(k, pos)?;
    let read = *k.get(pos)?;
    let (key, _) = keys::decode_str(k, pos + 1)?;
    Some((collection, key, read))
}

fn identity_key(link: &Identity) -> Vec<u8> {
    match link {
        Identity::Device(d) => keys::device(d),
        Identity::Custom(c) => keys::custom(c),
        Identity::Email { email, .. } => keys::email(email),
    }
}

fn link_identity(txn: &mut Txn<'_>, id: &Uuid, link: &Identity, now: i64) -> Result<Response, TxnError> {
    let Some(mut user) = load_user(txn, id)? else { return Ok(Err(Rejection::UserNotFound)) };
    let key = identity_key(link);
    if let Some(owner) = txn.get_raw(&key)? {
        if owner == id.as_bytes() {
            if let Identity::Email { password_hash, .. } = link {
                user.password_hash = password_hash.clone();
                user.update_time = now;
                txn.put(keys::user(id), &user);
            }
            return Ok(Ok(Reply::Done));
        }
        return Ok(Err(match link {
            Identity::Device(_) => Rejection::DeviceInUse,
            Identity::Custom(_) => Rejection::CustomInUse,
            Identity::Email { .. } => Rejection::EmailInUse,
        }));
    }
    match link {
        Identity::Device(d) => user.devices.push(d.clone()),
        Identity::Custom(c) => {
            if !user.custom_id.is_empty() {
                txn.delete(keys::custom(&user.custom_id));
            }
            user.custom_id = c.clone();
        }
        Identity::Email { email, password_hash } => {
            if !user.email.is_empty() {
                txn.delete(keys::email(&user.email));
            }
            user.email = email.clone();
            user.password_hash = password_hash.clone();
        }
    }
    txn.put_raw(key, id.as_bytes().to_vec());
    user.update_time = now;
    txn.put(keys::user(id), &user);
    Ok(Ok(Reply::Done))
}

fn unlink_identity(txn: &mut Txn<'_>, id: &Uuid, link: &Identity, now: i64) -> Result<Response, TxnError> {
    let Some(mut user) = load_user(txn, id)? else { return Ok(Err(Rejection::LastIdentifier)) };
    let has = match link {
        Identity::Device(d) => user.devices.iter().any(|x| x == d),
        Identity::Custom(c) => user.custom_id == *c,
        Identity::Email { email, .. } => user.email == *email,
    };
    if !has || identity_keys(&user).len() <= 1 {
        return Ok(Err(Rejection::LastIdentifier));
    }
    match link {
        Identity::Device(d) => user.devices.retain(|x| x != d),
        Identity::Custom(_) => user.custom_id.clear(),
        Identity::Email { .. } => {
            user.email.clear();
            user.password_hash.clear();
        }
    }
    txn.delete(identity_key(link));
    user.update_time = now;
    txn.put(keys::user(id), &user);
    Ok(Ok(Reply::Done))
}

fn storage_write(txn: &mut Txn<'_>, ops: &[StorageWriteOp], now: i64) -> Result<Response, TxnError> {
    let mut acks = Vec::with_capacity(ops.len());
    for op in ops {
        let pk = keys::storage(&op.collection, &op.user_id, &op.key);
        let existing: Option<StorageRecord> = txn.get(&pk)?;
        match (&op.check, &existing) {
            (VersionCheck::Absent, Some(_)) => return Ok(Err(Rejection::StorageVersionCheck)),
            (VersionCheck::Exact(_), None) => return Ok(Err(Rejection::StorageVersionCheck)),
            (VersionCheck::Exact(v), Some(e)) if *v != e.version => {
                return Ok(Err(Rejection::StorageVersionCheck));
            }
            _ => {}
        }
        if let (Some(_), Some(e)) = (&op.caller, &existing)
            && e.write == 0
        {
            return Ok(Err(Rejection::StoragePermission));
        }
        let create_time = existing.as_ref().map(|e| e.create_time).unwrap_or(now);
        if let Some(e) = &existing {
            txn.delete(keys::storage_owner(&op.user_id, &op.collection, e.read, &op.key));
            if e.read == 2 {
                txn.delete(keys::storage_public(&op.collection, &op.key, &op.user_id));
            }
        }
        let rec = StorageRecord {
            value: op.value.clone(),
            version: op.version.clone(),
            read: op.read,
            write: op.write,
            create_time,
            update_time: now,
        };
        txn.put(pk, &rec);
        txn.put_raw(keys::storage_owner(&op.user_id, &op.collection, op.read, &op.key), Vec::new());
        if op.read == 2 {
            txn.put_raw(keys::storage_public(&op.collection, &op.key, &op.user_id), Vec::new());
        }
        acks.push(StorageAck {
            collection: op.collection.clone(),
            key: op.key.clone(),
            user_id: op.user_id,
            version: op.version.clone(),
            create_time,
            update_time: now,
        });
    }
    Ok(Ok(Reply::StorageAcks(acks)))
}

fn storage_delete(txn: &mut Txn<'_>, ops: &[StorageDeleteOp]) -> Result<Response, TxnError> {
    for op in ops {
        let pk = keys::storage(&op.collection, &op.user_id, &op.key);
        let existing: Option<StorageRecord> = txn.get(&pk)?;
        let Some(e) = existing else {
            if op.caller.is_some() || op.version.is_some() {
                return Ok(Err(Rejection::StorageDeleteRejected));
            }
            continue;
        };
        if op.version.as_ref().is_some_and(|v| *v != e.version)
            || (op.caller.is_some() && e.write == 0)
        {
            return Ok(Err(Rejection::StorageDeleteRejected));
        }
        txn.delete(pk);
        txn.delete(keys::storage_owner(&op.user_id, &op.collection, e.read, &op.key));
        if e.read == 2 {
            txn.delete(keys::storage_public(&op.collection, &op.key, &op.user_id));
        }
    }
    Ok(Ok(Reply::Done))
}

fn adjust_edge_count(txn: &mut Txn<'_>, user: &Uuid, delta: i32) -> Result<(), TxnError> {
    if let Some(mut u) = load_user(txn, user)? {
        u.edge_count = (u.edge_count + delta).max(0);
        txn.put(keys::user(user), &u);
    }
    Ok(())
}

fn put_edge(
    txn: &mut Txn<'_>,
    from: &Uuid,
    to: &Uuid,
    state: FriendState,
    metadata: &str,
    now: i64,
    position: i64,
) -> Result<(), TxnError> {
    let k = keys::friend(from, to);
    let prev: Option<FriendEdge> = txn.get(&k)?;
    if prev.is_none() {
        adjust_edge_count(txn, from, 1)?;
    }
    let position = prev.as_ref().map(|p| p.position).unwrap_or(position);
    let metadata = if metadata.is_empty() {
        prev.map(|p| p.metadata).unwrap_or_default()
    } else {
        metadata.to_string()
    };
    txn.put(k, &FriendEdge { state, update_time: now, position, metadata });
    Ok(())
}

fn del_edge(txn: &mut Txn<'_>, from: &Uuid, to: &Uuid) -> Result<(), TxnError> {
    let k = keys::friend(from, to);
    if txn.get_raw(&k)?.is_some() {
        txn.delete(k);
        adjust_edge_count(txn, from, -1)?;
    }
    Ok(())
}

fn friends_add(
    txn: &mut Txn<'_>,
    user: &Uuid,
    targets: &[Uuid],
    metadata: &str,
    now: i64,
    position: i64,
) -> Result<Response, TxnError> {
    for (i, t) in targets.iter().enumerate() {
        if t == user || load_user(txn, t)?.is_none() {
            continue;
        }
        let pos = position + i as i64;
        let theirs: Option<FriendEdge> = txn.get(&keys::friend(t, user))?;
        match theirs.map(|e| e.state) {
            // They blocked us: silently ignored, as Nakama does.
            Some(FriendState::Blocked) => continue,
            // They invited us: accept, both become friends.
            Some(FriendState::InviteSent) => {
                put_edge(txn, user, t, FriendState::Friend, metadata, now, pos)?;
                put_edge(txn, t, user, FriendState::Friend, "", now, pos)?;
            }
            Some(FriendState::Friend) => {
                put_edge(txn, user, t, FriendState::Friend, metadata, now, pos)?;
            }
            // Already invited by us, or new: (re)send the invite.
            Some(FriendState::InviteReceived) | None => {
                put_edge(txn, user, t, FriendState::InviteSent, metadata, now, pos)?;
                put_edge(txn, t, user, FriendState::InviteReceived, "", now, pos)?;
            }
        }
    }
    Ok(Ok(Reply::Done))
}

fn friends_delete(txn: &mut Txn<'_>, user: &Uuid, targets: &[Uuid]) -> Result<Response, TxnError> {
    for t in targets {
        del_edge(txn, user, t)?;
        let theirs: Option<FriendEdge> = txn.get(&keys::friend(t, user))?;
        if theirs.is_some_and(|e| e.state != FriendState::Blocked) {
            del_edge(txn, t, user)?;
        }
    }
    Ok(Ok(Reply::Done))
}

fn friends_block(
    txn: &mut Txn<'_>,
    user: &Uuid,
    targets: &[Uuid],
    now: i64,
    position: i64,
) -> Result<Response, TxnError> {
    for (i, t) in targets.iter().enumerate() {
        if t == user || load_user(txn, t)?.is_none() {
            continue;
        }
        put_edge(txn, user, t, FriendState::Blocked, "", now, position + i as i64)?;
        let theirs: Option<FriendEdge> = txn.get(&keys::friend(t, user))?;
        if theirs.is_some_and(|e| e.state != FriendState::Blocked) {
            del_edge(txn, t, user)?;
        }
    }
    Ok(Ok(Reply::Done))
}
