//! Leaderboard and tournament reads for the node, served from the local applied state and
//! the rank cache.
//!
//! Partition: every call takes the `expiry` of the partition to read — the current one is
//! `schedule::window(&board, now)?.expiry`, or the caller's `expiry` override.
//! Ranks: plain listings ([`Reader::leaderboard_records_page`]) give positional ranks that
//! continue across cursors; everything else takes ranks from the rank cache, which holds
//! only boards with `enable_ranks` (otherwise ranks and `rank_count` are 0, as in Nakama).

use std::collections::HashMap;

use rocksdb::{DB, Direction, IteratorMode};
use uuid::Uuid;

use crate::codec::decode;
use crate::keys;
use crate::leaderboard::{Leaderboard, LeaderboardRecord, RankedRecord, RecordCursor, RecordPage};
use crate::rank_cache::{RankCache, RankKey};
use crate::read::{ReadError, Reader};

/// Refills `ranks` from the ordering index of every board with `enable_ranks`.
pub(crate) fn rebuild_rank_cache(db: &DB, ranks: &RankCache) -> Result<(), ReadError> {
    let cf = db.cf_handle(keys::CF_DATA).expect("data column family exists");
    let mut boards = Vec::new();
    let all = keys::leaderboard_all();
    for item in db.iterator_cf(cf, IteratorMode::From(&all, Direction::Forward)) {
        let (k, v) = item?;
        if !k.starts_with(&all) {
            break;
        }
        let board: Leaderboard = decode(&v)?;
        if board.enable_ranks {
            boards.push(board);
        }
    }
    let mut parts = HashMap::new();
    for board in boards {
        let prefix = keys::leaderboard_rank_board(&board.id);
        let it = db.iterator_cf(cf, IteratorMode::From(&prefix, Direction::Forward));
        for item in it {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if let Some((expiry, rk)) = keys::decode_leaderboard_rank(prefix.len(), &k) {
                parts
                    .entry((board.id.clone(), expiry))
                    .or_insert_with(|| (board.sort_order, Vec::new()))
                    .1
                    .push(RankKey::from_bytes(&rk));
            }
        }
    }
    ranks.replace(parts);
    Ok(())
}

fn cursor_of(rr: &RankedRecord, is_next: bool) -> RecordCursor {
    let r = &rr.record;
    RecordCursor {
        is_next,
        leaderboard_id: r.leaderboard_id.clone(),
        expiry_time: r.expiry_time,
        score: r.score,
        subscore: r.subscore,
        owner_id: r.owner_id,
        rank: rr.rank,
    }
}

impl Reader {
    /// The shared rank cache (e.g. for `trim_expired` from the node's clock).
    pub fn rank_cache(&self) -> &RankCache {
        &self.ranks
    }

    /// A leaderboard or tournament definition.
    pub fn leaderboard(&self, id: &str) -> Result<Option<Leaderboard>, ReadError> {
        self.get(&keys::leaderboard(id))
    }

    /// Definitions in id order, strictly after `after`, that pass `filter` (e.g. "is a
    /// tournament in categories 0–127"), up to `limit`; plus the id to resume after when
    /// more may remain (Nakama's list cursors carry that id).
    pub fn leaderboard_list(
        &self,
        after: Option<&str>,
        limit: usize,
        mut filter: impl FnMut(&Leaderboard) -> bool,
    ) -> Result<(Vec<Leaderboard>, Option<String>), ReadError> {
        let prefix = keys::leaderboard_all();
        let start = after.map(keys::leaderboard).unwrap_or_else(|| prefix.clone());
        let mut out: Vec<Leaderboard> = Vec::new();
        let mut more = false;
        for item in self.db.iterator_cf(self.cf(), IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if after.is_some() && *k == *start {
                continue;
            }
            let board: Leaderboard = decode(&v)?;
            if !filter(&board) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(board);
        }
        let next = if more { out.last().map(|b| b.id.clone()) } else { None };
        Ok((out, next))
    }

    fn record_of(&self, board: &Leaderboard, expiry: i64, owner: &Uuid) -> Result<Option<LeaderboardRecord>, ReadError> {
        let Some((score, subscore)) = self.get::<(i64, i64)>(&keys::leaderboard_record(&board.id, expiry, owner))?
        else {
            return Ok(None);
        };
        let rk = RankKey::new(board.sort_order, score, subscore, owner);
        match self.get::<LeaderboardRecord>(&keys::leaderboard_rank(&board.id, expiry, &rk.to_bytes()))? {
            Some(r) => Ok(Some(r)),
            // The record moved between the two reads (a concurrent apply): read it again.
            None => {
                let Some((s, ss)) = self.get::<(i64, i64)>(&keys::leaderboard_record(&board.id, expiry, owner))?
                else {
                    return Ok(None);
                };
                let rk = RankKey::new(board.sort_order, s, ss, owner);
                self.get(&keys::leaderboard_rank(&board.id, expiry, &rk.to_bytes()))
            }
        }
    }

    /// The cache rank of a record just read; 0 without ranks or if the cache does not hold
    /// it (an apply between the read and the lookup is retried once).
    fn cached_rank(&self, board: &Leaderboard, rec: &LeaderboardRecord) -> Result<i64, ReadError> {
        if !board.enable_ranks {
            return Ok(0);
        }
        let lookup = |r: &LeaderboardRecord| {
            self.ranks.rank_of(&board.id, r.expiry_time, r.score, r.subscore, &r.owner_id)
        };
        if let Some(rank) = lookup(rec) {
            return Ok(rank as i64);
        }
        let again = self.record_of(board, rec.expiry_time, &rec.owner_id)?;
        Ok(again.as_ref().and_then(lookup).map_or(0, |r| r as i64))
    }

    /// One owner's record in a partition, ranked from the cache.
    pub fn leaderboard_record(
        &self,
        board: &Leaderboard,
        expiry: i64,
        owner: &Uuid,
    ) -> Result<Option<RankedRecord>, ReadError> {
        let Some(record) = self.record_of(board, expiry, owner)? else { return Ok(None) };
        let rank = self.cached_rank(board, &record)?;
        Ok(Some(RankedRecord { record, rank }))
    }

    /// The records of these owners in a partition (Nakama's `owner_records`), in the order
    /// given, skipping owners without one; ranked from the cache.
    pub fn leaderboard_records_of(
        &self,
        board: &Leaderboard,
        expiry: i64,
        owners: &[Uuid],
    ) -> Result<Vec<RankedRecord>, ReadError> {
        let mut out = Vec::with_capacity(owners.len());
        for o in owners {
            if let Some(r) = self.leaderboard_record(board, expiry, o)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Every record of an owner on every board and partition (account export).
    pub fn leaderboard_records_of_owner(&self, owner: &Uuid) -> Result<Vec<LeaderboardRecord>, ReadError> {
        let prefix = keys::leaderboard_owner_all(owner);
        let mut found = Vec::new();
        for item in self.db.iterator_cf(self.cf(), IteratorMode::From(&prefix, Direction::Forward)) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if let Some(be) = keys::decode_leaderboard_owner(&k) {
                found.push(be);
            }
        }
        let mut out = Vec::new();
        for (id, expiry) in found {
            if let Some(board) = self.leaderboard(&id)?
                && let Some(r) = self.record_of(&board, expiry, owner)?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Up to `limit` records of a partition in rank order, strictly after (`forward`) or
    /// before (`!forward`, nearest first) `from`, or from the top/bottom without it.
    fn scan(
        &self,
        board: &Leaderboard,
        expiry: i64,
        from: Option<&RankKey>,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<LeaderboardRecord>, ReadError> {
        let prefix = keys::leaderboard_rank_partition(&board.id, expiry);
        let from_key = from.map(|k| keys::leaderboard_rank(&board.id, expiry, &k.to_bytes()));
        let start = match (&from_key, forward) {
            (Some(k), _) => k.clone(),
            (None, true) => prefix.clone(),
            (None, false) => keys::prefix_end(&prefix),
        };
        let dir = if forward { Direction::Forward } else { Direction::Reverse };
        let mut out = Vec::with_capacity(limit.min(1024));
        if limit == 0 {
            return Ok(out);
        }
        for item in self.db.iterator_cf(self.cf(), IteratorMode::From(&start, dir)) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if from_key.as_deref() == Some(&k[..]) {
                continue;
            }
            out.push(decode(&v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// A page of up to `limit` records in rank order with positional ranks (Nakama's
    /// `leaderboard_records_list` without owners). Without a cursor: from the top, ranks
    /// 1, 2, …, `next` set when more follow. With a cursor from a previous page: `is_next`
    /// lists the records after it (ranks continue from `cursor.rank + 1`), otherwise the
    /// records before it (ending at `cursor.rank - 1`); `prev`/`next` point at the first/last
    /// record of the page when records exist that way. A cursor of another board or partition
    /// is `ReadError::InvalidCursor`.
    pub fn leaderboard_records_page(
        &self,
        board: &Leaderboard,
        expiry: i64,
        cursor: Option<&RecordCursor>,
        limit: usize,
    ) -> Result<RecordPage, ReadError> {
        let Some(c) = cursor else {
            let mut rows = self.scan(board, expiry, None, true, limit + 1)?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let records: Vec<_> = rows
                .into_iter()
                .enumerate()
                .map(|(i, record)| RankedRecord { record, rank: i as i64 + 1 })
                .collect();
            let next = if more { records.last().map(|r| cursor_of(r, true)) } else { None };
            return Ok(RecordPage { records, next, prev: None });
        };
        if c.leaderboard_id != board.id || c.expiry_time != expiry {
            return Err(ReadError::InvalidCursor);
        }
        let key = RankKey::new(board.sort_order, c.score, c.subscore, &c.owner_id);
        let mut rows = self.scan(board, expiry, Some(&key), c.is_next, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let n = rows.len() as i64;
        let records: Vec<RankedRecord> = if c.is_next {
            rows.into_iter()
                .enumerate()
                .map(|(i, record)| RankedRecord { record, rank: c.rank + 1 + i as i64 })
                .collect()
        } else {
            rows.reverse();
            rows.into_iter()
                .enumerate()
                .map(|(i, record)| RankedRecord { record, rank: c.rank - n + i as i64 })
                .collect()
        };
        let (has_prev, has_next) = if c.is_next { (true, more) } else { (more, true) };
        let prev = if has_prev { records.first().map(|r| cursor_of(r, false)) } else { None };
        let next = if has_next { records.last().map(|r| cursor_of(r, true)) } else { None };
        Ok(RecordPage { records, next, prev })
    }

    /// Records around an owner (Nakama's `leaderboard_records_haystack` without a cursor; with
    /// one, Nakama lists a plain page: call [`Reader::leaderboard_records_page`]). Up to
    /// `limit` records including the owner's: the owner's neighbours above fill the page
    /// first with at most `limit / 2` below, unless fewer are above; ranks come from the rank
    /// cache. Empty when the owner has no record.
    pub fn leaderboard_haystack(
        &self,
        board: &Leaderboard,
        expiry: i64,
        owner: &Uuid,
        limit: usize,
    ) -> Result<RecordPage, ReadError> {
        let Some(own) = self.record_of(board, expiry, owner)? else { return Ok(RecordPage::default()) };
        let key = RankKey::new(board.sort_order, own.score, own.subscore, owner);
        let mut first = self.scan(board, expiry, Some(&key), false, limit + 1)?;
        let mut set_prev = first.len() > limit;
        first.truncate(limit);
        first.reverse();
        let mut second_limit = limit / 2;
        if first.len() < second_limit {
            second_limit = limit - first.len();
        }
        let mut second = self.scan(board, expiry, Some(&key), true, second_limit + 1)?;
        let set_next = second.len() > second_limit;
        second.truncate(second_limit);
        let above = first.len();
        let mut rows = first;
        rows.push(own);
        rows.extend(second);
        let n = rows.len();
        let mut start = n.saturating_sub(limit);
        if above < second_limit {
            start = 0;
        }
        let end = (start + limit).min(n);
        if start > 0 {
            set_prev = true;
        }
        let mut records = Vec::with_capacity(end - start);
        for record in rows.drain(start..end) {
            let rank = self.cached_rank(board, &record)?;
            records.push(RankedRecord { record, rank });
        }
        let prev = if set_prev { records.first().map(|r| cursor_of(r, false)) } else { None };
        let next = if set_next { records.last().map(|r| cursor_of(r, true)) } else { None };
        Ok(RecordPage { records, next, prev })
    }

    /// Entries of the partition in the rank cache (Nakama's `rank_count`; 0 without ranks).
    pub fn leaderboard_rank_count(&self, board_id: &str, expiry: i64) -> i64 {
        self.ranks.count(board_id, expiry) as i64
    }

    /// An owner's rank from the cache; 0 without ranks or without a record.
    pub fn leaderboard_rank(&self, board: &Leaderboard, expiry: i64, owner: &Uuid) -> Result<i64, ReadError> {
        match self.record_of(board, expiry, owner)? {
            Some(r) => self.cached_rank(board, &r),
            None => Ok(0),
        }
    }

    /// A cursor whose next page starts at `rank` (Nakama's
    /// `leaderboard_records_list_cursor_from_rank`): the position of the record at
    /// `rank - 1`. `None` for `rank <= 1` (list from the top without a cursor) or when the
    /// rank cache has no record at `rank - 1`.
    pub fn leaderboard_cursor_from_rank(&self, board_id: &str, expiry: i64, rank: i64) -> Option<RecordCursor> {
        let before = u64::try_from(rank.checked_sub(1)?).ok().filter(|r| *r >= 1)?;
        let (score, subscore, owner_id) = self.ranks.data_at_rank(board_id, expiry, before)?;
        Some(RecordCursor {
            is_next: true,
            leaderboard_id: board_id.into(),
            expiry_time: expiry,
            score,
            subscore,
            owner_id,
            rank: before as i64,
        })
    }

    /// Entrants counted against `max_size` in a tournament partition (Nakama's `size`).
    pub fn tournament_size(&self, board_id: &str, expiry: i64) -> Result<u32, ReadError> {
        Ok(self.get::<u32>(&keys::tournament_size(board_id, expiry))?.unwrap_or(0))
    }

    /// Whether the reset of `board_id` at `reset_time` was recorded (`LeaderboardCommand::Reset`).
    pub fn leaderboard_reset_recorded(&self, board_id: &str, reset_time: i64) -> Result<bool, ReadError> {
        Ok(self.db.get_pinned_cf(self.cf(), keys::leaderboard_reset(board_id, reset_time))?.is_some())
    }
}
