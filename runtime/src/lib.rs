//! Shoal's Lua runtime: the module bundle, the sandboxed Lua 5.1 VM, the pool of VMs that
//! serves calls, the `nakama` (`nk`) module, and the registrations modules make (RPCs,
//! before/after hooks, HTTP handlers, …).
//!
//! It owns: loading `*.lua` files into a [`ModuleBundle`]; building sandboxed VMs (memory
//! limit, per-call instruction and wall-clock budget); leasing them from a [`VmPool`]; and
//! calling registered functions ([`VmPool::call_rpc`], [`VmPool::call_before`],
//! [`VmPool::call_after`], [`VmPool::call_http`]); and the Lua side of authoritative
//! matches, each in a fresh VM of its own ([`VmPool::create_match`], [`MatchHandler`]).
//! Data is reached only through the [`RuntimeHost`] trait, which `node` implements over
//! its `core` functions.
//!
//! Must not import: RocksDB, openraft, quinn, or our `storage`/`cluster` crates. Of ours it
//! depends only on `shoal-proto` and `shoal-config`.
//!
//! ```no_run
//! # async fn demo(host: std::sync::Arc<dyn shoal_runtime::RuntimeHost>) -> Result<(), shoal_runtime::RuntimeError> {
//! use shoal_runtime::{CallContext, ModuleBundle, PoolConfig, VmPool};
//! let bundle = ModuleBundle::from_dir("./data/modules".as_ref())?;
//! let config = PoolConfig::from_node_config(&shoal_config::NodeConfig::default());
//! let pool = VmPool::new(bundle, config, host).await?;
//! let reply = pool.call_rpc("echo", CallContext::default(), "{}".to_owned()).await?;
//! # Ok(()) }
//! ```

mod bit32;
pub mod blocking;
mod budget;
mod bundle;
mod config;
mod context;
mod convert;
mod error;
mod host;
mod invoke;
mod match_core;
mod match_tables;
mod nk;
mod pool;
mod registry;
mod sandbox;
mod vm;

pub use bundle::{Module, ModuleBundle};
pub use config::PoolConfig;
pub use context::{CallContext, ExecutionMode};
pub use error::{BudgetKind, RuntimeError};
pub use host::{
    AccountUpdate, AuthResult, DetachedHost, LeaderboardCreate, RecordsQuery, RuntimeHost, ScoreWrite, StorageList,
    StorageObjectId, StorageWrite, TournamentCreate, TournamentQuery,
};
pub use invoke::{Callback, CallbackBoard};
pub use match_core::{DispatchAction, JoinDecision, MatchHandler, MatchInit, MatchMessage, MatchPresence, MatchSetup};
pub use pool::VmPool;
pub use registry::{HookId, Registry};
pub use vm::Vm;
