//! Shoal's wire vocabulary: ids, the error model and Nakama's REST message types as serde
//! structs that follow protojson's conventions (snake_case out, both casings in, zero values
//! omitted, int64 as strings, RFC 3339 times).
//!
//! This crate does no I/O and imports nothing else of ours; every other crate may use it.

mod api;
mod channel;
mod error;
mod leaderboard;
mod realtime;
pub mod json;
pub mod query;

pub use api::*;
pub use channel::*;
pub use leaderboard::*;
pub use realtime::*;
pub use error::{ErrorCode, Status};

/// The system user (owner of runtime-written objects): the nil UUID.
pub const SYSTEM_USER_ID: uuid::Uuid = uuid::Uuid::nil();
