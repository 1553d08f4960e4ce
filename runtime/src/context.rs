//! The `context` table every registered function receives as its first argument.
//!
//! Keys are Nakama v3's snake_case ones (N `server/runtime_lua_context.go`) plus the 1.x
//! names the seed documents read (`Env`, `ExecutionMode`, `UserId`, `UserHandle`,
//! `UserSessionExp`). Keys without a value are absent (nil), never empty strings.

use std::collections::BTreeMap;

use mlua::{Function, IntoLua, Lua, MultiValue, Table, Value};

use crate::vm::Vm;

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

/// Lua that makes a context table from its values in one call: a table constructor is one
/// Lua instruction per key, where setting keys from Rust costs a C API round trip each (this
/// was a quarter of an echo RPC's server time). A nil argument leaves its key absent.
pub(crate) const CONSTRUCTOR: &str = r#"
return function(env, mode, node, version, headers, query_params, user_id, username, vars,
                exp, exp_ms, session_id, lang, client_ip, client_port,
                match_id, match_node, match_label, match_tick_rate)
  env = env or {}
  return {
    env = env, Env = env, execution_mode = mode, ExecutionMode = mode, node = node,
    version = version, headers = headers or {}, query_params = query_params or {},
    user_id = user_id, UserId = user_id, username = username, UserHandle = username,
    vars = vars, user_session_exp = exp, UserSessionExp = exp_ms,
    session_id = session_id, lang = lang, client_ip = client_ip, client_port = client_port,
    match_id = match_id, match_node = match_node, match_label = match_label,
    match_tick_rate = match_tick_rate,
  }
end
"#;

/// Compiles [`CONSTRUCTOR`] in a VM (once, when the VM is made).
pub(crate) fn constructor(lua: &Lua) -> mlua::Result<Function> {
    lua.load(CONSTRUCTOR).set_name("=context").eval()
}

/// An empty map is passed as nil: the constructor makes the empty table itself.
fn non_empty<T>(map: &BTreeMap<String, T>) -> Option<&BTreeMap<String, T>> {
    (!map.is_empty()).then_some(map)
}

fn make(
    vm: &Vm,
    mode: ExecutionMode,
    ctx: &CallContext,
    keys: Option<&MatchKeys<'_>>,
) -> mlua::Result<Table> {
    let lua = &vm.lua;
    let config = &vm.shared.config;
    let env = non_empty(&config.env).map(|m| string_map(lua, m)).transpose()?;
    let headers = non_empty(&ctx.headers).map(|m| multi_map(lua, m)).transpose()?;
    let query = non_empty(&ctx.query_params).map(|m| multi_map(lua, m)).transpose()?;
    let vars = ctx.vars.as_ref().map(|m| string_map(lua, m)).transpose()?;
    let text = |v: Option<&str>| -> mlua::Result<Value> { v.into_lua(lua) };
    let exp = ctx.user_session_exp;
    let args: [Value; 19] = [
        env.into_lua(lua)?,
        text(Some(mode.as_str()))?,
        text(Some(config.node.as_str()))?,
        text(Some(env!("CARGO_PKG_VERSION")))?,
        headers.into_lua(lua)?,
        query.into_lua(lua)?,
        text(ctx.user_id.as_deref())?,
        text(ctx.username.as_deref())?,
        vars.into_lua(lua)?,
        exp.into_lua(lua)?,
        // 1.x documented the expiry in milliseconds.
        exp.map(|v| v.saturating_mul(1000)).into_lua(lua)?,
        text(ctx.session_id.as_deref())?,
        text(ctx.lang.as_deref())?,
        text(ctx.client_ip.as_deref())?,
        text(ctx.client_port.as_deref())?,
        text(keys.map(|k| k.match_id))?,
        text(keys.map(|k| k.match_node))?,
        text(keys.and_then(|k| k.label))?,
        keys.and_then(|k| k.tick_rate).into_lua(lua)?,
    ];
    vm.context.call(MultiValue::from_iter(args))
}

/// Builds the context table for one call.
pub(crate) fn build(vm: &Vm, mode: ExecutionMode, ctx: &CallContext) -> mlua::Result<Table> {
    make(vm, mode, ctx, None)
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
pub(crate) fn build_match(vm: &Vm, ctx: &CallContext, keys: &MatchKeys<'_>) -> mlua::Result<Table> {
    make(vm, ExecutionMode::Match, ctx, Some(keys))
}
