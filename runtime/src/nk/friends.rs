//! `nk.friends_list/add/delete/block`.

use mlua::{Lua, Table, Value};
use shoal_proto::Friend;

use super::Installer;
use super::account::{json_field, list, user_ids, user_table};
use super::args::{Args, NkResult, host_error};
use crate::convert::lua_to_json_text;

fn friend_table(lua: &Lua, f: &Friend) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 4)?;
    t.raw_set("state", f.state)?;
    t.raw_set("update_time", f.update_time)?;
    t.raw_set("user", user_table(lua, &f.user)?)?;
    t.raw_set("metadata", json_field(lua, &f.metadata)?)?;
    Ok(t)
}

fn user_id(args: &Args) -> NkResult<String> {
    let id = args.nonempty(1, "expects user ID")?;
    uuid::Uuid::parse_str(&id)
        .map_err(|_| args.error(1, "expects user ID to be a valid identifier"))?;
    Ok(id)
}

/// `(user_id, username, ids?, usernames?)`, the shape of add/delete/block.
fn targets(args: &Args) -> NkResult<(String, String, Vec<String>, Vec<String>)> {
    let id = user_id(args)?;
    let username = args.nonempty(2, "expects username string")?;
    let ids = user_ids(args, 3)?;
    let usernames = args.string_list(4, "username")?;
    Ok((id, username, ids, usernames))
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("friends_list", move |lua, args| {
        let id = user_id(&args)?;
        let limit = args.opt_int(2)?.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(args.error(2, "expects limit to be 1-1000"));
        }
        let state = match args.opt_int(3)? {
            Some(s) if !(0..=3).contains(&s) => {
                return Err(args.error(3, "expects state to be 0-3"));
            }
            s => s.map(|s| s as i32),
        };
        let cursor = args.opt_nonempty(4)?;
        let page = shared
            .host
            .friends_list(&id, limit, state, cursor.as_deref())
            .map_err(host_error("error while trying to list friends for a user"))?;
        let friends = list(lua, &page.friends, friend_table)?;
        Ok((friends, (!page.cursor.is_empty()).then_some(page.cursor)))
    })?;
    let shared = i.shared.clone();
    i.add("friends_add", move |_, args| {
        let (id, username, ids, usernames) = targets(&args)?;
        let metadata = match args.opt_table(5)? {
            Some(t) => Some(lua_to_json_text(&Value::Table(t)).map_err(|e| args.error(5, &e))?),
            None => None,
        };
        shared
            .host
            .friends_add(&id, &username, &ids, &usernames, metadata.as_deref())
            .map_err(host_error("error adding friends"))
    })?;
    let shared = i.shared.clone();
    i.add("friends_delete", move |_, args| {
        let (id, username, ids, usernames) = targets(&args)?;
        shared
            .host
            .friends_delete(&id, &username, &ids, &usernames)
            .map_err(host_error("error deleting friends"))
    })?;
    let shared = i.shared.clone();
    i.add("friends_block", move |_, args| {
        let (id, username, ids, usernames) = targets(&args)?;
        shared
            .host
            .friends_block(&id, &username, &ids, &usernames)
            .map_err(host_error("error blocking friends"))
    })
}
