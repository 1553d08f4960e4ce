//! The pool of VMs that serves calls: leased one call at a time, bounded by
//! `max_count`, run inline on the calling worker (see `crate::blocking`), broken VMs
//! discarded and replaced.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::bundle::ModuleBundle;
use crate::config::PoolConfig;
use crate::context::CallContext;
use crate::error::RuntimeError;
use crate::host::RuntimeHost;
use crate::invoke::{Callback, CallbackBoard};
use crate::nk::Shared;
use crate::registry::{HookId, Registry};
use crate::vm::Vm;

/// A handle to a pool of Lua VMs loaded from one bundle. Cheap to clone.
#[derive(Clone)]
pub struct VmPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    bundle: ModuleBundle,
    shared: Arc<Shared>,
    registry: Registry,
    idle: Mutex<Vec<Vm>>,
    /// One permit per VM that may be in use at once (`max_count`).
    permits: Arc<Semaphore>,
    /// VMs alive: idle plus leased.
    live: AtomicUsize,
    runtime: tokio::runtime::Handle,
}

impl VmPool {
    /// Creates `min_count` VMs with the whole bundle loaded, then runs the `run_once`
    /// functions on the first. Fails if any module fails to load (with its file, line and
    /// message) or if VMs disagree on what they registered. Must be called within tokio.
    pub async fn new(
        bundle: ModuleBundle,
        config: PoolConfig,
        host: Arc<dyn RuntimeHost>,
    ) -> Result<VmPool, RuntimeError> {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || Self::build(bundle, config, host, runtime))
            .await
            .map_err(|e| RuntimeError::Internal(format!("pool creation panicked: {e}")))?
    }

    fn build(
        bundle: ModuleBundle,
        config: PoolConfig,
        host: Arc<dyn RuntimeHost>,
        runtime: tokio::runtime::Handle,
    ) -> Result<VmPool, RuntimeError> {
        let (min, max) = (
            config.min_count.max(1),
            config.max_count.max(config.min_count).max(1),
        );
        let shared = Arc::new(Shared::new(config, host));
        let mut first = Vm::new(&bundle, shared.clone())?;
        first.run_once()?;
        let registry = first.registry();
        let mut idle = vec![first];
        for _ in 1..min {
            let vm = Vm::new(&bundle, shared.clone())?;
            if vm.registry() != registry {
                return Err(mismatch());
            }
            idle.push(vm);
        }
        tracing::info!(version = %bundle.version(), modules = bundle.modules().len(), vms = idle.len(), "lua runtime ready");
        let live = AtomicUsize::new(idle.len());
        Ok(VmPool {
            inner: Arc::new(PoolInner {
                bundle,
                shared,
                registry,
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(max)),
                live,
                runtime,
            }),
        })
    }

    /// Loads `bundle` into one scratch VM, as a deploy's check before anything changes:
    /// every module body runs (through `host`; `run_once` functions do not), so a syntax
    /// error, a failing body or a missing `require` fails with its module, file and line.
    /// Returns what the modules registered.
    pub async fn validate(bundle: ModuleBundle, config: PoolConfig, host: Arc<dyn RuntimeHost>) -> Result<Registry, RuntimeError> {
        tokio::task::spawn_blocking(move || {
            let shared = Arc::new(Shared::new(config, host));
            Vm::new(&bundle, shared).map(|vm| vm.registry())
        })
        .await
        .map_err(|e| RuntimeError::Internal(format!("bundle validation panicked: {e}")))?
    }

    /// What the modules registered.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The bundle's version (content hash).
    pub fn version(&self) -> &str {
        self.inner.bundle.version()
    }

    pub fn bundle(&self) -> &ModuleBundle {
        &self.inner.bundle
    }

    pub fn config(&self) -> &PoolConfig {
        &self.inner.shared.config
    }

    /// The state every VM of this pool shares (config, host, local cache); match VMs are
    /// built over it too.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// VMs alive (idle or leased).
    pub fn live_count(&self) -> usize {
        self.inner.live.load(Relaxed)
    }

    /// VMs waiting in the pool.
    pub fn idle_count(&self) -> usize {
        self.inner.lock_idle().len()
    }

    /// Leases a VM and runs `f` on it: inline on the calling tokio worker on a
    /// multi-threaded runtime (see [`crate::blocking`] for how long calls and blocking
    /// work leave the worker), otherwise on a blocking thread. Waits up to the call timeout
    /// for a VM when `max_count` are busy. A VM that `f` leaves broken is discarded.
    pub async fn with_vm<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        F: FnOnce(&mut Vm) -> Result<R, RuntimeError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self.acquire().await?;
        if crate::blocking::inline_allowed() {
            return run_leased(&self.inner, permit, Some(crate::blocking::INLINE_SLICE), f);
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || run_leased(&inner, permit, None, f))
            .await
            .map_err(|e| RuntimeError::Internal(format!("lua call panicked: {e}")))?
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, RuntimeError> {
        if let Ok(permit) = self.inner.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let timeout = self.config().call_timeout;
        match tokio::time::timeout(timeout, self.inner.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(RuntimeError::Internal("pool closed".into())),
            Err(_) => Err(RuntimeError::PoolBusy(timeout.as_millis() as u64)),
        }
    }

    /// [`VmPool::with_vm`] inside a `lua_call` span.
    async fn traced<R, F>(
        &self,
        kind: &'static str,
        function: String,
        f: F,
    ) -> Result<R, RuntimeError>
    where
        F: FnOnce(&mut Vm) -> Result<R, RuntimeError> + Send + 'static,
        R: Send + 'static,
    {
        let span = tracing::debug_span!("lua_call", node = %self.config().node, kind, function = %function);
        self.with_vm(move |vm| span.in_scope(|| f(vm))).await
    }

    /// Calls the RPC `id` (case-insensitive) with the raw payload string.
    pub async fn call_rpc(
        &self,
        id: &str,
        ctx: CallContext,
        payload: String,
    ) -> Result<Option<String>, RuntimeError> {
        if !self.registry().has_rpc(id) {
            return Err(RuntimeError::RpcNotFound);
        }
        let id = id.to_owned();
        self.traced("rpc", id.clone(), move |vm| {
            vm.call_rpc(&id, &ctx, &payload)
        })
        .await
    }

    /// Calls a before hook. `Ok(None)`: the hook returned nil and the request is rejected.
    pub async fn call_before(
        &self,
        hook: &HookId,
        ctx: CallContext,
        input: Json,
    ) -> Result<Option<Json>, RuntimeError> {
        if !self.registry().has_before(hook) {
            return Err(RuntimeError::FunctionNotFound(hook.to_string()));
        }
        let hook = hook.clone();
        self.traced("before", hook.to_string(), move |vm| {
            vm.call_before(&hook, &ctx, &input)
        })
        .await
    }

    /// Calls an after hook with the response and the request.
    pub async fn call_after(
        &self,
        hook: &HookId,
        ctx: CallContext,
        output: Json,
        input: Json,
    ) -> Result<(), RuntimeError> {
        if !self.registry().has_after(hook) {
            return Err(RuntimeError::FunctionNotFound(hook.to_string()));
        }
        let hook = hook.clone();
        self.traced("after", hook.to_string(), move |vm| {
            vm.call_after(&hook, &ctx, &output, &input)
        })
        .await
    }

    /// Calls a `register_http` handler with the decoded JSON body.
    pub async fn call_http(
        &self,
        path: &str,
        ctx: CallContext,
        payload: Json,
    ) -> Result<Json, RuntimeError> {
        if !self.registry().has_http(path) {
            return Err(RuntimeError::FunctionNotFound(path.to_owned()));
        }
        let path = path.to_owned();
        self.traced("http", path.clone(), move |vm| {
            vm.call_http(&path, &ctx, &payload)
        })
        .await
    }

    /// Calls a matchmaker/leaderboard/tournament callback with JSON arguments.
    pub async fn call_callback(
        &self,
        callback: Callback,
        ctx: CallContext,
        args: Vec<Json>,
    ) -> Result<Json, RuntimeError> {
        self.traced("callback", format!("{callback:?}"), move |vm| {
            vm.call_callback(callback, &ctx, &args)
        })
        .await
    }
}

impl VmPool {
    /// Calls a reset or end callback for `board` (see [`Vm::call_board_callback`]).
    pub async fn call_board_callback(
        &self,
        callback: Callback,
        ctx: CallContext,
        board: CallbackBoard,
        times: Vec<i64>,
    ) -> Result<(), RuntimeError> {
        self.traced("callback", format!("{callback:?}"), move |vm| {
            vm.call_board_callback(callback, &ctx, &board, &times)
        })
        .await
    }
}

impl PoolInner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Vm>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle VM, or a new one (the caller holds a permit, so `max_count` is respected).
    fn take_vm(&self) -> Result<Vm, RuntimeError> {
        if let Some(vm) = self.lock_idle().pop() {
            return Ok(vm);
        }
        let vm = self.new_vm()?;
        self.live.fetch_add(1, Relaxed);
        Ok(vm)
    }

    fn new_vm(&self) -> Result<Vm, RuntimeError> {
        let vm = Vm::new(&self.bundle, self.shared.clone())
            .inspect_err(|e| tracing::error!(error = %e, "creating a lua vm failed"))?;
        if vm.registry() != self.registry {
            tracing::error!("a new lua vm registered different functions than the pool");
            return Err(mismatch());
        }
        Ok(vm)
    }

    /// Keeps `min_count` VMs alive after one was discarded.
    fn replenish(self: &Arc<Self>) {
        if self.live.load(Relaxed) >= self.shared.config.min_count {
            return;
        }
        self.live.fetch_add(1, Relaxed);
        let inner = self.clone();
        self.runtime.spawn_blocking(move || match inner.new_vm() {
            Ok(vm) => inner.lock_idle().push(vm),
            Err(_) => {
                inner.live.fetch_sub(1, Relaxed);
            }
        });
    }
}

/// Runs `f` on a VM leased under `permit`; `slice` marks an inline call (see
/// [`crate::blocking`]). A panic in `f` is an internal error and discards the VM.
fn run_leased<R>(
    inner: &Arc<PoolInner>,
    permit: OwnedSemaphorePermit,
    slice: Option<std::time::Duration>,
    f: impl FnOnce(&mut Vm) -> Result<R, RuntimeError>,
) -> Result<R, RuntimeError> {
    let mut lease = Lease {
        vm: Some(inner.take_vm()?),
        inner: inner.clone(),
        _permit: permit,
    };
    let vm = lease.vm.as_mut().expect("leased vm");
    vm.budget.set_inline_slice(slice);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(vm)))
        .unwrap_or_else(|_| {
            vm.mark_broken();
            Err(RuntimeError::Internal("lua call panicked".into()))
        });
    vm.budget.set_inline_slice(None);
    if let Err(e) = &result
        && e.poisons_vm()
    {
        vm.mark_broken();
    }
    result
}

/// A leased VM: back to the pool on drop, or discarded if it broke (or the call panicked).
struct Lease {
    vm: Option<Vm>,
    inner: Arc<PoolInner>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(vm) = self.vm.take() else { return };
        if vm.is_broken() || std::thread::panicking() {
            drop(vm);
            self.inner.live.fetch_sub(1, Relaxed);
            tracing::warn!("discarded a lua vm after a limit or fatal error");
            self.inner.replenish();
        } else {
            self.inner.lock_idle().push(vm);
        }
    }
}

fn mismatch() -> RuntimeError {
    RuntimeError::Internal("modules registered different functions on different VMs".into())
}
