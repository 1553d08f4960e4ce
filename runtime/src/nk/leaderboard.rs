//! `nk.leaderboard_*` and the record helpers tournaments share (N `leaderboardCreate` …
//! `leaderboardsGetId`, `recordToLuaTable`, `leaderboardToLuaTable`,
//! `leaderboardRecordsToLua`). Leaderboards themselves live in the node; this parses the
//! arguments as Nakama's Lua runtime does (v3 order, or the seed's 1.x order for
//! `leaderboard_create` — see [`super::legacy`]) and builds Nakama's Lua tables.

use std::str::FromStr;

use mlua::{IntoLua, Lua, MultiValue, Table, Value};
use shoal_proto::{Leaderboard, LeaderboardRecord, LeaderboardRecordList};

use super::Installer;
use super::account::{json_field, list};
use super::args::{Args, NkResult, host_error};
use super::legacy;
use crate::convert::lua_to_json_text;
use crate::host::{LeaderboardCreate, RecordsQuery, ScoreWrite};

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

/// The per-write operator override of `*_record_write` (argument 7): `None` keeps the
/// board's operator. Accepts what either Nakama function accepts — `best`, `set`,
/// `incr`/`increment`, `decr`/`decrement`, `no_override` (any case), or the enum number
/// 0–4 the doc comments mention.
fn override_operator(args: &Args, i: usize) -> NkResult<Option<String>> {
    let Some(s) = args.opt_string(i)? else {
        return Ok(None);
    };
    Ok(match s.to_lowercase().as_str() {
        "" | "no_override" | "0" => None,
        "best" | "1" => Some("best".into()),
        "set" | "2" => Some("set".into()),
        "incr" | "increment" | "3" => Some("incr".into()),
        "decr" | "decrement" | "4" => Some("decr".into()),
        _ => return Err(args.error(i, "invalid operator")),
    })
}

pub(super) fn reset_schedule(args: &Args, i: usize) -> NkResult<String> {
    let reset = args.opt_string(i)?.unwrap_or_default();
    if !reset.is_empty() && croner::Cron::from_str(&reset).is_err() {
        return Err(args.error(i, "expects reset schedule to be a valid CRON expression"));
    }
    Ok(reset)
}

/// A metadata table as JSON text; nil is `{}`.
pub(super) fn metadata(args: &Args, i: usize) -> NkResult<String> {
    Ok(opt_metadata(args, i)?.unwrap_or_else(|| "{}".into()))
}

/// A metadata table as JSON text; nil is `None` (leave the stored metadata alone).
fn opt_metadata(args: &Args, i: usize) -> NkResult<Option<String>> {
    args.opt_table(i)?
        .map(|t| lua_to_json_text(&Value::Table(t)).map_err(|e| args.error(i, &e)))
        .transpose()
}

/// The wording that differs between the leaderboard and the tournament functions.
pub(super) struct Kind {
    pub tournament: bool,
    /// "leaderboard" or "tournament".
    pub noun: &'static str,
    /// Nakama's error for a missing id.
    pub id_message: &'static str,
    /// Nakama's error for an invalid owner in writes.
    pub write_owner_message: &'static str,
}

pub(super) const LEADERBOARD: Kind = Kind {
    tournament: false,
    noun: "leaderboard",
    id_message: "expects a leaderboard ID string",
    write_owner_message: "expects owner ID to be a valid identifier",
};

pub(super) fn board_id(args: &Args, kind: &Kind) -> NkResult<String> {
    args.nonempty(1, kind.id_message)
}

/// A required owner id (a UUID) with Nakama's message for an invalid one.
pub(super) fn owner_id(args: &Args, i: usize, message: &str) -> NkResult<String> {
    let id = args.string(i)?;
    uuid::Uuid::parse_str(&id).map_err(|_| args.error(i, message))?;
    Ok(id)
}

/// `record_write(id, owner_id, username?, score?=0, subscore?=0, metadata?, operator?)`.
/// Leaderboards reject negative scores; tournaments do not check (as in Nakama).
pub(super) fn score_write(args: &Args, kind: &Kind) -> NkResult<ScoreWrite> {
    let id = board_id(args, kind)?;
    let owner_id = owner_id(args, 2, kind.write_owner_message)?;
    let username = args.opt_nonempty(3)?;
    let score = args.opt_int(4)?.unwrap_or(0);
    let subscore = args.opt_int(5)?.unwrap_or(0);
    if !kind.tournament {
        if score < 0 {
            return Err(args.error(4, "expects score to be >= 0"));
        }
        // Nakama reports this one as argument #4 too (a slip); Shoal names the right one.
        if subscore < 0 {
            return Err(args.error(5, "expects subscore to be >= 0"));
        }
    }
    Ok(ScoreWrite {
        id,
        owner_id,
        username,
        score,
        subscore,
        metadata: opt_metadata(args, 6)?,
        operator: override_operator(args, 7)?,
    })
}

/// `records_list(id, owner_ids?, limit?, cursor?, expiry?)`; `None` when `owner_ids` is an
/// empty table, which Nakama answers with a single empty table and no lookup.
pub(super) fn records_query(args: &Args, kind: &Kind) -> NkResult<Option<RecordsQuery>> {
    let id = board_id(args, kind)?;
    let mut owner_ids = Vec::new();
    if let Some(t) = args.opt_table(2)? {
        if t.raw_len() == 0 {
            return Ok(None);
        }
        for pair in t.pairs::<Value, Value>() {
            let Value::String(s) = pair?.1 else {
                return Err(args.error(2, "expects each owner ID to be string"));
            };
            let s = s.to_string_lossy();
            uuid::Uuid::parse_str(&s)
                .map_err(|_| args.error(2, "expects each owner ID to be a valid identifier"))?;
            owner_ids.push(s);
        }
    }
    let limit = args.opt_int(3)?.unwrap_or(0);
    if !(0..=10_000).contains(&limit) {
        return Err(args.error(3, "expects limit to be 0-10000"));
    }
    Ok(Some(RecordsQuery {
        id,
        owner_ids,
        limit: (limit != 0).then_some(limit),
        cursor: args.opt_nonempty(4)?,
        expiry: args.opt_int(5)?.filter(|e| *e != 0),
    }))
}

/// `records_haystack(id, owner_id, limit?=10, cursor?, expiry?=0)`.
pub(super) fn haystack_query(args: &Args, kind: &Kind) -> NkResult<RecordsQuery> {
    let id = board_id(args, kind)?;
    let owner = owner_id(args, 2, "expects user ID to be a valid identifier")?;
    let limit = args.opt_int(3)?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(args.error(3, "limit must be 1-100"));
    }
    let cursor = args.opt_nonempty(4)?;
    let expiry = args.opt_int(5)?.unwrap_or(0);
    if expiry < 0 {
        return Err(args.error(
            5,
            "expiry should be time since epoch in seconds and has to be a positive integer",
        ));
    }
    Ok(RecordsQuery {
        id,
        owner_ids: vec![owner],
        limit: Some(limit),
        cursor,
        expiry: (expiry != 0).then_some(expiry),
    })
}

/// A list of board ids (`leaderboards_get_id`, `tournaments_get_id`): a table of
/// non-empty strings. Nakama's messages say "tournament" for both.
pub(super) fn board_ids(args: &Args) -> NkResult<Vec<String>> {
    let Some(t) = args.opt_table(1)? else {
        return Err(args.error(1, "invalid tournament id list"));
    };
    let mut ids = Vec::new();
    for v in t.sequence_values::<Value>() {
        match v? {
            Value::String(s) if !s.as_bytes().is_empty() => ids.push(s.to_string_lossy()),
            _ => return Err(args.error(1, "each tournament id must be a string")),
        }
    }
    Ok(ids)
}

/// `Operator` as Nakama's Lua shows it: the enum name, lower-cased.
pub(super) fn operator_name(op: i32) -> &'static str {
    match op {
        1 => "best",
        2 => "set",
        3 => "increment",
        4 => "decrement",
        _ => "no_override",
    }
}

/// A record as Nakama's Lua sees it: snake_case, metadata decoded, times in unix seconds,
/// `username`/`expiry_time` nil when absent, `rank` 0 when unranked.
pub(super) fn record_table(lua: &Lua, r: &LeaderboardRecord) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 12)?;
    t.raw_set("leaderboard_id", r.leaderboard_id.as_str())?;
    t.raw_set("owner_id", r.owner_id.as_str())?;
    t.raw_set("username", r.username.as_deref())?;
    t.raw_set("score", r.score)?;
    t.raw_set("subscore", r.subscore)?;
    t.raw_set("num_score", r.num_score)?;
    t.raw_set("max_num_score", r.max_num_score)?;
    t.raw_set("metadata", json_field(lua, &r.metadata)?)?;
    t.raw_set("create_time", r.create_time)?;
    t.raw_set("update_time", r.update_time)?;
    t.raw_set("expiry_time", r.expiry_time)?;
    t.raw_set("rank", r.rank)?;
    Ok(t)
}

/// A leaderboard as Nakama's Lua sees it: `sort_order` is the number as a string ("0"
/// asc, "1" desc), `operator` the lower-cased enum name; resets only when set.
pub(super) fn leaderboard_table(lua: &Lua, l: &Leaderboard) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 8)?;
    t.raw_set("id", l.id.as_str())?;
    t.raw_set("authoritative", l.authoritative)?;
    t.raw_set("operator", operator_name(l.operator))?;
    t.raw_set("sort_order", l.sort_order.to_string())?;
    t.raw_set("metadata", json_field(lua, &l.metadata)?)?;
    t.raw_set("create_time", l.create_time)?;
    if l.next_reset != 0 {
        t.raw_set("next_reset", l.next_reset)?;
    }
    // Nakama stores this under the key "" (a typo); Shoal uses the field's name.
    if l.prev_reset != 0 {
        t.raw_set("prev_reset", l.prev_reset)?;
    }
    Ok(t)
}

/// `records, owner_records, next_cursor, prev_cursor, rank_count` — without
/// `owner_records` for haystacks. Empty cursors are nil.
pub(super) fn records_result(
    lua: &Lua,
    page: &LeaderboardRecordList,
    with_owner_records: bool,
) -> NkResult<MultiValue> {
    let cursor = |c: &str| (!c.is_empty()).then(|| c.to_owned());
    let mut out = vec![Value::Table(list(lua, &page.records, record_table)?)];
    if with_owner_records {
        out.push(Value::Table(list(lua, &page.owner_records, record_table)?));
    }
    out.push(cursor(&page.next_cursor).into_lua(lua)?);
    out.push(cursor(&page.prev_cursor).into_lua(lua)?);
    out.push(page.rank_count.into_lua(lua)?);
    Ok(MultiValue::from_iter(out))
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

/// The record functions both families share (write, delete, list, haystack, named in that
/// order); `kind` picks the messages and the host API.
pub(super) fn install_records(
    i: &Installer,
    kind: &'static Kind,
    names: [&'static str; 4],
) -> mlua::Result<()> {
    let [write, delete, list_name, haystack] = names;
    let noun = kind.noun;
    let shared = i.shared.clone();
    i.add(write, move |lua, args| {
        let w = score_write(&args, kind)?;
        let context = format!("error writing {noun} record");
        let record = shared
            .host
            .record_write(kind.tournament, &w)
            .map_err(host_error(&context))?;
        record_table(lua, &record)
    })?;
    let shared = i.shared.clone();
    i.add(delete, move |_, args| {
        let id = board_id(&args, kind)?;
        let owner = owner_id(&args, 2, "expects owner ID to be a valid identifier")?;
        let context = format!("error deleting {noun} record");
        shared
            .host
            .record_delete(kind.tournament, &id, &owner)
            .map_err(host_error(&context))
    })?;
    let shared = i.shared.clone();
    i.add(list_name, move |lua, args| {
        let Some(query) = records_query(&args, kind)? else {
            return Ok(MultiValue::from_iter([Value::Table(lua.create_table()?)]));
        };
        let context = format!("error listing {noun} records");
        let page = shared
            .host
            .records_list(kind.tournament, &query)
            .map_err(host_error(&context))?;
        records_result(lua, &page, true)
    })?;
    let shared = i.shared.clone();
    i.add(haystack, move |lua, args| {
        let query = haystack_query(&args, kind)?;
        let context = format!("error listing {noun} records haystack");
        let page = shared
            .host
            .records_haystack(kind.tournament, &query)
            .map_err(host_error(&context))?;
        records_result(lua, &page, false)
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
    })?;
    let shared = i.shared.clone();
    i.add("leaderboard_delete", move |_, args| {
        let id = board_id(&args, &LEADERBOARD)?;
        shared
            .host
            .leaderboard_delete(&id)
            .map_err(host_error("error deleting leaderboard"))
    })?;
    let shared = i.shared.clone();
    i.add("leaderboard_list", move |lua, args| {
        let limit = args.opt_int(1)?.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(args.error(1, "limit must be 1-100"));
        }
        let cursor = args.opt_nonempty(2)?;
        let page = shared
            .host
            .leaderboard_list(limit, cursor.as_deref())
            .map_err(host_error("error listing leaderboards"))?;
        let boards = list(lua, &page.leaderboards, leaderboard_table)?;
        Ok((boards, (!page.cursor.is_empty()).then_some(page.cursor)))
    })?;
    let shared = i.shared.clone();
    i.add("leaderboards_get_id", move |lua, args| {
        let ids = board_ids(&args)?;
        if ids.is_empty() {
            return Ok(lua.create_table()?);
        }
        let boards = shared
            .host
            .leaderboards_get_id(&ids)
            .map_err(host_error("error getting leaderboards"))?;
        list(lua, &boards, leaderboard_table)
    })?;
    let shared = i.shared.clone();
    i.add(
        "leaderboard_records_list_cursor_from_rank",
        move |_, args| {
            let id = board_id(&args, &LEADERBOARD)?;
            let rank = args.int(2)?;
            if rank < 1 {
                return Err(args.error(2, "invalid rank - must be > 1"));
            }
            let expiry = args.opt_int(3)?.unwrap_or(0);
            shared
                .host
                .records_cursor_from_rank(&id, rank, expiry)
                .map_err(host_error("failed to get cursor from rank"))
        },
    )?;
    install_records(
        i,
        &LEADERBOARD,
        [
            "leaderboard_record_write",
            "leaderboard_record_delete",
            "leaderboard_records_list",
            "leaderboard_records_haystack",
        ],
    )
}
