//! Rules a loaded configuration must satisfy before a node starts.

use crate::error::ConfigError;
use crate::node::NodeConfig;
use crate::sections::LoggerConfig;

/// Longest node name, in bytes.
const NAME_LEN_MAX: usize = 64;

/// Smallest Lua registry Nakama accepts.
const LUA_REGISTRY_SIZE_MIN: usize = 128;

impl NodeConfig {
    /// Checks the rules that types alone cannot, returning the first broken one; the
    /// error names its key. Port 0 is allowed and means "chosen by the OS".
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_node()?;
        self.validate_socket()?;
        self.validate_session()?;
        self.validate_runtime()?;
        self.validate_console()?;
        self.validate_logger()?;
        self.validate_cluster()?;
        Ok(())
    }

    fn validate_node(&self) -> Result<(), ConfigError> {
        let name = &self.name;
        if name.is_empty() {
            return Err(ConfigError::invalid("name", "must not be empty"));
        }
        if name.len() > NAME_LEN_MAX {
            return Err(ConfigError::invalid(
                "name",
                format!("must be at most {NAME_LEN_MAX} bytes"),
            ));
        }
        if name.contains('.') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::invalid(
                "name",
                "must not contain '.', whitespace or control characters (it is part of match ids)",
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        Ok(())
    }

    fn validate_socket(&self) -> Result<(), ConfigError> {
        let socket = &self.socket;
        non_empty("socket.server_key", &socket.server_key)?;
        at_least_one(
            "socket.max_message_size_bytes",
            socket.max_message_size_bytes,
        )?;
        at_least_one(
            "socket.max_request_size_bytes",
            socket.max_request_size_bytes,
        )?;
        at_least_one("socket.read_timeout_ms", socket.read_timeout_ms)?;
        at_least_one("socket.write_timeout_ms", socket.write_timeout_ms)?;
        at_least_one("socket.idle_timeout_ms", socket.idle_timeout_ms)?;
        at_least_one("socket.ping_period_ms", socket.ping_period_ms)?;
        if socket.ping_period_ms >= socket.pong_wait_ms {
            return Err(ConfigError::invalid(
                "socket.ping_period_ms",
                "must be less than socket.pong_wait_ms",
            ));
        }
        at_least_one(
            "socket.outgoing_queue_size",
            socket.outgoing_queue_size as u64,
        )?;

        let ports = [
            ("socket.port", socket.port),
            ("console.port", self.console.port),
            ("cluster.port", self.cluster.port),
        ];
        for (i, (key, port)) in ports.iter().enumerate() {
            for (other_key, other_port) in &ports[i + 1..] {
                if *port != 0 && port == other_port {
                    return Err(ConfigError::invalid(
                        key,
                        format!("port {port} is also {other_key}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_session(&self) -> Result<(), ConfigError> {
        let session = &self.session;
        non_empty("session.encryption_key", &session.encryption_key)?;
        non_empty(
            "session.refresh_encryption_key",
            &session.refresh_encryption_key,
        )?;
        if session.token_expiry_sec < 1 {
            return Err(ConfigError::invalid(
                "session.token_expiry_sec",
                "must be at least 1",
            ));
        }
        if session.refresh_token_expiry_sec < 1 {
            return Err(ConfigError::invalid(
                "session.refresh_token_expiry_sec",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_runtime(&self) -> Result<(), ConfigError> {
        let runtime = &self.runtime;
        non_empty("runtime.http_key", &runtime.http_key)?;
        if let Some(path) = &runtime.path
            && path.as_os_str().is_empty()
        {
            return Err(ConfigError::invalid(
                "runtime.path",
                "must not be empty; leave it unset for <data_dir>/modules",
            ));
        }
        at_least_one("runtime.lua_min_count", runtime.lua_min_count as u64)?;
        if runtime.lua_max_count < runtime.lua_min_count {
            return Err(ConfigError::invalid(
                "runtime.lua_max_count",
                "must be at least runtime.lua_min_count",
            ));
        }
        at_least_one(
            "runtime.lua_call_stack_size",
            runtime.lua_call_stack_size as u64,
        )?;
        if runtime.lua_registry_size < LUA_REGISTRY_SIZE_MIN {
            return Err(ConfigError::invalid(
                "runtime.lua_registry_size",
                format!("must be at least {LUA_REGISTRY_SIZE_MIN}"),
            ));
        }
        at_least_one(
            "runtime.lua_memory_limit_bytes",
            runtime.lua_memory_limit_bytes,
        )?;
        at_least_one(
            "runtime.lua_instruction_limit",
            runtime.lua_instruction_limit,
        )?;
        at_least_one("runtime.lua_call_timeout_ms", runtime.lua_call_timeout_ms)?;
        Ok(())
    }

    fn validate_console(&self) -> Result<(), ConfigError> {
        non_empty("console.username", &self.console.username)?;
        non_empty("console.password", &self.console.password)
    }

    fn validate_logger(&self) -> Result<(), ConfigError> {
        let logger = &self.logger;
        if !LoggerConfig::LEVELS
            .iter()
            .any(|level| logger.level.eq_ignore_ascii_case(level))
        {
            return Err(ConfigError::invalid(
                "logger.level",
                format!(
                    "\"{}\" is not one of {}",
                    logger.level,
                    LoggerConfig::LEVELS.join(", ")
                ),
            ));
        }
        if !LoggerConfig::FORMATS
            .iter()
            .any(|format| logger.format.eq_ignore_ascii_case(format))
        {
            return Err(ConfigError::invalid(
                "logger.format",
                format!(
                    "\"{}\" is not one of {}",
                    logger.format,
                    LoggerConfig::FORMATS.join(", ")
                ),
            ));
        }
        Ok(())
    }

    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let cluster = &self.cluster;
        non_empty("cluster.secret", &cluster.secret)?;
        if let Some(seed) = cluster.seeds.iter().find(|seed| !is_host_port(seed)) {
            return Err(ConfigError::invalid(
                "cluster.seeds",
                format!("\"{seed}\" is not host:port"),
            ));
        }
        at_least_one("cluster.bootstrap_expect", cluster.bootstrap_expect as u64)?;
        if cluster.voters.is_multiple_of(2) {
            return Err(ConfigError::invalid(
                "cluster.voters",
                "must be odd (1, 3, 5, ...)",
            ));
        }
        at_least_one(
            "cluster.heartbeat_interval_ms",
            cluster.heartbeat_interval_ms,
        )?;
        if cluster.election_timeout_min_ms <= cluster.heartbeat_interval_ms {
            return Err(ConfigError::invalid(
                "cluster.election_timeout_min_ms",
                "must be greater than cluster.heartbeat_interval_ms",
            ));
        }
        if cluster.election_timeout_min_ms >= cluster.election_timeout_max_ms {
            return Err(ConfigError::invalid(
                "cluster.election_timeout_min_ms",
                "must be less than cluster.election_timeout_max_ms",
            ));
        }
        at_least_one("cluster.call_timeout_ms", cluster.call_timeout_ms)?;
        at_least_one("cluster.gossip_interval_ms", cluster.gossip_interval_ms)?;
        at_least_one("cluster.snapshot_logs_since_last", cluster.snapshot_logs_since_last)?;
        let tls = &cluster.tls;
        if tls.cert.is_some() != tls.key.is_some() {
            return Err(ConfigError::invalid(
                if tls.cert.is_some() {
                    "cluster.tls.key"
                } else {
                    "cluster.tls.cert"
                },
                "cluster.tls.cert and cluster.tls.key must be set together",
            ));
        }
        if tls.ca.is_some() && tls.cert.is_none() {
            return Err(ConfigError::invalid(
                "cluster.tls.cert",
                "must be set (with cluster.tls.key) when cluster.tls.ca is",
            ));
        }
        Ok(())
    }
}

fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    Ok(())
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value < 1 {
        return Err(ConfigError::invalid(key, "must be at least 1"));
    }
    Ok(())
}

/// `host:port` with a non-empty host and a port number (`[::1]:7352` included).
fn is_host_port(seed: &str) -> bool {
    match seed.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests;
