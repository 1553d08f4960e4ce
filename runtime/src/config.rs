//! What a pool needs from the node's configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use shoal_config::{NodeConfig, RuntimeConfig};

/// Pool settings, usually derived from `NodeConfig` with [`PoolConfig::from_node_config`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Node name, `context.node`.
    pub node: String,
    /// `runtime.env` as a map, `context.env`.
    pub env: BTreeMap<String, String>,
    /// VMs created up front and kept warm.
    pub min_count: usize,
    /// Most VMs alive at once; callers beyond it wait up to `call_timeout`.
    pub max_count: usize,
    /// Lua heap limit per VM.
    pub memory_limit_bytes: usize,
    /// Lua VM instructions one call may execute.
    pub instruction_limit: u64,
    /// Wall-clock budget of one call; also the longest a caller waits for a free VM.
    pub call_timeout: Duration,
    /// Keep Lua positions and tracebacks in error messages sent to clients.
    pub api_stacktrace: bool,
    /// Globals are read-only once the modules are loaded (`runtime.lua_read_only_globals`).
    pub read_only_globals: bool,
    /// Most entries `nk.localcache_put` keeps; the oldest go first.
    pub localcache_max_entries: usize,
}

impl PoolConfig {
    pub fn from_node_config(config: &NodeConfig) -> Self {
        Self::from_runtime_config(&config.name, &config.runtime, config.env_map())
    }

    pub fn from_runtime_config(
        node: &str,
        runtime: &RuntimeConfig,
        env: BTreeMap<String, String>,
    ) -> Self {
        PoolConfig {
            node: node.to_owned(),
            env,
            min_count: runtime.lua_min_count.max(1),
            max_count: runtime.lua_max_count.max(runtime.lua_min_count).max(1),
            memory_limit_bytes: usize::try_from(runtime.lua_memory_limit_bytes)
                .unwrap_or(usize::MAX),
            instruction_limit: runtime.lua_instruction_limit,
            call_timeout: Duration::from_millis(runtime.lua_call_timeout_ms),
            api_stacktrace: runtime.lua_api_stacktrace,
            read_only_globals: runtime.lua_read_only_globals,
            localcache_max_entries: 10_000,
        }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self::from_runtime_config("shoal", &RuntimeConfig::default(), BTreeMap::new())
    }
}
