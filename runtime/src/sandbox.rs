//! A fresh Lua 5.1 state with Nakama's library set and nothing else.
//!
//! Loaded: base (without `dofile`, `loadfile`; `load`/`loadstring` take text chunks only),
//! `string` (without `dump`; `format`'s `%s`/`%q` accept any value, as gopher-lua's do),
//! `table`, `math`, `bit32`, `os` (`clock`, `date`, `time`, `difftime`), and a `package`
//! table whose `require` resolves only through `package.preload` and `package.loaded`.
//! Not loaded: `io`, `debug`, `coroutine`; `package.loadlib` raises "loadlib is not
//! supported". `print` logs. `pcall`/`xpcall` cannot catch a call's budget error.

use std::sync::Arc;

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, LuaOptions, LuaString, MultiValue, StdLib, Table, Value, Variadic};

use crate::budget::Budget;

/// Lua helpers run once per VM: `require`, `package.loadlib`, budget-aware `pcall` and
/// `xpcall`, and the wrapper that turns the `(ok, ...)`
/// results of Rust `nk` functions into plain Lua string errors.
const PRELUDE: &str = r#"
local package, error, type, pcall, xpcall, exceeded = ...
local loaded, preload = package.loaded, package.preload
function package.loadlib()
  error("loadlib is not supported", 2)
end
-- A call that ran out of budget must not be caught: re-raise from pcall and xpcall.
local function rethrow_budget(ok, ...)
  if not ok and exceeded() then error((...), 0) end
  return ok, ...
end
_G.pcall = function(...) return rethrow_budget(pcall(...)) end
_G.xpcall = function(f, handler) return rethrow_budget(xpcall(f, handler)) end
local LOADING = {}
function require(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
  end
  local m = loaded[name]
  if m == LOADING then error("loop or previous error loading module '" .. name .. "'", 2) end
  if m ~= nil then return m end
  local loader = preload[name]
  if loader == nil then error("module '" .. name .. "' not found", 2) end
  loaded[name] = LOADING
  local r = loader(name)
  if r == nil then
    r = loaded[name]
    if r == LOADING or r == nil then r = true end
  end
  loaded[name] = r
  return r
end
local function check(ok, ...)
  if ok then return ... end
  error((...), 0)
end
return function(f)
  return function(...) return check(f(...)) end
end
"#;

/// Makes the globals table read-only once the modules are loaded
/// (`runtime.lua_read_only_globals`): its entries move to a backing table that `_G` reads
/// through, and any assignment to a global raises Nakama's error. Lua 5.1 has no `__pairs`,
/// so only `_G` is protected (a proxy would hide module tables from `pairs`); `rawset`
/// still writes. Every VM has its own globals, so a module that wrote to them would see
/// different values on different VMs: the error says so at once.
const FREEZE_GLOBALS: &str = r#"
local G, setmetatable, next, rawset, error = ...
local backing = {}
for k, v in next, G do backing[k] = v end
for k in next, backing do rawset(G, k, nil) end
setmetatable(G, {
  __index = backing,
  __newindex = function() error("attempt to modify read only table", 2) end,
  __metatable = false,
})
"#;

/// Applies [`FREEZE_GLOBALS`] to `lua`'s globals.
pub(crate) fn freeze_globals(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    lua.load(FREEZE_GLOBALS)
        .set_name("=freeze_globals")
        .set_mode(ChunkMode::Text)
        .call::<()>((
            &g,
            g.raw_get::<Value>("setmetatable")?,
            g.raw_get::<Value>("next")?,
            g.raw_get::<Value>("rawset")?,
            g.raw_get::<Value>("error")?,
        ))
}

/// What the rest of the VM needs from the sandbox.
pub(crate) struct Sandbox {
    pub lua: Lua,
    /// Wraps a Rust `nk` function (see [`PRELUDE`]).
    pub wrap: Function,
    /// The original `pcall`, used to call into Lua without losing table errors.
    pub pcall: Function,
    pub preload: Table,
    pub loaded: Table,
}

/// Creates the sandboxed state. `nk` is registered later as `package.loaded.nakama`.
pub(crate) fn new_state(memory_limit_bytes: usize, budget: Arc<Budget>) -> mlua::Result<Sandbox> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS,
        LuaOptions::new(),
    )?;
    let g = lua.globals();
    for name in ["dofile", "loadfile", "coroutine", "module", "gcinfo"] {
        g.raw_set(name, Value::Nil)?;
    }
    g.raw_set("loadstring", lua.create_function(loadstring)?)?;
    g.raw_set("load", lua.create_function(load)?)?;
    g.raw_set("print", lua.create_function(print)?)?;

    let os: Table = g.get("os")?;
    let safe_os = lua.create_table()?;
    for name in ["clock", "date", "time", "difftime"] {
        safe_os.raw_set(name, os.raw_get::<Value>(name)?)?;
    }
    g.raw_set("os", &safe_os)?;

    let string: Table = g.get("string")?;
    string.raw_set("dump", Value::Nil)?;
    let format: Function = string.raw_get("format")?;
    let tostring: Function = g.get("tostring")?;
    string.raw_set(
        "format",
        lua.create_function(move |_, args: MultiValue| lenient_format(&format, &tostring, args))?,
    )?;

    let bit32 = crate::bit32::install(&lua)?;
    g.raw_set("bit32", &bit32)?;

    let package = lua.create_table()?;
    let loaded = lua.create_table()?;
    let preload = lua.create_table()?;
    for name in ["string", "table", "math"] {
        loaded.raw_set(name, g.get::<Value>(name)?)?;
    }
    loaded.raw_set("os", safe_os)?;
    loaded.raw_set("bit32", bit32)?;
    loaded.raw_set("_G", &g)?;
    package.raw_set("loaded", &loaded)?;
    package.raw_set("preload", &preload)?;
    g.raw_set("package", &package)?;

    let pcall: Function = g.get("pcall")?;
    let exceeded = lua.create_function(move |_, ()| Ok(budget.exceeded().is_some()))?;
    let wrap: Function = lua
        .load(PRELUDE)
        .set_name("=prelude")
        .set_mode(ChunkMode::Text)
        .call((
            package,
            g.get::<Value>("error")?,
            g.get::<Value>("type")?,
            &pcall,
            g.get::<Value>("xpcall")?,
            exceeded,
        ))?;

    // Set last, so the libraries above are not counted against modules.
    lua.set_memory_limit(memory_limit_bytes)?;
    Ok(Sandbox {
        lua,
        wrap,
        pcall,
        preload,
        loaded,
    })
}

/// `loadstring(chunk [, chunkname])`: text chunks only; `nil, message` on failure.
fn loadstring(
    lua: &Lua,
    (chunk, name): (LuaString, Option<String>),
) -> mlua::Result<(Value, Option<String>)> {
    let bytes = chunk.as_bytes();
    if bytes.first() == Some(&0x1b) {
        return Ok((Value::Nil, Some("attempt to load a binary chunk".into())));
    }
    let name = name.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]);
        format!(
            "[string \"{}\"]",
            text.lines().next().unwrap_or("").replace('\0', "")
        )
    });
    let name = if name.starts_with('@') || name.starts_with('=') || name.starts_with('[') {
        name
    } else {
        format!("={name}")
    };
    match lua
        .load(&*bytes)
        .set_name(name.replace('\0', ""))
        .set_mode(ChunkMode::Text)
        .into_function()
    {
        Ok(f) => Ok((Value::Function(f), None)),
        Err(mlua::Error::SyntaxError { message, .. }) => Ok((Value::Nil, Some(message))),
        Err(e @ mlua::Error::MemoryError(_)) => Err(e),
        Err(e) => Ok((Value::Nil, Some(e.to_string()))),
    }
}

/// `load(chunk_or_reader [, chunkname])`: a string, or a function returning pieces.
fn load(
    lua: &Lua,
    (source, name): (Value, Option<String>),
) -> mlua::Result<(Value, Option<String>)> {
    let chunk = match source {
        Value::String(s) => s,
        Value::Function(reader) => {
            let mut buf = Vec::new();
            loop {
                match reader.call::<Value>(())? {
                    Value::String(piece) if !piece.as_bytes().is_empty() => {
                        buf.extend_from_slice(&piece.as_bytes())
                    }
                    Value::Nil | Value::String(_) => break,
                    _ => {
                        return Ok((
                            Value::Nil,
                            Some("reader function must return a string".into()),
                        ));
                    }
                }
            }
            lua.create_string(&buf)?
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "bad argument #1 to 'load' (function expected, got {})",
                other.type_name()
            )));
        }
    };
    loadstring(lua, (chunk, name.or_else(|| Some("=(load)".into()))))
}

/// `print(...)` goes to the log, tab-separated like Lua's.
fn print(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let tostring: Function = lua.globals().get("tostring")?;
    let mut line = String::new();
    for (i, v) in args.into_iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        let s: LuaString = tostring.call(v)?;
        line.push_str(&s.to_string_lossy());
    }
    tracing::info!(target: "shoal_runtime::lua", runtime = "lua", "{line}");
    Ok(())
}

/// `string.format` where `%s` and `%q` take any value (through `tostring`), like
/// gopher-lua's; everything else is Lua's own `string.format`.
fn lenient_format(
    format: &Function,
    tostring: &Function,
    args: MultiValue,
) -> mlua::Result<MultiValue> {
    let mut args: Vec<Value> = args.into_iter().collect();
    let Some(Value::String(fmt)) = args.first() else {
        return format.call(MultiValue::from(args));
    };
    let spec = fmt.as_bytes().to_vec();
    let mut arg = 1;
    let mut i = 0;
    while i < spec.len() {
        if spec[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        if spec.get(i) == Some(&b'%') {
            i += 1;
            continue;
        }
        while i < spec.len() && (b"-+ #0.".contains(&spec[i]) || spec[i].is_ascii_digit()) {
            i += 1;
        }
        if let Some(&conv) = spec.get(i) {
            if (conv == b's' || conv == b'q')
                && let Some(v) = args.get(arg)
                && !matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_))
            {
                args[arg] = tostring.call::<Value>(v.clone())?;
            }
            arg += 1;
        }
        i += 1;
    }
    format.call(MultiValue::from(args))
}
