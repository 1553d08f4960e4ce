//! The `context` table every registered function receives as its first argument.
//!
//! Keys are Nakama v3's snake_case ones (N `server/runtime_lua_context.go`) plus the 1.x
//! names the seed documents read (`Env`, `ExecutionMode`, `UserId`, `UserHandle`,
//! `UserSessionExp`). Keys without a value are absent (nil), never empty strings.

use std::collections::BTreeMap;

use mlua::{Lua, Table};

use crate::config::PoolConfig;

/// Why Lua is running; `context.execution_mode` (lower-case, as Nakama).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionMode {
    RunOnce,
    Rpc,
    Before,
    After,
    /// A `register_http` handler (Shoal/1.x extension).
    Http,
    Matchmaker,
    LeaderboardReset,
    TournamentEnd,
    TournamentReset,
    /// An authoritative match's callbacks.
    Match,
}

impl ExecutionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::RunOnce => "run_once",
            ExecutionMode::Rpc => "rpc",
            ExecutionMode::Before => "before",
            ExecutionMode::After => "after",
            ExecutionMode::Http => "http",
            ExecutionMode::Matchmaker => "matchmaker",
            ExecutionMode::LeaderboardReset => "leaderboard_reset",
            ExecutionMode::TournamentEnd => "tournament_end",
            ExecutionMode::TournamentReset => "tournament_reset",
            ExecutionMode::Match => "match",
        }
    }
}

/// Per-call context the caller knows (the pool adds `env`, `node` and `execution_mode`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// Set when a session (not an http key) authorised the call.
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub vars: Option<BTreeMap<String, String>>,
    /// Session expiry, unix seconds.
    pub user_session_exp: Option<i64>,
    /// Socket calls only.
    pub session_id: Option<String>,
    /// Socket calls only.
    pub lang: Option<String>,
    pub client_ip: Option<String>,
    pub client_port: Option<String>,
    /// HTTP request headers (every value per name); empty unless the call came over HTTP.
    pub headers: BTreeMap<String, Vec<String>>,
    /// HTTP query parameters; empty unless the call came over HTTP.
    pub query_params: BTreeMap<String, Vec<String>>,
}

impl CallContext {
    /// A context for a call made with a user's session.
    pub fn for_user(user_id: impl Into<String>, username: impl Into<String>) -> Self {
        CallContext {
            user_id: Some(user_id.into()),
            username: Some(username.into()),
            ..Default::default()
        }
    }
}

fn string_map(lua: &Lua, map: &BTreeMap<String, String>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, map.len())?;
    for (k, v) in map {
        t.raw_set(k.as_str(), v.as_str())?;
    }
    Ok(t)
}

fn multi_map(lua: &Lua, map: &BTreeMap<String, Vec<String>>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, map.len())?;
    for (k, vs) in map {
        let list = lua.create_table_with_capacity(vs.len(), 0)?;
        for (i, v) in vs.iter().enumerate() {
            list.raw_set(i + 1, v.as_str())?;
        }
        t.raw_set(k.as_str(), list)?;
    }
    Ok(t)
}

/// Builds the context table for one call.
pub(crate) fn build(
    lua: &Lua,
    config: &PoolConfig,
    mode: ExecutionMode,
    ctx: &CallContext,
) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 24)?;
    let env = string_map(lua, &config.env)?;
    t.raw_set("env", &env)?;
    t.raw_set("Env", env)?;
    t.raw_set("execution_mode", mode.as_str())?;
    t.raw_set("ExecutionMode", mode.as_str())?;
    t.raw_set("node", config.node.as_str())?;
    t.raw_set("version", env!("CARGO_PKG_VERSION"))?;
    t.raw_set("headers", multi_map(lua, &ctx.headers)?)?;
    t.raw_set("query_params", multi_map(lua, &ctx.query_params)?)?;
    if let Some(v) = &ctx.user_id {
        t.raw_set("user_id", v.as_str())?;
        t.raw_set("UserId", v.as_str())?;
    }
    if let Some(v) = &ctx.username {
        t.raw_set("username", v.as_str())?;
        t.raw_set("UserHandle", v.as_str())?;
    }
    if let Some(v) = &ctx.vars {
        t.raw_set("vars", string_map(lua, v)?)?;
    }
    if let Some(v) = ctx.user_session_exp {
        t.raw_set("user_session_exp", v)?;
        // 1.x documented this one in milliseconds.
        t.raw_set("UserSessionExp", v.saturating_mul(1000))?;
    }
    for (key, value) in [
        ("session_id", &ctx.session_id),
        ("lang", &ctx.lang),
        ("client_ip", &ctx.client_ip),
        ("client_port", &ctx.client_port),
    ] {
        if let Some(v) = value {
            t.raw_set(key, v.as_str())?;
        }
    }
    Ok(t)
}

/// The keys Nakama adds to a match's context (N `runtime_lua_match_core.go`): `match_id`
/// and `match_node` always, `match_label` and `match_tick_rate` once `match_init` returned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatchKeys<'a> {
    pub match_id: &'a str,
    pub match_node: &'a str,
    pub label: Option<&'a str>,
    pub tick_rate: Option<u32>,
}

/// Builds the context table of a match callback: a `match` context for `ctx` (empty, or
/// the joining user's in `match_join_attempt`) plus the match's keys.
pub(crate) fn build_match(
    lua: &Lua,
    config: &PoolConfig,
    ctx: &CallContext,
    keys: &MatchKeys<'_>,
) -> mlua::Result<Table> {
    let t = build(lua, config, ExecutionMode::Match, ctx)?;
    t.raw_set("match_id", keys.match_id)?;
    t.raw_set("match_node", keys.match_node)?;
    if let Some(label) = keys.label {
        t.raw_set("match_label", label)?;
    }
    if let Some(rate) = keys.tick_rate {
        t.raw_set("match_tick_rate", rate)?;
    }
    Ok(t)
}
