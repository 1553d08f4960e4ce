//! Leaderboard and tournament routes. Each decodes, runs the hooks, calls `core`, encodes.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use shoal_proto::*;
use shoal_storage::Operator;
use uuid::Uuid;

use super::extract::{Body, Params, Session};
use super::{ApiError, ApiResult};
use crate::core::Core;
use crate::core::leaderboard::{BoardApi, ScoreInput};

pub fn routes() -> Router<Core> {
    Router::new()
        .route(
            "/v2/leaderboard/{leaderboard_id}",
            get(leaderboard_records).post(leaderboard_write).delete(leaderboard_delete_record),
        )
        .route("/v2/leaderboard/{leaderboard_id}/owner/{owner_id}", get(leaderboard_around_owner))
        .route("/v2/tournament", get(tournament_list))
        .route("/v2/tournament/{tournament_id}/join", post(tournament_join))
        .route(
            "/v2/tournament/{tournament_id}",
            get(tournament_records).put(tournament_write).post(tournament_write).delete(tournament_delete_record),
        )
        .route("/v2/tournament/{tournament_id}/owner/{owner_id}", get(tournament_around_owner))
}


fn owner_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| Status::invalid("Invalid owner ID.").into())
}

/// The client's score write: Nakama's API refuses negative scores.
fn score_input(s: &Session, id: String, r: &LeaderboardRecordWrite) -> Result<ScoreInput, ApiError> {
    if r.score < 0 {
        return Err(Status::invalid("Invalid score value, must be >= 0.").into());
    }
    if r.subscore < 0 {
        return Err(Status::invalid("Invalid subscore value, must be >= 0.").into());
    }
    Ok(ScoreInput {
        id,
        owner: s.user_id(),
        username: Some(s.username().to_owned()),
        score: r.score,
        subscore: r.subscore,
        metadata: Some(r.metadata.clone()).filter(|m| !m.is_empty()),
        operator: Operator::from_api(r.operator),
    })
}

// ------------------------------------------------------------------ leaderboards

async fn leaderboard_records(
    State(core): State<Core>,
    s: Session,
    Path(leaderboard_id): Path<String>,
    q: Params,
) -> ApiResult<LeaderboardRecordList> {
    let req = ListLeaderboardRecordsRequest {
        leaderboard_id,
        owner_ids: q.all("owner_ids"),
        limit: q.int32("limit")?,
        cursor: q.str("cursor").to_owned(),
        expiry: q.int("expiry")?,
    };
    hooked!(core, s.ctx(), "ListLeaderboardRecords", req, |r| {
        core.records_list(BoardApi::Leaderboard, &r.leaderboard_id, &r.owner_ids, r.limit.map(i64::from), &r.cursor, r.expiry)
            .await?
    })
}

async fn leaderboard_write(
    State(core): State<Core>,
    s: Session,
    Path(leaderboard_id): Path<String>,
    Body(record): Body<LeaderboardRecordWrite>,
) -> ApiResult<LeaderboardRecord> {
    let req = WriteLeaderboardRecordRequest { leaderboard_id, record };
    hooked!(core, s.ctx(), "WriteLeaderboardRecord", req, |r| {
        let input = score_input(&s, r.leaderboard_id.clone(), &r.record)?;
        core.record_write(BoardApi::Leaderboard, Some(s.user_id()), input).await?
    })
}

async fn leaderboard_delete_record(State(core): State<Core>, s: Session, Path(leaderboard_id): Path<String>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "DeleteLeaderboardRecord", DeleteLeaderboardRecordRequest { leaderboard_id }, |r| {
        core.record_delete(BoardApi::Leaderboard, Some(s.user_id()), &r.leaderboard_id, s.user_id()).await?;
        Empty {}
    })
}

async fn leaderboard_around_owner(
    State(core): State<Core>,
    s: Session,
    Path((leaderboard_id, owner)): Path<(String, String)>,
    q: Params,
) -> ApiResult<LeaderboardRecordList> {
    let req = ListLeaderboardRecordsAroundOwnerRequest {
        leaderboard_id,
        limit: q.int32("limit")?,
        owner_id: owner,
        expiry: q.int("expiry")?,
        cursor: q.str("cursor").to_owned(),
    };
    hooked!(core, s.ctx(), "ListLeaderboardRecordsAroundOwner", req, |r| {
        let owner = owner_id(&r.owner_id)?;
        core.records_around_owner(BoardApi::Leaderboard, &r.leaderboard_id, owner, r.limit.map(i64::from), &r.cursor, r.expiry)
            .await?
    })
}

// ------------------------------------------------------------------ tournaments

async fn tournament_list(State(core): State<Core>, s: Session, q: Params) -> ApiResult<TournamentList> {
    let req = ListTournamentsRequest {
        category_start: q.int32("category_start")?,
        category_end: q.int32("category_end")?,
        start_time: q.int("start_time")?,
        end_time: q.int("end_time")?,
        limit: q.int32("limit")?,
        cursor: q.str("cursor").to_owned(),
    };
    hooked!(core, s.ctx(), "ListTournaments", req, |r| {
        core.tournament_list(
            r.category_start.map_or(0, i64::from),
            r.category_end.map_or(127, i64::from),
            r.start_time.unwrap_or(-1),
            r.end_time.unwrap_or(-1),
            r.limit.map_or(100, i64::from),
            &r.cursor,
        )
        .await?
    })
}

async fn tournament_join(State(core): State<Core>, s: Session, Path(tournament_id): Path<String>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "JoinTournament", JoinTournamentRequest { tournament_id }, |r| {
        core.tournament_join(&r.tournament_id, s.user_id(), s.username()).await?;
        Empty {}
    })
}

async fn tournament_records(
    State(core): State<Core>,
    s: Session,
    Path(tournament_id): Path<String>,
    q: Params,
) -> ApiResult<LeaderboardRecordList> {
    let req = ListTournamentRecordsRequest {
        tournament_id,
        owner_ids: q.all("owner_ids"),
        limit: q.int32("limit")?,
        cursor: q.str("cursor").to_owned(),
        expiry: q.int("expiry")?,
    };
    hooked!(core, s.ctx(), "ListTournamentRecords", req, |r| {
        core.records_list(BoardApi::Tournament, &r.tournament_id, &r.owner_ids, r.limit.map(i64::from), &r.cursor, r.expiry)
            .await?
    })
}

async fn tournament_write(
    State(core): State<Core>,
    s: Session,
    Path(tournament_id): Path<String>,
    Body(record): Body<LeaderboardRecordWrite>,
) -> ApiResult<LeaderboardRecord> {
    let req = WriteTournamentRecordRequest { tournament_id, record };
    hooked!(core, s.ctx(), "WriteTournamentRecord", req, |r| {
        let input = score_input(&s, r.tournament_id.clone(), &r.record)?;
        core.record_write(BoardApi::Tournament, Some(s.user_id()), input).await?
    })
}

async fn tournament_delete_record(State(core): State<Core>, s: Session, Path(tournament_id): Path<String>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "DeleteTournamentRecord", DeleteTournamentRecordRequest { tournament_id }, |r| {
        core.record_delete(BoardApi::Tournament, Some(s.user_id()), &r.tournament_id, s.user_id()).await?;
        Empty {}
    })
}

async fn tournament_around_owner(
    State(core): State<Core>,
    s: Session,
    Path((tournament_id, owner)): Path<(String, String)>,
    q: Params,
) -> ApiResult<LeaderboardRecordList> {
    let req = ListTournamentRecordsAroundOwnerRequest {
        tournament_id,
        limit: q.int32("limit")?,
        owner_id: owner,
        expiry: q.int("expiry")?,
        cursor: q.str("cursor").to_owned(),
    };
    hooked!(core, s.ctx(), "ListTournamentRecordsAroundOwner", req, |r| {
        let owner = owner_id(&r.owner_id)?;
        core.records_around_owner(BoardApi::Tournament, &r.tournament_id, owner, r.limit.map(i64::from), &r.cursor, r.expiry)
            .await?
    })
}
