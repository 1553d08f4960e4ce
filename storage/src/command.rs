//! The commands proposed to Raft and their replies. Proposers stamp ids, times and versions,
//! so applying a command is deterministic on every replica.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use shoal_proto::Status;

use crate::records::UserRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Create a user with its identifiers (device/custom/email are taken from the record).
    CreateUser { user: UserRecord },
    UpdateUser { user_id: Uuid, update: UserUpdate, now: i64 },
    /// Delete a user, its identifiers, storage objects and friend edges, and revoke its tokens.
    DeleteUser { user_id: Uuid, now: i64 },
    Link { user_id: Uuid, link: Identity, now: i64 },
    Unlink { user_id: Uuid, link: Identity, now: i64 },
    StorageWrite { ops: Vec<StorageWriteOp>, now: i64 },
    StorageDelete { ops: Vec<StorageDeleteOp> },
    FriendsAdd { user_id: Uuid, targets: Vec<Uuid>, metadata: String, now: i64, position: i64 },
    FriendsDelete { user_id: Uuid, targets: Vec<Uuid> },
    FriendsBlock { user_id: Uuid, targets: Vec<Uuid>, now: i64, position: i64 },
    /// Deny-list token ids until their expiry (unix s).
    RevokeTokens { session: Vec<(String, i64)>, refresh: Vec<(String, i64)> },
    /// Deny every token of a user issued before `before` (unix s).
    RevokeAllBefore { user_id: Uuid, before: i64 },
    /// Independent commands coalesced by a proposer into one log entry; each is applied (or
    /// rejected) on its own, as if proposed alone, in order.
    Batch(Vec<Command>),
}

/// A login identifier, for link/unlink. `Email` carries the bcrypt hash when linking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Identity {
    Device(String),
    Custom(String),
    Email { email: String, password_hash: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserUpdate {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub lang_tag: Option<String>,
    pub location: Option<String>,
    pub timezone: Option<String>,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VersionCheck {
    /// Last write wins.
    Any,
    /// `version: "*"`: only if absent.
    Absent,
    /// Only if the object exists with this version.
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageWriteOp {
    pub collection: String,
    pub key: String,
    pub user_id: Uuid,
    pub value: String,
    /// hex md5 of `value`, computed by the proposer.
    pub version: String,
    pub check: VersionCheck,
    pub read: u8,
    pub write: u8,
    /// `None` for the runtime (authoritative); `Some(user)` for a client, whose writes are
    /// refused on objects with `write = 0`.
    pub caller: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageDeleteOp {
    pub collection: String,
    pub key: String,
    pub user_id: Uuid,
    pub version: Option<String>,
    pub caller: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageAck {
    pub collection: String,
    pub key: String,
    pub user_id: Uuid,
    pub version: String,
    pub create_time: i64,
    pub update_time: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    #[default]
    Done,
    /// The user a `CreateUser` produced, or the existing owner of its identifier if another
    /// proposal claimed it first (`created = false`).
    User { user: UserRecord, created: bool },
    StorageAcks(Vec<StorageAck>),
    /// One response per command of a `Batch`, in order.
    Batch(Vec<Response>),
}

/// Deterministic refusals: the command was applied as a no-op. Each maps to Nakama's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    UsernameTaken,
    UserNotFound,
    DeviceInUse,
    CustomInUse,
    EmailInUse,
    LastIdentifier,
    StorageVersionCheck,
    StoragePermission,
    StorageDeleteRejected,
}

impl Rejection {
    pub fn to_status(&self) -> Status {
        use shoal_proto::ErrorCode::*;
        let (code, msg) = match self {
            Rejection::UsernameTaken => (AlreadyExists, "Username is already in use."),
            Rejection::UserNotFound => (NotFound, "User account not found."),
            Rejection::DeviceInUse => (AlreadyExists, "Device ID already in use."),
            Rejection::CustomInUse => (AlreadyExists, "Custom ID already in use."),
            Rejection::EmailInUse => (AlreadyExists, "Email already in use."),
            Rejection::LastIdentifier => (
                PermissionDenied,
                "Cannot unlink last account identifier. Check profile exists and is not last link.",
            ),
            Rejection::StorageVersionCheck => {
                (InvalidArgument, "Storage write rejected - version check failed.")
            }
            Rejection::StoragePermission => {
                (InvalidArgument, "Storage write rejected - permission denied.")
            }
            Rejection::StorageDeleteRejected => (
                InvalidArgument,
                "Storage delete rejected - not found, version check failed, or permission denied.",
            ),
        };
        Status::new(code, msg)
    }
}

/// What applying one log entry returns to the proposer.
pub type Response = Result<Reply, Rejection>;
