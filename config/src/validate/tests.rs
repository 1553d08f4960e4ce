use std::path::PathBuf;

use crate::{ConfigError, NodeConfig};

/// Applies `change` to the defaults and returns the key `validate` rejects.
fn rejected(change: impl FnOnce(&mut NodeConfig)) -> String {
    let mut config = NodeConfig::default();
    change(&mut config);
    match config.validate() {
        Err(err @ ConfigError::Invalid { .. }) => {
            let key = err.key().expect("invalid names a key").to_owned();
            assert!(err.to_string().contains(&format!("\"{key}\"")), "{err}");
            key
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn accepted(change: impl FnOnce(&mut NodeConfig)) {
    let mut config = NodeConfig::default();
    change(&mut config);
    if let Err(err) = config.validate() {
        panic!("expected valid, got {err}");
    }
}

#[test]
fn defaults_are_valid() {
    NodeConfig::default().validate().unwrap();
}

#[test]
fn name_rules() {
    assert_eq!(rejected(|c| c.name.clear()), "name");
    assert_eq!(rejected(|c| c.name = "a.b".into()), "name");
    assert_eq!(rejected(|c| c.name = "a b".into()), "name");
    assert_eq!(rejected(|c| c.name = "a\tb".into()), "name");
    assert_eq!(rejected(|c| c.name = "x".repeat(65)), "name");
    accepted(|c| c.name = "x".repeat(64));
    accepted(|c| c.name = "node-1_é".into());
    assert_eq!(rejected(|c| c.data_dir = PathBuf::new()), "data_dir");
}

#[test]
fn ports_must_differ_unless_zero() {
    assert_eq!(rejected(|c| c.console.port = 7350), "socket.port");
    assert_eq!(rejected(|c| c.cluster.port = 7350), "socket.port");
    assert_eq!(rejected(|c| c.cluster.port = 7351), "console.port");
    accepted(|c| {
        c.socket.port = 0;
        c.console.port = 0;
        c.cluster.port = 0;
    });
}

#[test]
fn secrets_must_be_set() {
    assert_eq!(
        rejected(|c| c.socket.server_key.clear()),
        "socket.server_key"
    );
    assert_eq!(
        rejected(|c| c.session.encryption_key.clear()),
        "session.encryption_key"
    );
    assert_eq!(
        rejected(|c| c.session.refresh_encryption_key.clear()),
        "session.refresh_encryption_key"
    );
    assert_eq!(rejected(|c| c.runtime.http_key.clear()), "runtime.http_key");
    assert_eq!(rejected(|c| c.console.username.clear()), "console.username");
    assert_eq!(rejected(|c| c.console.password.clear()), "console.password");
    assert_eq!(rejected(|c| c.cluster.secret.clear()), "cluster.secret");
}

#[test]
fn socket_rules() {
    assert_eq!(
        rejected(|c| c.socket.max_message_size_bytes = 0),
        "socket.max_message_size_bytes"
    );
    assert_eq!(
        rejected(|c| c.socket.max_request_size_bytes = 0),
        "socket.max_request_size_bytes"
    );
    assert_eq!(
        rejected(|c| c.socket.ping_period_ms = c.socket.pong_wait_ms),
        "socket.ping_period_ms"
    );
    assert_eq!(
        rejected(|c| c.socket.outgoing_queue_size = 0),
        "socket.outgoing_queue_size"
    );
    assert_eq!(
        rejected(|c| c.socket.read_timeout_ms = 0),
        "socket.read_timeout_ms"
    );
}

#[test]
fn session_rules() {
    assert_eq!(
        rejected(|c| c.session.token_expiry_sec = 0),
        "session.token_expiry_sec"
    );
    assert_eq!(
        rejected(|c| c.session.token_expiry_sec = -5),
        "session.token_expiry_sec"
    );
    assert_eq!(
        rejected(|c| c.session.refresh_token_expiry_sec = 0),
        "session.refresh_token_expiry_sec"
    );
    accepted(|c| {
        c.session.token_expiry_sec = 7200;
        c.session.refresh_token_expiry_sec = 1;
    });
}

#[test]
fn runtime_rules() {
    assert_eq!(
        rejected(|c| c.runtime.lua_min_count = 0),
        "runtime.lua_min_count"
    );
    assert_eq!(
        rejected(|c| c.runtime.lua_max_count = c.runtime.lua_min_count - 1),
        "runtime.lua_max_count"
    );
    accepted(|c| c.runtime.lua_max_count = c.runtime.lua_min_count);
    assert_eq!(
        rejected(|c| c.runtime.lua_call_stack_size = 0),
        "runtime.lua_call_stack_size"
    );
    assert_eq!(
        rejected(|c| c.runtime.lua_registry_size = 127),
        "runtime.lua_registry_size"
    );
    assert_eq!(
        rejected(|c| c.runtime.lua_memory_limit_bytes = 0),
        "runtime.lua_memory_limit_bytes"
    );
    assert_eq!(
        rejected(|c| c.runtime.lua_instruction_limit = 0),
        "runtime.lua_instruction_limit"
    );
    assert_eq!(
        rejected(|c| c.runtime.lua_call_timeout_ms = 0),
        "runtime.lua_call_timeout_ms"
    );
    assert_eq!(
        rejected(|c| c.runtime.path = Some(PathBuf::new())),
        "runtime.path"
    );
}

#[test]
fn logger_rules() {
    assert_eq!(
        rejected(|c| c.logger.level = "verbose".into()),
        "logger.level"
    );
    assert_eq!(
        rejected(|c| c.logger.format = "xml".into()),
        "logger.format"
    );
    for level in ["debug", "info", "warn", "error", "WARN"] {
        accepted(|c| c.logger.level = level.into());
    }
    accepted(|c| c.logger.format = "json".into());
}

#[test]
fn cluster_rules() {
    assert_eq!(
        rejected(|c| c.cluster.bootstrap_expect = 0),
        "cluster.bootstrap_expect"
    );
    assert_eq!(rejected(|c| c.cluster.voters = 0), "cluster.voters");
    assert_eq!(rejected(|c| c.cluster.voters = 4), "cluster.voters");
    accepted(|c| c.cluster.voters = 1);
    accepted(|c| c.cluster.voters = 5);
    assert_eq!(
        rejected(|c| c.cluster.election_timeout_min_ms = c.cluster.election_timeout_max_ms),
        "cluster.election_timeout_min_ms"
    );
    assert_eq!(
        rejected(|c| c.cluster.election_timeout_min_ms = c.cluster.heartbeat_interval_ms),
        "cluster.election_timeout_min_ms"
    );
    assert_eq!(
        rejected(|c| c.cluster.heartbeat_interval_ms = 0),
        "cluster.heartbeat_interval_ms"
    );
    assert_eq!(
        rejected(|c| c.cluster.call_timeout_ms = 0),
        "cluster.call_timeout_ms"
    );
    assert_eq!(
        rejected(|c| c.cluster.gossip_interval_ms = 0),
        "cluster.gossip_interval_ms"
    );
    assert_eq!(
        rejected(|c| c.cluster.seeds = vec!["nohostport".into()]),
        "cluster.seeds"
    );
    accepted(|c| c.cluster.seeds = vec!["127.0.0.1:7352".into(), "[::1]:7352".into()]);
    assert_eq!(
        rejected(|c| c.cluster.tls.cert = Some("c.pem".into())),
        "cluster.tls.key"
    );
    assert_eq!(
        rejected(|c| c.cluster.tls.ca = Some("ca.pem".into())),
        "cluster.tls.cert"
    );
    accepted(|c| {
        c.cluster.tls.cert = Some("c.pem".into());
        c.cluster.tls.key = Some("k.pem".into());
    });
}
