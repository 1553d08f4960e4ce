//! The one error type of this crate.

use std::path::PathBuf;

/// Why a configuration could not be loaded or is not valid.
///
/// Every variant about a setting names it by its dotted key (`socket.port`), the same
/// spelling as the YAML path and the `--socket.port` flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `--config` file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A `--config` file is not valid YAML, or its top level is not a mapping.
    #[error("cannot parse config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },

    /// A key that no section has, from a file, an environment variable or a flag.
    #[error("unknown config key \"{key}\" ({origin})")]
    UnknownKey { key: String, origin: String },

    /// A value of the wrong type or out of range for its key.
    #[error("invalid value for \"{key}\": {message}")]
    InvalidValue { key: String, message: String },

    /// A flag other than a boolean one given last or followed by another flag.
    #[error("flag {flag} needs a value")]
    MissingValue { flag: String },

    /// A command-line argument that is not a `--key value` flag.
    #[error("unexpected argument \"{arg}\"; settings are given as --section.key value")]
    UnexpectedArgument { arg: String },

    /// A value that parses but breaks a rule checked by [`crate::NodeConfig::validate`].
    #[error("invalid config \"{key}\": {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// The dotted config key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::InvalidValue { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. }
            | ConfigError::Parse { .. }
            | ConfigError::MissingValue { .. }
            | ConfigError::UnexpectedArgument { .. } => None,
        }
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
