//! Tournaments (Nakama `core_tournament.go`): leaderboards with an active window, a size
//! cap, attempt limits and joins. Records go through `core::leaderboard` with
//! [`BoardApi::Tournament`].

use shoal_proto::{self as proto, Status};
use shoal_storage::{Command, Leaderboard as Board, LeaderboardCommand, Reply};
use uuid::Uuid;

use super::leaderboard::BoardApi;
use super::{Core, internal, now};

impl Core {
    /// A tournament as the API shows it at `now`: its current window, size and whether it
    /// can be entered.
    pub fn tournament_proto(&self, board: &Board, now: i64) -> Result<proto::Tournament, Status> {
        let t = board.tournament.clone().unwrap_or_default();
        let window = shoal_storage::schedule::window(board, now).map_err(internal)?;
        let size = self.reader.tournament_size(&board.id, window.expiry).map_err(internal)?;
        let lb = super::leaderboard::leaderboard_proto(board, now);
        let full = t.max_size > 0 && size >= t.max_size;
        let secs = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        Ok(proto::Tournament {
            id: board.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            category: u32::from(t.category),
            sort_order: board.sort_order as u32,
            size,
            max_size: t.max_size,
            max_num_score: t.max_num_score,
            can_enter: window.is_active(now) && !full,
            end_active: secs(window.end_active),
            next_reset: lb.next_reset,
            metadata: board.metadata.clone(),
            create_time: board.create_time,
            start_time: t.start_time,
            end_time: Some(t.end_time).filter(|e| *e > 0),
            duration: secs(t.duration),
            start_active: secs(window.start_active),
            prev_reset: lb.prev_reset,
            operator: board.operator.to_api(),
            authoritative: board.authoritative,
            join_required: t.join_required,
        })
    }

    /// `POST /v2/tournament/{id}/join`, `nk.tournament_join`.
    pub async fn tournament_join(&self, id: &str, owner: Uuid, username: &str) -> Result<(), Status> {
        let board = self.board(BoardApi::Tournament, id).await?;
        let t = now();
        let window = shoal_storage::schedule::window(&board, t).map_err(internal)?;
        let cmd = LeaderboardCommand::TournamentJoin { board: board.id, owner, username: username.to_owned(), window, now: t };
        match self.propose(Command::Leaderboard(cmd)).await? {
            Reply::TournamentJoined { .. } => Ok(()),
            other => Err(internal(format!("unexpected reply to a tournament join: {other:?}"))),
        }
    }

    /// `nk.tournament_add_attempt`.
    pub async fn tournament_add_attempt(&self, id: &str, owner: Uuid, count: i64) -> Result<(), Status> {
        if count == 0 {
            return Err(Status::invalid("expects an attempt count other than 0"));
        }
        let board = self.board(BoardApi::Tournament, id).await?;
        let t = now();
        let window = shoal_storage::schedule::window(&board, t).map_err(internal)?;
        let cmd = LeaderboardCommand::TournamentAddAttempt { board: board.id, owner, count, window, now: t };
        self.propose(Command::Leaderboard(cmd)).await.map(|_| ())
    }

    /// Tournaments of the given ids that exist, in the order asked.
    pub async fn tournaments_get(&self, ids: &[String]) -> Result<Vec<proto::Tournament>, Status> {
        let t = now();
        let boards = self.boards_get(BoardApi::Tournament, ids).await?;
        boards.iter().map(|b| self.tournament_proto(b, t)).collect()
    }

    /// `GET /v2/tournament`, `nk.tournament_list`: tournaments in id order whose category is
    /// within `[category_start, category_end]` and, when given (≥ 0), that start at or after
    /// `start_time` and end at or before `end_time` (0 = those that never end).
    pub async fn tournament_list(
        &self,
        category_start: i64,
        category_end: i64,
        start_time: i64,
        end_time: i64,
        limit: i64,
        cursor: &str,
    ) -> Result<proto::TournamentList, Status> {
        if !(0..=127).contains(&category_start) {
            return Err(Status::invalid("Tournament category start must be 0-127."));
        }
        if !(0..=127).contains(&category_end) || category_end < category_start {
            return Err(Status::invalid("Tournament category end must be 0-127 and not below the start."));
        }
        if start_time >= 0 && end_time > 0 && end_time < start_time {
            return Err(Status::invalid("Tournament end time cannot be before start time."));
        }
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid("Invalid limit - limit must be between 1 and 100."));
        }
        self.read_barrier().await?;
        let after = super::leaderboard::decode_list_cursor(cursor)?;
        let (boards, next) = self
            .reader
            .leaderboard_list(after.as_deref(), limit as usize, |b| {
                let Some(t) = &b.tournament else { return false };
                let cat = i64::from(t.category);
                cat >= category_start
                    && cat <= category_end
                    && (start_time < 0 || t.start_time >= start_time)
                    && (end_time < 0 || (end_time == 0 && t.end_time == 0) || (end_time > 0 && t.end_time > 0 && t.end_time <= end_time))
            })
            .map_err(internal)?;
        let t = now();
        Ok(proto::TournamentList {
            tournaments: boards.iter().map(|b| self.tournament_proto(b, t)).collect::<Result<_, _>>()?,
            cursor: next.map(|id| super::leaderboard::encode_list_cursor(&id)).unwrap_or_default(),
        })
    }
}
