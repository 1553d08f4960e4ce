//! One struct per YAML section, with Nakama's keys and defaults.
//!
//! Each section is `#[serde(default, deny_unknown_fields)]`: a missing key takes the
//! section's `Default`, an unknown key is an error.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `socket.*`: the client-facing HTTP API and realtime `/ws` listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketConfig {
    /// Key clients present (as the Basic username) to authenticate. Default `defaultkey`.
    pub server_key: String,
    /// TCP port for REST and `/ws`. Default 7350; 0 lets the OS choose.
    pub port: u16,
    /// Interface to listen on; empty means all interfaces (`0.0.0.0`).
    pub address: String,
    /// Largest realtime message accepted from a client. Default 4096.
    pub max_message_size_bytes: u64,
    /// Largest HTTP request body accepted. Default 262144.
    pub max_request_size_bytes: u64,
    /// Deadline for reading a whole HTTP request. Default 10000.
    pub read_timeout_ms: u64,
    /// Deadline for writing an HTTP response. Default 10000.
    pub write_timeout_ms: u64,
    /// How long an idle keep-alive HTTP connection is kept. Default 60000.
    pub idle_timeout_ms: u64,
    /// Interval between pings sent to a realtime client; below `pong_wait_ms`. Default 15000.
    pub ping_period_ms: u64,
    /// How long to wait for a pong before dropping a realtime client. Default 25000.
    pub pong_wait_ms: u64,
    /// Messages queued for one realtime client before it is dropped as too slow. Default 64.
    pub outgoing_queue_size: usize,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            server_key: "defaultkey".to_owned(),
            port: 7350,
            address: String::new(),
            max_message_size_bytes: 4096,
            max_request_size_bytes: 262_144,
            read_timeout_ms: 10_000,
            write_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            ping_period_ms: 15_000,
            pong_wait_ms: 25_000,
            outgoing_queue_size: 64,
        }
    }
}

/// `session.*`: session and refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// HS256 key for session tokens. Default `defaultencryptionkey`.
    pub encryption_key: String,
    /// HS256 key for refresh tokens. Default `defaultrefreshencryptionkey`.
    pub refresh_encryption_key: String,
    /// Session token lifetime. Default 60.
    pub token_expiry_sec: i64,
    /// Refresh token lifetime. Default 3600.
    pub refresh_token_expiry_sec: i64,
    /// Allow one realtime socket per user; a new one closes the old. Default false.
    pub single_socket: bool,
    /// Allow one match per user; joining another leaves the old. Default false.
    pub single_match: bool,
    /// Allow one live session per user; a new one revokes the old. Default false.
    pub single_session: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            encryption_key: "defaultencryptionkey".to_owned(),
            refresh_encryption_key: "defaultrefreshencryptionkey".to_owned(),
            token_expiry_sec: 60,
            refresh_token_expiry_sec: 3600,
            single_socket: false,
            single_match: false,
            single_session: false,
        }
    }
}

/// `runtime.*`: the Lua module runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Module directory; `None` means `<data_dir>/modules`
    /// (see [`crate::NodeConfig::runtime_path`]).
    pub path: Option<PathBuf>,
    /// Key accepted for server-to-server RPC (`?http_key=`). Default `defaulthttpkey`.
    pub http_key: String,
    /// `"key=value"` entries that become `context.env`
    /// (see [`crate::NodeConfig::env_map`]).
    pub env: Vec<String>,
    /// VMs kept warm in the pool. Default 16.
    pub lua_min_count: usize,
    /// Most VMs the pool may hold. Default 48.
    pub lua_max_count: usize,
    /// Lua call stack size per VM. Default 128.
    pub lua_call_stack_size: usize,
    /// Lua registry size per VM. Default 512.
    pub lua_registry_size: usize,
    /// Make globals read-only after modules load. Default true.
    pub lua_read_only_globals: bool,
    /// Include Lua stack traces in errors returned to clients. Default false.
    pub lua_api_stacktrace: bool,
    /// Memory limit per VM; a VM over it is discarded. Default 64 MiB.
    pub lua_memory_limit_bytes: u64,
    /// Instruction budget per call. Default 100 000 000.
    pub lua_instruction_limit: u64,
    /// Wall-clock budget per call. Default 5000.
    pub lua_call_timeout_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            path: None,
            http_key: "defaulthttpkey".to_owned(),
            env: Vec::new(),
            lua_min_count: 16,
            lua_max_count: 48,
            lua_call_stack_size: 128,
            lua_registry_size: 512,
            lua_read_only_globals: true,
            lua_api_stacktrace: false,
            lua_memory_limit_bytes: 64 * 1024 * 1024,
            lua_instruction_limit: 100_000_000,
            lua_call_timeout_ms: 5000,
        }
    }
}

/// `console.*`: the console / admin API listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// TCP port. Default 7351; 0 lets the OS choose.
    pub port: u16,
    /// Interface to listen on; empty means all interfaces (`0.0.0.0`).
    pub address: String,
    /// Default `admin`.
    pub username: String,
    /// Default `password`.
    pub password: String,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            port: 7351,
            address: String::new(),
            username: "admin".to_owned(),
            password: "password".to_owned(),
        }
    }
}

/// `logger.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggerConfig {
    /// One of `debug`, `info`, `warn`, `error` (lowercased on load). Default `info`.
    pub level: String,
    /// `text` or `json` (lowercased on load). Default `text`.
    pub format: String,
}

impl LoggerConfig {
    /// The accepted values of `logger.level`.
    pub const LEVELS: [&'static str; 4] = ["debug", "info", "warn", "error"];
    /// The accepted values of `logger.format`.
    pub const FORMATS: [&'static str; 2] = ["text", "json"];
}

impl Default for LoggerConfig {
    fn default() -> Self {
        LoggerConfig {
            level: "info".to_owned(),
            format: "text".to_owned(),
        }
    }
}

/// `cluster.*`: gossip, Raft and node-to-node QUIC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// UDP port of the node's QUIC endpoint. Default 7352; 0 lets the OS choose.
    pub port: u16,
    /// Host this node binds and advertises to peers. Empty means: bind all interfaces
    /// (`0.0.0.0`) and advertise `127.0.0.1`.
    pub address: String,
    /// `host:port` of nodes to contact on start. Flags and environment variables accept
    /// a comma-separated list.
    pub seeds: Vec<String>,
    /// Live members needed before the first Raft membership is formed. Default 1.
    pub bootstrap_expect: usize,
    /// Shared secret every peer must prove. Default `defaultclustersecret`.
    pub secret: String,
    /// Target number of Raft voters; odd. Default 3.
    pub voters: usize,
    /// How long a dead node stays a voter before it is removed. Default 60.
    pub dead_node_grace_sec: u64,
    /// Raft heartbeat interval. Default 50.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the Raft election timeout. Default 300.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the Raft election timeout; also how long a follower that hears from
    /// its leader refuses to vote for another (openraft's leader lease), so a leader's
    /// failure is noticed after one to two of it. Default 600.
    pub election_timeout_max_ms: u64,
    /// Deadline of every cross-node call. Default 5000.
    pub call_timeout_ms: u64,
    /// Gossip round interval. Default 200.
    pub gossip_interval_ms: u64,
    /// Build a Raft snapshot after this many log entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Log entries kept behind a snapshot (older ones are purged; a follower further
    /// behind catches up by snapshot).
    pub snapshot_logs_to_keep: u64,
    /// Certificate files for mutual TLS between nodes.
    pub tls: ClusterTlsConfig,
    /// Serve `POST /v2/console/debug/partition`, which cuts this node off from chosen peers
    /// (chaos testing). Default false; never enable in production.
    pub fault_injection: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            port: 7352,
            address: String::new(),
            seeds: Vec::new(),
            bootstrap_expect: 1,
            secret: "defaultclustersecret".to_owned(),
            voters: 3,
            dead_node_grace_sec: 60,
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            call_timeout_ms: 5000,
            gossip_interval_ms: 200,
            snapshot_logs_since_last: 10_000,
            snapshot_logs_to_keep: 1_000,
            tls: ClusterTlsConfig::default(),
            fault_injection: false,
        }
    }
}

/// `cluster.tls.*`: PEM files for mutual TLS; all unset means a self-signed
/// certificate plus the `cluster.secret` handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterTlsConfig {
    /// CA certificate that peers' certificates must chain to.
    pub ca: Option<PathBuf>,
    /// This node's certificate.
    pub cert: Option<PathBuf>,
    /// This node's private key.
    pub key: Option<PathBuf>,
}

/// `matchmaker.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchmakerConfig {
    /// Interval between matchmaking passes. Default 15.
    pub interval_sec: u64,
    /// Passes a ticket waits before its minimum count is accepted. Default 2.
    pub max_intervals: u32,
    /// Tickets one session may hold at once. Default 3.
    pub max_tickets: u32,
}

impl Default for MatchmakerConfig {
    fn default() -> Self {
        MatchmakerConfig {
            interval_sec: 15,
            max_intervals: 2,
            max_tickets: 3,
        }
    }
}

/// `match.*`: authoritative matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchConfig {
    /// Seconds a match may stay empty before it is stopped; 0 means never. Default 0.
    pub max_empty_sec: u64,
    /// Interval at which label changes are published. Default 1000.
    pub label_update_interval_ms: u64,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            max_empty_sec: 0,
            label_update_interval_ms: 1000,
        }
    }
}

/// `leaderboard.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaderboardConfig {
    /// Leaderboard ids whose ranks are not cached (`*` for all). Flags and environment
    /// variables accept a comma-separated list.
    pub blacklist_rank_cache: Vec<String>,
}
