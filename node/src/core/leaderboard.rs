//! Leaderboards and tournaments (Nakama `core_leaderboard.go`, `core_tournament.go`): one
//! function per operation for REST, Lua and the reset scheduler. Writes are Raft commands
//! stamped here with `now` and the board's window; ranks come from the rank cache every
//! node keeps current from its own applies.

use base64::Engine;
use shoal_proto::{self as proto, Status};
use shoal_storage::schedule::{self, Schedule};
use shoal_storage::{
    Command, Leaderboard as Board, LeaderboardCommand, Operator, RankedRecord, ReadError, RecordCursor, RecordPage,
    RecordWrite, Reply, SortOrder, Window,
};
use uuid::Uuid;

use super::{Core, internal, now};

/// Most records one listing returns (Nakama 3: `limit` 1–1000).
pub const LIST_LIMIT_MAX: i64 = 1000;
/// Most records around an owner (`limit` 1–100).
pub const HAYSTACK_LIMIT_MAX: i64 = 100;

/// Which API a call came through: errors and rules differ (a tournament id is "not found"
/// through the leaderboard API and the other way round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardApi {
    Leaderboard,
    Tournament,
}

impl BoardApi {
    fn is_tournament(self) -> bool {
        self == BoardApi::Tournament
    }
    fn not_found(self) -> Status {
        match self {
            BoardApi::Leaderboard => Status::not_found("Leaderboard not found."),
            BoardApi::Tournament => Status::not_found("Tournament not found."),
        }
    }
    fn invalid_id(self) -> Status {
        match self {
            BoardApi::Leaderboard => Status::invalid("Invalid leaderboard ID."),
            BoardApi::Tournament => Status::invalid("Invalid tournament ID."),
        }
    }
}

/// A score write as the API and Lua give it.
#[derive(Debug, Clone, Default)]
pub struct ScoreInput {
    pub id: String,
    pub owner: Uuid,
    pub username: Option<String>,
    pub score: i64,
    pub subscore: i64,
    /// JSON object text.
    pub metadata: Option<String>,
    pub operator: Option<Operator>,
}

fn invalid_cursor() -> Status {
    Status::invalid("Cursor is invalid or expired.")
}

fn read_error(e: ReadError) -> Status {
    match e {
        ReadError::InvalidCursor => invalid_cursor(),
        other => internal(other),
    }
}

/// Nakama cursors are opaque base64; ours carry a bincode [`RecordCursor`].
pub fn encode_cursor(c: &RecordCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shoal_storage::encode(c))
}

fn decode_cursor(s: &str) -> Result<Option<RecordCursor>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid_cursor())?;
    shoal_storage::decode(&bytes).map(Some).map_err(|_| invalid_cursor())
}

fn check_metadata(metadata: Option<&str>) -> Result<(), Status> {
    match metadata {
        Some(m) if !m.is_empty() => match serde_json::from_str::<serde_json::Value>(m) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            _ => Err(Status::invalid("Metadata value must be JSON, if provided.")),
        },
        _ => Ok(()),
    }
}

pub fn record_proto(r: &RankedRecord) -> proto::LeaderboardRecord {
    let x = &r.record;
    proto::LeaderboardRecord {
        leaderboard_id: x.leaderboard_id.clone(),
        owner_id: x.owner_id.to_string(),
        username: x.username.clone(),
        score: x.score,
        subscore: x.subscore,
        num_score: x.num_score,
        metadata: x.metadata.clone(),
        create_time: x.create_time,
        update_time: x.update_time,
        expiry_time: Some(x.expiry_time).filter(|t| *t != 0),
        rank: r.rank,
        max_num_score: x.max_num_score,
    }
}

fn page_list(page: RecordPage, owner_records: Vec<RankedRecord>, rank_count: i64) -> proto::LeaderboardRecordList {
    proto::LeaderboardRecordList {
        records: page.records.iter().map(record_proto).collect(),
        owner_records: owner_records.iter().map(record_proto).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor).unwrap_or_default(),
        prev_cursor: page.prev.as_ref().map(encode_cursor).unwrap_or_default(),
        rank_count,
    }
}

fn schedule_of(board: &Board) -> Option<Schedule> {
    Schedule::parse(&board.reset_schedule).ok().flatten()
}

/// A board's `prev_reset` / `next_reset` at `now` (0 when it never resets).
fn resets(board: &Board, now: i64) -> (i64, i64) {
    let Some(s) = schedule_of(board) else { return (0, 0) };
    let start = board.tournament.as_ref().map_or(0, |t| t.start_time);
    (schedule::prev_reset(Some(&s), start, now), s.next(now).unwrap_or(0))
}

fn u32_secs(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

pub fn leaderboard_proto(board: &Board, now: i64) -> proto::Leaderboard {
    let (prev, next) = resets(board, now);
    proto::Leaderboard {
        id: board.id.clone(),
        sort_order: board.sort_order as u32,
        operator: board.operator.to_api(),
        prev_reset: u32_secs(prev),
        next_reset: u32_secs(next),
        metadata: board.metadata.clone(),
        create_time: board.create_time,
        authoritative: board.authoritative,
    }
}

impl Core {
    fn window(&self, board: &Board, now: i64) -> Result<Window, Status> {
        schedule::window(board, now).map_err(internal)
    }

    /// The definition of `id` through `api`, reading past a read barrier when this node has
    /// not applied it yet (it may have been created through another node just now).
    pub(super) async fn board(&self, api: BoardApi, id: &str) -> Result<Board, Status> {
        if id.is_empty() {
            return Err(api.invalid_id());
        }
        let local = self.reader.leaderboard(id).map_err(read_error)?;
        let board = match local {
            Some(b) => b,
            None => {
                self.read_barrier().await?;
                self.reader.leaderboard(id).map_err(read_error)?.ok_or_else(|| api.not_found())?
            }
        };
        if board.is_tournament() != api.is_tournament() {
            return Err(api.not_found());
        }
        Ok(board)
    }

    /// `nk.leaderboard_create` / `nk.tournament_create`: idempotent; true when created now.
    pub async fn board_create(&self, board: Board) -> Result<bool, Status> {
        if board.id.is_empty() {
            return Err(Status::invalid("expects a leaderboard ID string"));
        }
        if !board.reset_schedule.is_empty() && Schedule::parse(&board.reset_schedule).is_err() {
            return Err(Status::invalid("expects reset to be a valid CRON expression"));
        }
        match self.propose(Command::Leaderboard(LeaderboardCommand::Create { board })).await? {
            Reply::LeaderboardCreated { created, .. } => Ok(created),
            other => Err(internal(format!("unexpected reply to a leaderboard create: {other:?}"))),
        }
    }

    /// `nk.leaderboard_delete` / `nk.tournament_delete`: the definition and every record.
    pub async fn board_delete(&self, id: &str) -> Result<(), Status> {
        if id.is_empty() {
            return Err(BoardApi::Leaderboard.invalid_id());
        }
        self.propose(Command::Leaderboard(LeaderboardCommand::Delete { id: id.to_owned() })).await.map(|_| ())
    }

    /// Definitions of the given ids that exist (through `api`), in the order asked.
    pub async fn boards_get(&self, api: BoardApi, ids: &[String]) -> Result<Vec<Board>, Status> {
        self.read_barrier().await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(b) = self.reader.leaderboard(id).map_err(read_error)?
                && b.is_tournament() == api.is_tournament()
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// `nk.leaderboard_list`: leaderboards (not tournaments) in id order.
    pub async fn leaderboard_list(&self, limit: i64, cursor: &str) -> Result<proto::LeaderboardList, Status> {
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid("limit must be 1-100"));
        }
        self.read_barrier().await?;
        let after = decode_list_cursor(cursor)?;
        let (boards, next) = self
            .reader
            .leaderboard_list(after.as_deref(), limit as usize, |b| !b.is_tournament())
            .map_err(read_error)?;
        let t = now();
        Ok(proto::LeaderboardList {
            leaderboards: boards.iter().map(|b| leaderboard_proto(b, t)).collect(),
            cursor: next.map(|id| encode_list_cursor(&id)).unwrap_or_default(),
        })
    }

    /// A score write (REST `POST /v2/leaderboard/{id}`, `PUT /v2/tournament/{id}`, Lua).
    /// `caller` is `None` for the runtime (authoritative).
    pub async fn record_write(&self, api: BoardApi, caller: Option<Uuid>, input: ScoreInput) -> Result<proto::LeaderboardRecord, Status> {
        check_metadata(input.metadata.as_deref())?;
        let board = self.board(api, &input.id).await?;
        let t = now();
        let window = self.window(&board, t)?;
        let write = RecordWrite {
            board: board.id,
            owner: input.owner,
            username: input.username,
            score: input.score,
            subscore: input.subscore,
            metadata: input.metadata.filter(|m| !m.is_empty()),
            operator: input.operator,
            caller,
            tournament: api.is_tournament(),
            window,
            now: t,
        };
        match self.propose(Command::Leaderboard(LeaderboardCommand::RecordWrite(write))).await? {
            Reply::LeaderboardRecord(r) => Ok(record_proto(&r)),
            other => Err(internal(format!("unexpected reply to a record write: {other:?}"))),
        }
    }

    /// Deletes `owner`'s record in the current partition.
    pub async fn record_delete(&self, api: BoardApi, caller: Option<Uuid>, id: &str, owner: Uuid) -> Result<(), Status> {
        let board = self.board(api, id).await?;
        let window = self.window(&board, now())?;
        let cmd = LeaderboardCommand::RecordDelete {
            board: board.id,
            owner,
            caller,
            tournament: api.is_tournament(),
            window,
        };
        self.propose(Command::Leaderboard(cmd)).await.map(|_| ())
    }

    fn partition(&self, board: &Board, expiry: Option<i64>) -> Result<i64, Status> {
        match expiry {
            Some(e) if e < 0 => Err(Status::invalid("Invalid expiry.")),
            Some(e) if e > 0 => Ok(e),
            _ => Ok(self.window(board, now())?.expiry),
        }
    }

    /// Records of a board (`GET /v2/leaderboard/{id}`, `nk.leaderboard_records_list`):
    /// a page in rank order from `cursor` (when `limit` is given, or no owners are) plus the
    /// records of `owner_ids`.
    pub async fn records_list(
        &self,
        api: BoardApi,
        id: &str,
        owner_ids: &[String],
        limit: Option<i64>,
        cursor: &str,
        expiry: Option<i64>,
    ) -> Result<proto::LeaderboardRecordList, Status> {
        if id.is_empty() {
            return Err(api.invalid_id());
        }
        let limit = match limit {
            Some(l) if !(1..=LIST_LIMIT_MAX).contains(&l) => {
                return Err(Status::invalid(format!("Invalid limit - limit must be between 1 and {LIST_LIMIT_MAX}.")));
            }
            Some(l) => Some(l),
            None if owner_ids.is_empty() || !cursor.is_empty() => Some(1),
            None => None,
        };
        let owners = owner_ids
            .iter()
            .map(|o| Uuid::parse_str(o).map_err(|_| Status::invalid("One or more owner IDs are invalid.")))
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = decode_cursor(cursor)?;
        self.read_barrier().await?;
        let board = self.board(api, id).await?;
        let expiry = self.partition(&board, expiry)?;
        let page = match limit {
            Some(l) => self
                .reader
                .leaderboard_records_page(&board, expiry, cursor.as_ref(), l as usize)
                .map_err(read_error)?,
            None => RecordPage::default(),
        };
        let owner_records = self.reader.leaderboard_records_of(&board, expiry, &owners).map_err(read_error)?;
        let rank_count = self.reader.leaderboard_rank_count(&board.id, expiry);
        Ok(page_list(page, owner_records, rank_count))
    }

    /// Records around `owner` (`GET /v2/leaderboard/{id}/owner/{owner}`,
    /// `nk.leaderboard_records_haystack`); with a cursor, the page it points at.
    pub async fn records_around_owner(
        &self,
        api: BoardApi,
        id: &str,
        owner: Uuid,
        limit: Option<i64>,
        cursor: &str,
        expiry: Option<i64>,
    ) -> Result<proto::LeaderboardRecordList, Status> {
        if id.is_empty() {
            return Err(api.invalid_id());
        }
        let limit = limit.unwrap_or(1);
        if !(1..=HAYSTACK_LIMIT_MAX).contains(&limit) {
            return Err(Status::invalid(format!("Invalid limit - limit must be between 1 and {HAYSTACK_LIMIT_MAX}.")));
        }
        let cursor = decode_cursor(cursor)?;
        self.read_barrier().await?;
        let board = self.board(api, id).await?;
        let expiry = self.partition(&board, expiry)?;
        let page = match &cursor {
            Some(c) => self.reader.leaderboard_records_page(&board, expiry, Some(c), limit as usize),
            None => self.reader.leaderboard_haystack(&board, expiry, &owner, limit as usize),
        }
        .map_err(read_error)?;
        let rank_count = self.reader.leaderboard_rank_count(&board.id, expiry);
        Ok(page_list(page, Vec::new(), rank_count))
    }

    /// `nk.leaderboard_records_list_cursor_from_rank`: a cursor listing from `rank` on
    /// (empty for rank 1: list from the top).
    pub async fn records_cursor_from_rank(&self, id: &str, rank: i64, expiry: Option<i64>) -> Result<String, Status> {
        if rank < 1 {
            return Err(Status::invalid("invalid rank - must be > 1"));
        }
        self.read_barrier().await?;
        let board = match self.reader.leaderboard(id).map_err(read_error)? {
            Some(b) => b,
            None => return Err(BoardApi::Leaderboard.not_found()),
        };
        let expiry = self.partition(&board, expiry)?;
        Ok(self.reader.leaderboard_cursor_from_rank(&board.id, expiry, rank).map(|c| encode_cursor(&c)).unwrap_or_default())
    }
}

pub(super) fn encode_list_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub(super) fn decode_list_cursor(s: &str) -> Result<Option<String>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid_cursor())?;
    String::from_utf8(bytes).map(Some).map_err(|_| invalid_cursor())
}

/// The host contract's sort order name (`"asc"`/`"desc"`; Lua's aliases are normalised by
/// the runtime).
pub fn sort_order(name: &str) -> Result<SortOrder, Status> {
    match name {
        "asc" => Ok(SortOrder::Asc),
        "desc" => Ok(SortOrder::Desc),
        _ => Err(Status::invalid("expects sort order to be 'asc' or 'desc'")),
    }
}

/// The host contract's operator name (`"best"`, `"set"`, `"incr"`, `"decr"`).
pub fn operator(name: &str) -> Result<Operator, Status> {
    match name {
        "best" => Ok(Operator::Best),
        "set" => Ok(Operator::Set),
        "incr" => Ok(Operator::Incr),
        "decr" => Ok(Operator::Decr),
        _ => Err(Status::invalid("expects operator to be 'best', 'set', 'decr' or 'incr'")),
    }
}
