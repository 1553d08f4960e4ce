//! Applying leaderboard and tournament commands with Nakama's rules (`core_leaderboard.go`
//! `LeaderboardRecordWrite`, `core_tournament.go` `TournamentRecordWrite`/`TournamentJoin`/
//! `TournamentAddAttempt`). Every record lives in three keys (see `keys`): a locator by
//! owner holding (score, subscore), the ordering-index entry holding the record, and the
//! owner index; `store`/`remove` keep them and the rank cache in step.

use uuid::Uuid;

use crate::apply::{Txn, TxnError};
use crate::command::{LeaderboardCommand, RecordWrite, Rejection, Reply, Response};
use crate::keys;
use crate::leaderboard::{Leaderboard, LeaderboardRecord, Operator, RankedRecord, SortOrder, Window};
use crate::rank_cache::{RankKey, RankOp};

pub(crate) fn apply(txn: &mut Txn<'_>, cmd: &LeaderboardCommand) -> Result<Response, TxnError> {
    match cmd {
        LeaderboardCommand::Create { board } => {
            if let Some(existing) = load_board(txn, &board.id)? {
                return Ok(Ok(Reply::LeaderboardCreated { board: existing, created: false }));
            }
            txn.put(keys::leaderboard(&board.id), board);
            Ok(Ok(Reply::LeaderboardCreated { board: board.clone(), created: true }))
        }
        LeaderboardCommand::Delete { id } => delete_board(txn, id),
        LeaderboardCommand::RecordWrite(w) => record_write(txn, w),
        LeaderboardCommand::RecordDelete { board, owner, caller, tournament, window } => {
            record_delete(txn, board, owner, caller.is_some(), *tournament, window)
        }
        LeaderboardCommand::TournamentJoin { board, owner, username, window, now } => {
            tournament_join(txn, board, owner, username, window, *now)
        }
        LeaderboardCommand::TournamentAddAttempt { board, owner, count, window, now } => {
            add_attempt(txn, board, owner, *count, window, *now)
        }
        LeaderboardCommand::Reset { board, reset_time } => {
            if load_board(txn, board)?.is_none() {
                return Ok(Ok(Reply::LeaderboardReset { new: false }));
            }
            let k = keys::leaderboard_reset(board, *reset_time);
            let new = txn.get_raw(&k)?.is_none();
            if new {
                txn.put_raw(k, Vec::new());
            }
            Ok(Ok(Reply::LeaderboardReset { new }))
        }
    }
}

/// The (score, subscore) an operator leaves on an existing record, and whether Nakama's
/// `ON CONFLICT … WHERE` filter lets a leaderboard update through at all.
pub(crate) fn combine(op: Operator, sort: SortOrder, old: (i64, i64), new: (i64, i64)) -> ((i64, i64), bool) {
    match (op, sort) {
        (Operator::Best, SortOrder::Desc) => {
            ((old.0.max(new.0), old.1.max(new.1)), old.0 < new.0 || old.1 < new.1)
        }
        (Operator::Best, SortOrder::Asc) => {
            ((old.0.min(new.0), old.1.min(new.1)), old.0 > new.0 || old.1 > new.1)
        }
        (Operator::Set, _) => (new, old != new),
        (Operator::Incr, _) => {
            ((old.0.saturating_add(new.0), old.1.saturating_add(new.1)), new != (0, 0))
        }
        (Operator::Decr, _) => (
            (old.0.saturating_sub(new.0).max(0), old.1.saturating_sub(new.1).max(0)),
            new != (0, 0),
        ),
    }
}

/// What the first write inserts: the raw values, except `decr`, which inserts 0 and 0.
pub(crate) fn insert_values(op: Operator, new: (i64, i64)) -> (i64, i64) {
    if op == Operator::Decr { (0, 0) } else { new }
}

fn load_board(txn: &Txn<'_>, id: &str) -> Result<Option<Leaderboard>, TxnError> {
    txn.get(&keys::leaderboard(id))
}

fn load_record(
    txn: &Txn<'_>,
    board: &Leaderboard,
    expiry: i64,
    owner: &Uuid,
) -> Result<Option<LeaderboardRecord>, TxnError> {
    let Some((score, subscore)) = txn.get::<(i64, i64)>(&keys::leaderboard_record(&board.id, expiry, owner))?
    else {
        return Ok(None);
    };
    let rk = RankKey::new(board.sort_order, score, subscore, owner);
    txn.get(&keys::leaderboard_rank(&board.id, expiry, &rk.to_bytes()))
}

/// Writes `rec` (replacing `old`, the same owner's previous record in the same partition).
fn store(txn: &mut Txn<'_>, board: &Leaderboard, old: Option<&LeaderboardRecord>, rec: &LeaderboardRecord) {
    let (id, expiry, owner) = (&board.id, rec.expiry_time, &rec.owner_id);
    let new_key = RankKey::new(board.sort_order, rec.score, rec.subscore, owner);
    let old_key = old.map(|o| RankKey::new(board.sort_order, o.score, o.subscore, owner));
    if let Some(k) = old_key.filter(|k| *k != new_key) {
        txn.delete(keys::leaderboard_rank(id, expiry, &k.to_bytes()));
    }
    txn.put(keys::leaderboard_rank(id, expiry, &new_key.to_bytes()), rec);
    txn.put(keys::leaderboard_record(id, expiry, owner), &(rec.score, rec.subscore));
    txn.put_raw(keys::leaderboard_owner(owner, id, expiry), Vec::new());
    if board.enable_ranks && old_key != Some(new_key) {
        txn.rank_op(RankOp::Put { board: id.clone(), expiry, sort: board.sort_order, old: old_key, new: new_key });
    }
}

fn remove(txn: &mut Txn<'_>, board: &Leaderboard, rec: &LeaderboardRecord) {
    let (id, expiry, owner) = (&board.id, rec.expiry_time, &rec.owner_id);
    let key = RankKey::new(board.sort_order, rec.score, rec.subscore, owner);
    txn.delete(keys::leaderboard_rank(id, expiry, &key.to_bytes()));
    txn.delete(keys::leaderboard_record(id, expiry, owner));
    txn.delete(keys::leaderboard_owner(owner, id, expiry));
    if board.enable_ranks {
        txn.rank_op(RankOp::Remove { board: id.clone(), expiry, key });
    }
}

fn done(rec: LeaderboardRecord) -> Response {
    Ok(Reply::LeaderboardRecord(RankedRecord { record: rec, rank: 0 }))
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

/// The record after an accepted update of `old` to `vals`.
fn updated(old: &LeaderboardRecord, w: &RecordWrite, vals: (i64, i64)) -> LeaderboardRecord {
    let mut rec = old.clone();
    (rec.score, rec.subscore) = vals;
    rec.num_score = rec.num_score.saturating_add(1);
    if let Some(m) = nonempty(&w.metadata) {
        rec.metadata = m;
    }
    if let Some(u) = nonempty(&w.username) {
        rec.username = Some(u);
    }
    rec.update_time = w.now;
    rec
}

fn inserted(board: &Leaderboard, w: &RecordWrite, vals: (i64, i64), max_num_score: u32) -> LeaderboardRecord {
    LeaderboardRecord {
        leaderboard_id: board.id.clone(),
        owner_id: w.owner,
        username: nonempty(&w.username),
        score: vals.0,
        subscore: vals.1,
        num_score: 1,
        max_num_score,
        metadata: nonempty(&w.metadata).unwrap_or_else(|| "{}".into()),
        create_time: w.now,
        update_time: w.now,
        expiry_time: w.window.expiry,
    }
}

fn record_write(txn: &mut Txn<'_>, w: &RecordWrite) -> Result<Response, TxnError> {
    let not_found = if w.tournament { Rejection::TournamentNotFound } else { Rejection::LeaderboardNotFound };
    let Some(board) = load_board(txn, &w.board)? else { return Ok(Err(not_found)) };
    if !w.tournament {
        if board.is_tournament() {
            return Ok(Err(Rejection::LeaderboardNotFound));
        }
        if board.authoritative && w.caller.is_some() {
            return Ok(Err(Rejection::LeaderboardAuthoritative));
        }
        return leaderboard_write(txn, &board, w);
    }
    let Some(t) = board.tournament.clone() else { return Ok(Err(Rejection::TournamentNotFound)) };
    if w.caller.is_some() && t.end_time > 0 && t.end_time <= w.now {
        return Ok(Err(Rejection::TournamentEnded));
    }
    if board.authoritative && w.caller.is_some() {
        return Ok(Err(Rejection::TournamentAuthoritative));
    }
    if !w.window.is_active(w.now) {
        return Ok(Err(Rejection::TournamentOutsideDuration));
    }
    let op = w.operator.unwrap_or(board.operator);
    let expiry = w.window.expiry;
    let existing = load_record(txn, &board, expiry, &w.owner)?;
    if t.join_required {
        // Only joined entrants (who have a record) may write; past the attempt limit the
        // write is silently ignored (Nakama's `UPDATE … WHERE num_score < max_num_score`).
        let Some(old) = existing else { return Ok(Err(Rejection::TournamentJoinRequired)) };
        if old.max_num_score != 0 && i64::from(old.num_score) >= i64::from(old.max_num_score) {
            return Ok(done(old));
        }
        let (vals, _) = combine(op, board.sort_order, (old.score, old.subscore), (w.score, w.subscore));
        let rec = updated(&old, w, vals);
        store(txn, &board, Some(&old), &rec);
        return Ok(done(rec));
    }
    match existing {
        // Every accepted tournament write counts as an attempt, changed or not.
        Some(old) => {
            if old.max_num_score != 0 && i64::from(old.num_score) + 1 > i64::from(old.max_num_score) {
                return Ok(Err(Rejection::TournamentMaxNumScore));
            }
            let (vals, _) = combine(op, board.sort_order, (old.score, old.subscore), (w.score, w.subscore));
            let rec = updated(&old, w, vals);
            store(txn, &board, Some(&old), &rec);
            Ok(done(rec))
        }
        None => {
            if t.max_size > 0 && !take_seat(txn, &board.id, expiry, t.max_size)? {
                return Ok(Err(Rejection::TournamentMaxSize));
            }
            let rec = inserted(&board, w, insert_values(op, (w.score, w.subscore)), t.max_num_score);
            store(txn, &board, None, &rec);
            Ok(done(rec))
        }
    }
}

/// Counts one more entrant of a tournament partition if there is room.
fn take_seat(txn: &mut Txn<'_>, board: &str, expiry: i64, max_size: u32) -> Result<bool, TxnError> {
    let k = keys::tournament_size(board, expiry);
    let size: u32 = txn.get(&k)?.unwrap_or(0);
    if size >= max_size {
        return Ok(false);
    }
    txn.put(k, &(size + 1));
    Ok(true)
}

fn leaderboard_write(txn: &mut Txn<'_>, board: &Leaderboard, w: &RecordWrite) -> Result<Response, TxnError> {
    let op = w.operator.unwrap_or(board.operator);
    let new = (w.score, w.subscore);
    match load_record(txn, board, w.window.expiry, &w.owner)? {
        None => {
            let rec = inserted(board, w, insert_values(op, new), 0);
            store(txn, board, None, &rec);
            Ok(done(rec))
        }
        Some(old) => {
            let (vals, changes) = combine(op, board.sort_order, (old.score, old.subscore), new);
            if !changes {
                // Nothing is written: num_score, metadata, username and update_time stay.
                return Ok(done(old));
            }
            let rec = updated(&old, w, vals);
            store(txn, board, Some(&old), &rec);
            Ok(done(rec))
        }
    }
}

fn record_delete(
    txn: &mut Txn<'_>,
    id: &str,
    owner: &Uuid,
    client: bool,
    tournament: bool,
    window: &Window,
) -> Result<Response, TxnError> {
    let board = load_board(txn, id)?.filter(|b| b.is_tournament() == tournament);
    let Some(board) = board else {
        return Ok(Err(if tournament { Rejection::TournamentNotFound } else { Rejection::LeaderboardNotFound }));
    };
    if board.authoritative && client {
        return Ok(Err(if tournament {
            Rejection::TournamentAuthoritativeDelete
        } else {
            Rejection::LeaderboardAuthoritativeDelete
        }));
    }
    if let Some(rec) = load_record(txn, &board, window.expiry, owner)? {
        remove(txn, &board, &rec);
    }
    Ok(Ok(Reply::Done))
}

fn tournament_join(
    txn: &mut Txn<'_>,
    id: &str,
    owner: &Uuid,
    username: &str,
    window: &Window,
    now: i64,
) -> Result<Response, TxnError> {
    let Some(board) = load_board(txn, id)? else { return Ok(Err(Rejection::TournamentNotFound)) };
    let Some(t) = board.tournament.clone() else { return Ok(Err(Rejection::TournamentNotFound)) };
    if !t.join_required {
        return Ok(Ok(Reply::TournamentJoined { joined: false }));
    }
    if window.end_active <= now {
        return Ok(Err(Rejection::TournamentJoinOutsideDuration));
    }
    if load_record(txn, &board, window.expiry, owner)?.is_some() {
        return Ok(Ok(Reply::TournamentJoined { joined: false }));
    }
    if t.max_size > 0 && !take_seat(txn, id, window.expiry, t.max_size)? {
        return Ok(Err(Rejection::TournamentJoinFull));
    }
    let rec = LeaderboardRecord {
        leaderboard_id: id.into(),
        owner_id: *owner,
        username: Some(username.to_string()).filter(|u| !u.is_empty()),
        score: 0,
        subscore: 0,
        num_score: 0,
        max_num_score: t.max_num_score,
        metadata: "{}".into(),
        create_time: now,
        update_time: now,
        expiry_time: window.expiry,
    };
    store(txn, &board, None, &rec);
    Ok(Ok(Reply::TournamentJoined { joined: true }))
}

fn add_attempt(
    txn: &mut Txn<'_>,
    id: &str,
    owner: &Uuid,
    count: i64,
    window: &Window,
    now: i64,
) -> Result<Response, TxnError> {
    if count == 0 {
        return Ok(Ok(Reply::Done));
    }
    let board = load_board(txn, id)?.filter(|b| b.is_tournament());
    let Some(board) = board else { return Ok(Err(Rejection::TournamentNotFound)) };
    if window.end_active <= now {
        return Ok(Err(Rejection::TournamentOutsideDuration));
    }
    if let Some(old) = load_record(txn, &board, window.expiry, owner)? {
        let mut rec = old.clone();
        let max = i64::from(old.max_num_score).saturating_add(count).clamp(0, i64::from(u32::MAX));
        rec.max_num_score = u32::try_from(max).unwrap_or(u32::MAX);
        store(txn, &board, Some(&old), &rec);
    }
    Ok(Ok(Reply::Done))
}

fn delete_board(txn: &mut Txn<'_>, id: &str) -> Result<Response, TxnError> {
    if load_board(txn, id)?.is_none() {
        return Ok(Ok(Reply::Done));
    }
    let locators = keys::leaderboard_record_board(id);
    for (k, _) in txn.scan_prefix(&locators)? {
        if let Some((expiry, owner)) = keys::decode_leaderboard_record(locators.len(), &k) {
            txn.delete(keys::leaderboard_owner(&owner, id, expiry));
        }
        txn.delete(k);
    }
    for prefix in [keys::leaderboard_rank_board(id), keys::tournament_size_board(id), keys::leaderboard_reset_board(id)] {
        for (k, _) in txn.scan_prefix(&prefix)? {
            txn.delete(k);
        }
    }
    txn.delete(keys::leaderboard(id));
    txn.rank_op(RankOp::DropBoard { board: id.into() });
    Ok(Ok(Reply::Done))
}

/// Deletes every leaderboard and tournament record of an owner (account deletion).
pub(crate) fn delete_owner_records(txn: &mut Txn<'_>, owner: &Uuid) -> Result<(), TxnError> {
    for (k, _) in txn.scan_prefix(&keys::leaderboard_owner_all(owner))? {
        if let Some((id, expiry)) = keys::decode_leaderboard_owner(&k)
            && let Some(board) = load_board(txn, &id)?
            && let Some(rec) = load_record(txn, &board, expiry, owner)?
        {
            remove(txn, &board, &rec);
        }
        txn.delete(k);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operator::*;
    use SortOrder::*;

    #[test]
    fn operator_table() {
        // (op, sort, old, new) → (result, filter passes)
        let cases = [
            (Best, Desc, (10, 5), (8, 9), ((10, 9), true)),
            (Best, Desc, (10, 5), (10, 5), ((10, 5), false)),
            (Best, Desc, (10, 5), (9, 4), ((10, 5), false)),
            (Best, Asc, (10, 5), (8, 9), ((8, 5), true)),
            (Best, Asc, (10, 5), (11, 6), ((10, 5), false)),
            (Set, Desc, (10, 5), (1, 2), ((1, 2), true)),
            (Set, Asc, (1, 2), (1, 2), ((1, 2), false)),
            (Incr, Desc, (10, 5), (3, 0), ((13, 5), true)),
            (Incr, Asc, (10, 5), (0, 0), ((10, 5), false)),
            (Incr, Desc, (10, 5), (-20, -1), ((-10, 4), true)),
            (Decr, Desc, (10, 5), (3, 9), ((7, 0), true)),
            (Decr, Asc, (10, 5), (30, 1), ((0, 4), true)),
            (Decr, Desc, (10, 5), (0, 0), ((10, 5), false)),
            (Incr, Desc, (i64::MAX, 0), (1, 0), ((i64::MAX, 0), true)),
        ];
        for (op, sort, old, new, want) in cases {
            assert_eq!(combine(op, sort, old, new), want, "{op:?} {sort:?} {old:?} {new:?}");
        }
        assert_eq!(insert_values(Decr, (5, 5)), (0, 0));
        assert_eq!(insert_values(Incr, (5, -5)), (5, -5));
    }
}
