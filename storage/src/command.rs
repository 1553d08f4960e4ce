//! The commands proposed to Raft and their replies. Proposers stamp ids, times and versions,
//! so applying a command is deterministic on every replica.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use shoal_proto::Status;

use crate::channel_messages::ChannelMessageRecord;
use crate::leaderboard::{Leaderboard, Operator, RankedRecord, Window};
use crate::notifications::NotificationRecord;
use crate::records::UserRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Create a user with its identifiers (device/custom/email are taken from the record).
    CreateUser { user: UserRecord },
    UpdateUser { user_id: Uuid, update: UserUpdate, now: i64 },
    /// Delete a user, its identifiers, storage objects, friend edges, leaderboard records and
    /// notifications, and revoke its tokens.
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
    /// Leaderboards and tournaments.
    Leaderboard(LeaderboardCommand),
    /// Persistent notifications.
    Notification(NotificationCommand),
    /// Persisted chat history.
    ChannelMessage(ChannelMessageCommand),
    /// The cluster's Lua module bundle.
    Bundle(BundleCommand),
}

/// Persistent notifications. The proposer stamps ids (v4) and creation times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NotificationCommand {
    /// Store notifications, each for its `user_id`. Every recipient must exist or nothing is
    /// stored (`Rejection::UserNotFound`, Nakama's foreign key). An id already stored for
    /// its recipient is skipped, so a retried proposal stores it once.
    Create { notifications: Vec<NotificationRecord> },
    /// Delete `user_id`'s notifications with these ids; other ids are ignored.
    Delete { user_id: Uuid, ids: Vec<Uuid> },
}

/// Persisted chat messages of a channel (its stream). Only the sender may update or
/// remove a message (Nakama's `WHERE id = $1 AND sender_id = $2`), and only through the
/// channel it was sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelMessageCommand {
    /// Persist a message (id, times stamped by the proposer). Replies
    /// `Reply::ChannelMessage` with it; a repeated id is stored once.
    Write { stream: shoal_proto::Stream, message: ChannelMessageRecord },
    /// Replace a message's content and username and set its update time (unix s); its code
    /// and create time stay. Replies `Reply::ChannelMessage` with the stored message, or
    /// `Rejection::ChannelMessageUpdateNotFound`.
    Update { stream: shoal_proto::Stream, id: Uuid, sender_id: Uuid, username: String, content: String, now: i64 },
    /// Delete a message. Replies `Reply::ChannelMessage` with the removed message, or
    /// `Rejection::ChannelMessageRemoveNotFound`.
    Remove { stream: shoal_proto::Stream, id: Uuid, sender_id: Uuid },
}

/// Leaderboard and tournament writes. The proposer stamps `now` (unix s) and the
/// [`Window`] from [`crate::schedule::window`] for the definition it read; apply checks the
/// rules against them and never reads a clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LeaderboardCommand {
    /// Create a leaderboard or tournament; an existing id is left as it is. Replies
    /// `Reply::LeaderboardCreated`.
    Create { board: Leaderboard },
    /// Delete a definition with all its records, partitions, sizes and reset markers. A
    /// missing board is not an error (Nakama treats it as success).
    Delete { id: String },
    /// Write a score. Replies `Reply::LeaderboardRecord` with the record as stored and its
    /// rank from the rank cache after the write (0 without `enable_ranks`).
    RecordWrite(RecordWrite),
    /// Delete one owner's record in the partition `window.expiry`. `tournament` selects
    /// Nakama's tournament (`true`) or leaderboard (`false`) rules and errors.
    RecordDelete { board: String, owner: Uuid, caller: Option<Uuid>, tournament: bool, window: Window },
    /// Join a `join_required` tournament: inserts a record with num_score 0 (score 0) and
    /// counts the entrant against `max_size`. Joining twice, or a tournament without
    /// `join_required`, is a no-op. Replies `Reply::TournamentJoined`.
    TournamentJoin { board: String, owner: Uuid, username: String, window: Window, now: i64 },
    /// Raise (or lower, count < 0) an entrant's `max_num_score` in the current partition; a
    /// missing record is a no-op, as in Nakama.
    TournamentAddAttempt { board: String, owner: Uuid, count: i64, window: Window, now: i64 },
    /// Records that the reset of `board` at `reset_time` happened, once cluster-wide, so the
    /// node runs `register_leaderboard_reset` / `register_tournament_reset` once. Replies
    /// `Reply::LeaderboardReset { new }`; `new = false` when it was already recorded (or
    /// the board no longer exists).
    Reset { board: String, reset_time: i64 },
}

/// One score submission (`nk.leaderboard_record_write`, `nk.tournament_record_write`,
/// `POST /v2/leaderboard/{id}`, `PUT /v2/tournament/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordWrite {
    pub board: String,
    pub owner: Uuid,
    /// Replaces the stored username when given.
    pub username: Option<String>,
    pub score: i64,
    pub subscore: i64,
    /// JSON object text; replaces the stored metadata when given.
    pub metadata: Option<String>,
    /// The request's operator override (`None` = the board's operator).
    pub operator: Option<Operator>,
    /// `None` for the runtime (authoritative); `Some(user)` for a client.
    pub caller: Option<Uuid>,
    /// `true` for the tournament API (tournament rules and errors), `false` for the
    /// leaderboard API (a tournament id is then "Leaderboard not found.").
    pub tournament: bool,
    /// Partition and active period at `now`, from [`crate::schedule::window`].
    pub window: Window,
    /// Unix s; becomes create/update time.
    pub now: i64,
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
    /// `created = false` when the id already existed; `board` is the stored definition.
    LeaderboardCreated { board: Leaderboard, created: bool },
    /// The record after a write, ranked from the rank cache after the write.
    LeaderboardRecord(RankedRecord),
    /// `joined = false` when already joined or the tournament needs no join.
    TournamentJoined { joined: bool },
    /// Whether this reset was recorded now for the first time.
    LeaderboardReset { new: bool },
    /// One response per command of a `Batch`, in order.
    Batch(Vec<Response>),
    /// A channel message as stored after a write, update or removal.
    ChannelMessage(ChannelMessageRecord),
    /// The current bundle's version after a bundle command.
    Bundle { version: String },
}

/// Module bundle writes. Replies `Reply::Bundle` with the current bundle's version after
/// the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BundleCommand {
    /// The first bundle: stored only when the cluster has none (a node's local modules
    /// seed it; whichever seed commits first wins).
    Seed(crate::bundles::BundleRecord),
    /// Deploy: the record becomes current and the current one becomes the previous (a
    /// record with the current version changes nothing).
    Commit(crate::bundles::BundleRecord),
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
    LeaderboardNotFound,
    LeaderboardAuthoritative,
    LeaderboardAuthoritativeDelete,
    TournamentNotFound,
    /// A client write after `end_time` (Nakama's API checks this before the window).
    TournamentEnded,
    TournamentAuthoritative,
    TournamentAuthoritativeDelete,
    TournamentOutsideDuration,
    TournamentMaxSize,
    TournamentMaxNumScore,
    TournamentJoinRequired,
    TournamentJoinFull,
    TournamentJoinOutsideDuration,
    /// No such persisted message in the channel from this sender.
    ChannelMessageUpdateNotFound,
    ChannelMessageRemoveNotFound,
}

impl Rejection {
    pub fn to_status(&self) -> Status {
        use shoal_proto::ErrorCode::*;
        let (code, msg) = match self {
            Rejection::UsernameTaken => (AlreadyExists, "Username is already in use."),
            Rejection::UserNotFound => (NotFound, "User account not found."),
            Rejection::DeviceInUse => (AlreadyExists, "Device ID already in use."),
            Rejection::CustomInUse => (AlreadyExists, "Custom ID is already in use."),
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
            Rejection::LeaderboardNotFound => (NotFound, "Leaderboard not found."),
            Rejection::LeaderboardAuthoritative => {
                (PermissionDenied, "Leaderboard only allows authoritative score submissions.")
            }
            Rejection::LeaderboardAuthoritativeDelete => {
                (PermissionDenied, "Leaderboard only allows authoritative score deletions.")
            }
            Rejection::TournamentNotFound => (NotFound, "Tournament not found."),
            Rejection::TournamentEnded => (NotFound, "Tournament not found or has ended."),
            Rejection::TournamentAuthoritative => {
                (PermissionDenied, "Tournament only allows authoritative score submissions.")
            }
            Rejection::TournamentAuthoritativeDelete => {
                (PermissionDenied, "Tournament only allows authoritative score deletions.")
            }
            Rejection::TournamentOutsideDuration => {
                (FailedPrecondition, "Tournament is not active and cannot accept new scores.")
            }
            Rejection::TournamentMaxSize => (FailedPrecondition, "Tournament has reached max size."),
            Rejection::TournamentMaxNumScore => {
                (FailedPrecondition, "Reached allowed max number of score attempts.")
            }
            Rejection::TournamentJoinRequired => {
                (FailedPrecondition, "Must join tournament before attempting to write value.")
            }
            Rejection::TournamentJoinFull => {
                (InvalidArgument, "Tournament cannot be joined as it has reached its max size.")
            }
            Rejection::TournamentJoinOutsideDuration => {
                (InvalidArgument, "Tournament is not active and cannot accept new joins.")
            }
            Rejection::ChannelMessageUpdateNotFound => {
                (InvalidArgument, "Could not find message to update in channel history")
            }
            Rejection::ChannelMessageRemoveNotFound => {
                (InvalidArgument, "Could not find message to remove in channel history")
            }
        };
        Status::new(code, msg)
    }
}

/// What applying one log entry returns to the proposer.
pub type Response = Result<Reply, Rejection>;
