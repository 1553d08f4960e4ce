//! Leaderboard and tournament messages (`nakama.api`), in proto field order.

use serde::{Deserialize, Serialize};

use crate::json::{self, is_false, is_zero_i32, is_zero_i64};

fn is_empty(s: &str) -> bool {
    s.is_empty()
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

// ---------------------------------------------------------------- outbound

/// `Leaderboard` (a board's definition as the API and `nk.leaderboard_list` show it).
/// `prev_reset`/`next_reset` are unix seconds, 0 when the board never resets.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Leaderboard {
    pub id: String,
    /// 0 asc, 1 desc.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub sort_order: u32,
    /// Enum `Operator` as its number (BEST=1, SET=2, INCREMENT=3, DECREMENT=4).
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub operator: i32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub prev_reset: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub next_reset: u32,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub authoritative: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LeaderboardList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leaderboards: Vec<Leaderboard>,
    #[serde(skip_serializing_if = "is_empty")]
    pub cursor: String,
}

/// `LeaderboardRecord`. `username` is a StringValue: present whenever the record has one.
/// `expiry_time` is absent for records that never expire; `rank` is absent when 0.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LeaderboardRecord {
    pub leaderboard_id: String,
    pub owner_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(with = "json::int64", skip_serializing_if = "is_zero_i64")]
    pub score: i64,
    #[serde(with = "json::int64", skip_serializing_if = "is_zero_i64")]
    pub subscore: i64,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub num_score: i32,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
    #[serde(with = "json::opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<i64>,
    #[serde(with = "json::int64", skip_serializing_if = "is_zero_i64")]
    pub rank: i64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub max_num_score: u32,
}

/// `LeaderboardRecordList`, also `TournamentRecordList`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LeaderboardRecordList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<LeaderboardRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner_records: Vec<LeaderboardRecord>,
    #[serde(skip_serializing_if = "is_empty")]
    pub next_cursor: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub prev_cursor: String,
    #[serde(with = "json::int64", skip_serializing_if = "is_zero_i64")]
    pub rank_count: i64,
}

/// `Tournament`. Times are unix seconds as uint32, except the three Timestamps.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Tournament {
    pub id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub category: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub sort_order: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub size: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub max_size: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub max_num_score: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub can_enter: bool,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub end_active: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub next_reset: u32,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub start_time: i64,
    #[serde(with = "json::opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub duration: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub start_active: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub prev_reset: u32,
    /// Enum `Operator` as its number.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub operator: i32,
    #[serde(skip_serializing_if = "is_false")]
    pub authoritative: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub join_required: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TournamentList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tournaments: Vec<Tournament>,
    #[serde(skip_serializing_if = "is_empty")]
    pub cursor: String,
}

// ---------------------------------------------------------------- inbound

/// `WriteLeaderboardRecordRequest.LeaderboardRecordWrite` (the `record` body of
/// `POST /v2/leaderboard/{id}` and `PUT|POST /v2/tournament/{id}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LeaderboardRecordWrite {
    #[serde(with = "json::int64")]
    pub score: i64,
    #[serde(with = "json::int64")]
    pub subscore: i64,
    #[serde(deserialize_with = "json::null_as_default")]
    pub metadata: String,
    /// `NO_OVERRIDE=0, BEST=1, SET=2, INCREMENT=3, DECREMENT=4`, as a number or its name.
    #[serde(deserialize_with = "json::operator::deserialize")]
    pub operator: i32,
}

/// The query of `GET /v2/leaderboard/{id}` and `GET /v2/tournament/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListLeaderboardRecordsRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub owner_ids: Vec<String>,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
    #[serde(deserialize_with = "json::opt_int64::deserialize")]
    pub expiry: Option<i64>,
}

/// The query of `GET /v2/leaderboard/{id}/owner/{owner_id}` (and the tournament one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListAroundOwnerRequest {
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::opt_int64::deserialize")]
    pub expiry: Option<i64>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
}

/// The query of `GET /v2/tournament`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListTournamentsRequest {
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub category_start: Option<i32>,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub category_end: Option<i32>,
    #[serde(deserialize_with = "json::opt_int64::deserialize")]
    pub start_time: Option<i64>,
    #[serde(deserialize_with = "json::opt_int64::deserialize")]
    pub end_time: Option<i64>,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
}
