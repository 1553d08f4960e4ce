//! One sandboxed Lua VM with the whole bundle loaded and its registrations collected.

use std::sync::{Arc, Mutex, MutexGuard};

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Value};

use crate::budget::{self, Budget};
use crate::bundle::ModuleBundle;
use crate::error::{RuntimeError, split_position};
use crate::nk::{self, Shared};
use crate::registry::{Handlers, Registry};
use crate::sandbox;

/// A Lua VM leased from a [`crate::VmPool`]. A VM that broke a limit or failed fatally is
/// marked broken and never returned to the pool.
pub struct Vm {
    pub(crate) lua: Lua,
    pub(crate) pcall: Function,
    /// Wraps a Rust function so its failures are raised as Lua string errors (see
    /// `sandbox::PRELUDE`).
    pub(crate) wrap: Function,
    /// Makes context tables (`context::CONSTRUCTOR`).
    pub(crate) context: Function,
    pub(crate) handlers: Arc<Mutex<Handlers>>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) broken: bool,
}

impl Vm {
    /// Creates a VM and runs every module of `bundle` in ascending name order (modules
    /// already `require`d by an earlier one are not run twice).
    pub(crate) fn new(bundle: &ModuleBundle, shared: Arc<Shared>) -> Result<Vm, RuntimeError> {
        let vm = Vm::preloaded(bundle, shared)?;
        let internal = |e: mlua::Error| RuntimeError::Internal(format!("creating a Lua VM: {e}"));
        let require: Function = vm.lua.globals().get("require").map_err(internal)?;
        let config = vm.shared.config.clone();
        vm.budget
            .start(config.instruction_limit, config.call_timeout);
        for m in bundle.modules() {
            let result = vm.pcall.call::<MultiValue>((&require, m.name.as_str()));
            if let Some(kind) = vm.budget.exceeded() {
                vm.budget.finish();
                return Err(load_error(
                    &m.name,
                    &m.path,
                    &RuntimeError::BudgetExceeded(kind).to_string(),
                ));
            }
            let mut values = result.map_err(|e| load_error(&m.name, &m.path, &e.to_string()))?;
            if !matches!(values.pop_front(), Some(Value::Boolean(true))) {
                let message = describe_error(&values.pop_front().unwrap_or(Value::Nil));
                return Err(load_error(&m.name, &m.path, &message));
            }
        }
        vm.budget.finish();
        vm.seal()?;
        Ok(vm)
    }

    /// Creates a VM with every module of `bundle` in `package.preload`, none of them run
    /// yet, and registration still open (see [`Vm::seal`]). Match VMs start here and
    /// `require` only their module.
    pub(crate) fn preloaded(bundle: &ModuleBundle, shared: Arc<Shared>) -> Result<Vm, RuntimeError> {
        let internal = |e: mlua::Error| RuntimeError::Internal(format!("creating a Lua VM: {e}"));
        let budget = Arc::new(Budget::new());
        let sb = sandbox::new_state(shared.config.memory_limit_bytes, budget.clone())
            .map_err(internal)?;
        budget::install(&sb.lua, budget.clone()).map_err(internal)?;
        let handlers = Arc::new(Mutex::new(Handlers::default()));
        let nk = nk::install(
            &sb.lua,
            &sb.wrap,
            shared.clone(),
            budget.clone(),
            handlers.clone(),
        )
        .map_err(internal)?;
        sb.loaded.raw_set("nakama", nk).map_err(internal)?;

        for m in bundle.modules() {
            let f = sb
                .lua
                .load(m.source.as_str())
                .set_name(format!("@{}", m.path))
                .set_mode(ChunkMode::Text)
                .into_function()
                .map_err(|e| load_error(&m.name, &m.path, &e.to_string()))?;
            sb.preload.raw_set(m.name.as_str(), f).map_err(internal)?;
        }

        let context = crate::context::constructor(&sb.lua).map_err(internal)?;
        Ok(Vm {
            lua: sb.lua,
            pcall: sb.pcall,
            wrap: sb.wrap,
            context,
            handlers,
            budget,
            shared,
            broken: false,
        })
    }

    /// Ends loading: globals become read-only (with `read_only_globals`) and registration
    /// closes.
    pub(crate) fn seal(&self) -> Result<(), RuntimeError> {
        if self.shared.config.read_only_globals {
            sandbox::freeze_globals(&self.lua)
                .map_err(|e| RuntimeError::Internal(format!("creating a Lua VM: {e}")))?;
        }
        self.handlers().sealed = true;
        Ok(())
    }

    /// The names this VM's modules registered.
    pub fn registry(&self) -> Registry {
        self.handlers().registry()
    }

    /// The Lua state, for callers that run their own Lua (e.g. match handlers).
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Whether this VM broke a limit or failed fatally; it will be discarded.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks this VM as unusable; the pool discards it instead of reusing it.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    pub(crate) fn handlers(&self) -> MutexGuard<'_, Handlers> {
        self.handlers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A readable message for a Lua error value.
pub(crate) fn describe_error(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Table(t) => match t.raw_get::<Value>(1) {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "error object is a table".into(),
        },
        Value::Error(e) => e.to_string(),
        Value::Nil => "nil error".into(),
        other => format!("error object is a {}", other.type_name()),
    }
}

fn load_error(module: &str, path: &str, message: &str) -> RuntimeError {
    // mlua prefixes syntax and runtime errors with their kind; positions follow.
    let message = message
        .strip_prefix("syntax error: ")
        .or_else(|| message.strip_prefix("runtime error: "))
        .unwrap_or(message);
    let (file, line, text) = match split_position(message) {
        Some((file, line, text)) => (file.to_owned(), Some(line), text),
        None => (path.to_owned(), None, message),
    };
    let text = text.lines().next().unwrap_or(text).to_owned();
    RuntimeError::ModuleLoad {
        module: module.to_owned(),
        file,
        line,
        message: text,
    }
}
