//! Authoritative matches (NAKAMA-SURFACE §7): a match module loaded with `require` in a
//! fresh VM of its own, its seven callbacks, and the dispatcher they call.
//!
//! The node owns the match loop (ticks, queues, presences, delivery); this module only runs
//! Lua. Dispatcher calls made during a callback are collected as [`DispatchAction`]s that the
//! node drains with [`MatchHandler::take_actions`] after each callback, in call order.
//! Methods are synchronous and run Lua inline (call them from a `blocking::section` or a
//! blocking thread).
//!
//! Every callback runs under the pool's call budget and maps errors as RPCs do (§5.6). The
//! state is a live Lua value (it may hold functions) kept in the VM's registry. Return
//! values are checked with Nakama's messages (N `runtime_lua_match_core.go`), except that
//! extra values are counted first: `return state, nil` from `match_loop` is "too many
//! values" here, where gopher-lua's stack reading would silently end the match.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mlua::{Function, Lua, MultiValue, RegistryKey, Table, Value};
use serde_json::Value as Json;
use shoal_proto::ErrorCode;

use crate::context::{self, CallContext, MatchKeys};
use crate::convert::{as_i64, as_text, json_to_lua};
use crate::error::RuntimeError;
use crate::match_tables::MatchTables;
use crate::nk::{self, Args, NkResult, canonical_uuid, raise};
use crate::vm::Vm;

/// Tick rates `match_init` may return.
const TICK_RATES: std::ops::RangeInclusive<i64> = 1..=60;
/// Longest match label, in bytes (Nakama's `MatchLabelMaxBytes`).
const LABEL_MAX_BYTES: usize = 2048;
/// Deferred broadcasts allowed between two [`MatchHandler::take_actions`] (Nakama's default
/// `match.deferred_queue_size`).
const DEFERRED_MAX: usize = 128;
/// Dispatcher calls allowed between two [`MatchHandler::take_actions`].
const ACTIONS_MAX: usize = 4096;

/// The callbacks a match module must return, in the order Nakama checks them.
const CALLBACKS: [&str; 7] = [
    "match_init",
    "match_join_attempt",
    "match_join",
    "match_leave",
    "match_loop",
    "match_terminate",
    "match_signal",
];

/// Who a match callback is about: `{user_id, session_id, username, node}` (+ `reason` in
/// `match_leave` / `match_join`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchPresence {
    pub user_id: String,
    pub session_id: String,
    pub username: String,
    pub node: String,
    /// Why the presence left (Nakama's `PresenceReason`); 0 on joins.
    pub reason: i32,
}

/// One message for `match_loop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchMessage {
    pub sender: MatchPresence,
    pub op_code: i64,
    /// Raw bytes; `None` is Lua nil.
    pub data: Option<Vec<u8>>,
    pub reliable: bool,
    pub receive_time_ms: i64,
}

/// What a dispatcher call asked for, in the order it was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchAction {
    /// `broadcast_message` (`deferred = false`) or `broadcast_message_deferred`. `presences`
    /// `None` means every member. Targets carry `session_id` and `node` (validated), and
    /// `user_id`/`username` when Lua gave them; the node keeps only current members. A
    /// call with an empty `presences` table sends nothing and is not recorded. `sender`
    /// has `user_id`, `session_id` and `username` (no node).
    Broadcast {
        op_code: i64,
        data: Option<Vec<u8>>,
        presences: Option<Vec<MatchPresence>>,
        sender: Option<MatchPresence>,
        reliable: bool,
        deferred: bool,
    },
    /// `match_kick` (each presence has `user_id`, `session_id` and `node`).
    Kick(Vec<MatchPresence>),
    /// `match_label_update` (already applied to [`MatchHandler::label`]).
    LabelUpdate(String),
}

/// Identity of a match, for its context table (`match_id`, `match_node`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchSetup {
    /// `<uuid>.<node>`.
    pub match_id: String,
    pub node: String,
    /// The module name given to `nk.match_create`.
    pub module: String,
}

/// What `match_init` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchInit {
    /// 1–60.
    pub tick_rate: u32,
    /// ≤ 2048 bytes.
    pub label: String,
}

/// What `match_join_attempt` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinDecision {
    pub allow: bool,
    pub reason: Option<String>,
    /// The handler returned a nil state: the match ends (and `allow` is false).
    pub ended: bool,
}

/// What the dispatcher recorded since the node last looked.
#[derive(Default)]
struct Recorder {
    actions: Vec<DispatchAction>,
    deferred: usize,
    /// Set by `match_label_update`; moved into [`MatchHandler::label`] after the callback.
    label: Option<String>,
}

fn lock(r: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running match's Lua side: its own VM, the module's callbacks and the current state.
pub struct MatchHandler {
    setup: MatchSetup,
    tick_rate: u32,
    label: String,
    join_attempt_fn: Function,
    join_fn: Function,
    leave_fn: Function,
    loop_fn: Function,
    terminate_fn: Function,
    signal_fn: Function,
    /// The context every callback but `match_join_attempt` receives (the same table each
    /// time, as in Nakama).
    context: Table,
    dispatcher: Table,
    tables: MatchTables,
    state: RegistryKey,
    recorder: Arc<Mutex<Recorder>>,
    /// Declared last: dropped after the Lua values above.
    vm: Vm,
}

impl std::fmt::Debug for MatchHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchHandler")
            .field("match_id", &self.setup.match_id)
            .field("module", &self.setup.module)
            .field("tick_rate", &self.tick_rate)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl crate::VmPool {
    /// Creates a fresh VM with this pool's bundle, `require`s `setup.module` (which must
    /// return a table with all seven callbacks: otherwise `"<name> not found or not a
    /// function"`), and runs `match_init(context, params)`. A nil state, a tick rate
    /// outside 1–60, or a label over 2048 bytes fails the creation. A module that is not
    /// in the bundle is [`RuntimeError::FunctionNotFound`]; one that fails to load is a Lua
    /// error `"error loading match module: …"`.
    pub fn create_match(
        &self,
        setup: MatchSetup,
        params: Option<Json>,
    ) -> Result<(MatchHandler, MatchInit), RuntimeError> {
        if self.bundle().get(&setup.module).is_none() {
            return Err(RuntimeError::FunctionNotFound(setup.module));
        }
        let _span = tracing::debug_span!("lua_call", node = %self.config().node, kind = "match", function = "match_init", module = %setup.module).entered();
        MatchHandler::create(self, setup, params)
    }
}

/// A Lua-side error of a match callback (code 13, like `error("msg")`).
fn match_error(message: impl Into<String>) -> RuntimeError {
    RuntimeError::lua(ErrorCode::Internal, message)
}

impl MatchHandler {
    fn create(
        pool: &crate::VmPool,
        setup: MatchSetup,
        params: Option<Json>,
    ) -> Result<(MatchHandler, MatchInit), RuntimeError> {
        let mut vm = Vm::preloaded(pool.bundle(), pool.shared().clone())?;
        let require = vm.lua.globals().get::<Function>("require");
        let require = require.map_err(|e| vm.fatal(e))?;
        let module = vm
            .invoke(&require, setup.module.as_str())
            .map_err(|e| match e {
                RuntimeError::Lua { code, message } => {
                    RuntimeError::lua(code, format!("error loading match module: {message}"))
                }
                other => other,
            })?;
        let Some(Value::Table(table)) = module.into_iter().next() else {
            return Err(match_error(
                "match module must return a table containing the match callback functions",
            ));
        };
        let mut fns = Vec::with_capacity(CALLBACKS.len());
        for name in CALLBACKS {
            match table.raw_get::<Value>(name) {
                Ok(Value::Function(f)) => fns.push(f),
                Ok(_) => return Err(match_error(format!("{name} not found or not a function"))),
                Err(e) => return Err(vm.fatal(e)),
            }
        }
        vm.seal()?;

        let recorder = Arc::new(Mutex::new(Recorder::default()));
        let keys = MatchKeys {
            match_id: &setup.match_id,
            match_node: &setup.node,
            label: None,
            tick_rate: None,
        };
        let built = vm.unlimited(|vm| -> mlua::Result<(Table, Table, Value)> {
            let ctx = context::build_match(vm, &CallContext::default(), &keys)?;
            let dispatcher = dispatcher(&vm.lua, &vm.wrap, &ctx, &recorder)?;
            let params = match &params {
                Some(p) => json_to_lua(&vm.lua, p)?,
                None => Value::Nil,
            };
            Ok((ctx, dispatcher, params))
        });
        let (ctx, dispatcher, params) = built.map_err(|e| vm.fatal(e))?;

        let values: Vec<Value> = vm
            .invoke(&fns[0], (ctx.clone(), params))?
            .into_iter()
            .collect();
        let (state, tick_rate, label) = init_result(values)?;
        let stored = vm.unlimited(|vm| -> mlua::Result<RegistryKey> {
            ctx.raw_set("match_label", label.as_str())?;
            ctx.raw_set("match_tick_rate", tick_rate)?;
            vm.lua.create_registry_value(state)
        });
        let state = stored.map_err(|e| vm.fatal(e))?;
        let tables = MatchTables::new(&vm.lua).map_err(|e| vm.fatal(e))?;

        let mut fns = fns.into_iter().skip(1);
        let mut next = || fns.next().expect("seven callbacks");
        let handler = MatchHandler {
            setup,
            tick_rate,
            label: label.clone(),
            join_attempt_fn: next(),
            join_fn: next(),
            leave_fn: next(),
            loop_fn: next(),
            terminate_fn: next(),
            signal_fn: next(),
            context: ctx,
            dispatcher,
            tables,
            state,
            recorder,
            vm,
        };
        Ok((handler, MatchInit { tick_rate, label }))
    }

    /// `match_join_attempt(context, dispatcher, tick, state, presence, metadata)`; `ctx`
    /// carries the joining user's fields.
    pub fn join_attempt(
        &mut self,
        tick: i64,
        ctx: &CallContext,
        presence: &MatchPresence,
        metadata: &BTreeMap<String, String>,
    ) -> Result<JoinDecision, RuntimeError> {
        let (f, tables) = (self.join_attempt_fn.clone(), self.tables.clone());
        let mut v = self.call("match_join_attempt", &f, Some(ctx), tick, |lua| {
            let meta = lua.create_table_with_capacity(0, metadata.len())?;
            for (k, val) in metadata {
                meta.raw_set(k.as_str(), val.as_str())?;
            }
            Ok(vec![
                Value::Table(tables.presence(lua, presence, false)?),
                Value::Table(meta),
            ])
        })?;
        const TOO_FEW: &str = "Match join attempt returned too few values, stopping match - expected: state, join result boolean, optional reject reason string";
        if v.len() > 3 {
            return Err(match_error(
                "Match join attempt returned too many values, stopping match",
            ));
        }
        if v.len() < 2 {
            return Err(match_error(TOO_FEW));
        }
        let reason = if v.len() == 3 {
            match v.pop() {
                Some(Value::String(s)) => Some(s.to_string_lossy()),
                _ => {
                    return Err(match_error(
                        "Match join attempt returned non-boolean join result or non-string reject reason, stopping match",
                    ));
                }
            }
        } else {
            None
        };
        let allow = match v.pop() {
            Some(Value::Boolean(b)) => b,
            Some(Value::String(_)) if reason.is_none() => {
                return Err(match_error(
                    "Match join attempt returned incorrect or too few values, stopping match - expected: state, join result boolean, optional reject reason string",
                ));
            }
            _ => {
                return Err(match_error(
                    "Match join attempt returned non-boolean join result, stopping match",
                ));
            }
        };
        match v.pop() {
            Some(Value::Nil) | None => Ok(JoinDecision {
                allow: false,
                reason: None,
                ended: true,
            }),
            Some(state) => {
                self.store(state)?;
                Ok(JoinDecision {
                    allow,
                    reason,
                    ended: false,
                })
            }
        }
    }

    /// `match_join`; `Ok(false)` when it returned a nil state (the match ends).
    pub fn join(&mut self, tick: i64, presences: &[MatchPresence]) -> Result<bool, RuntimeError> {
        let (f, tables) = (self.join_fn.clone(), self.tables.clone());
        let v = self.call("match_join", &f, None, tick, |lua| {
            Ok(vec![Value::Table(tables.presence_list(lua, presences)?)])
        })?;
        self.update_state(v, "Match join returned too many values, stopping match")
    }

    /// `match_leave`; `Ok(false)` when it returned a nil state.
    pub fn leave(&mut self, tick: i64, presences: &[MatchPresence]) -> Result<bool, RuntimeError> {
        let (f, tables) = (self.leave_fn.clone(), self.tables.clone());
        let v = self.call("match_leave", &f, None, tick, |lua| {
            Ok(vec![Value::Table(tables.presence_list(lua, presences)?)])
        })?;
        self.update_state(v, "Match leave returned too many values, stopping match")
    }

    /// `match_loop`; `Ok(false)` when it returned a nil state.
    pub fn tick(&mut self, tick: i64, messages: &[MatchMessage]) -> Result<bool, RuntimeError> {
        let (f, tables) = (self.loop_fn.clone(), self.tables.clone());
        let v = self.call("match_loop", &f, None, tick, |lua| {
            Ok(vec![Value::Table(tables.message_list(lua, messages)?)])
        })?;
        self.update_state(v, "Match loop returned too many values, stopping match")
    }

    /// `match_terminate`.
    pub fn terminate(&mut self, tick: i64, grace_seconds: i64) -> Result<(), RuntimeError> {
        let f = self.terminate_fn.clone();
        let v = self.call("match_terminate", &f, None, tick, |_| {
            Ok(vec![Value::Integer(grace_seconds)])
        })?;
        self.update_state(
            v,
            "Match terminate returned too many values, stopping match",
        )
        .map(|_| ())
    }

    /// `match_signal`: `(continue, result)`.
    pub fn signal(
        &mut self,
        tick: i64,
        data: &str,
    ) -> Result<(bool, Option<String>), RuntimeError> {
        let f = self.signal_fn.clone();
        let mut v = self.call("match_signal", &f, None, tick, |lua| {
            Ok(vec![Value::String(lua.create_string(data)?)])
        })?;
        if v.len() > 2 {
            return Err(match_error(
                "Match signal returned too many values, stopping match",
            ));
        }
        let result = match (v.len() == 2).then(|| v.pop()).flatten() {
            Some(Value::String(s)) => Some(s.to_string_lossy()),
            None | Some(Value::Nil) => None,
            Some(_) => {
                return Err(match_error(
                    "Match signal returned non-string result, stopping match",
                ));
            }
        };
        match v.pop() {
            Some(Value::Nil) | None => Ok((false, None)),
            Some(state) => {
                self.store(state)?;
                Ok((true, result))
            }
        }
    }

    /// Dispatcher calls made since the last call of this method.
    pub fn take_actions(&mut self) -> Vec<DispatchAction> {
        let mut r = lock(&self.recorder);
        r.deferred = 0;
        std::mem::take(&mut r.actions)
    }

    /// The current label (after any `match_label_update`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs callback `f(context, dispatcher, tick, state, extra…)` under the call budget and
    /// returns what it returned. `user` replaces the match context with one that carries
    /// the user's fields (`match_join_attempt`).
    fn call(
        &mut self,
        name: &'static str,
        f: &Function,
        user: Option<&CallContext>,
        tick: i64,
        extra: impl FnOnce(&Lua) -> mlua::Result<Vec<Value>>,
    ) -> Result<Vec<Value>, RuntimeError> {
        if self.vm.is_broken() {
            return Err(RuntimeError::Internal(
                "the match's Lua VM was discarded after a limit or fatal error".into(),
            ));
        }
        let _span = tracing::debug_span!("lua_call", node = %self.setup.node, kind = "match", function = name, match_id = %self.setup.match_id).entered();
        let args = self.vm.unlimited(|vm| -> mlua::Result<MultiValue> {
            let ctx = match user {
                Some(user) => {
                    let keys = MatchKeys {
                        match_id: &self.setup.match_id,
                        match_node: &self.setup.node,
                        label: Some(&self.label),
                        tick_rate: Some(self.tick_rate),
                    };
                    context::build_match(vm, user, &keys)?
                }
                None => self.context.clone(),
            };
            let mut args = vec![
                Value::Table(ctx),
                Value::Table(self.dispatcher.clone()),
                Value::Integer(tick),
                vm.lua.registry_value::<Value>(&self.state)?,
            ];
            args.extend(extra(&vm.lua)?);
            Ok(MultiValue::from(args))
        });
        let args = args.map_err(|e| self.vm.fatal(e))?;
        let result = self.vm.invoke(f, args);
        if let Some(label) = lock(&self.recorder).label.take() {
            self.label = label;
        }
        Ok(result?.into_iter().collect())
    }

    /// Keeps `state` as the match's state.
    fn store(&mut self, state: Value) -> Result<(), RuntimeError> {
        let r = self.vm.lua.replace_registry_value(&mut self.state, state);
        r.map_err(|e| self.vm.fatal(e))
    }

    /// The single `state` result of join/leave/loop/terminate: `Ok(false)` for nil.
    fn update_state(&mut self, mut v: Vec<Value>, too_many: &str) -> Result<bool, RuntimeError> {
        if v.len() > 1 {
            return Err(match_error(too_many));
        }
        match v.pop() {
            Some(Value::Nil) | None => Ok(false),
            Some(state) => self.store(state).map(|_| true),
        }
    }
}

/// Checks `match_init`'s `state, tick_rate, label` in Nakama's order (label, tick rate,
/// state).
fn init_result(v: Vec<Value>) -> Result<(Value, u32, String), RuntimeError> {
    if v.len() > 3 {
        return Err(match_error(
            "match_init returned too many arguments, must be: state, tick rate number, label string",
        ));
    }
    let mut v = v.into_iter();
    let (state, rate, label) = (v.next(), v.next(), v.next());
    let label = match label {
        Some(Value::String(s)) => s.to_string_lossy(),
        _ => {
            return Err(match_error(
                "match_init returned unexpected third value, must be a label string",
            ));
        }
    };
    if label.len() > LABEL_MAX_BYTES {
        return Err(match_error(format!(
            "match_init returned invalid label, must be {LABEL_MAX_BYTES} bytes or less"
        )));
    }
    let rate = match rate {
        Some(n @ (Value::Integer(_) | Value::Number(_))) => as_i64(&n).unwrap_or(0),
        _ => {
            return Err(match_error(
                "match_init returned unexpected second value, must be a tick rate number",
            ));
        }
    };
    if !TICK_RATES.contains(&rate) {
        return Err(match_error(
            "match_init returned invalid tick rate, must be between 1 and 60",
        ));
    }
    match state {
        Some(Value::Nil) | None => Err(match_error("Match initial state must not be nil")),
        Some(state) => Ok((state, rate as u32, label)),
    }
}

/// The dispatcher table: `broadcast_message`, `broadcast_message_deferred`, `match_kick`,
/// `match_label_update`, called with `.` (they take no self).
fn dispatcher(
    lua: &Lua,
    wrap: &Function,
    ctx: &Table,
    recorder: &Arc<Mutex<Recorder>>,
) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 4)?;
    for (name, deferred) in [
        ("broadcast_message", false),
        ("broadcast_message_deferred", true),
    ] {
        let r = recorder.clone();
        let f = nk::function(lua, wrap, name, move |_, args| {
            broadcast(&args, deferred, &r)
        })?;
        t.raw_set(name, f)?;
    }
    let r = recorder.clone();
    let f = nk::function(lua, wrap, "match_kick", move |_, args| kick(&args, &r))?;
    t.raw_set("match_kick", f)?;
    let (r, ctx) = (recorder.clone(), ctx.clone());
    let f = nk::function(lua, wrap, "match_label_update", move |_, args| {
        let label = args.opt_string(1)?.unwrap_or_default();
        if label.len() > LABEL_MAX_BYTES {
            return Err(raise(
                "error updating match label: match label too long, must be 0-2048 bytes",
            ));
        }
        record(&r, DispatchAction::LabelUpdate(label.clone()))?;
        ctx.raw_set("match_label", label.as_str())?;
        lock(&r).label = Some(label);
        Ok(())
    })?;
    t.raw_set("match_label_update", f)?;
    Ok(t)
}

fn record(r: &Mutex<Recorder>, action: DispatchAction) -> NkResult<()> {
    let mut r = lock(r);
    if r.actions.len() >= ACTIONS_MAX {
        return Err(raise(format!(
            "too many dispatcher calls in one match callback (at most {ACTIONS_MAX})"
        )));
    }
    if let DispatchAction::Broadcast { deferred: true, .. } = action {
        if r.deferred >= DEFERRED_MAX {
            return Err(raise(
                "error deferring message broadcast: too many deferred message broadcasts per tick",
            ));
        }
        r.deferred += 1;
    }
    r.actions.push(action);
    Ok(())
}

/// A presence field that must hold a UUID: `Ok(None)` when absent (or the nil UUID, which
/// Go's checks treat as unset), `Err(())` when it does not parse.
fn uuid_field(t: &Table, key: &str) -> NkResult<Result<Option<String>, ()>> {
    Ok(match t.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        v => match as_text(&v).and_then(|s| uuid::Uuid::parse_str(&s).ok()) {
            Some(u) if u.is_nil() => Ok(None),
            Some(u) => Ok(Some(u.to_string())),
            None => Err(()),
        },
    })
}

/// A presence field that must be a string when present.
fn string_field(t: &Table, key: &str) -> NkResult<Result<Option<String>, ()>> {
    Ok(match t.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.to_string_lossy())),
        _ => Err(()),
    })
}

/// The presences of a list argument, each parsed by `parse`.
fn presences(
    args: &Args,
    i: usize,
    list: &Table,
    parse: impl Fn(&Table) -> NkResult<MatchPresence>,
) -> NkResult<Vec<MatchPresence>> {
    let mut out = Vec::with_capacity(list.raw_len());
    for pair in list.pairs::<Value, Value>() {
        match pair?.1 {
            Value::Table(t) => out.push(parse(&t)?),
            _ => return Err(args.error(i, "expects a valid set of presences")),
        }
    }
    Ok(out)
}

/// `broadcast_message(op_code, data?, presences?, sender?, reliable?=true)`, checked as
/// Nakama's `validateBroadcast`.
fn broadcast(args: &Args, deferred: bool, r: &Mutex<Recorder>) -> NkResult<()> {
    let op_code = args.int(1)?;
    let data = match args.get(2) {
        Value::Nil => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => return Err(args.error(2, "expects data to be a string or nil")),
    };
    let targets = match args.opt_table(3)? {
        None => None,
        Some(list) if list.raw_len() == 0 => return Ok(()),
        Some(list) => Some(presences(args, 3, &list, |t| {
            let session_id = uuid_field(t, "session_id")?
                .map_err(|_| args.error(3, "expects each presence to have a valid session_id"))?;
            let node =
                string_field(t, "node")?.map_err(|_| args.error(3, "expects node to be string"))?;
            let (Some(session_id), Some(node)) = (session_id, node.filter(|n| !n.is_empty()))
            else {
                return Err(args.error(
                    3,
                    "expects each presence to have a valid session_id and node",
                ));
            };
            let user_id = match t.raw_get::<Value>("user_id")? {
                Value::String(s) => {
                    let s = s.to_string_lossy();
                    canonical_uuid(&s).unwrap_or(s)
                }
                _ => String::new(),
            };
            let username = string_field(t, "username")?
                .ok()
                .flatten()
                .unwrap_or_default();
            Ok(MatchPresence {
                user_id,
                session_id,
                username,
                node,
                reason: 0,
            })
        })?),
    };
    let sender = match args.opt_table(4)? {
        None => None,
        Some(t) => {
            let user_id = uuid_field(&t, "user_id")?
                .map_err(|_| args.error(4, "expects presence to have a valid user_id"))?;
            let session_id = uuid_field(&t, "session_id")?
                .map_err(|_| args.error(4, "expects presence to have a valid session_id"))?;
            let username = string_field(&t, "username")?
                .map_err(|_| args.error(4, "expects username to be string"))?;
            match (user_id, session_id, username.filter(|u| !u.is_empty())) {
                (Some(user_id), Some(session_id), Some(username)) => Some(MatchPresence {
                    user_id,
                    session_id,
                    username,
                    ..Default::default()
                }),
                _ => {
                    return Err(args.error(
                        4,
                        "expects presence to have a valid user_id, session_id, and username",
                    ));
                }
            }
        }
    };
    // One target: Nakama also insists on its user id.
    if let Some([one]) = targets.as_deref() {
        if canonical_uuid(&one.user_id).is_none() {
            return Err(args.error(3, "expects each presence to have a valid user_id"));
        }
    }
    let reliable = args.opt_bool(5, true)?;
    record(
        r,
        DispatchAction::Broadcast {
            op_code,
            data,
            presences: targets,
            sender,
            reliable,
            deferred,
        },
    )
}

/// `match_kick(presences)`: nil or an empty list does nothing.
fn kick(args: &Args, r: &Mutex<Recorder>) -> NkResult<()> {
    let Some(list) = args.opt_table(1)? else {
        return Ok(());
    };
    if list.raw_len() == 0 {
        return Ok(());
    }
    let kicked = presences(args, 1, &list, |t| {
        let user_id = uuid_field(t, "user_id")?
            .map_err(|_| args.error(1, "expects each presence to have a valid user_id"))?;
        let session_id = uuid_field(t, "session_id")?
            .map_err(|_| args.error(1, "expects each presence to have a valid session_id"))?;
        let node =
            string_field(t, "node")?.map_err(|_| args.error(1, "expects node to be string"))?;
        match (user_id, session_id, node.filter(|n| !n.is_empty())) {
            (Some(user_id), Some(session_id), Some(node)) => Ok(MatchPresence {
                user_id,
                session_id,
                username: string_field(t, "username")?
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                node,
                reason: 0,
            }),
            _ => Err(args.error(
                1,
                "expects each presence to have a valid user_id, session_id, and node",
            )),
        }
    })?;
    record(r, DispatchAction::Kick(kicked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<MatchHandler>();
    }

    #[test]
    fn init_results_are_checked_in_nakamas_order() {
        let lua = Lua::new();
        let s = |v: &str| Value::String(lua.create_string(v).unwrap());
        let err = |v: Vec<Value>| init_result(v).err().map(|e| e.to_string());
        assert_eq!(
            err(vec![Value::Nil, Value::Integer(5), s("x")]).as_deref(),
            Some("Match initial state must not be nil")
        );
        assert_eq!(
            err(vec![Value::Boolean(true), Value::Integer(5)]).as_deref(),
            Some("match_init returned unexpected third value, must be a label string")
        );
        let (_, rate, label) =
            init_result(vec![Value::Boolean(true), Value::Number(7.9), s("l")]).unwrap();
        assert_eq!((rate, label.as_str()), (7, "l"));
    }
}
