//! `nk.leaderboard_create`. Leaderboards themselves live in the node; this only parses the
//! arguments (v3 order, or the seed's 1.x order — see [`super::legacy`]).

use std::str::FromStr;

use mlua::Value;

use super::Installer;
use super::args::{Args, NkResult, host_error};
use super::legacy;
use crate::convert::lua_to_json_text;
use crate::host::LeaderboardCreate;

pub(super) fn sort_order(args: &Args, i: usize) -> NkResult<String> {
    match args
        .opt_string(i)?
        .unwrap_or_else(|| "desc".into())
        .to_lowercase()
        .as_str()
    {
        "asc" | "ascending" => Ok("asc".into()),
        "desc" | "descending" => Ok("desc".into()),
        _ => Err(args.error(i, "expects sort order to be 'asc' or 'desc'")),
    }
}

pub(super) fn operator(args: &Args, i: usize) -> NkResult<String> {
    match args
        .opt_string(i)?
        .unwrap_or_else(|| "best".into())
        .to_lowercase()
        .as_str()
    {
        "best" => Ok("best".into()),
        "set" => Ok("set".into()),
        "incr" | "increment" => Ok("incr".into()),
        "decr" | "decrement" => Ok("decr".into()),
        _ => Err(args.error(i, "expects operator to be 'best', 'set', 'decr' or 'incr'")),
    }
}

pub(super) fn reset_schedule(args: &Args, i: usize) -> NkResult<String> {
    let reset = args.opt_string(i)?.unwrap_or_default();
    if !reset.is_empty() && croner::Cron::from_str(&reset).is_err() {
        return Err(args.error(i, "expects reset to be a valid CRON expression"));
    }
    Ok(reset)
}

pub(super) fn metadata(args: &Args, i: usize) -> NkResult<String> {
    match args.opt_table(i)? {
        Some(t) => lua_to_json_text(&Value::Table(t)).map_err(|e| args.error(i, &e)),
        None => Ok("{}".into()),
    }
}

/// v3: `(id, authoritative?=false, sort?="desc", operator?="best", reset?="", metadata?,
/// enable_ranks?=false)`.
fn v3_args(args: &Args) -> NkResult<LeaderboardCreate> {
    Ok(LeaderboardCreate {
        id: args.nonempty(1, "expects a leaderboard ID string")?,
        authoritative: args.opt_bool(2, false)?,
        sort_order: sort_order(args, 3)?,
        operator: operator(args, 4)?,
        reset_schedule: reset_schedule(args, 5)?,
        metadata: metadata(args, 6)?,
        enable_ranks: args.opt_bool(7, false)?,
    })
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("leaderboard_create", move |_, args| {
        let create = if legacy::is_legacy_leaderboard_create(&args) {
            legacy::leaderboard_args(&args)?
        } else {
            v3_args(&args)?
        };
        shared
            .host
            .leaderboard_create(&create)
            .map_err(host_error("error creating leaderboard"))
    })
}
