//! `nk.storage_read/write/delete/list`, as the authoritative runtime caller.

use mlua::{Lua, Table, Value};
use shoal_proto::{StorageObject, StorageObjectAck};

use super::Installer;
use super::account::{json_field, list};
use super::args::{Args, NkResult, field_int, field_string, host_error, raise};
use super::legacy;
use crate::convert::lua_to_json_text;
use crate::host::{StorageObjectId, StorageWrite};

pub(super) fn object_table(lua: &Lua, o: &StorageObject) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 9)?;
    t.raw_set("collection", o.collection.as_str())?;
    t.raw_set("key", o.key.as_str())?;
    t.raw_set("user_id", o.user_id.as_str())?;
    t.raw_set("version", o.version.as_str())?;
    t.raw_set("permission_read", o.permission_read)?;
    t.raw_set("permission_write", o.permission_write)?;
    t.raw_set("create_time", o.create_time)?;
    t.raw_set("update_time", o.update_time)?;
    t.raw_set("value", json_field(lua, &o.value)?)?;
    Ok(t)
}

fn ack_table(lua: &Lua, a: &StorageObjectAck) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 4)?;
    t.raw_set("collection", a.collection.as_str())?;
    t.raw_set("key", a.key.as_str())?;
    t.raw_set("user_id", a.user_id.as_str())?;
    t.raw_set("version", a.version.as_str())?;
    Ok(t)
}

/// A user id field: absent or empty is the system user; otherwise a UUID.
pub(super) fn owner(t: &Table, key: &str) -> NkResult<Option<String>> {
    match field_string(t, key)?.filter(|s| !s.is_empty()) {
        Some(id) => {
            uuid::Uuid::parse_str(&id)
                .map_err(|_| raise(format!("expects {key} to be a valid UUID")))?;
            Ok(Some(id))
        }
        None => Ok(None),
    }
}

fn required(t: &Table, key: &str) -> NkResult<String> {
    field_string(t, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| raise(format!("expects {key} to be a non-empty string")))
}

/// The records of a table argument, each a table.
fn records(args: &Args, i: usize) -> NkResult<Vec<Table>> {
    let t = args.table(i)?;
    let mut out = Vec::new();
    for v in t.sequence_values::<Value>() {
        match v? {
            Value::Table(r) => out.push(r),
            _ => return Err(args.error(i, "expects a list of tables")),
        }
    }
    Ok(out)
}

fn object_id(t: &Table) -> NkResult<StorageObjectId> {
    Ok(StorageObjectId {
        collection: required(t, "collection")?,
        key: required(t, "key")?,
        user_id: owner(t, "user_id")?,
        version: field_string(t, "version")?.filter(|s| !s.is_empty()),
    })
}

/// A v3 write record: `{collection, key, user_id?, value, version?, permission_read?,
/// permission_write?}`.
fn write_record(t: &Table) -> NkResult<StorageWrite> {
    let value = match t.raw_get::<Value>("value")? {
        v @ Value::Table(_) => lua_to_json_text(&v).map_err(raise)?,
        _ => return Err(raise("expects value to be table")),
    };
    Ok(StorageWrite {
        collection: required(t, "collection")?,
        key: required(t, "key")?,
        user_id: owner(t, "user_id")?,
        value,
        version: field_string(t, "version")?.filter(|s| !s.is_empty()),
        permission_read: field_int(t, "permission_read")?.unwrap_or(1) as i32,
        permission_write: field_int(t, "permission_write")?.unwrap_or(1) as i32,
    })
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("storage_read", move |lua, args| {
        let ids = records(&args, 1)?
            .iter()
            .map(object_id)
            .collect::<NkResult<Vec<_>>>()?;
        let objects = shared
            .host
            .storage_read(&ids)
            .map_err(host_error("failed to read storage objects"))?;
        list(lua, &objects, object_table)
    })?;
    let shared = i.shared.clone();
    i.add("storage_write", move |lua, args| {
        let mut writes = Vec::new();
        for r in records(&args, 1)? {
            writes.push(if legacy::is_legacy_record(&r)? {
                legacy::storage_write_record(&r)?
            } else {
                write_record(&r)?
            });
        }
        let acks = shared
            .host
            .storage_write(&writes)
            .map_err(host_error("failed to write storage objects"))?;
        list(lua, &acks, ack_table)
    })?;
    let shared = i.shared.clone();
    i.add("storage_delete", move |_, args| {
        let ids = records(&args, 1)?
            .iter()
            .map(object_id)
            .collect::<NkResult<Vec<_>>>()?;
        shared
            .host
            .storage_delete(&ids)
            .map_err(host_error("failed to remove storage"))
    })?;
    let shared = i.shared.clone();
    i.add("storage_list", move |lua, args| {
        let user_id = args.opt_nonempty(1)?;
        if let Some(id) = &user_id {
            uuid::Uuid::parse_str(id)
                .map_err(|_| args.error(1, "expects empty or valid user id"))?;
        }
        let collection = args.string(2)?;
        let limit = args.opt_int(3)?.unwrap_or(100);
        let cursor = args.opt_nonempty(4)?;
        let caller = args.opt_nonempty(5)?;
        if let Some(id) = &caller {
            uuid::Uuid::parse_str(id)
                .map_err(|_| args.error(5, "expects empty or valid caller id"))?;
        }
        let page = shared
            .host
            .storage_list(
                caller.as_deref(),
                user_id.as_deref(),
                &collection,
                limit,
                cursor.as_deref(),
            )
            .map_err(host_error("failed to list storage objects"))?;
        let objects = list(lua, &page.objects, object_table)?;
        Ok((objects, page.cursor))
    })
}
