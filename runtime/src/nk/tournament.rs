//! `nk.tournament_*` and `nk.tournaments_get_id` (N `tournamentCreate` …
//! `tournamentRecordsHaystack`, `tournamentToLuaTable`). Records use the leaderboard
//! helpers; tournaments themselves live in the node.

use mlua::{Lua, Table};
use shoal_proto::Tournament;

use super::Installer;
use super::account::{json_field, list};
use super::args::{Args, NkResult, host_error};
use super::leaderboard::{
    Kind, board_id, board_ids, install_records, metadata, operator, operator_name, owner_id,
    reset_schedule, sort_order,
};
use crate::host::{TournamentCreate, TournamentQuery};

const TOURNAMENT: Kind = Kind {
    tournament: true,
    noun: "tournament",
    id_message: "expects a tournament ID string",
    write_owner_message: "expects user ID to be a valid identifier",
};

/// A tournament as Nakama's Lua sees it: `sort_order` the number as a string, `operator`
/// the lower-cased enum name, times in unix seconds; `next_reset`, `prev_reset` and
/// `end_time` nil when unset.
pub(super) fn tournament_table(lua: &Lua, t: &Tournament) -> NkResult<Table> {
    let tt = lua.create_table_with_capacity(0, 20)?;
    tt.raw_set("id", t.id.as_str())?;
    tt.raw_set("title", t.title.as_str())?;
    tt.raw_set("description", t.description.as_str())?;
    tt.raw_set("category", t.category)?;
    tt.raw_set("sort_order", t.sort_order.to_string())?;
    tt.raw_set("size", t.size)?;
    tt.raw_set("max_size", t.max_size)?;
    tt.raw_set("max_num_score", t.max_num_score)?;
    tt.raw_set("duration", t.duration)?;
    tt.raw_set("start_active", t.start_active)?;
    tt.raw_set("end_active", t.end_active)?;
    tt.raw_set("can_enter", t.can_enter)?;
    tt.raw_set("next_reset", (t.next_reset != 0).then_some(t.next_reset))?;
    tt.raw_set("prev_reset", (t.prev_reset != 0).then_some(t.prev_reset))?;
    tt.raw_set("metadata", json_field(lua, &t.metadata)?)?;
    tt.raw_set("create_time", t.create_time)?;
    tt.raw_set("start_time", t.start_time)?;
    tt.raw_set("end_time", t.end_time)?;
    tt.raw_set("operator", operator_name(t.operator))?;
    tt.raw_set("join_required", t.join_required)?;
    Ok(tt)
}

/// `(id, authoritative?=true, sort?="desc", operator?="best", duration (> 0), reset?,
/// metadata?, title?, description?, category?=0, start_time?=0, end_time?=0, max_size?=0,
/// max_num_score?=0, join_required?=false, enable_ranks?=false)` — duration is the 5th
/// argument, whatever Nakama's doc comment says.
fn create_args(args: &Args) -> NkResult<TournamentCreate> {
    let id = board_id(args, &TOURNAMENT)?;
    let authoritative = args.opt_bool(2, true)?;
    let sort_order = sort_order(args, 3)?;
    let operator = operator(args, 4)?;
    let duration = args.opt_int(5)?.unwrap_or(0);
    if duration <= 0 {
        return Err(args.error(5, "duration must be > 0"));
    }
    let reset_schedule = reset_schedule(args, 6)?;
    let metadata = metadata(args, 7)?;
    let title = args.opt_string(8)?.unwrap_or_default();
    let description = args.opt_string(9)?.unwrap_or_default();
    let category = args.opt_int(10)?.unwrap_or(0);
    if !(0..128).contains(&category) {
        return Err(args.error(10, "category must be 0-127"));
    }
    let start_time = args.opt_int(11)?.unwrap_or(0);
    if start_time < 0 {
        return Err(args.error(11, "startTime must be >= 0."));
    }
    let end_time = args.opt_int(12)?.unwrap_or(0);
    if end_time != 0 && end_time <= start_time {
        return Err(args.error(
            12,
            "endTime must be > startTime. Use 0 to indicate a tournament that never ends.",
        ));
    }
    let max_size = args.opt_int(13)?.unwrap_or(0);
    if max_size < 0 {
        return Err(args.error(13, "maxSize must be >= 0"));
    }
    let max_num_score = args.opt_int(14)?.unwrap_or(0);
    if max_num_score < 0 {
        return Err(args.error(14, "maxNumScore must be >= 0"));
    }
    Ok(TournamentCreate {
        id,
        authoritative,
        sort_order,
        operator,
        duration,
        reset_schedule,
        metadata,
        title,
        description,
        category,
        start_time,
        end_time,
        max_size,
        max_num_score,
        join_required: args.opt_bool(15, false)?,
        enable_ranks: args.opt_bool(16, false)?,
    })
}

/// `(category_start?=0, category_end?=0, start_time?=-1, end_time?=-1, limit?=10,
/// cursor?)`; -1 means "no filter" (Nakama issue #2398: the sentinel itself is valid).
fn list_args(args: &Args) -> NkResult<TournamentQuery> {
    let category_start = args.opt_int(1)?.unwrap_or(0);
    if !(0..128).contains(&category_start) {
        return Err(args.error(1, "categoryStart must be 0-127"));
    }
    let category_end = args.opt_int(2)?.unwrap_or(0);
    if !(0..128).contains(&category_end) {
        return Err(args.error(2, "categoryEnd must be 0-127"));
    }
    if category_start > category_end {
        return Err(args.error(2, "categoryEnd must be >= categoryStart"));
    }
    let start_time = args.opt_int(3)?.unwrap_or(-1);
    if start_time < -1 {
        return Err(args.error(3, "startTime must be >= -1"));
    }
    let end_time = args.opt_int(4)?.unwrap_or(-1);
    if end_time < -1 {
        return Err(args.error(4, "endTime must be >= -1"));
    }
    if end_time != -1 && start_time > end_time {
        return Err(args.error(4, "endTime must be >= startTime"));
    }
    let limit = args.opt_int(5)?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(args.error(5, "limit must be 1-100"));
    }
    Ok(TournamentQuery {
        category_start,
        category_end,
        start_time,
        end_time,
        limit,
        cursor: args.opt_nonempty(6)?,
    })
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("tournament_create", move |_, args| {
        let create = create_args(&args)?;
        shared
            .host
            .tournament_create(&create)
            .map_err(host_error("error creating tournament"))
    })?;
    let shared = i.shared.clone();
    i.add("tournament_delete", move |_, args| {
        let id = board_id(&args, &TOURNAMENT)?;
        shared
            .host
            .tournament_delete(&id)
            .map_err(host_error("error deleting tournament"))
    })?;
    let shared = i.shared.clone();
    i.add("tournament_add_attempt", move |_, args| {
        let id = board_id(&args, &TOURNAMENT)?;
        let owner = args.nonempty(2, "expects an owner ID string")?;
        uuid::Uuid::parse_str(&owner)
            .map_err(|_| args.error(2, "expects owner ID to be a valid identifier"))?;
        let count = args.int(3)?;
        if count == 0 {
            return Err(args.error(3, "expects an attempt count number != 0"));
        }
        shared
            .host
            .tournament_add_attempt(&id, &owner, count)
            .map_err(host_error("error adding tournament attempts"))
    })?;
    let shared = i.shared.clone();
    i.add("tournament_join", move |_, args| {
        let id = board_id(&args, &TOURNAMENT)?;
        args.nonempty(2, "expects a user ID string")?;
        let user = owner_id(&args, 2, "expects user ID to be a valid identifier")?;
        let username = args.nonempty(3, "expects a username string")?;
        shared
            .host
            .tournament_join(&id, &user, &username)
            .map_err(host_error("error joining tournament"))
    })?;
    let shared = i.shared.clone();
    i.add("tournament_list", move |lua, args| {
        let query = list_args(&args)?;
        let page = shared
            .host
            .tournament_list(&query)
            .map_err(host_error("error listing tournaments"))?;
        let tournaments = list(lua, &page.tournaments, tournament_table)?;
        Ok((
            tournaments,
            (!page.cursor.is_empty()).then_some(page.cursor),
        ))
    })?;
    let shared = i.shared.clone();
    i.add("tournaments_get_id", move |lua, args| {
        let ids = board_ids(&args)?;
        if ids.is_empty() {
            return Ok(lua.create_table()?);
        }
        let tournaments = shared
            .host
            .tournaments_get_id(&ids)
            .map_err(host_error("failed to get tournaments"))?;
        list(lua, &tournaments, tournament_table)
    })?;
    install_records(
        i,
        &TOURNAMENT,
        [
            "tournament_record_write",
            "tournament_record_delete",
            "tournament_records_list",
            "tournament_records_haystack",
        ],
    )
}
