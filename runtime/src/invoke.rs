//! Calling registered functions on a leased [`Vm`]: budgets, error mapping (§5.6) and
//! return-value rules.

use mlua::{Function, IntoLuaMulti, MultiValue, RegistryKey, Value};
use serde_json::Value as Json;
use shoal_proto::ErrorCode;

use crate::context::{self, CallContext, ExecutionMode};
use crate::convert::{json_to_lua, lua_to_json, lua_to_json_text};
use crate::error::{RuntimeError, strip_position};
use crate::registry::{Handlers, HookId, normalize_http_path};
use crate::vm::{Vm, describe_error};

/// A callback registered in a single slot; invoked by the features that own them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// `fn(context, entries) → match_id|nil`.
    MatchmakerMatched,
    /// `fn(context, leaderboard, reset_unix)`.
    LeaderboardReset,
    /// `fn(context, tournament, end_unix, reset_unix)`.
    TournamentEnd,
    /// `fn(context, tournament, end_unix, reset_unix)`.
    TournamentReset,
}

impl Callback {
    fn slot(self, h: &Handlers) -> &Option<RegistryKey> {
        match self {
            Callback::MatchmakerMatched => &h.matchmaker_matched,
            Callback::LeaderboardReset => &h.leaderboard_reset,
            Callback::TournamentEnd => &h.tournament_end,
            Callback::TournamentReset => &h.tournament_reset,
        }
    }

    fn mode(self) -> ExecutionMode {
        match self {
            Callback::MatchmakerMatched => ExecutionMode::Matchmaker,
            Callback::LeaderboardReset => ExecutionMode::LeaderboardReset,
            Callback::TournamentEnd => ExecutionMode::TournamentEnd,
            Callback::TournamentReset => ExecutionMode::TournamentReset,
        }
    }
}

/// The board a reset or end callback is about (`register_leaderboard_reset`,
/// `register_tournament_reset`, `register_tournament_end`).
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackBoard {
    Leaderboard(shoal_proto::Leaderboard),
    Tournament(shoal_proto::Tournament),
}

/// Lua's message for a failed allocation.
const OUT_OF_MEMORY: &str = "not enough memory";

impl Vm {
    /// Calls `f(args…)` under the call budget and maps failures to [`RuntimeError`].
    pub(crate) fn invoke(
        &mut self,
        f: &Function,
        args: impl IntoLuaMulti,
    ) -> Result<MultiValue, RuntimeError> {
        let mut call_args = args.into_lua_multi(&self.lua).map_err(|e| self.fatal(e))?;
        call_args.push_front(Value::Function(f.clone()));
        let config = &self.shared.config;
        self.budget
            .start(config.instruction_limit, config.call_timeout);
        let result = self.pcall.call::<MultiValue>(call_args);
        let exceeded = self.budget.finish();
        self.check_memory();
        if let Some(kind) = exceeded {
            self.broken = true;
            return Err(RuntimeError::BudgetExceeded(kind));
        }
        let mut values = result.map_err(|e| self.fatal(e))?;
        match values.pop_front() {
            Some(Value::Boolean(true)) => Ok(values),
            _ => Err(self.error_from(values.pop_front().unwrap_or(Value::Nil))),
        }
    }

    /// Runs `f` with the VM's memory limit lifted. With a limit set, mlua protects every
    /// table and string operation with a `lua_pcall` (~0.3 µs each); marshalling arguments
    /// and results takes dozens of them. Only for Rust code that runs no Lua code and
    /// allocates in proportion to its (already bounded) input; the limit applies again to
    /// the next Lua allocation, so a VM left above it fails its next call and is discarded.
    pub(crate) fn unlimited<R>(&self, f: impl FnOnce(&Vm) -> R) -> R {
        let _ = self.lua.set_memory_limit(0);
        let r = f(self);
        let _ = self
            .lua
            .set_memory_limit(self.shared.config.memory_limit_bytes);
        r
    }

    /// Looks up a registered function; the handler map is not locked while Lua runs (a
    /// Lua function that tries to register must fail cleanly, not deadlock).
    fn lookup(
        &mut self,
        pick: impl FnOnce(&Handlers) -> Option<(&RegistryKey, bool)>,
    ) -> Result<Option<(Function, bool)>, RuntimeError> {
        let found = {
            let handlers = self.handlers();
            pick(&handlers).map(|(key, legacy)| {
                self.lua
                    .registry_value::<Function>(key)
                    .map(|f| (f, legacy))
            })
        };
        found.transpose().map_err(|e| self.fatal(e))
    }

    /// Runs `f(context, …)` with a fresh context table.
    fn run(
        &mut self,
        f: &Function,
        mode: ExecutionMode,
        ctx: &CallContext,
        build_args: impl FnOnce(&Vm, mlua::Table) -> mlua::Result<MultiValue>,
    ) -> Result<MultiValue, RuntimeError> {
        let args = self.unlimited(|vm| {
            context::build(vm, mode, ctx).and_then(|c| build_args(vm, c))
        });
        let args = args.map_err(|e| self.fatal(e))?;
        self.invoke(f, args)
    }

    /// Calls the RPC `id` (case-insensitive). A string result is returned as is, a table is
    /// JSON-encoded (as the seed's `get_pokemon` expects), `nil` is `None`.
    pub fn call_rpc(
        &mut self,
        id: &str,
        ctx: &CallContext,
        payload: &str,
    ) -> Result<Option<String>, RuntimeError> {
        let id = id.to_lowercase();
        let (f, _) = self
            .lookup(|h| h.rpc.get(&id).map(|k| (k, false)))?
            .ok_or(RuntimeError::RpcNotFound)?;
        let result = self.run(&f, ExecutionMode::Rpc, ctx, |vm, c| {
            (c, vm.lua.create_string(payload)?).into_lua_multi(&vm.lua)
        });
        match result?.pop_front().unwrap_or(Value::Nil) {
            Value::Nil => Ok(None),
            Value::String(s) => Ok(Some(s.to_string_lossy())),
            t @ Value::Table(_) => self
                .unlimited(|_| lua_to_json_text(&t))
                .map(Some)
                .map_err(|e| RuntimeError::lua(ErrorCode::Internal, e)),
            _ => Err(RuntimeError::InvalidReturn),
        }
    }

    /// Calls a before hook with the request as a table. `Ok(None)` means the hook returned
    /// `nil`: the request is rejected.
    pub fn call_before(
        &mut self,
        hook: &HookId,
        ctx: &CallContext,
        input: &Json,
    ) -> Result<Option<Json>, RuntimeError> {
        let (f, _) = self
            .lookup(|h| h.before.get(hook).map(|x| (&x.key, x.legacy)))?
            .ok_or_else(|| RuntimeError::FunctionNotFound(hook.to_string()))?;
        let result = self.run(&f, ExecutionMode::Before, ctx, |vm, c| {
            (c, json_to_lua(&vm.lua, input)?).into_lua_multi(&vm.lua)
        });
        match result?.pop_front().unwrap_or(Value::Nil) {
            Value::Nil => Ok(None),
            t @ Value::Table(_) => self
                .unlimited(|_| lua_to_json(&t))
                .map(Some)
                .map_err(|e| RuntimeError::lua(ErrorCode::Internal, e)),
            _ => Err(RuntimeError::InvalidReturn),
        }
    }

    /// Calls an after hook: v3 handlers get `(context, output, input)`, handlers registered
    /// with 1.x `register_after` get `(context, input)`. The result is ignored.
    pub fn call_after(
        &mut self,
        hook: &HookId,
        ctx: &CallContext,
        output: &Json,
        input: &Json,
    ) -> Result<(), RuntimeError> {
        let (f, legacy) = self
            .lookup(|h| h.after.get(hook).map(|x| (&x.key, x.legacy)))?
            .ok_or_else(|| RuntimeError::FunctionNotFound(hook.to_string()))?;
        self.run(&f, ExecutionMode::After, ctx, |vm, c| {
            let lua = &vm.lua;
            if legacy {
                let payload = crate::nk::legacy_after_payload(hook, input);
                (c, json_to_lua(lua, &payload)?).into_lua_multi(lua)
            } else {
                (c, json_to_lua(lua, output)?, json_to_lua(lua, input)?).into_lua_multi(lua)
            }
        })
        .map(|_| ())
    }

    /// Calls a `register_http` handler with the decoded request body; its result is
    /// returned as JSON (`nil` is `null`).
    pub fn call_http(
        &mut self,
        path: &str,
        ctx: &CallContext,
        payload: &Json,
    ) -> Result<Json, RuntimeError> {
        let path = normalize_http_path(path);
        let (f, _) = self
            .lookup(|h| h.http.get(path).map(|k| (k, false)))?
            .ok_or_else(|| RuntimeError::FunctionNotFound(path.to_owned()))?;
        let result = self.run(&f, ExecutionMode::Http, ctx, |vm, c| {
            (c, json_to_lua(&vm.lua, payload)?).into_lua_multi(&vm.lua)
        });
        let value = result?.pop_front().unwrap_or(Value::Nil);
        self.unlimited(|_| lua_to_json(&value))
            .map_err(|e| RuntimeError::lua(ErrorCode::Internal, e))
    }

    /// Calls a single-slot callback (`register_matchmaker_matched`, …) with `args`
    /// converted to Lua; returns its first result as JSON (`nil` is `null`).
    pub fn call_callback(
        &mut self,
        callback: Callback,
        ctx: &CallContext,
        args: &[Json],
    ) -> Result<Json, RuntimeError> {
        let (f, _) = self
            .lookup(|h| callback.slot(h).as_ref().map(|k| (k, false)))?
            .ok_or_else(|| RuntimeError::FunctionNotFound(format!("{callback:?}")))?;
        let result = self.run(&f, callback.mode(), ctx, |vm, c| {
            let mut values = vec![Value::Table(c)];
            for a in args {
                values.push(json_to_lua(&vm.lua, a)?);
            }
            Ok(MultiValue::from(values))
        });
        let value = result?.pop_front().unwrap_or(Value::Nil);
        self.unlimited(|_| lua_to_json(&value))
            .map_err(|e| RuntimeError::lua(ErrorCode::Internal, e))
    }

    /// Calls a reset or end callback with its board as Lua's `nk` functions show it, then
    /// `times` (unix s): `(reset)` for leaderboards, `(end, reset)` for tournaments.
    pub fn call_board_callback(
        &mut self,
        callback: Callback,
        ctx: &CallContext,
        board: &CallbackBoard,
        times: &[i64],
    ) -> Result<(), RuntimeError> {
        let (f, _) = self
            .lookup(|h| callback.slot(h).as_ref().map(|k| (k, false)))?
            .ok_or_else(|| RuntimeError::FunctionNotFound(format!("{callback:?}")))?;
        self.run(&f, callback.mode(), ctx, |vm, c| {
            let mut values = vec![Value::Table(c), Value::Table(crate::nk::board_table(&vm.lua, board)?)];
            values.extend(times.iter().map(|t| Value::Integer(*t)));
            Ok(MultiValue::from(values))
        })
        .map(|_| ())
    }

    /// Runs every `run_once` function with a `run_once` context.
    pub(crate) fn run_once(&mut self) -> Result<(), RuntimeError> {
        let keys = std::mem::take(&mut self.handlers().run_once);
        for key in keys {
            let f: Function = self.lua.registry_value(&key).map_err(|e| self.fatal(e))?;
            self.run(
                &f,
                ExecutionMode::RunOnce,
                &CallContext::default(),
                |vm, c| c.into_lua_multi(&vm.lua),
            )?;
        }
        Ok(())
    }

    /// Maps the value a failed `pcall` returned (§5.6).
    fn error_from(&mut self, value: Value) -> RuntimeError {
        match value {
            Value::String(s) => {
                let message = s.to_string_lossy();
                if message.ends_with(OUT_OF_MEMORY) {
                    self.broken = true;
                    return RuntimeError::MemoryLimit;
                }
                RuntimeError::lua(ErrorCode::Internal, self.user_message(&message))
            }
            Value::Table(t) => {
                let message = t
                    .raw_get::<Value>(1)
                    .ok()
                    .and_then(|v| crate::convert::as_text(&v))
                    .unwrap_or_default();
                let code = t
                    .raw_get::<Value>(2)
                    .ok()
                    .and_then(|v| crate::convert::as_i64(&v))
                    .filter(|c| (1..=16).contains(c))
                    .and_then(ErrorCode::from_i32)
                    .unwrap_or(ErrorCode::Internal);
                RuntimeError::lua(code, message)
            }
            Value::Error(e) => self.fatal(*e),
            other => RuntimeError::lua(ErrorCode::Internal, describe_error(&other)),
        }
    }

    /// Maps an mlua error raised outside Lua code (or a Rust error that crossed Lua).
    pub(crate) fn fatal(&mut self, e: mlua::Error) -> RuntimeError {
        match e {
            mlua::Error::MemoryError(_) => {
                self.broken = true;
                RuntimeError::MemoryLimit
            }
            mlua::Error::CallbackError { cause, .. } => self.fatal((*cause).clone()),
            mlua::Error::RuntimeError(message) => {
                RuntimeError::lua(ErrorCode::Internal, self.user_message(&message))
            }
            other => {
                self.broken = true;
                tracing::error!(error = %other, "lua call failed");
                RuntimeError::Internal(other.to_string())
            }
        }
    }

    fn user_message(&self, message: &str) -> String {
        if self.shared.config.api_stacktrace {
            message.to_owned()
        } else {
            strip_position(message).to_owned()
        }
    }

    /// A VM past three quarters of its memory limit after a full collection is discarded:
    /// it either leaks into globals or was just saved from an allocation failure.
    fn check_memory(&mut self) {
        let limit = self.shared.config.memory_limit_bytes;
        if self.lua.used_memory() > limit / 4 * 3 {
            let _ = self.lua.gc_collect();
            if self.lua.used_memory() > limit / 4 * 3 {
                self.broken = true;
            }
        }
    }
}
