//! Realtime vocabulary shared by the socket pipeline, the Lua runtime and storage: streams
//! and presences, notifications, chat messages and match listings. Outbound shapes follow
//! protojson (snake_case, zero values omitted, int64 as strings, RFC 3339 times).

use serde::{Deserialize, Serialize};

use crate::json::{self, is_false, is_zero_i32};

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

/// Stream modes (N `server/tracker.go StreamMode*`). Other values are free for modules.
pub mod stream_mode {
    pub const NOTIFICATIONS: u8 = 0;
    pub const STATUS: u8 = 1;
    pub const CHANNEL: u8 = 2;
    pub const GROUP: u8 = 3;
    pub const DM: u8 = 4;
    pub const MATCH_RELAYED: u8 = 5;
    pub const MATCH_AUTHORITATIVE: u8 = 6;
    pub const PARTY: u8 = 7;
}

/// A stream: what presences are tracked on and messages are sent to. `subject` and
/// `subcontext` are UUID strings or empty; `label` free text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stream {
    pub mode: u8,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub subcontext: String,
    #[serde(default)]
    pub label: String,
}

/// The wire form of a stream (`rtapi.Stream`): mode as int32, empty fields omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamWire {
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub mode: i32,
    #[serde(skip_serializing_if = "is_empty")]
    pub subject: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub subcontext: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub label: String,
}

impl From<&Stream> for StreamWire {
    fn from(s: &Stream) -> Self {
        StreamWire { mode: s.mode as i32, subject: s.subject.clone(), subcontext: s.subcontext.clone(), label: s.label.clone() }
    }
}

/// One session's presence on a stream, as the runtime sees it (`nk.stream_user_list`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPresence {
    pub user_id: String,
    pub session_id: String,
    pub username: String,
    /// The name of the node the session is connected to.
    pub node: String,
    pub hidden: bool,
    pub persistence: bool,
    pub status: String,
}

/// `rtapi.UserPresence`, the presence clients see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPresence {
    pub user_id: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub username: String,
    #[serde(skip_serializing_if = "is_false", default)]
    pub persistence: bool,
    /// `StringValue`: absent when the presence has no status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
}

/// `api.Notification`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub id: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub subject: String,
    /// A JSON object, as text.
    #[serde(skip_serializing_if = "is_empty", default)]
    pub content: String,
    #[serde(skip_serializing_if = "is_zero_i32", default)]
    pub code: i32,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub sender_id: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(skip_serializing_if = "is_false", default)]
    pub persistent: bool,
}

/// One notification to send (`nk.notification_send`, `nk.notifications_send`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationSend {
    pub user_id: String,
    pub subject: String,
    /// A JSON object, as text.
    pub content: String,
    pub code: i32,
    /// Empty means the system user.
    pub sender_id: String,
    pub persistent: bool,
}

/// `api.NotificationList`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotificationList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
    #[serde(skip_serializing_if = "is_empty")]
    pub cacheable_cursor: String,
}

/// `api.ChannelMessage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelMessage {
    pub channel_id: String,
    pub message_id: String,
    /// `Int32Value`: always present (0 is a chat message).
    pub code: i32,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub sender_id: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub username: String,
    /// A JSON object, as text.
    pub content: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
    /// `BoolValue`: always present.
    pub persistent: bool,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub room_name: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub group_id: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub user_id_one: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub user_id_two: String,
}

/// `rtapi.ChannelMessageAck`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelMessageAck {
    pub channel_id: String,
    pub message_id: String,
    pub code: i32,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub username: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
    pub persistent: bool,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub room_name: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub group_id: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub user_id_one: String,
    #[serde(skip_serializing_if = "is_empty", default)]
    pub user_id_two: String,
}

impl From<&ChannelMessage> for ChannelMessageAck {
    fn from(m: &ChannelMessage) -> Self {
        ChannelMessageAck {
            channel_id: m.channel_id.clone(),
            message_id: m.message_id.clone(),
            code: m.code,
            username: m.username.clone(),
            create_time: m.create_time,
            update_time: m.update_time,
            persistent: m.persistent,
            room_name: m.room_name.clone(),
            group_id: m.group_id.clone(),
            user_id_one: m.user_id_one.clone(),
            user_id_two: m.user_id_two.clone(),
        }
    }
}

/// `api.ChannelMessageList`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelMessageList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ChannelMessage>,
    #[serde(skip_serializing_if = "is_empty")]
    pub next_cursor: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub prev_cursor: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub cacheable_cursor: String,
}

/// A match as listed (`nk.match_list`, `nk.match_get`, `GET /v2/match`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchInfo {
    pub match_id: String,
    pub authoritative: bool,
    /// `StringValue`: relayed matches have none.
    pub label: Option<String>,
    pub size: i32,
    /// Authoritative matches only (0 otherwise).
    pub tick_rate: i32,
    /// The Lua module of an authoritative match (empty otherwise).
    pub handler_name: String,
}

/// Filters of `nk.match_list` and `GET /v2/match`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchListQuery {
    pub limit: usize,
    pub authoritative: Option<bool>,
    pub label: Option<String>,
    pub min_size: Option<i32>,
    pub max_size: Option<i32>,
    /// Bluge query-string syntax over `label.*`; when set it wins over `label`.
    pub query: Option<String>,
}
