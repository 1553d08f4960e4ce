//! What nodes send each other for the realtime layer (bincode over `shoal_cluster::Mesh`).

use serde::{Deserialize, Serialize};
use shoal_proto::{ErrorCode, MatchInfo, MatchListQuery, Status, Stream};

use super::tracker::{Delta, PresenceWire};

/// One-way frames, ordered per sender.
#[derive(Debug, Serialize, Deserialize)]
pub enum Frame {
    /// Sent every heartbeat interval: liveness, and the sender's latest delta number (a
    /// receiver that has applied fewer lost a frame and resynchronises).
    Heartbeat { node: String, generation: u64, seq: u64 },
    /// A change of the sender's own presences.
    Delta { node: String, generation: u64, seq: u64, delta: Delta },
    /// A message (JSON envelope text) for sessions connected to the receiver.
    Deliver { sessions: Vec<[u8; 16]>, text: String },
    /// Data from a member for a match the receiver owns.
    MatchData { match_id: [u8; 16], sender: MatchPresenceWire, op_code: i64, data: Option<Vec<u8>>, reliable: bool, sent_at_us: i64 },
    /// Close sessions connected to the receiver.
    Disconnect { sessions: Vec<[u8; 16]>, reason: String },
    /// Close every session of a user on the receiver except one (`session.single_socket`).
    DisconnectUser { user_id: [u8; 16], except: [u8; 16] },
    /// Untrack the receiver's sessions from a stream (a match kick).
    Untrack { stream: Stream, sessions: Vec<[u8; 16]> },
    /// A matchmaker result for one of the receiver's sessions.
    Matched { session: [u8; 16], ticket: String, text: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchPresenceWire {
    pub user_id: String,
    pub session_id: String,
    pub username: String,
    pub node: String,
}

/// A session's identity, for a join attempt on another node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinerWire {
    pub presence: MatchPresenceWire,
    pub vars: Vec<(String, String)>,
    pub expiry: i64,
    pub lang: String,
    pub client_ip: String,
    pub client_port: String,
    pub metadata: Vec<(String, String)>,
}

/// A matchmaker ticket travelling to the pool's node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketWire {
    pub ticket: String,
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    pub node: String,
    pub query: String,
    pub min_count: i64,
    pub max_count: i64,
    pub count_multiple: i64,
    pub string_properties: Vec<(String, String)>,
    pub numeric_properties: Vec<(String, f64)>,
}

/// Requests, each answered by one [`Reply`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Every presence of the receiver's sessions, and its delta number.
    Snapshot,
    JoinAttempt { match_id: [u8; 16], joiner: JoinerWire },
    Signal { match_id: [u8; 16], data: String },
    MatchGet { match_id: [u8; 16] },
    /// The receiver's authoritative matches that pass the filters.
    MatchList(MatchListQuery),
    MatchmakerAdd(TicketWire),
    MatchmakerRemove { ticket: String, session_id: String },
    MatchmakerRemoveSession { session_id: String },
    /// Track/untrack one of the receiver's sessions (`nk.stream_user_*` from another node).
    StreamTrack { presence: PresenceWire, update_only: bool },
    StreamUntrack { stream: Stream, session_id: [u8; 16] },
    /// Swap in the committed module bundle `version` (a rollout step).
    Upgrade { version: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Snapshot { generation: u64, seq: u64, presences: Vec<PresenceWire> },
    Joined { label: String },
    Signal(String),
    Match(Option<MatchInfoWire>),
    Matches(Vec<MatchInfoWire>),
    Ticket(String),
    Bool(bool),
    Done,
    Error { code: i32, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchInfoWire {
    pub match_id: String,
    pub authoritative: bool,
    pub label: Option<String>,
    pub size: i32,
    pub tick_rate: i32,
    pub handler_name: String,
    pub create_ms: i64,
}

impl From<MatchInfoWire> for MatchInfo {
    fn from(w: MatchInfoWire) -> Self {
        MatchInfo {
            match_id: w.match_id,
            authoritative: w.authoritative,
            label: w.label,
            size: w.size,
            tick_rate: w.tick_rate,
            handler_name: w.handler_name,
        }
    }
}

impl Reply {
    pub fn error(s: &Status) -> Reply {
        Reply::Error { code: s.code().as_i32(), message: s.message.clone() }
    }

    /// The error a peer answered with, as a `Status`.
    pub fn into_status(code: i32, message: String) -> Status {
        Status::new(ErrorCode::from_i32(code as i64).unwrap_or(ErrorCode::Internal), message)
    }
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    shoal_storage::encode(v)
}

pub fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Option<T> {
    shoal_storage::decode(b).ok()
}
