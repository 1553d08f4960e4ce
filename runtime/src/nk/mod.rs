//! The `nakama` module (`local nk = require("nakama")`): Nakama v3's `nk.*` names (§5.3,
//! §5.4), one file per domain, plus the seeds' 1.x aliases in [`legacy`].
//!
//! Every function is a Rust closure wrapped by a small Lua shim (see `sandbox::PRELUDE`)
//! so that failures are raised as plain Lua string errors with the caller's position, as
//! gopher-lua's `RaiseError` does; they never return `(nil, err)`.

mod account;
mod args;
mod auth;
mod crypto;
mod encoding;
mod friends;
mod http;
mod leaderboard;
mod legacy;
mod localcache;
mod logger;
mod realtime;
mod register;
mod storage;
mod time;
mod tournament;

use std::sync::{Arc, Mutex};

use mlua::{Function, IntoLuaMulti, Lua, MultiValue, Table, Value};

use crate::budget::Budget;
use crate::config::PoolConfig;
use crate::host::RuntimeHost;
use crate::registry::Handlers;

pub(crate) use args::{Args, NkError, NkResult, canonical_uuid, raise};
pub(crate) use legacy::after_payload as legacy_after_payload;

/// The table a reset or end callback receives for its board: the same one
/// `nk.leaderboards_get_id` / `nk.tournaments_get_id` return.
pub(crate) fn board_table(lua: &Lua, board: &crate::invoke::CallbackBoard) -> mlua::Result<Table> {
    use crate::invoke::CallbackBoard;
    let table = match board {
        CallbackBoard::Leaderboard(l) => leaderboard::leaderboard_table(lua, l),
        CallbackBoard::Tournament(t) => tournament::tournament_table(lua, t),
    };
    table.map_err(|e| match e {
        NkError::Raise(m) => mlua::Error::RuntimeError(m),
        NkError::Lua(e) => e,
    })
}

/// State shared by every VM of a pool.
pub(crate) struct Shared {
    pub config: PoolConfig,
    pub host: Arc<dyn RuntimeHost>,
    pub cache: localcache::LocalCache,
    pub http: http::HttpClients,
}

impl Shared {
    pub fn new(config: PoolConfig, host: Arc<dyn RuntimeHost>) -> Self {
        let cache = localcache::LocalCache::new(config.localcache_max_entries);
        Shared {
            config,
            host,
            cache,
            http: http::HttpClients::new(),
        }
    }
}

/// Adds functions to the `nk` table of one VM.
pub(crate) struct Installer<'a> {
    pub lua: &'a Lua,
    nk: Table,
    wrap: &'a Function,
    pub shared: Arc<Shared>,
    pub budget: Arc<Budget>,
    pub handlers: Arc<Mutex<Handlers>>,
}

impl Installer<'_> {
    /// Registers `nk.<name>`. `f` gets the arguments; an [`NkError::Raise`] becomes a Lua
    /// error positioned at the Lua line that called `nk.<name>`.
    pub fn add<F, R>(&self, name: &'static str, f: F) -> mlua::Result<()>
    where
        F: Fn(&Lua, Args) -> NkResult<R> + Send + 'static,
        R: IntoLuaMulti,
    {
        let wrapped = function(self.lua, self.wrap, name, f)?;
        self.nk.raw_set(name, wrapped)
    }
}

/// A Lua function named `name` that runs `f` as [`Installer::add`] describes (the match
/// dispatcher's functions are made this way too).
pub(crate) fn function<F, R>(
    lua: &Lua,
    wrap: &Function,
    name: &'static str,
    f: F,
) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> NkResult<R> + Send + 'static,
    R: IntoLuaMulti,
{
    let raw = lua.create_function(move |lua, values: MultiValue| {
        match f(lua, Args::new(name, values)) {
            Ok(r) => {
                let mut out = r.into_lua_multi(lua)?;
                out.push_front(Value::Boolean(true));
                Ok(out)
            }
            Err(NkError::Raise(message)) => {
                let message = format!("{}{message}", caller_position(lua));
                (false, message).into_lua_multi(lua)
            }
            Err(NkError::Lua(e)) => Err(e),
        }
    })?;
    wrap.call(raw)
}

/// `"file.lua:12: "` for the Lua function that called the `nk` shim, or "" from C.
fn caller_position(lua: &Lua) -> String {
    // Level 0 is the Rust function, 1 the Lua shim, 2 its caller.
    lua.inspect_stack(2, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        (src != "[C]").then(|| format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// Builds the `nk` table for one VM.
pub(crate) fn install(
    lua: &Lua,
    wrap: &Function,
    shared: Arc<Shared>,
    budget: Arc<Budget>,
    handlers: Arc<Mutex<Handlers>>,
) -> mlua::Result<Table> {
    let nk = lua.create_table()?;
    let i = Installer {
        lua,
        nk: nk.clone(),
        wrap,
        shared,
        budget,
        handlers,
    };
    register::install(&i)?;
    encoding::install(&i)?;
    crypto::install(&i)?;
    time::install(&i)?;
    http::install(&i)?;
    logger::install(&i)?;
    localcache::install(&i)?;
    auth::install(&i)?;
    account::install(&i)?;
    storage::install(&i)?;
    friends::install(&i)?;
    leaderboard::install(&i)?;
    tournament::install(&i)?;
    realtime::install(&i)?;
    legacy::install(&i)?;
    Ok(nk)
}
