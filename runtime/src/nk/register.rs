//! Registration (§5.3 "Registration"): RPCs, request/realtime before and after hooks,
//! `run_once`, and the matchmaker/leaderboard/tournament callbacks later features invoke.

use std::sync::{Arc, Mutex};

use mlua::{Function, Lua, RegistryKey, Value};

use super::Installer;
use super::args::{Args, NkResult, raise};
use crate::registry::{Handler, Handlers, HookId};

/// Locks the VM's handler map for a registration, which is only allowed while modules load.
pub(super) fn register<R>(
    handlers: &Mutex<Handlers>,
    f: impl FnOnce(&mut Handlers) -> R,
) -> NkResult<R> {
    let mut h = handlers.lock().unwrap_or_else(|e| e.into_inner());
    if h.sealed {
        return Err(raise("functions can only be registered while modules load"));
    }
    Ok(f(&mut h))
}

/// Argument `i` as a function, stored in the Lua registry.
pub(super) fn function_key(lua: &Lua, args: &Args, i: usize) -> NkResult<RegistryKey> {
    match args.get(i) {
        Value::Function(f) => Ok(lua.create_registry_value(f.clone())?),
        _ => Err(args.error(i, "expects a function")),
    }
}

/// Registers `handler` as a before or after hook for each id.
pub(super) fn add_hooks(
    lua: &Lua,
    handlers: &Mutex<Handlers>,
    f: &Function,
    ids: Vec<HookId>,
    after: bool,
    legacy: bool,
) -> NkResult<()> {
    let mut keyed = Vec::with_capacity(ids.len());
    for id in ids {
        keyed.push((id, lua.create_registry_value(f.clone())?));
    }
    register(handlers, |h| {
        for (id, key) in keyed {
            let map = if after { &mut h.after } else { &mut h.before };
            map.insert(id, Handler { key, legacy });
        }
    })
}

fn hook_registrar(
    i: &Installer,
    name: &'static str,
    make_id: fn(&str) -> HookId,
    after: bool,
) -> mlua::Result<()> {
    let handlers = i.handlers.clone();
    i.add(name, move |lua, args| {
        let Value::Function(f) = args.get(1).clone() else {
            return Err(args.error(1, "expects a function"));
        };
        let id = args.nonempty(2, "expects method name")?;
        add_hooks(lua, &handlers, &f, vec![make_id(&id)], after, false)
    })
}

/// A registrar for a single callback slot (`register_matchmaker_matched`, …).
fn slot_registrar(
    i: &Installer,
    name: &'static str,
    slot: fn(&mut Handlers) -> &mut Option<RegistryKey>,
) -> mlua::Result<()> {
    let handlers: Arc<Mutex<Handlers>> = i.handlers.clone();
    i.add(name, move |lua, args| {
        let key = function_key(lua, &args, 1)?;
        register(&handlers, |h| *slot(h) = Some(key))
    })
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let handlers = i.handlers.clone();
    i.add("register_rpc", move |lua, args| {
        let key = function_key(lua, &args, 1)?;
        let id = args.nonempty(2, "expects rpc id")?.to_lowercase();
        register(&handlers, |h| {
            h.rpc.insert(id, key);
        })
    })?;

    hook_registrar(i, "register_req_before", HookId::request, false)?;
    hook_registrar(i, "register_req_after", HookId::request, true)?;
    hook_registrar(i, "register_rt_before", HookId::realtime, false)?;
    hook_registrar(i, "register_rt_after", HookId::realtime, true)?;

    slot_registrar(i, "register_matchmaker_matched", |h| {
        &mut h.matchmaker_matched
    })?;
    slot_registrar(i, "register_leaderboard_reset", |h| {
        &mut h.leaderboard_reset
    })?;
    slot_registrar(i, "register_tournament_end", |h| &mut h.tournament_end)?;
    slot_registrar(i, "register_tournament_reset", |h| &mut h.tournament_reset)?;

    let handlers = i.handlers.clone();
    i.add("run_once", move |lua, args| {
        let key = function_key(lua, &args, 1)?;
        register(&handlers, |h| h.run_once.push(key))
    })
}
