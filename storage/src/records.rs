//! The records the state machine stores (bincode in RocksDB's `data` column family).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub avatar_url: String,
    pub lang_tag: String,
    pub location: String,
    pub timezone: String,
    /// JSON object text.
    pub metadata: String,
    /// JSON object text.
    pub wallet: String,
    pub email: String,
    /// bcrypt hash; empty when no email is linked.
    pub password_hash: String,
    pub custom_id: String,
    pub devices: Vec<String>,
    pub edge_count: i32,
    pub create_time: i64,
    pub update_time: i64,
    pub verify_time: Option<i64>,
    pub disable_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageRecord {
    /// JSON object text, stored exactly as written.
    pub value: String,
    /// hex md5 of `value`.
    pub version: String,
    pub read: u8,
    pub write: u8,
    pub create_time: i64,
    pub update_time: i64,
}

/// Nakama's friend states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FriendState {
    Friend = 0,
    InviteSent = 1,
    InviteReceived = 2,
    Blocked = 3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendEdge {
    pub state: FriendState,
    pub update_time: i64,
    /// Insertion order among a user's edges (the proposer's clock, in nanoseconds).
    pub position: i64,
    pub metadata: String,
}
