//! Leaderboard and tournament resets, once cluster-wide (Nakama `leaderboard_scheduler.go`).
//!
//! Every second the Raft leader looks at each board with a reset schedule and each
//! tournament with an end time. A reset tick (or an end) that has passed since the board was
//! created and is not yet recorded is proposed as `LeaderboardCommand::Reset`; only when the
//! commit says it is new does the leader run `register_leaderboard_reset`,
//! `register_tournament_reset` or `register_tournament_end` — so each runs once however
//! many nodes there are or leaders come and go. Records need no change at a reset: writes
//! after it go to the next partition (`expiry_time`). Every node also drops expired
//! partitions from its rank cache.

use std::time::Duration;

use shoal_runtime::{CallContext, Callback, CallbackBoard};
use shoal_storage::schedule::Schedule;
use shoal_storage::{Command, Leaderboard as Board, LeaderboardCommand, Reply};

use crate::core::{Core, now};

/// How often the leader looks for resets.
const TICK: Duration = Duration::from_secs(1);
/// Boards read per listing page.
const PAGE: usize = 500;

/// Runs until `stop` resolves.
pub async fn run(core: Core, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = interval.tick() => {}
        }
        let t = now();
        core.reader.rank_cache().trim_expired(t);
        if core.raft.status().role != "leader" {
            continue;
        }
        if let Err(e) = tick(&core, t).await {
            tracing::warn!(error = %e, "leaderboard reset check failed");
        }
    }
}

/// The reset marker of a tournament's end: negative, so it never meets a reset tick's.
fn end_marker(end_time: i64) -> i64 {
    -end_time
}

async fn tick(core: &Core, t: i64) -> Result<(), shoal_proto::Status> {
    let mut after: Option<String> = None;
    loop {
        let (boards, next) = core
            .reader
            .leaderboard_list(after.as_deref(), PAGE, |b| {
                !b.reset_schedule.is_empty() || b.tournament.as_ref().is_some_and(|x| x.end_time > 0)
            })
            .map_err(crate::core::internal)?;
        for board in &boards {
            check_board(core, board, t).await?;
        }
        match next {
            Some(id) => after = Some(id),
            None => return Ok(()),
        }
    }
}

async fn check_board(core: &Core, board: &Board, t: i64) -> Result<(), shoal_proto::Status> {
    if let Some(tournament) = &board.tournament
        && tournament.end_time > 0
        && tournament.end_time <= t
        && record_once(core, board, end_marker(tournament.end_time)).await?
    {
        run_hook(core, board, Callback::TournamentEnd, tournament.end_time, t).await;
    }
    let Ok(Some(schedule)) = Schedule::parse(&board.reset_schedule) else { return Ok(()) };
    let Some(last) = schedule.last(t + 1) else { return Ok(()) };
    let started = board.tournament.as_ref().map_or(board.create_time, |x| x.start_time.max(board.create_time));
    let ended = board.tournament.as_ref().is_some_and(|x| x.end_time > 0 && last > x.end_time);
    if last <= started || ended {
        return Ok(());
    }
    if record_once(core, board, last).await? {
        let callback = if board.is_tournament() { Callback::TournamentReset } else { Callback::LeaderboardReset };
        run_hook(core, board, callback, last, t).await;
    }
    Ok(())
}

/// Records the reset (or end) at `at` through Raft; true when it was new.
async fn record_once(core: &Core, board: &Board, at: i64) -> Result<bool, shoal_proto::Status> {
    if core.reader.leaderboard_reset_recorded(&board.id, at).map_err(crate::core::internal)? {
        return Ok(false);
    }
    let cmd = LeaderboardCommand::Reset { board: board.id.clone(), reset_time: at };
    match core.propose(Command::Leaderboard(cmd)).await? {
        Reply::LeaderboardReset { new } => Ok(new),
        _ => Ok(false),
    }
}

async fn run_hook(core: &Core, board: &Board, callback: Callback, at: i64, t: i64) {
    let Some(pool) = core.runtime.get() else { return };
    let registered = match callback {
        Callback::LeaderboardReset => pool.registry().has_leaderboard_reset(),
        Callback::TournamentReset => pool.registry().has_tournament_reset(),
        Callback::TournamentEnd => pool.registry().has_tournament_end(),
        Callback::MatchmakerMatched => false,
    };
    if !registered {
        return;
    }
    // The board as `nk.leaderboards_get_id` / `nk.tournaments_get_id` show it.
    let (arg, times) = if board.is_tournament() {
        let tournament = match core.tournament_proto(board, t) {
            Ok(p) => p,
            Err(e) => return tracing::warn!(board = %board.id, error = %e, "tournament hook skipped"),
        };
        let next = Schedule::parse(&board.reset_schedule).ok().flatten().and_then(|s| s.next(at).ok()).unwrap_or(0);
        (CallbackBoard::Tournament(tournament), vec![at, next])
    } else {
        (CallbackBoard::Leaderboard(crate::core::leaderboard::leaderboard_proto(board, t)), vec![at])
    };
    if let Err(e) = pool.call_board_callback(callback, CallContext::default(), arg, times).await {
        tracing::warn!(board = %board.id, error = %e, "leaderboard reset hook failed");
    }
}
