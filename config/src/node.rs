//! The root of the tree and its derived values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::loader;
use crate::sections::{
    ClusterConfig, ConsoleConfig, LeaderboardConfig, LoggerConfig, MatchConfig, MatchmakerConfig,
    RuntimeConfig, SessionConfig, SocketConfig,
};

/// Everything one Shoal node is configured with.
///
/// The YAML keys are Nakama's (`socket.server_key`, `runtime.env`, …) plus Shoal's
/// `cluster` section. Build one with [`load`] (or [`NodeConfig::from_args`] and
/// [`NodeConfig::validate`]); `NodeConfig::default()` is the zero-argument node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name; unique in the cluster, part of match ids (`<uuid>.<name>`).
    /// Default `shoal` (Nakama's is `nakama`).
    pub name: String,
    /// Where the node keeps its data. Default `./data`.
    pub data_dir: PathBuf,
    pub socket: SocketConfig,
    pub session: SessionConfig,
    pub runtime: RuntimeConfig,
    pub console: ConsoleConfig,
    pub logger: LoggerConfig,
    pub cluster: ClusterConfig,
    pub matchmaker: MatchmakerConfig,
    #[serde(rename = "match")]
    pub r#match: MatchConfig,
    pub leaderboard: LeaderboardConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name: "shoal".to_owned(),
            data_dir: PathBuf::from("./data"),
            socket: SocketConfig::default(),
            session: SessionConfig::default(),
            runtime: RuntimeConfig::default(),
            console: ConsoleConfig::default(),
            logger: LoggerConfig::default(),
            cluster: ClusterConfig::default(),
            matchmaker: MatchmakerConfig::default(),
            r#match: MatchConfig::default(),
            leaderboard: LeaderboardConfig::default(),
        }
    }
}

/// Parses `args` (without `argv[0]`) and the process environment like
/// [`NodeConfig::from_args`], then [`NodeConfig::validate`]s the result. For `main`.
pub fn load<I>(args: I) -> Result<NodeConfig, ConfigError>
where
    I: IntoIterator<Item = String>,
{
    let config = NodeConfig::from_args(args)?;
    config.validate()?;
    Ok(config)
}

impl NodeConfig {
    /// Builds the configuration from command-line arguments (without `argv[0]`) and the
    /// process environment; see [`NodeConfig::from_args_and_env`]. Does not validate.
    pub fn from_args<I>(args: I) -> Result<NodeConfig, ConfigError>
    where
        I: IntoIterator<Item = String>,
    {
        // Variables that are not UTF-8 cannot be ours; skip them rather than panic.
        let env = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)));
        NodeConfig::from_args_and_env(args, env)
    }

    /// Builds the configuration in Nakama's order, each layer overriding the previous:
    ///
    /// 1. defaults;
    /// 2. every `--config FILE.yml`, in order (mappings merge deeply, other values and
    ///    lists are replaced);
    /// 3. `SHOAL__SECTION__KEY=value` variables from `env` (key path lowercased);
    /// 4. flags `--section.key value` or `--section.key=value`; a boolean flag given
    ///    alone means `true`. Repeating a list flag (`--runtime.env a=1 --runtime.env
    ///    b=2`) collects the values, and the list replaces any list from a file;
    ///    `cluster.seeds` and `leaderboard.blacklist_rank_cache` also split on commas.
    ///
    /// Values from flags and variables are read by the key's type, so
    /// `--socket.server_key 12345` is the string `"12345"`. In files a number or
    /// boolean given for a string key is taken as its text, like Nakama's YAML decoder.
    /// Errors name the dotted key. Does not validate.
    pub fn from_args_and_env<I, E>(args: I, env: E) -> Result<NodeConfig, ConfigError>
    where
        I: IntoIterator<Item = String>,
        E: IntoIterator<Item = (String, String)>,
    {
        loader::build(args, env)
    }

    /// The module directory: `runtime.path`, or `<data_dir>/modules` when unset.
    pub fn runtime_path(&self) -> PathBuf {
        match &self.runtime.path {
            Some(path) => path.clone(),
            None => self.data_dir.join("modules"),
        }
    }

    /// `runtime.env` as a map, each entry split on its first `=`; an entry without `=`
    /// maps to the empty string, and a later entry for the same key wins.
    pub fn env_map(&self) -> BTreeMap<String, String> {
        self.runtime
            .env
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((key, value)) => (key.to_owned(), value.to_owned()),
                None => (entry.clone(), String::new()),
            })
            .collect()
    }

    /// One message per secret still at its insecure default, for logging as warnings.
    pub fn default_secret_warnings(&self) -> Vec<String> {
        let defaults = NodeConfig::default();
        let secrets = [
            (
                "socket.server_key",
                &self.socket.server_key,
                &defaults.socket.server_key,
            ),
            (
                "session.encryption_key",
                &self.session.encryption_key,
                &defaults.session.encryption_key,
            ),
            (
                "session.refresh_encryption_key",
                &self.session.refresh_encryption_key,
                &defaults.session.refresh_encryption_key,
            ),
            (
                "runtime.http_key",
                &self.runtime.http_key,
                &defaults.runtime.http_key,
            ),
            (
                "console.username",
                &self.console.username,
                &defaults.console.username,
            ),
            (
                "console.password",
                &self.console.password,
                &defaults.console.password,
            ),
            (
                "cluster.secret",
                &self.cluster.secret,
                &defaults.cluster.secret,
            ),
        ];
        secrets
            .into_iter()
            .filter(|(_, value, default)| value == default)
            .map(|(key, _, _)| format!("{key} is the default value; change it in production"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::NodeConfig;

    #[test]
    fn runtime_path_defaults_under_data_dir() {
        let mut config = NodeConfig::default();
        assert_eq!(config.runtime_path(), PathBuf::from("./data/modules"));
        config.data_dir = PathBuf::from("/var/lib/shoal");
        assert_eq!(
            config.runtime_path(),
            PathBuf::from("/var/lib/shoal/modules")
        );
        config.runtime.path = Some(PathBuf::from("/srv/modules"));
        assert_eq!(config.runtime_path(), PathBuf::from("/srv/modules"));
    }

    #[test]
    fn env_map_splits_on_first_equals() {
        let mut config = NodeConfig::default();
        config.runtime.env = vec![
            "a=1".into(),
            "url=http://x/?q=1".into(),
            "flag".into(),
            "a=2".into(),
        ];
        let env = config.env_map();
        assert_eq!(env.len(), 3);
        assert_eq!(env["a"], "2");
        assert_eq!(env["url"], "http://x/?q=1");
        assert_eq!(env["flag"], "");
    }

    #[test]
    fn secret_warnings_list_every_default() {
        let warnings = NodeConfig::default().default_secret_warnings();
        let keys = [
            "socket.server_key",
            "session.encryption_key",
            "session.refresh_encryption_key",
            "runtime.http_key",
            "console.username",
            "console.password",
            "cluster.secret",
        ];
        assert_eq!(warnings.len(), keys.len(), "{warnings:?}");
        for (warning, key) in warnings.iter().zip(keys) {
            assert_eq!(
                warning,
                &format!("{key} is the default value; change it in production")
            );
        }
    }

    #[test]
    fn secret_warnings_empty_when_changed() {
        let mut config = NodeConfig::default();
        config.socket.server_key = "k1".into();
        config.session.encryption_key = "k2".into();
        config.session.refresh_encryption_key = "k3".into();
        config.runtime.http_key = "k4".into();
        config.console.username = "root".into();
        config.console.password = "k5".into();
        config.cluster.secret = "k6".into();
        assert!(config.default_secret_warnings().is_empty());
    }
}
