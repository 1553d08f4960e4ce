//! Node configuration for Shoal: the typed [`NodeConfig`] tree with Nakama's YAML keys,
//! loading it the way Nakama's CLI does (`--config FILE.yml` files, then `SHOAL__…`
//! environment variables, then `--section.key value` flags), and [`NodeConfig::validate`].
//!
//! This crate imports nothing of ours; every other crate may depend on it.
//!
//! ```no_run
//! let config = shoal_config::load(std::env::args().skip(1))?;
//! for warning in config.default_secret_warnings() {
//!     eprintln!("{warning}");
//! }
//! # Ok::<(), shoal_config::ConfigError>(())
//! ```

mod error;
mod loader;
mod node;
mod sections;
mod validate;

pub use error::ConfigError;
pub use loader::ENV_PREFIX;
pub use node::{NodeConfig, load};
pub use sections::{
    ClusterConfig, ClusterTlsConfig, ConsoleConfig, LeaderboardConfig, LoggerConfig, MatchConfig,
    MatchmakerConfig, RuntimeConfig, SessionConfig, SocketConfig,
};
