//! Nakama 1.x names the seed documents use, kept apart so the v3 surface stays clean.
//!
//! | 1.x | Shoal |
//! |---|---|
//! | `nk.register_before(fn, msg)` / `register_after(fn, msg)` | request/realtime hooks per [`LEGACY_HOOKS`]; other names are taken as v3 request ids. A `register_after` handler is called as `fn(context, input)`. |
//! | `nk.register_http(fn, path)` | an HTTP handler served by the node at `/runtime/{path}` |
//! | `nk.users_fetch_id(ids)` / `users_fetch_handle(handles)` | `users_get_id` / `users_get_username`, plus 1.x keys `Id`, `Handle`, `Fullname`, `AvatarUrl`, `Lang`, `Location`, `Timezone`, `Metadata`, `CreatedAt`, `UpdatedAt` (ms) |
//! | `nk.storage_write` records `{Bucket, Collection, Record, UserId, Value, Version, PermissionRead, PermissionWrite}` | `collection`, `key`, `user_id`, `value`, …; `Bucket` has no v3 counterpart and is ignored |
//! | `nk.storage_fetch(ids)` / `storage_remove(ids)` | `storage_read` / `storage_delete`, ids in either form; fetched objects carry both key styles |
//! | `nk.leaderboard_create(id, sort, reset, metadata, authoritative)` | the v3 call, detected by a string second argument |
//! | a `register_after` handler's `payload` | the v3 request plus the 1.x message's keys (see [`after_payload`]) |

use mlua::{Function, Lua, Table, Value};
use shoal_proto::{StorageObject, User};

use super::Installer;
use super::account::{list, user_table};
use super::args::{Args, NkResult, field_int, field_string, host_error, raise};
use super::leaderboard::{metadata, reset_schedule, sort_order};
use super::register::{add_hooks, function_key, register};
use super::storage::{object_table, owner};
use crate::convert::lua_to_json_text;
use crate::host::{LeaderboardCreate, StorageObjectId, StorageWrite};
use crate::registry::{HookId, normalize_http_path};

#[derive(Clone, Copy)]
enum Target {
    Req(&'static str),
    Rt(&'static str),
}
use Target::{Req, Rt};

const LINK: &[Target] = &[
    Req("LinkApple"),
    Req("LinkCustom"),
    Req("LinkDevice"),
    Req("LinkEmail"),
    Req("LinkFacebook"),
    Req("LinkFacebookInstantGame"),
    Req("LinkGameCenter"),
    Req("LinkGoogle"),
    Req("LinkSteam"),
];
const UNLINK: &[Target] = &[
    Req("UnlinkApple"),
    Req("UnlinkCustom"),
    Req("UnlinkDevice"),
    Req("UnlinkEmail"),
    Req("UnlinkFacebook"),
    Req("UnlinkFacebookInstantGame"),
    Req("UnlinkGameCenter"),
    Req("UnlinkGoogle"),
    Req("UnlinkSteam"),
];

/// 1.x message names (lower-cased `T…` envelope types) and the v3 hooks they stand for.
const LEGACY_HOOKS: &[(&str, &[Target])] = &[
    ("tlogout", &[Req("SessionLogout")]),
    ("tlink", LINK),
    ("tunlink", UNLINK),
    ("tselffetch", &[Req("GetAccount")]),
    ("tselfupdate", &[Req("UpdateAccount")]),
    ("tusersfetch", &[Req("GetUsers")]),
    ("tfriendsadd", &[Req("AddFriends")]),
    ("tfriendsremove", &[Req("DeleteFriends")]),
    ("tfriendsblock", &[Req("BlockFriends")]),
    ("tfriendslist", &[Req("ListFriends")]),
    ("tgroupscreate", &[Req("CreateGroup")]),
    ("tgroupsupdate", &[Req("UpdateGroup")]),
    ("tgroupsremove", &[Req("DeleteGroup")]),
    ("tgroupslist", &[Req("ListGroups")]),
    ("tgroupsselflist", &[Req("ListUserGroups")]),
    ("tgroupuserslist", &[Req("ListGroupUsers")]),
    ("tgroupsjoin", &[Req("JoinGroup")]),
    ("tgroupsleave", &[Req("LeaveGroup")]),
    ("tgroupusersadd", &[Req("AddGroupUsers")]),
    ("tgroupuserskick", &[Req("KickGroupUsers")]),
    ("tgroupuserspromote", &[Req("PromoteGroupUsers")]),
    ("ttopicsjoin", &[Rt("ChannelJoin")]),
    ("ttopicsleave", &[Rt("ChannelLeave")]),
    ("ttopicmessagesend", &[Rt("ChannelMessageSend")]),
    ("ttopicmessageslist", &[Req("ListChannelMessages")]),
    ("tmatchcreate", &[Rt("MatchCreate")]),
    ("tmatchesjoin", &[Rt("MatchJoin")]),
    ("tmatchesleave", &[Rt("MatchLeave")]),
    ("tmatchdatasend", &[Rt("MatchDataSend")]),
    ("tmatchmakeadd", &[Rt("MatchmakerAdd")]),
    ("tmatchmakeremove", &[Rt("MatchmakerRemove")]),
    ("tstoragelist", &[Req("ListStorageObjects")]),
    ("tstoragefetch", &[Req("ReadStorageObjects")]),
    ("tstoragewrite", &[Req("WriteStorageObjects")]),
    ("tstorageupdate", &[Req("WriteStorageObjects")]),
    ("tstorageremove", &[Req("DeleteStorageObjects")]),
    ("tleaderboardrecordswrite", &[Req("WriteLeaderboardRecord")]),
    ("tleaderboardrecordslist", &[Req("ListLeaderboardRecords")]),
    ("tnotificationslist", &[Req("ListNotifications")]),
    ("tnotificationsremove", &[Req("DeleteNotifications")]),
];

/// The v3 hooks a 1.x name stands for; an unknown name is taken as a v3 request id.
/// The request table a 1.x `register_after` handler receives: the v3 request with the
/// keys of the 1.x message added. 1.x friend messages named one user (`UserId` or
/// `Handle`, as the seed's `add_reward` reads `payload.UserId`) and later a `Friends` list
/// of them; both are given for the v3 friend requests' `ids` / `usernames`.
pub(crate) fn after_payload(hook: &HookId, input: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    let mut out = input.clone();
    let friend_ops = ["addfriends", "deletefriends", "blockfriends"];
    let (HookId::Request(name), Value::Object(map)) = (hook, &mut out) else { return out };
    if !friend_ops.contains(&name.as_str()) {
        return out;
    }
    let strings = |key: &str| -> Vec<String> {
        match input.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let (ids, names) = (strings("ids"), strings("usernames"));
    if let Some(first) = ids.first() {
        map.insert("UserId".into(), json!(first));
    }
    if let Some(first) = names.first() {
        map.insert("Handle".into(), json!(first));
    }
    let friends: Vec<Value> = ids
        .iter()
        .map(|id| json!({"UserId": id}))
        .chain(names.iter().map(|n| json!({"Handle": n})))
        .collect();
    map.insert("Friends".into(), Value::Array(friends));
    out
}

fn hook_ids(name: &str) -> Vec<HookId> {
    let lower = name.to_ascii_lowercase();
    match LEGACY_HOOKS.iter().find(|(n, _)| *n == lower) {
        Some((_, targets)) => targets
            .iter()
            .map(|t| match t {
                Req(id) => HookId::request(id),
                Rt(id) => HookId::realtime(id),
            })
            .collect(),
        None => vec![HookId::request(name)],
    }
}

fn legacy_user_table(lua: &Lua, u: &User) -> NkResult<Table> {
    let t = user_table(lua, u)?;
    t.raw_set("Id", u.id.as_str())?;
    t.raw_set("Handle", u.username.as_str())?;
    t.raw_set("Fullname", u.display_name.as_str())?;
    t.raw_set("AvatarUrl", u.avatar_url.as_str())?;
    t.raw_set("Lang", u.lang_tag.as_str())?;
    t.raw_set("Location", u.location.as_str())?;
    t.raw_set("Timezone", u.timezone.as_str())?;
    t.raw_set("Metadata", t.raw_get::<Value>("metadata")?)?;
    t.raw_set("CreatedAt", u.create_time.saturating_mul(1000))?;
    t.raw_set("UpdatedAt", u.update_time.saturating_mul(1000))?;
    for (k, v) in [
        ("FacebookId", &u.facebook_id),
        ("GoogleId", &u.google_id),
        ("GamecenterId", &u.gamecenter_id),
        ("SteamId", &u.steam_id),
    ] {
        if !v.is_empty() {
            t.raw_set(k, v.as_str())?;
        }
    }
    Ok(t)
}

fn legacy_object_table(lua: &Lua, o: &StorageObject) -> NkResult<Table> {
    let t = object_table(lua, o)?;
    t.raw_set("Collection", o.collection.as_str())?;
    t.raw_set("Record", o.key.as_str())?;
    t.raw_set("UserId", o.user_id.as_str())?;
    t.raw_set("Version", o.version.as_str())?;
    t.raw_set("PermissionRead", o.permission_read)?;
    t.raw_set("PermissionWrite", o.permission_write)?;
    t.raw_set("Value", t.raw_get::<Value>("value")?)?;
    Ok(t)
}

/// Whether a storage record uses the 1.x keys.
pub(super) fn is_legacy_record(t: &Table) -> NkResult<bool> {
    for key in ["Collection", "Record", "Bucket", "Value", "UserId"] {
        if !t.raw_get::<Value>(key)?.is_nil() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn legacy_field(t: &Table, old: &str) -> NkResult<Option<String>> {
    Ok(field_string(t, old)?.filter(|s| !s.is_empty()))
}

/// A 1.x storage write record: Collection → collection, Record → key, UserId → user_id,
/// Value → value (Bucket is ignored).
pub(super) fn storage_write_record(t: &Table) -> NkResult<StorageWrite> {
    let value = match t.raw_get::<Value>("Value")? {
        v @ Value::Table(_) => lua_to_json_text(&v).map_err(raise)?,
        Value::String(s) => s.to_string_lossy(),
        _ => return Err(raise("expects Value to be a table")),
    };
    Ok(StorageWrite {
        collection: legacy_field(t, "Collection")?
            .ok_or_else(|| raise("expects Collection to be a non-empty string"))?,
        key: legacy_field(t, "Record")?
            .ok_or_else(|| raise("expects Record to be a non-empty string"))?,
        user_id: owner(t, "UserId")?,
        value,
        version: legacy_field(t, "Version")?,
        permission_read: field_int(t, "PermissionRead")?.unwrap_or(1) as i32,
        permission_write: field_int(t, "PermissionWrite")?.unwrap_or(1) as i32,
    })
}

/// Storage ids in either form.
fn object_ids(args: &Args) -> NkResult<Vec<StorageObjectId>> {
    let mut ids = Vec::new();
    for v in args.table(1)?.sequence_values::<Value>() {
        let Value::Table(t) = v? else {
            return Err(args.error(1, "expects a list of tables"));
        };
        let legacy = is_legacy_record(&t)?;
        let pick = |new: &str, old: &str| -> NkResult<Option<String>> {
            legacy_field(&t, if legacy { old } else { new })
        };
        ids.push(StorageObjectId {
            collection: pick("collection", "Collection")?
                .ok_or_else(|| raise("expects a collection"))?,
            key: pick("key", "Record")?.ok_or_else(|| raise("expects a key"))?,
            user_id: owner(&t, if legacy { "UserId" } else { "user_id" })?,
            version: pick("version", "Version")?,
        });
    }
    Ok(ids)
}

/// Whether a `leaderboard_create` call uses the 1.x order (a sort string second).
pub(super) fn is_legacy_leaderboard_create(args: &Args) -> bool {
    matches!(args.get(2), Value::String(_))
}

/// 1.x: `(id, sort, reset, metadata, authoritative)`.
pub(super) fn leaderboard_args(args: &Args) -> NkResult<LeaderboardCreate> {
    Ok(LeaderboardCreate {
        id: args.nonempty(1, "expects a leaderboard ID string")?,
        authoritative: args.opt_bool(5, false)?,
        sort_order: sort_order(args, 2)?,
        operator: "best".into(),
        reset_schedule: reset_schedule(args, 3)?,
        metadata: metadata(args, 4)?,
        enable_ranks: false,
    })
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    for (name, after) in [("register_before", false), ("register_after", true)] {
        let handlers = i.handlers.clone();
        i.add(name, move |lua, args| {
            let Value::Function(f) = args.get(1).clone() else {
                return Err(args.error(1, "expects a function"));
            };
            let f: Function = f;
            let msg = args.nonempty(2, "expects message name")?;
            add_hooks(lua, &handlers, &f, hook_ids(&msg), after, true)
        })?;
    }
    let handlers = i.handlers.clone();
    i.add("register_http", move |lua, args| {
        let key = function_key(lua, &args, 1)?;
        let path = args.nonempty(2, "expects http path")?;
        let path = normalize_http_path(&path).to_owned();
        if path.is_empty() {
            return Err(args.error(2, "expects http path"));
        }
        register(&handlers, |h| {
            h.http.insert(path, key);
        })
    })?;

    super::account::add_user_lookups(i, ["users_fetch_id", "users_fetch_handle"], "handle", legacy_user_table)?;

    let shared = i.shared.clone();
    i.add("storage_fetch", move |lua, args| {
        let ids = object_ids(&args)?;
        let objects = shared
            .host
            .storage_read(&ids)
            .map_err(host_error("failed to read storage objects"))?;
        list(lua, &objects, legacy_object_table)
    })?;
    let shared = i.shared.clone();
    i.add("storage_remove", move |_, args| {
        let ids = object_ids(&args)?;
        shared
            .host
            .storage_delete(&ids)
            .map_err(host_error("failed to remove storage"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friend_requests_carry_the_1x_keys_for_after_hooks() {
        let input = serde_json::json!({"ids": ["u1", "u2"], "usernames": ["bob"]});
        let out = super::after_payload(&HookId::request("AddFriends"), &input);
        assert_eq!(out["UserId"], "u1");
        assert_eq!(out["Handle"], "bob");
        assert_eq!(out["Friends"][1]["UserId"], "u2");
        assert_eq!(out["Friends"][2]["Handle"], "bob");
        assert_eq!(out["ids"], input["ids"], "the v3 keys stay");
        let other = serde_json::json!({"a": 1});
        assert_eq!(super::after_payload(&HookId::request("GetAccount"), &other), other);
    }

    #[test]
    fn legacy_names_map_to_v3_hooks() {
        assert_eq!(hook_ids("tfriendsadd"), vec![HookId::request("AddFriends")]);
        assert_eq!(
            hook_ids("TMatchDataSend"),
            vec![HookId::realtime("MatchDataSend")]
        );
        assert_eq!(hook_ids("tlink").len(), 9);
        assert_eq!(
            hook_ids("AuthenticateCustom"),
            vec![HookId::request("AuthenticateCustom")]
        );
    }
}
