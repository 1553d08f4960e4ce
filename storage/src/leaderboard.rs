//! Leaderboard and tournament records, as stored (bincode) and replied.
//!
//! Like Nakama, a tournament is a leaderboard with extra fields (`Leaderboard::tournament`).
//! Records are partitioned by `expiry_time` (unix s, 0 = never expires): a board that
//! resets starts a new, empty partition at each reset and older partitions stay listable.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Nakama's sort orders (`0 = asc`, `1 = desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortOrder {
    /// Lower scores rank first; ties break on owner id ascending.
    Asc = 0,
    /// Higher scores rank first (Nakama's default); ties break on owner id descending.
    Desc = 1,
}

/// Nakama's write operators (internal numbering: best 0, set 1, incr 2, decr 3). The API
/// enum (`NO_OVERRIDE=0, BEST=1, SET=2, INCREMENT=3, DECREMENT=4`) maps onto these with
/// [`Operator::from_api`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// Keep the better score and, independently, the better subscore.
    Best,
    /// Overwrite both.
    Set,
    /// Add both.
    Incr,
    /// Subtract both, clamping each at 0.
    Decr,
}

impl Operator {
    /// The API's `Operator` enum value: `None` for `NO_OVERRIDE` (0) or an unknown value.
    pub fn from_api(v: i32) -> Option<Operator> {
        match v {
            1 => Some(Operator::Best),
            2 => Some(Operator::Set),
            3 => Some(Operator::Incr),
            4 => Some(Operator::Decr),
            _ => None,
        }
    }
    /// The API's enum value of this operator (BEST=1, SET=2, INCREMENT=3, DECREMENT=4).
    pub fn to_api(self) -> i32 {
        match self {
            Operator::Best => 1,
            Operator::Set => 2,
            Operator::Incr => 3,
            Operator::Decr => 4,
        }
    }
}

/// The columns a tournament adds to a leaderboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TournamentFields {
    pub title: String,
    pub description: String,
    /// 0–127 (validated by the proposer).
    pub category: u8,
    /// Seconds each active period lasts; > 0 (validated by the proposer).
    pub duration: i64,
    /// Unix s; the tournament is not active before.
    pub start_time: i64,
    /// Unix s; 0 = never ends.
    pub end_time: i64,
    /// Entrants per partition; 0 = unlimited.
    pub max_size: u32,
    /// Writes per entrant per partition; 0 = unlimited.
    pub max_num_score: u32,
    /// Entrants must `TournamentJoin` before writing.
    pub join_required: bool,
}

/// A leaderboard definition (Nakama's `leaderboard` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub id: String,
    /// Only the runtime (caller `None`) may write or delete records.
    pub authoritative: bool,
    pub sort_order: SortOrder,
    pub operator: Operator,
    /// CRON expression; empty = never resets.
    pub reset_schedule: String,
    /// JSON object text.
    pub metadata: String,
    /// Unix s.
    pub create_time: i64,
    /// Ranks are kept in the rank cache only when set (Nakama: otherwise ranks read 0).
    pub enable_ranks: bool,
    /// Present for tournaments.
    pub tournament: Option<TournamentFields>,
}

impl Leaderboard {
    pub fn is_tournament(&self) -> bool {
        self.tournament.is_some()
    }
}

/// One owner's record in one partition (Nakama's `leaderboard_record` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderboardRecord {
    pub leaderboard_id: String,
    pub owner_id: Uuid,
    /// Nakama's nullable `username`.
    pub username: Option<String>,
    pub score: i64,
    pub subscore: i64,
    /// Writes that changed the record (leaderboards) or every accepted write (tournaments);
    /// 0 for a tournament entrant who joined and has not written yet.
    pub num_score: i32,
    /// Tournament attempt limit for this entrant; 0 = unlimited.
    pub max_num_score: u32,
    /// JSON object text; `{}` by default.
    pub metadata: String,
    pub create_time: i64,
    pub update_time: i64,
    /// The partition; 0 = never expires.
    pub expiry_time: i64,
}

/// A record with its rank: positional in plain listings, from the rank cache elsewhere
/// (0 when the board has no ranks enabled, or the cache has no entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedRecord {
    pub record: LeaderboardRecord,
    pub rank: i64,
}

/// The partition and active period that apply to a write at some time, computed by the
/// proposer with [`crate::schedule::window`] and stamped into the command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start of the current active period (tournaments; 0 for leaderboards).
    pub start_active: i64,
    /// End of the current active period, exclusive (tournaments; 0 for leaderboards).
    pub end_active: i64,
    /// The partition records written now go to (0 = never expires).
    pub expiry: i64,
}

impl Window {
    /// Whether a tournament accepts scores at `now`: `start_active <= now < end_active`.
    pub fn is_active(&self, now: i64) -> bool {
        self.start_active <= now && now < self.end_active
    }
}

/// Where a records listing resumes; the node encodes it into Nakama's `next_cursor` /
/// `prev_cursor`. Carries the board and partition so that a cursor from another board or
/// an expired partition is refused (`ReadError::InvalidCursor`, Nakama's 400 "Cursor is
/// invalid or expired.").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCursor {
    /// `true`: the records after this position (next page); `false`: those before it.
    pub is_next: bool,
    pub leaderboard_id: String,
    pub expiry_time: i64,
    pub score: i64,
    pub subscore: i64,
    pub owner_id: Uuid,
    /// Rank of the record at this position; listing continues from it.
    pub rank: i64,
}

/// One page of records in rank order, with cursors to the neighbouring pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<RankedRecord>,
    pub next: Option<RecordCursor>,
    pub prev: Option<RecordCursor>,
}
