use std::io::Write;
use std::path::PathBuf;

use crate::{ConfigError, NodeConfig};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn parse(list: &[&str]) -> Result<NodeConfig, ConfigError> {
    NodeConfig::from_args_and_env(args(list), no_env())
}

fn yaml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".yml")
        .tempfile()
        .expect("create temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

fn path_of(file: &tempfile::NamedTempFile) -> String {
    file.path().to_str().expect("utf-8 temp path").to_owned()
}

#[test]
fn defaults_are_nakamas() {
    let config = parse(&[]).expect("no arguments");
    assert_eq!(config, NodeConfig::default());
    assert_eq!(config.name, "shoal");
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.socket.server_key, "defaultkey");
    assert_eq!(config.socket.port, 7350);
    assert_eq!(config.socket.address, "");
    assert_eq!(config.socket.max_message_size_bytes, 4096);
    assert_eq!(config.socket.max_request_size_bytes, 262_144);
    assert_eq!(config.socket.read_timeout_ms, 10_000);
    assert_eq!(config.socket.write_timeout_ms, 10_000);
    assert_eq!(config.socket.idle_timeout_ms, 60_000);
    assert_eq!(config.socket.ping_period_ms, 15_000);
    assert_eq!(config.socket.pong_wait_ms, 25_000);
    assert_eq!(config.socket.outgoing_queue_size, 64);
    assert_eq!(config.session.encryption_key, "defaultencryptionkey");
    assert_eq!(
        config.session.refresh_encryption_key,
        "defaultrefreshencryptionkey"
    );
    assert_eq!(config.session.token_expiry_sec, 60);
    assert_eq!(config.session.refresh_token_expiry_sec, 3600);
    assert!(!config.session.single_socket);
    assert!(!config.session.single_match);
    assert!(!config.session.single_session);
    assert_eq!(config.runtime.path, None);
    assert_eq!(config.runtime.http_key, "defaulthttpkey");
    assert!(config.runtime.env.is_empty());
    assert_eq!(config.runtime.lua_min_count, 16);
    assert_eq!(config.runtime.lua_max_count, 48);
    assert_eq!(config.runtime.lua_call_stack_size, 128);
    assert_eq!(config.runtime.lua_registry_size, 512);
    assert!(config.runtime.lua_read_only_globals);
    assert!(!config.runtime.lua_api_stacktrace);
    assert_eq!(config.runtime.lua_memory_limit_bytes, 64 * 1024 * 1024);
    assert_eq!(config.runtime.lua_instruction_limit, 100_000_000);
    assert_eq!(config.runtime.lua_call_timeout_ms, 5000);
    assert_eq!(config.console.port, 7351);
    assert_eq!(config.console.username, "admin");
    assert_eq!(config.console.password, "password");
    assert_eq!(config.logger.level, "info");
    assert_eq!(config.logger.format, "text");
    assert_eq!(config.cluster.port, 7352);
    assert_eq!(config.cluster.bootstrap_expect, 1);
    assert_eq!(config.cluster.voters, 3);
    assert_eq!(config.cluster.secret, "defaultclustersecret");
    assert_eq!(config.matchmaker.interval_sec, 15);
    assert_eq!(config.matchmaker.max_intervals, 2);
    assert_eq!(config.matchmaker.max_tickets, 3);
    assert_eq!(config.r#match.max_empty_sec, 0);
    assert_eq!(config.r#match.label_update_interval_ms, 1000);
    assert!(config.leaderboard.blacklist_rank_cache.is_empty());
    config.validate().expect("defaults are valid");
}

#[test]
fn flags_override_yaml_which_overrides_defaults() {
    let file = yaml_file(
        "name: fromfile\nsocket:\n  port: 7400\n  server_key: filekey\nmatch:\n  max_empty_sec: 30\n",
    );
    let path = path_of(&file);
    let config = parse(&["--config", &path, "--socket.port", "7500", "--name=n1"]).unwrap();
    assert_eq!(config.name, "n1");
    assert_eq!(config.socket.port, 7500);
    assert_eq!(config.socket.server_key, "filekey");
    assert_eq!(config.r#match.max_empty_sec, 30);
    // Untouched keys of a section named in the file keep their defaults.
    assert_eq!(config.socket.pong_wait_ms, 25_000);
}

#[test]
fn flag_order_does_not_matter_for_config_files() {
    let file = yaml_file("socket:\n  port: 7400\n");
    let path = path_of(&file);
    let config = parse(&["--socket.port", "7500", "--config", &path]).unwrap();
    assert_eq!(config.socket.port, 7500);
}

#[test]
fn config_files_merge_in_order() {
    let first = yaml_file(
        "socket:\n  port: 7400\n  server_key: first\ncluster:\n  seeds: [a:1, b:2]\n  tls:\n    ca: ca.pem\n",
    );
    let second =
        yaml_file("socket:\n  port: 7401\ncluster:\n  seeds: [c:3]\n  tls:\n    cert: cert.pem\n");
    let config = parse(&["--config", &path_of(&first), "--config", &path_of(&second)]).unwrap();
    assert_eq!(config.socket.port, 7401);
    assert_eq!(config.socket.server_key, "first");
    // Lists are replaced, mappings merged.
    assert_eq!(config.cluster.seeds, vec!["c:3"]);
    assert_eq!(config.cluster.tls.ca, Some(PathBuf::from("ca.pem")));
    assert_eq!(config.cluster.tls.cert, Some(PathBuf::from("cert.pem")));
}

#[test]
fn env_overrides_yaml_and_flags_override_env() {
    let file = yaml_file("socket:\n  port: 7400\nconsole:\n  port: 7401\n");
    let env = vec![
        ("SHOAL__SOCKET__PORT".to_owned(), "7500".to_owned()),
        ("SHOAL__CONSOLE__PORT".to_owned(), "7501".to_owned()),
        ("SHOAL__NAME".to_owned(), "envname".to_owned()),
        (
            "SHOAL__SESSION__SINGLE_SOCKET".to_owned(),
            "true".to_owned(),
        ),
        ("SHOAL__CLUSTER__SEEDS".to_owned(), "h1:1, h2:2".to_owned()),
        ("PATH".to_owned(), "/bin".to_owned()),
    ];
    let config = NodeConfig::from_args_and_env(
        args(&["--config", &path_of(&file), "--console.port", "7601"]),
        env,
    )
    .unwrap();
    assert_eq!(config.socket.port, 7500);
    assert_eq!(config.console.port, 7601);
    assert_eq!(config.name, "envname");
    assert!(config.session.single_socket);
    assert_eq!(config.cluster.seeds, vec!["h1:1", "h2:2"]);
}

#[test]
fn env_key_is_lowercased() {
    let env = vec![("SHOAL__Socket__Server_Key".to_owned(), "k".to_owned())];
    let config = NodeConfig::from_args_and_env(args(&[]), env).unwrap();
    assert_eq!(config.socket.server_key, "k");
}

#[test]
fn unknown_env_key_names_variable() {
    let env = vec![("SHOAL__SOCKET__PROT".to_owned(), "1".to_owned())];
    let err = NodeConfig::from_args_and_env(args(&[]), env).unwrap_err();
    assert_eq!(err.key(), Some("socket.prot"));
    let message = err.to_string();
    assert!(
        message.contains("unknown config key \"socket.prot\""),
        "{message}"
    );
    assert!(message.contains("SHOAL__SOCKET__PROT"), "{message}");
}

#[test]
fn unknown_yaml_key_names_dotted_path_and_file() {
    let file = yaml_file("socket:\n  prot: 7400\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("unknown config key \"socket.prot\""),
        "{message}"
    );
    assert!(message.contains(&path_of(&file)), "{message}");

    let file = yaml_file("cluster:\n  tls:\n    bogus: x\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert_eq!(err.key(), Some("cluster.tls.bogus"));

    let file = yaml_file("database:\n  address: [x]\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert_eq!(err.key(), Some("database"));
}

#[test]
fn unknown_flag_key_names_dotted_path() {
    let err = parse(&["--socket.prot", "7400"]).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown config key \"socket.prot\" (flag --socket.prot)"),
        "{err}"
    );
    let err = parse(&["--socket.port.x=1"]).unwrap_err();
    assert_eq!(err.key(), Some("socket.port.x"));
    let err = parse(&["--nosection", "1"]).unwrap_err();
    assert_eq!(err.key(), Some("nosection"));
}

#[test]
fn wrong_type_names_key() {
    let err = parse(&["--socket.port", "abc"]).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("invalid value for \"socket.port\": "),
        "{message}"
    );

    let err = parse(&["--socket.port", "70000"]).unwrap_err();
    assert_eq!(err.key(), Some("socket.port"));

    let err = parse(&["--session.single_match=maybe"]).unwrap_err();
    assert_eq!(err.key(), Some("session.single_match"));

    let file = yaml_file("runtime:\n  lua_min_count: lots\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert_eq!(err.key(), Some("runtime.lua_min_count"));

    let file = yaml_file("cluster:\n  seeds: a:1\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert_eq!(err.key(), Some("cluster.seeds"));

    let err = parse(&["--socket", "1"]).unwrap_err();
    assert_eq!(err.key(), Some("socket"));
}

#[test]
fn string_keys_keep_numeric_looking_text() {
    let config = parse(&[
        "--socket.server_key",
        "12345",
        "--session.encryption_key=true",
        "--name",
        "007",
        "--runtime.path",
        "1.5",
    ])
    .unwrap();
    assert_eq!(config.socket.server_key, "12345");
    assert_eq!(config.session.encryption_key, "true");
    assert_eq!(config.name, "007");
    assert_eq!(config.runtime.path, Some(PathBuf::from("1.5")));

    let file = yaml_file("socket:\n  server_key: 12345\nconsole:\n  password: true\n");
    let config = parse(&["--config", &path_of(&file)]).unwrap();
    assert_eq!(config.socket.server_key, "12345");
    assert_eq!(config.console.password, "true");
}

#[test]
fn typed_flags_parse() {
    let config = parse(&[
        "--socket.port",
        "7360",
        "--session.single_socket",
        "true",
        "--session.single_match=1",
        "--session.token_expiry_sec",
        "7200",
        "--runtime.lua_read_only_globals=false",
    ])
    .unwrap();
    assert_eq!(config.socket.port, 7360);
    assert!(config.session.single_socket);
    assert!(config.session.single_match);
    assert_eq!(config.session.token_expiry_sec, 7200);
    assert!(!config.runtime.lua_read_only_globals);
}

#[test]
fn bare_boolean_flag_is_true() {
    let config = parse(&["--session.single_session", "--name", "n1"]).unwrap();
    assert!(config.session.single_session);
    assert_eq!(config.name, "n1");
    let config = parse(&["--session.single_socket"]).unwrap();
    assert!(config.session.single_socket);
}

#[test]
fn runtime_env_repeats_and_keeps_commas() {
    let config = parse(&[
        "--runtime.env",
        "a=1",
        "--runtime.env=b=x,y",
        "--runtime.env",
        "c",
    ])
    .unwrap();
    assert_eq!(config.runtime.env, vec!["a=1", "b=x,y", "c"]);
    let env = config.env_map();
    assert_eq!(env.get("a").map(String::as_str), Some("1"));
    assert_eq!(env.get("b").map(String::as_str), Some("x,y"));
    assert_eq!(env.get("c").map(String::as_str), Some(""));
}

#[test]
fn flag_list_replaces_file_list() {
    let file = yaml_file("runtime:\n  env: [\"from=file\"]\n");
    let config = parse(&["--config", &path_of(&file), "--runtime.env", "from=flag"]).unwrap();
    assert_eq!(config.runtime.env, vec!["from=flag"]);
}

#[test]
fn seeds_and_blacklist_split_on_commas_and_repeat() {
    let config = parse(&[
        "--cluster.seeds",
        "127.0.0.1:7352,127.0.0.1:7362",
        "--cluster.seeds",
        "127.0.0.1:7372",
        "--leaderboard.blacklist_rank_cache=lb1, lb2",
        "--leaderboard.blacklist_rank_cache",
        "lb3",
    ])
    .unwrap();
    assert_eq!(
        config.cluster.seeds,
        vec!["127.0.0.1:7352", "127.0.0.1:7362", "127.0.0.1:7372"]
    );
    assert_eq!(
        config.leaderboard.blacklist_rank_cache,
        vec!["lb1", "lb2", "lb3"]
    );
}

#[test]
fn flag_without_value_is_an_error() {
    let err = parse(&["--socket.port"]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::MissingValue { flag } if flag == "--socket.port"),
        "{err:?}"
    );
    let err = parse(&["--name", "--socket.port", "1"]).unwrap_err();
    assert!(err.to_string().contains("--name"), "{err}");
    let err = parse(&["--config"]).unwrap_err();
    assert!(err.to_string().contains("--config"), "{err}");
}

#[test]
fn positional_argument_is_an_error() {
    for bad in ["serve", "--", "-", "--=1"] {
        let err = parse(&["--name", "n1", bad]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::UnexpectedArgument { arg } if arg == bad),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn single_dash_flags_and_dash_values() {
    let config = parse(&["-name", "n1", "-socket.server_key", "-5"]).unwrap();
    assert_eq!(config.name, "n1");
    assert_eq!(config.socket.server_key, "-5");
}

#[test]
fn logger_values_are_lowercased() {
    let config = parse(&["--logger.level", "DEBUG", "--logger.format", "JSON"]).unwrap();
    assert_eq!(config.logger.level, "debug");
    assert_eq!(config.logger.format, "json");
}

#[test]
fn yaml_nulls_and_empty_files() {
    let empty = yaml_file("");
    let nulls = yaml_file("socket:\nruntime:\n  env:\n  path: ~\nconsole:\n  address:\n");
    let config = parse(&["--config", &path_of(&empty), "--config", &path_of(&nulls)]).unwrap();
    assert_eq!(config, NodeConfig::default());
}

#[test]
fn bad_files_are_errors() {
    let err = parse(&["--config", "/nonexistent/shoal.yml"]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/shoal.yml"), "{err}");

    let file = yaml_file("socket: [unclosed\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");

    let file = yaml_file("- a\n- b\n");
    let err = parse(&["--config", &path_of(&file)]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
}

#[test]
fn runtime_path_from_flag() {
    let config = parse(&["--data_dir", "/srv/shoal"]).unwrap();
    assert_eq!(config.runtime_path(), PathBuf::from("/srv/shoal/modules"));
    let config = parse(&["--data_dir", "/srv/shoal", "--runtime.path", "/opt/mods"]).unwrap();
    assert_eq!(config.runtime_path(), PathBuf::from("/opt/mods"));
}

#[test]
fn load_validates() {
    let err = crate::load(args(&["--cluster.voters", "2"])).unwrap_err();
    assert_eq!(err.key(), Some("cluster.voters"));
}
