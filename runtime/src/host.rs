//! The seam between Lua and data: every `nk.*` function that reads or writes accounts,
//! storage, friends, sessions, leaderboards or tournaments calls one of these methods,
//! which `node` implements over the same `core` functions its REST and socket handlers use.
//!
//! Methods are synchronous because Lua calls them synchronously, possibly inline on a tokio
//! worker; an implementation over async code blocks on it inside
//! [`crate::blocking::section`] (`Handle::block_on` is allowed there). User ids are
//! UUID strings, validated by the caller where Nakama validates them in Lua, and again by
//! the implementation. Errors are the client-visible [`Status`]; `nk.*` raises them in Lua.

use std::collections::BTreeMap;

use shoal_proto::{
    Account, ChannelMessageAck, FriendList, MatchInfo, MatchListQuery, NotificationSend, Stream, StreamPresence, Leaderboard, LeaderboardList, LeaderboardRecord, LeaderboardRecordList, Status, StorageObject,
    StorageObjectAck, Tournament, TournamentList, User,
};

/// The outcome of `nk.authenticate_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    pub user_id: String,
    pub username: String,
    /// Whether the account was created by this call.
    pub created: bool,
}

/// `nk.account_update_id`: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    /// A JSON object, as text.
    pub metadata: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub location: Option<String>,
    pub lang_tag: Option<String>,
    pub avatar_url: Option<String>,
}

/// Names one storage object for `storage_read` / `storage_delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageObjectId {
    pub collection: String,
    pub key: String,
    /// Owner; `None` is the system user (the nil UUID).
    pub user_id: Option<String>,
    /// For deletes: only delete if the stored version matches. Ignored by reads.
    pub version: Option<String>,
}

/// One object of an `nk.storage_write` batch. The runtime writes authoritatively: any
/// owner, any permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageWrite {
    pub collection: String,
    pub key: String,
    /// Owner; `None` is the system user (the nil UUID).
    pub user_id: Option<String>,
    /// A JSON object, as text.
    pub value: String,
    /// Nakama's OCC: `None` last write wins, `"*"` create only, else must match.
    pub version: Option<String>,
    /// 0 owner-only via runtime, 1 owner, 2 public. Default 1.
    pub permission_read: i32,
    /// 0 runtime only, 1 owner. Default 1.
    pub permission_write: i32,
}

/// A page of `nk.storage_list`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageList {
    pub objects: Vec<StorageObject>,
    /// `None` when there are no more pages.
    pub cursor: Option<String>,
}

/// `nk.leaderboard_create`, with Lua's defaults applied and names normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardCreate {
    pub id: String,
    pub authoritative: bool,
    /// `"asc"` or `"desc"`.
    pub sort_order: String,
    /// `"best"`, `"set"`, `"incr"` or `"decr"`.
    pub operator: String,
    /// CRON expression; empty means never reset.
    pub reset_schedule: String,
    /// A JSON object, as text.
    pub metadata: String,
    pub enable_ranks: bool,
}

/// Data operations available to Lua modules. See the module docs for conventions.
pub trait RuntimeHost: Send + Sync + 'static {
    /// `nk.authenticate_device`: find or (with `create`) create the account of a device id.
    fn authenticate_device(
        &self,
        id: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status>;

    /// `nk.authenticate_custom`.
    fn authenticate_custom(
        &self,
        id: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status>;

    /// `nk.authenticate_email` (the email is already lower-cased).
    fn authenticate_email(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status>;

    /// `nk.authenticate_token_generate`: a session token for the user. `exp` is absolute
    /// unix seconds; 0 means now + `session.token_expiry_sec`. Returns the token and its
    /// `exp`.
    fn authenticate_token_generate(
        &self,
        user_id: &str,
        username: &str,
        exp: i64,
        vars: &BTreeMap<String, String>,
    ) -> Result<(String, i64), Status>;

    /// `nk.accounts_get_id` / `account_get_id`: the accounts that exist, in any order.
    fn accounts_get_id(&self, user_ids: &[String]) -> Result<Vec<Account>, Status>;

    /// `nk.account_update_id`.
    fn account_update_id(&self, user_id: &str, update: &AccountUpdate) -> Result<(), Status>;

    /// `nk.account_delete_id`; `recorded` keeps a deletion record (Nakama's flag).
    fn account_delete_id(&self, user_id: &str, recorded: bool) -> Result<(), Status>;

    /// `nk.users_get_id`: the users that exist.
    fn users_get_id(&self, user_ids: &[String]) -> Result<Vec<User>, Status>;

    /// `nk.users_get_username`: the users that exist.
    fn users_get_username(&self, usernames: &[String]) -> Result<Vec<User>, Status>;

    /// `nk.storage_read`, as the runtime (every object is readable). Missing objects are
    /// left out.
    fn storage_read(&self, ids: &[StorageObjectId]) -> Result<Vec<StorageObject>, Status>;

    /// `nk.storage_write`: one atomic batch; acks in input order.
    fn storage_write(&self, writes: &[StorageWrite]) -> Result<Vec<StorageObjectAck>, Status>;

    /// `nk.storage_delete`: one atomic batch.
    fn storage_delete(&self, ids: &[StorageObjectId]) -> Result<(), Status>;

    /// `nk.storage_list`. `caller_id` `None` lists as the runtime (all objects of
    /// `user_id`, or every user's public objects when `user_id` is `None`); `Some` applies
    /// that user's read permissions as REST does.
    fn storage_list(
        &self,
        caller_id: Option<&str>,
        user_id: Option<&str>,
        collection: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<StorageList, Status>;

    /// `nk.friends_list`: `limit` 1–1000, `state` 0–3 or any.
    fn friends_list(
        &self,
        user_id: &str,
        limit: i64,
        state: Option<i32>,
        cursor: Option<&str>,
    ) -> Result<FriendList, Status>;

    /// `nk.friends_add`; `metadata` is a JSON object as text.
    fn friends_add(
        &self,
        user_id: &str,
        username: &str,
        ids: &[String],
        usernames: &[String],
        metadata: Option<&str>,
    ) -> Result<(), Status>;

    /// `nk.friends_delete`.
    fn friends_delete(
        &self,
        user_id: &str,
        username: &str,
        ids: &[String],
        usernames: &[String],
    ) -> Result<(), Status>;

    /// `nk.friends_block`.
    fn friends_block(
        &self,
        user_id: &str,
        username: &str,
        ids: &[String],
        usernames: &[String],
    ) -> Result<(), Status>;

    /// `nk.session_disconnect`: close a socket session wherever it is connected.
    fn session_disconnect(&self, session_id: &str, reason: Option<i32>) -> Result<(), Status>;

    /// `nk.session_logout`: revoke the given tokens, or all of the user's when both are `None`.
    fn session_logout(
        &self,
        user_id: &str,
        token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<(), Status>;

    /// `nk.leaderboard_create` (idempotent: an existing id is left as it is).
    fn leaderboard_create(&self, leaderboard: &LeaderboardCreate) -> Result<(), Status>;

    /// `nk.leaderboard_delete` (a tournament id deletes the tournament, as in Nakama).
    fn leaderboard_delete(&self, id: &str) -> Result<(), Status>;

    /// `nk.leaderboard_list`: leaderboards (not tournaments) in id order, `limit` 1–100.
    fn leaderboard_list(&self, limit: i64, cursor: Option<&str>) -> Result<LeaderboardList, Status>;

    /// `nk.leaderboards_get_id`: the leaderboards that exist, in the order asked.
    fn leaderboards_get_id(&self, ids: &[String]) -> Result<Vec<Leaderboard>, Status>;

    /// `nk.leaderboard_record_write` / `nk.tournament_record_write` (`tournament` picks the
    /// API and its rules), as the runtime: authoritative boards accept it.
    fn record_write(&self, tournament: bool, write: &ScoreWrite) -> Result<LeaderboardRecord, Status>;

    /// `nk.leaderboard_record_delete` / `nk.tournament_record_delete`, as the runtime.
    fn record_delete(&self, tournament: bool, id: &str, owner_id: &str) -> Result<(), Status>;

    /// `nk.leaderboard_records_list` / `nk.tournament_records_list`.
    fn records_list(&self, tournament: bool, query: &RecordsQuery) -> Result<LeaderboardRecordList, Status>;

    /// `nk.leaderboard_records_haystack` / `nk.tournament_records_haystack`: the page of
    /// records around `owner_id` (`query.owner_ids` holds just that owner).
    fn records_haystack(&self, tournament: bool, query: &RecordsQuery) -> Result<LeaderboardRecordList, Status>;

    /// `nk.leaderboard_records_list_cursor_from_rank`: a cursor that lists from `rank`
    /// (1-based) on; `expiry` 0 means the current partition.
    fn records_cursor_from_rank(&self, id: &str, rank: i64, expiry: i64) -> Result<String, Status>;

    /// `nk.tournament_create` (idempotent).
    fn tournament_create(&self, tournament: &TournamentCreate) -> Result<(), Status>;

    /// `nk.tournament_delete`.
    fn tournament_delete(&self, id: &str) -> Result<(), Status>;

    /// `nk.tournament_add_attempt`.
    fn tournament_add_attempt(&self, id: &str, owner_id: &str, count: i64) -> Result<(), Status>;

    /// `nk.tournament_join`.
    fn tournament_join(&self, id: &str, owner_id: &str, username: &str) -> Result<(), Status>;

    /// `nk.tournament_list`.
    fn tournament_list(&self, query: &TournamentQuery) -> Result<TournamentList, Status>;

    /// `nk.tournaments_get_id`: the tournaments that exist, in the order asked.
    fn tournaments_get_id(&self, ids: &[String]) -> Result<Vec<Tournament>, Status>;

    // ------------------------------------------------------------ realtime

    /// `nk.match_create`: starts an authoritative match of `module` on this node (its own
    /// VM, its own tick loop) with `params` (a JSON value, or `None` for nil); returns the
    /// match id `<uuid>.<node>` once `match_init` has succeeded.
    fn match_create(&self, module: &str, params: Option<serde_json::Value>) -> Result<String, Status>;

    /// `nk.match_get`: the match wherever it runs, or `None`.
    fn match_get(&self, match_id: &str) -> Result<Option<MatchInfo>, Status>;

    /// `nk.match_list`: matches across the cluster.
    fn match_list(&self, query: &MatchListQuery) -> Result<Vec<MatchInfo>, Status>;

    /// `nk.match_signal`: runs the match's `match_signal` on its owning node; returns the
    /// handler's result string (empty for nil).
    fn match_signal(&self, match_id: &str, data: &str) -> Result<String, Status>;

    /// `nk.stream_user_join`: tracks the session on the stream; `false` if it already was.
    /// Fails with `NotFound` when the session is not connected anywhere.
    fn stream_user_join(&self, stream: &Stream, presence: &StreamPresence) -> Result<bool, Status>;

    /// `nk.stream_user_update`: changes an existing presence's flags and status; `false` if
    /// the session was not on the stream.
    fn stream_user_update(&self, stream: &Stream, presence: &StreamPresence) -> Result<bool, Status>;

    /// `nk.stream_user_leave` and `nk.stream_user_kick`: untracks the session.
    fn stream_user_leave(&self, stream: &Stream, user_id: &str, session_id: &str) -> Result<(), Status>;

    /// `nk.stream_user_list`: the stream's presences cluster-wide.
    fn stream_user_list(&self, stream: &Stream, include_hidden: bool, include_not_hidden: bool) -> Result<Vec<StreamPresence>, Status>;

    /// `nk.stream_user_get`: one session's presence on the stream, or `None`.
    fn stream_user_get(&self, stream: &Stream, user_id: &str, session_id: &str) -> Result<Option<StreamPresence>, Status>;

    /// `nk.stream_count`: presences on the stream cluster-wide.
    fn stream_count(&self, stream: &Stream) -> Result<i64, Status>;

    /// `nk.stream_close`: untracks every presence on the stream.
    fn stream_close(&self, stream: &Stream) -> Result<(), Status>;

    /// `nk.stream_send` (`raw = false`: `data` goes out as `stream_data`) and
    /// `nk.stream_send_raw` (`raw = true`: `data` is a whole envelope as JSON text). `None`
    /// sends to every presence on the stream.
    fn stream_send(&self, stream: &Stream, data: &str, presences: Option<&[StreamPresence]>, reliable: bool, raw: bool) -> Result<(), Status>;

    /// `nk.notification_send` / `nk.notifications_send`: persists the persistent ones and
    /// pushes all to the users' sockets on any node.
    fn notifications_send(&self, notifications: &[NotificationSend]) -> Result<(), Status>;

    /// `nk.channel_message_send`: `content` is a JSON object as text; empty sender means the
    /// system user.
    fn channel_message_send(
        &self,
        channel_id: &str,
        content: &str,
        sender_id: &str,
        sender_username: &str,
        persist: bool,
    ) -> Result<ChannelMessageAck, Status>;
}

/// A score submission from Lua (`nk.leaderboard_record_write`, `nk.tournament_record_write`).
/// Lua has checked that `id` is non-empty and `owner_id` a UUID, and for leaderboards (not
/// tournaments, as in Nakama) that score and subscore are >= 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoreWrite {
    pub id: String,
    pub owner_id: String,
    /// Replaces the stored username when given (Lua's nil and "" are both `None`).
    pub username: Option<String>,
    pub score: i64,
    pub subscore: i64,
    /// A JSON object, as text; replaces the stored metadata when given.
    pub metadata: Option<String>,
    /// `"best"`, `"set"`, `"incr"` or `"decr"`; `None` uses the board's operator.
    pub operator: Option<String>,
}

/// A records listing from Lua.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordsQuery {
    pub id: String,
    pub owner_ids: Vec<String>,
    /// `None`: Nakama's default for the call (Lua's nil or 0 in `records_list`, 0–10000
    /// otherwise). Haystacks always carry one, 1–100 (Lua's default 10).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Unix s of the partition to read; `None` (or 0) the current one.
    pub expiry: Option<i64>,
}

/// `nk.tournament_create`, with Lua's defaults applied and names normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TournamentCreate {
    pub id: String,
    pub authoritative: bool,
    /// `"asc"` or `"desc"`.
    pub sort_order: String,
    /// `"best"`, `"set"`, `"incr"` or `"decr"`.
    pub operator: String,
    /// Seconds; > 0.
    pub duration: i64,
    /// CRON expression; empty means never reset.
    pub reset_schedule: String,
    /// A JSON object, as text.
    pub metadata: String,
    pub title: String,
    pub description: String,
    /// 0–127.
    pub category: i64,
    /// Unix s; 0 = now.
    pub start_time: i64,
    /// Unix s; 0 = never ends.
    pub end_time: i64,
    pub max_size: i64,
    pub max_num_score: i64,
    pub join_required: bool,
    pub enable_ranks: bool,
}

/// `nk.tournament_list` filters, with Lua's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TournamentQuery {
    pub category_start: i64,
    pub category_end: i64,
    /// Unix s; -1: no filter.
    pub start_time: i64,
    /// Unix s; -1: no filter.
    pub end_time: i64,
    pub limit: i64,
    pub cursor: Option<String>,
}

/// A host with no data behind it: every data call fails with `Unavailable` ("no data is
/// reachable from this VM"). For running a bundle where data must not be touched:
/// validating a module bundle in a scratch VM before it is deployed, and measuring the
/// runtime on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct DetachedHost;

fn detached<T>() -> Result<T, Status> {
    Err(Status::new(shoal_proto::ErrorCode::Unavailable, "No data is reachable from this Lua VM."))
}

impl RuntimeHost for DetachedHost {
    fn authenticate_device(&self, _: &str, _: Option<&str>, _: bool) -> Result<AuthResult, Status> {
        detached()
    }
    fn authenticate_custom(&self, _: &str, _: Option<&str>, _: bool) -> Result<AuthResult, Status> {
        detached()
    }
    fn authenticate_email(&self, _: &str, _: &str, _: Option<&str>, _: bool) -> Result<AuthResult, Status> {
        detached()
    }
    fn authenticate_token_generate(
        &self,
        _: &str,
        _: &str,
        _: i64,
        _: &BTreeMap<String, String>,
    ) -> Result<(String, i64), Status> {
        detached()
    }
    fn accounts_get_id(&self, _: &[String]) -> Result<Vec<Account>, Status> {
        detached()
    }
    fn account_update_id(&self, _: &str, _: &AccountUpdate) -> Result<(), Status> {
        detached()
    }
    fn account_delete_id(&self, _: &str, _: bool) -> Result<(), Status> {
        detached()
    }
    fn users_get_id(&self, _: &[String]) -> Result<Vec<User>, Status> {
        detached()
    }
    fn users_get_username(&self, _: &[String]) -> Result<Vec<User>, Status> {
        detached()
    }
    fn storage_read(&self, _: &[StorageObjectId]) -> Result<Vec<StorageObject>, Status> {
        detached()
    }
    fn storage_write(&self, _: &[StorageWrite]) -> Result<Vec<StorageObjectAck>, Status> {
        detached()
    }
    fn storage_delete(&self, _: &[StorageObjectId]) -> Result<(), Status> {
        detached()
    }
    fn storage_list(&self, _: Option<&str>, _: Option<&str>, _: &str, _: i64, _: Option<&str>) -> Result<StorageList, Status> {
        detached()
    }
    fn friends_list(&self, _: &str, _: i64, _: Option<i32>, _: Option<&str>) -> Result<FriendList, Status> {
        detached()
    }
    fn friends_add(&self, _: &str, _: &str, _: &[String], _: &[String], _: Option<&str>) -> Result<(), Status> {
        detached()
    }
    fn friends_delete(&self, _: &str, _: &str, _: &[String], _: &[String]) -> Result<(), Status> {
        detached()
    }
    fn friends_block(&self, _: &str, _: &str, _: &[String], _: &[String]) -> Result<(), Status> {
        detached()
    }
    fn session_disconnect(&self, _: &str, _: Option<i32>) -> Result<(), Status> {
        detached()
    }
    fn session_logout(&self, _: &str, _: Option<&str>, _: Option<&str>) -> Result<(), Status> {
        detached()
    }
    fn leaderboard_create(&self, _: &LeaderboardCreate) -> Result<(), Status> {
        detached()
    }
    fn leaderboard_delete(&self, _: &str) -> Result<(), Status> {
        detached()
    }
    fn leaderboard_list(&self, _: i64, _: Option<&str>) -> Result<LeaderboardList, Status> {
        detached()
    }
    fn leaderboards_get_id(&self, _: &[String]) -> Result<Vec<Leaderboard>, Status> {
        detached()
    }
    fn record_write(&self, _: bool, _: &ScoreWrite) -> Result<LeaderboardRecord, Status> {
        detached()
    }
    fn record_delete(&self, _: bool, _: &str, _: &str) -> Result<(), Status> {
        detached()
    }
    fn records_list(&self, _: bool, _: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        detached()
    }
    fn records_haystack(&self, _: bool, _: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        detached()
    }
    fn records_cursor_from_rank(&self, _: &str, _: i64, _: i64) -> Result<String, Status> {
        detached()
    }
    fn tournament_create(&self, _: &TournamentCreate) -> Result<(), Status> {
        detached()
    }
    fn tournament_delete(&self, _: &str) -> Result<(), Status> {
        detached()
    }
    fn tournament_add_attempt(&self, _: &str, _: &str, _: i64) -> Result<(), Status> {
        detached()
    }
    fn tournament_join(&self, _: &str, _: &str, _: &str) -> Result<(), Status> {
        detached()
    }
    fn tournament_list(&self, _: &TournamentQuery) -> Result<TournamentList, Status> {
        detached()
    }
    fn tournaments_get_id(&self, _: &[String]) -> Result<Vec<Tournament>, Status> {
        detached()
    }
    fn match_create(&self, _: &str, _: Option<serde_json::Value>) -> Result<String, Status> {
        detached()
    }
    fn match_get(&self, _: &str) -> Result<Option<MatchInfo>, Status> {
        detached()
    }
    fn match_list(&self, _: &MatchListQuery) -> Result<Vec<MatchInfo>, Status> {
        detached()
    }
    fn match_signal(&self, _: &str, _: &str) -> Result<String, Status> {
        detached()
    }
    fn stream_user_join(&self, _: &Stream, _: &StreamPresence) -> Result<bool, Status> {
        detached()
    }
    fn stream_user_update(&self, _: &Stream, _: &StreamPresence) -> Result<bool, Status> {
        detached()
    }
    fn stream_user_leave(&self, _: &Stream, _: &str, _: &str) -> Result<(), Status> {
        detached()
    }
    fn stream_user_list(&self, _: &Stream, _: bool, _: bool) -> Result<Vec<StreamPresence>, Status> {
        detached()
    }
    fn stream_user_get(&self, _: &Stream, _: &str, _: &str) -> Result<Option<StreamPresence>, Status> {
        detached()
    }
    fn stream_count(&self, _: &Stream) -> Result<i64, Status> {
        detached()
    }
    fn stream_close(&self, _: &Stream) -> Result<(), Status> {
        detached()
    }
    fn stream_send(&self, _: &Stream, _: &str, _: Option<&[StreamPresence]>, _: bool, _: bool) -> Result<(), Status> {
        detached()
    }
    fn notifications_send(&self, _: &[NotificationSend]) -> Result<(), Status> {
        detached()
    }
    fn channel_message_send(&self, _: &str, _: &str, _: &str, _: &str, _: bool) -> Result<ChannelMessageAck, Status> {
        detached()
    }
}
