//! Storage objects: read, write (batch, atomic), delete, list — with Nakama's permission
//! and version rules. `caller = None` means the runtime (authoritative access).

use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use shoal_proto::{
    DeleteStorageObjectId, ReadStorageObjectId, Status, StorageObject, StorageObjectAck,
    StorageObjectAcks, StorageObjectList, StorageObjects, WriteStorageObject, SYSTEM_USER_ID,
};
use shoal_storage::{
    Command, Reply, StorageDeleteOp, StorageListPosition, StorageWriteOp, StoredObject, VersionCheck,
};
use uuid::Uuid;

use super::{Core, internal, now};

pub fn version_of(value: &str) -> String {
    hex::encode(Md5::digest(value.as_bytes()))
}

fn invalid_key() -> Status {
    Status::invalid("Invalid collection or key value supplied. They must be set.")
}

fn check_collection_key(collection: &str, key: &str) -> Result<(), Status> {
    if collection.is_empty() || key.is_empty() || collection.len() > 128 || key.len() > 128 {
        return Err(invalid_key());
    }
    Ok(())
}

fn parse_user_id(s: &str) -> Result<Uuid, Status> {
    if s.is_empty() {
        return Ok(SYSTEM_USER_ID);
    }
    Uuid::parse_str(s).map_err(|_| Status::invalid("Invalid user ID - must be a valid UUID."))
}

/// Whether a client (or the runtime, `None`) may read this object.
fn readable(caller: Option<&Uuid>, owner: &Uuid, read: u8) -> bool {
    match caller {
        None => true,
        Some(c) => read == 2 || (read == 1 && c == owner),
    }
}

fn to_api(o: &StoredObject) -> StorageObject {
    StorageObject {
        collection: o.collection.clone(),
        key: o.key.clone(),
        user_id: o.user_id.to_string(),
        value: o.record.value.clone(),
        version: o.record.version.clone(),
        permission_read: o.record.read as i32,
        permission_write: o.record.write as i32,
        create_time: o.record.create_time,
        update_time: o.record.update_time,
    }
}

/// The opaque list cursor: which listing it belongs to and where it resumes.
#[derive(Serialize, Deserialize, PartialEq)]
struct ListCursor {
    collection: String,
    user: Option<Uuid>,
    pos: StorageListPosition,
}

fn encode_cursor(c: &ListCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shoal_storage::encode(c))
}

fn decode_cursor(s: &str) -> Option<ListCursor> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
    shoal_storage::decode(&b).ok()
}

/// A JSON object, as Nakama's `json.Valid` + leading `{` check.
fn is_json_object(v: &str) -> bool {
    v.trim_start().starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok()
}

impl Core {
    pub async fn storage_read(
        &self,
        caller: Option<&Uuid>,
        ids: &[ReadStorageObjectId],
    ) -> Result<StorageObjects, Status> {
        let mut addrs = Vec::with_capacity(ids.len());
        for id in ids {
            check_collection_key(&id.collection, &id.key)?;
            addrs.push((id.collection.as_str(), parse_user_id(&id.user_id)?, id.key.as_str()));
        }
        if addrs.is_empty() {
            return Ok(StorageObjects::default());
        }
        self.read_barrier().await?;
        let mut objects = Vec::new();
        for (collection, user, key) in addrs {
            let Some(record) = self.reader.storage_object(collection, &user, key).map_err(internal)? else {
                continue;
            };
            if !readable(caller, &user, record.read) {
                continue;
            }
            let o = StoredObject { collection: collection.into(), key: key.into(), user_id: user, record };
            objects.push(to_api(&o));
        }
        Ok(StorageObjects { objects })
    }

    /// Writes a batch atomically. Clients (`caller = Some`) always write their own objects;
    /// the runtime passes each object's owner in `owners`.
    pub async fn storage_write(
        &self,
        caller: Option<&Uuid>,
        objects: &[WriteStorageObject],
        owners: Option<&[Uuid]>,
    ) -> Result<StorageObjectAcks, Status> {
        if objects.is_empty() {
            return Ok(StorageObjectAcks::default());
        }
        let mut ops = Vec::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            check_collection_key(&o.collection, &o.key)?;
            if !is_json_object(&o.value) {
                return Err(Status::invalid("Value must be a JSON object."));
            }
            let read = o.permission_read.unwrap_or(1);
            if !(0..=2).contains(&read) {
                return Err(Status::invalid("Invalid Read permission supplied. It must be either 0, 1 or 2."));
            }
            let write = o.permission_write.unwrap_or(1);
            if !(0..=1).contains(&write) {
                return Err(Status::invalid("Invalid Write permission supplied. It must be either 0 or 1."));
            }
            let user_id = match (caller, owners) {
                (Some(c), _) => *c,
                (None, Some(owners)) => owners.get(i).copied().unwrap_or(SYSTEM_USER_ID),
                (None, None) => SYSTEM_USER_ID,
            };
            let check = match o.version.as_str() {
                "" => VersionCheck::Any,
                "*" => VersionCheck::Absent,
                v => VersionCheck::Exact(v.to_string()),
            };
            ops.push(StorageWriteOp {
                collection: o.collection.clone(),
                key: o.key.clone(),
                user_id,
                version: version_of(&o.value),
                value: o.value.clone(),
                check,
                read: read as u8,
                write: write as u8,
                caller: caller.copied(),
            });
        }
        let reply = self.propose(Command::StorageWrite { ops, now: now() }).await?;
        let Reply::StorageAcks(acks) = reply else {
            return Err(internal(format!("unexpected reply {reply:?}")));
        };
        Ok(StorageObjectAcks {
            acks: acks
                .into_iter()
                .map(|a| StorageObjectAck {
                    collection: a.collection,
                    key: a.key,
                    version: a.version,
                    user_id: a.user_id.to_string(),
                    create_time: a.create_time,
                    update_time: a.update_time,
                })
                .collect(),
        })
    }

    pub async fn storage_delete(
        &self,
        caller: Option<&Uuid>,
        ids: &[DeleteStorageObjectId],
        owners: Option<&[Uuid]>,
    ) -> Result<(), Status> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut ops = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            check_collection_key(&id.collection, &id.key)?;
            let user_id = match (caller, owners) {
                (Some(c), _) => *c,
                (None, Some(owners)) => owners.get(i).copied().unwrap_or(SYSTEM_USER_ID),
                (None, None) => SYSTEM_USER_ID,
            };
            ops.push(StorageDeleteOp {
                collection: id.collection.clone(),
                key: id.key.clone(),
                user_id,
                version: Some(id.version.clone()).filter(|v| !v.is_empty()),
                caller: caller.copied(),
            });
        }
        self.propose(Command::StorageDelete { ops }).await?;
        Ok(())
    }

    /// Lists a collection: with no `user_id`, every user's public objects; with the caller's
    /// own id, its readable objects; with another user's id, that user's public objects.
    /// `caller = None` is the runtime: it sees every object (of one user, or of all users).
    pub async fn storage_list(
        &self,
        caller: Option<&Uuid>,
        collection: &str,
        user_id: &str,
        limit: Option<i64>,
        cursor: &str,
    ) -> Result<StorageObjectList, Status> {
        if collection.is_empty() {
            return Err(invalid_key());
        }
        let limit = limit.unwrap_or(1);
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid("Invalid limit - limit must be between 1 and 100."));
        }
        let user = if user_id.is_empty() { None } else { Some(parse_user_id(user_id)?) };
        let pos = if cursor.is_empty() {
            None
        } else {
            let c = decode_cursor(cursor).ok_or_else(|| Status::invalid("Invalid cursor."))?;
            if c.collection != collection || c.user != user {
                return Err(Status::invalid("Invalid cursor."));
            }
            Some(c.pos)
        };
        self.read_barrier().await?;
        let limit = limit as usize;
        let (objects, next) = match (caller, user) {
            (None, None) => self.reader.storage_list_all(collection, pos.as_ref(), limit),
            (None, Some(u)) => self.reader.storage_list_owner(&u, collection, 0, pos.as_ref(), limit),
            (Some(_), None) => self.reader.storage_list_public(collection, pos.as_ref(), limit),
            (Some(c), Some(u)) if u == *c => self.reader.storage_list_owner(&u, collection, 1, pos.as_ref(), limit),
            (Some(_), Some(u)) => self.reader.storage_list_owner(&u, collection, 2, pos.as_ref(), limit),
        }
        .map_err(internal)?;
        let cursor = next
            .map(|pos| encode_cursor(&ListCursor { collection: collection.into(), user, pos }))
            .unwrap_or_default();
        Ok(StorageObjectList { objects: objects.iter().map(to_api).collect(), cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_hex_md5_and_values_must_be_objects() {
        assert_eq!(version_of("{}"), "99914b932bd37a50b983c5e7c90ae93b");
        assert!(is_json_object(" {\"a\":1}"));
        assert!(!is_json_object("[1]"));
        assert!(!is_json_object("{bad"));
        assert!(!is_json_object("\"s\""));
    }

    #[test]
    fn read_permissions() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(readable(Some(&a), &a, 1));
        assert!(!readable(Some(&b), &a, 1));
        assert!(readable(Some(&b), &a, 2));
        assert!(!readable(Some(&a), &a, 0));
        assert!(readable(None, &a, 0));
    }
}
