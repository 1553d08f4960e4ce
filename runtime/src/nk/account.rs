//! Accounts and users: `nk.account_*`, `nk.accounts_get_id`, `nk.users_get_*`, and the
//! Lua tables they return (N `userToLuaTable`, `accountGetId`).

use mlua::{Lua, Table, Value};
use shoal_proto::{Account, User};

use super::Installer;
use super::args::{Args, NkResult, host_error, raise};
use crate::convert::{json_text_to_lua, lua_to_json_text};
use crate::host::AccountUpdate;

/// A JSON object stored as text, decoded into a table (`""` is `{}`).
pub(super) fn json_field(lua: &Lua, text: &str) -> NkResult<Value> {
    if text.is_empty() {
        return Ok(Value::Table(lua.create_table()?));
    }
    json_text_to_lua(lua, text.as_bytes())
        .map_err(|e| raise(format!("failed to convert metadata to json: {e}")))
}

fn set_user_fields(lua: &Lua, t: &Table, u: &User) -> NkResult<()> {
    t.raw_set("user_id", u.id.as_str())?;
    t.raw_set("username", u.username.as_str())?;
    t.raw_set("display_name", u.display_name.as_str())?;
    t.raw_set("avatar_url", u.avatar_url.as_str())?;
    t.raw_set("lang_tag", u.lang_tag.as_str())?;
    t.raw_set("location", u.location.as_str())?;
    t.raw_set("timezone", u.timezone.as_str())?;
    for (k, v) in [
        ("apple_id", &u.apple_id),
        ("facebook_id", &u.facebook_id),
        ("facebook_instant_game_id", &u.facebook_instant_game_id),
        ("google_id", &u.google_id),
        ("gamecenter_id", &u.gamecenter_id),
        ("steam_id", &u.steam_id),
    ] {
        if !v.is_empty() {
            t.raw_set(k, v.as_str())?;
        }
    }
    t.raw_set("online", u.online)?;
    t.raw_set("edge_count", u.edge_count)?;
    t.raw_set("create_time", u.create_time)?;
    t.raw_set("update_time", u.update_time)?;
    t.raw_set("metadata", json_field(lua, &u.metadata)?)?;
    Ok(())
}

/// A user as Nakama's Lua sees it.
pub(super) fn user_table(lua: &Lua, u: &User) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 18)?;
    set_user_fields(lua, &t, u)?;
    Ok(t)
}

/// An account: the user's fields flattened, plus `user`, `wallet`, `email`, `devices`, ….
pub(super) fn account_table(lua: &Lua, a: &Account) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 25)?;
    set_user_fields(lua, &t, &a.user)?;
    t.raw_set("user", user_table(lua, &a.user)?)?;
    t.raw_set("wallet", json_field(lua, &a.wallet)?)?;
    if !a.email.is_empty() {
        t.raw_set("email", a.email.as_str())?;
    }
    if !a.devices.is_empty() {
        let devices = lua.create_table()?;
        for (i, d) in a.devices.iter().enumerate() {
            let dt = lua.create_table()?;
            dt.raw_set("id", d.id.as_str())?;
            devices.raw_set(i + 1, dt)?;
        }
        t.raw_set("devices", devices)?;
    }
    if !a.custom_id.is_empty() {
        t.raw_set("custom_id", a.custom_id.as_str())?;
    }
    if let Some(v) = a.verify_time {
        t.raw_set("verify_time", v)?;
    }
    if let Some(v) = a.disable_time {
        t.raw_set("disable_time", v)?;
    }
    Ok(t)
}

pub(super) fn list<T>(
    lua: &Lua,
    items: &[T],
    f: impl Fn(&Lua, &T) -> NkResult<Table>,
) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, f(lua, item)?)?;
    }
    Ok(t)
}

/// A list of user ids, each a valid UUID.
pub(super) fn user_ids(args: &Args, i: usize) -> NkResult<Vec<String>> {
    let ids = args.string_list(i, "user id")?;
    for id in &ids {
        uuid::Uuid::parse_str(id)
            .map_err(|_| args.error(i, "each user id must be a valid id string"))?;
    }
    Ok(ids)
}

fn user_id(args: &Args, i: usize) -> NkResult<String> {
    let id = args.nonempty(i, "expects user id")?;
    uuid::Uuid::parse_str(&id).map_err(|_| args.error(i, "invalid user id"))?;
    Ok(id)
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("account_get_id", move |lua, args| {
        let id = user_id(&args, 1)?;
        let context = format!("failed to get account for user_id {id}");
        let accounts = shared
            .host
            .accounts_get_id(std::slice::from_ref(&id))
            .map_err(host_error(&context))?;
        let account = accounts
            .first()
            .ok_or_else(|| raise(format!("{context}: User account not found.")))?;
        account_table(lua, account)
    })?;
    let shared = i.shared.clone();
    i.add("accounts_get_id", move |lua, args| {
        let ids = user_ids(&args, 1)?;
        if ids.is_empty() {
            return Ok(lua.create_table()?);
        }
        let accounts = shared
            .host
            .accounts_get_id(&ids)
            .map_err(host_error("failed to get accounts"))?;
        list(lua, &accounts, account_table)
    })?;
    let shared = i.shared.clone();
    i.add("account_update_id", move |_, args| {
        let id = user_id(&args, 1)?;
        let metadata = match args.opt_table(2)? {
            Some(t) => Some(lua_to_json_text(&Value::Table(t)).map_err(|e| args.error(2, &e))?),
            None => None,
        };
        let update = AccountUpdate {
            metadata,
            username: args.opt_nonempty(3)?,
            display_name: args.opt_nonempty(4)?,
            timezone: args.opt_nonempty(5)?,
            location: args.opt_nonempty(6)?,
            lang_tag: args.opt_nonempty(7)?,
            avatar_url: args.opt_nonempty(8)?,
        };
        shared
            .host
            .account_update_id(&id, &update)
            .map_err(host_error("error while trying to update user"))
    })?;
    let shared = i.shared.clone();
    i.add("account_delete_id", move |_, args| {
        let id = user_id(&args, 1)?;
        let recorded = args.opt_bool(2, false)?;
        shared
            .host
            .account_delete_id(&id, recorded)
            .map_err(host_error("error while trying to delete account"))
    })?;

    add_user_lookups(i, ["users_get_id", "users_get_username"], "username", user_table)
}

/// Registers a by-id and a by-name user lookup whose results are shaped by `to_table`
/// (v3 field names here; the 1.x aliases use this with their own shape).
pub(super) fn add_user_lookups(
    i: &Installer,
    names: [&'static str; 2],
    name_label: &'static str,
    to_table: fn(&Lua, &User) -> NkResult<Table>,
) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add(names[0], move |lua, args| {
        let ids = user_ids(&args, 1)?;
        if ids.is_empty() {
            return Ok(lua.create_table()?);
        }
        let users = shared
            .host
            .users_get_id(&ids)
            .map_err(host_error("failed to get users"))?;
        list(lua, &users, to_table)
    })?;
    let shared = i.shared.clone();
    i.add(names[1], move |lua, args| {
        let names = args.string_list(1, name_label)?;
        if names.is_empty() {
            return Ok(lua.create_table()?);
        }
        let users = shared
            .host
            .users_get_username(&names)
            .map_err(host_error("failed to get users"))?;
        list(lua, &users, to_table)
    })
}
