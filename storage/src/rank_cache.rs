//! The in-memory rank cache: per (board, expiry) partition of a board with `enable_ranks`,
//! an order-statistic set of [`RankKey`]s (indexset's two-level B-tree with a Fenwick index
//! over node sizes), so rank-of-key, key-at-rank and count are O(log n).
//!
//! The state machine updates it only for accepted commands, after their RocksDB batch is
//! written, and rebuilds it from the ordering index at open and after a snapshot install;
//! the `Reader` reads it. Keys are exactly the 32 bytes of the ordering index, so a rebuild
//! reads them straight from the index keys and ranks after a restart equal those before.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use indexset::BTreeSet;
use uuid::Uuid;

use crate::keys::{sortable_i64, unsortable_i64};
use crate::leaderboard::SortOrder;

/// A record's position key: (score, subscore, owner) encoded so that ascending order is rank
/// order — as is for asc boards, every bit inverted for desc boards (Nakama: `ORDER BY score
/// DESC, subscore DESC, owner_id DESC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey {
    score: u64,
    subscore: u64,
    owner: u128,
}

impl RankKey {
    pub fn new(sort: SortOrder, score: i64, subscore: i64, owner: &Uuid) -> RankKey {
        let k = RankKey { score: sortable_i64(score), subscore: sortable_i64(subscore), owner: owner.as_u128() };
        match sort {
            SortOrder::Asc => k,
            SortOrder::Desc => RankKey { score: !k.score, subscore: !k.subscore, owner: !k.owner },
        }
    }

    /// (score, subscore, owner) back from a key of a board with this sort order.
    pub fn parts(&self, sort: SortOrder) -> (i64, i64, Uuid) {
        let k = match sort {
            SortOrder::Asc => *self,
            SortOrder::Desc => RankKey { score: !self.score, subscore: !self.subscore, owner: !self.owner },
        };
        (unsortable_i64(k.score), unsortable_i64(k.subscore), Uuid::from_u128(k.owner))
    }

    /// The 32 bytes used in the ordering index key (big-endian, so byte order = key order).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&self.score.to_be_bytes());
        b[8..16].copy_from_slice(&self.subscore.to_be_bytes());
        b[16..].copy_from_slice(&self.owner.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; 32]) -> RankKey {
        let mut s = [0u8; 8];
        let mut ss = [0u8; 8];
        let mut o = [0u8; 16];
        s.copy_from_slice(&b[..8]);
        ss.copy_from_slice(&b[8..16]);
        o.copy_from_slice(&b[16..]);
        RankKey { score: u64::from_be_bytes(s), subscore: u64::from_be_bytes(ss), owner: u128::from_be_bytes(o) }
    }
}

/// A change to the cache produced by an accepted command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RankOp {
    /// Insert `new` into the partition (created with `sort`), replacing `old` if given.
    Put { board: String, expiry: i64, sort: SortOrder, old: Option<RankKey>, new: RankKey },
    Remove { board: String, expiry: i64, key: RankKey },
    /// Forget every partition of a board.
    DropBoard { board: String },
}

struct Partition {
    sort: SortOrder,
    set: BTreeSet<RankKey>,
}

type Partitions = HashMap<(String, i64), Partition>;

/// Shared handle to the cache (cheap to clone).
#[derive(Clone, Default)]
pub struct RankCache {
    inner: Arc<RwLock<Partitions>>,
}

impl RankCache {
    fn read(&self) -> RwLockReadGuard<'_, Partitions> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Partitions> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn apply(&self, ops: Vec<RankOp>) {
        if ops.is_empty() {
            return;
        }
        let mut parts = self.write();
        for op in ops {
            match op {
                RankOp::Put { board, expiry, sort, old, new } => {
                    let p = parts
                        .entry((board, expiry))
                        .or_insert_with(|| Partition { sort, set: BTreeSet::new() });
                    if let Some(old) = old {
                        p.set.remove(&old);
                    }
                    p.set.insert(new);
                }
                RankOp::Remove { board, expiry, key } => {
                    let k = (board, expiry);
                    if let Some(p) = parts.get_mut(&k) {
                        p.set.remove(&key);
                        if p.set.is_empty() {
                            parts.remove(&k);
                        }
                    }
                }
                RankOp::DropBoard { board } => parts.retain(|(b, _), _| *b != board),
            }
        }
    }

    /// Replaces the whole cache (rebuild) with these partitions' keys.
    pub(crate) fn replace(&self, parts: HashMap<(String, i64), (SortOrder, Vec<RankKey>)>) {
        let built: Partitions = parts
            .into_iter()
            .map(|(k, (sort, mut keys))| {
                keys.sort_unstable();
                (k, Partition { sort, set: keys.into_iter().collect() })
            })
            .collect();
        *self.write() = built;
    }

    /// 1-based rank of `key` in the partition, if it is there.
    pub fn rank(&self, board: &str, expiry: i64, key: &RankKey) -> Option<u64> {
        let parts = self.read();
        let p = parts.get(&(board.to_string(), expiry))?;
        p.set.contains(key).then(|| p.set.rank(key) as u64 + 1)
    }

    /// 1-based rank of the record (score, subscore, owner), if the partition holds it.
    pub fn rank_of(&self, board: &str, expiry: i64, score: i64, subscore: i64, owner: &Uuid) -> Option<u64> {
        let parts = self.read();
        let p = parts.get(&(board.to_string(), expiry))?;
        let key = RankKey::new(p.sort, score, subscore, owner);
        p.set.contains(&key).then(|| p.set.rank(&key) as u64 + 1)
    }

    /// The key at 1-based `rank`, if the partition has that many entries.
    pub fn at_rank(&self, board: &str, expiry: i64, rank: u64) -> Option<RankKey> {
        let idx = usize::try_from(rank.checked_sub(1)?).ok()?;
        let parts = self.read();
        parts.get(&(board.to_string(), expiry))?.set.get_index(idx).copied()
    }

    /// (score, subscore, owner) at 1-based `rank` (Nakama's `GetDataByRank`).
    pub fn data_at_rank(&self, board: &str, expiry: i64, rank: u64) -> Option<(i64, i64, Uuid)> {
        let idx = usize::try_from(rank.checked_sub(1)?).ok()?;
        let parts = self.read();
        let p = parts.get(&(board.to_string(), expiry))?;
        p.set.get_index(idx).map(|k| k.parts(p.sort))
    }

    /// Entries in the partition (Nakama's `rank_count`).
    pub fn count(&self, board: &str, expiry: i64) -> u64 {
        self.read().get(&(board.to_string(), expiry)).map_or(0, |p| p.set.len() as u64)
    }

    /// Drops partitions that expired at or before `now` (Nakama's `TrimExpired`); their
    /// records stay in RocksDB but read with rank 0. Call it from the node's clock, never
    /// from apply. A restart brings them back until the next trim.
    pub fn trim_expired(&self, now: i64) {
        self.write().retain(|(_, expiry), _| *expiry == 0 || *expiry > now);
    }

    /// (board, expiry, count) of every cached partition, for diagnostics and tests.
    pub fn partitions(&self) -> Vec<(String, i64, u64)> {
        let mut v: Vec<_> =
            self.read().iter().map(|((b, e), p)| (b.clone(), *e, p.set.len() as u64)).collect();
        v.sort();
        v
    }

    /// Every key of a partition in rank order (tests and diagnostics; O(n)).
    pub fn keys(&self, board: &str, expiry: i64) -> Vec<RankKey> {
        self.read().get(&(board.to_string(), expiry)).map_or_else(Vec::new, |p| p.set.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn key_order_is_rank_order() {
        // desc: higher score first; equal score → higher subscore; equal → higher owner.
        let d = |s, ss, o| RankKey::new(SortOrder::Desc, s, ss, &u(o));
        assert!(d(10, 0, 1) < d(9, 99, 1));
        assert!(d(10, 5, 1) < d(10, 4, 9));
        assert!(d(10, 5, 9) < d(10, 5, 1));
        assert!(d(0, 0, 0) < d(-1, 0, 0) && d(i64::MAX, 0, 0) < d(i64::MIN, 0, 0));
        let a = |s, ss, o| RankKey::new(SortOrder::Asc, s, ss, &u(o));
        assert!(a(-3, 0, 5) < a(2, 0, 1));
        assert!(a(2, -1, 5) < a(2, 0, 1));
        assert!(a(2, 0, 1) < a(2, 0, 5));
        for sort in [SortOrder::Asc, SortOrder::Desc] {
            let k = RankKey::new(sort, i64::MIN, -7, &u(u128::MAX - 3));
            assert_eq!(k.parts(sort), (i64::MIN, -7, u(u128::MAX - 3)));
            assert_eq!(RankKey::from_bytes(&k.to_bytes()), k);
            // Byte order equals key order.
            let k2 = RankKey::new(sort, 5, 0, &u(1));
            assert_eq!(k.cmp(&k2), k.to_bytes().cmp(&k2.to_bytes()));
        }
    }

    #[test]
    fn put_replace_remove_and_ranks() {
        let c = RankCache::default();
        let k = |s| RankKey::new(SortOrder::Desc, s, 0, &u(s as u128));
        c.apply(vec![
            RankOp::Put { board: "b".into(), expiry: 0, sort: SortOrder::Desc, old: None, new: k(10) },
            RankOp::Put { board: "b".into(), expiry: 0, sort: SortOrder::Desc, old: None, new: k(20) },
            RankOp::Put { board: "b".into(), expiry: 0, sort: SortOrder::Desc, old: None, new: k(5) },
        ]);
        assert_eq!(c.rank("b", 0, &k(20)), Some(1));
        assert_eq!(c.rank("b", 0, &k(5)), Some(3));
        assert_eq!(c.rank("b", 0, &k(7)), None);
        assert_eq!(c.rank("b", 1, &k(5)), None);
        assert_eq!(c.at_rank("b", 0, 2), Some(k(10)));
        assert_eq!(c.data_at_rank("b", 0, 2), Some((10, 0, u(10))));
        assert_eq!(c.rank_of("b", 0, 5, 0, &u(5)), Some(3));
        assert_eq!(c.at_rank("b", 0, 0), None);
        assert_eq!(c.at_rank("b", 0, 4), None);
        // 5 → 30 moves to the top.
        c.apply(vec![RankOp::Put { board: "b".into(), expiry: 0, sort: SortOrder::Desc, old: Some(k(5)), new: k(30) }]);
        assert_eq!(c.count("b", 0), 3);
        assert_eq!(c.rank("b", 0, &k(30)), Some(1));
        c.apply(vec![RankOp::Remove { board: "b".into(), expiry: 0, key: k(30) }]);
        assert_eq!(c.rank("b", 0, &k(20)), Some(1));
        c.apply(vec![
            RankOp::Put { board: "b".into(), expiry: 9, sort: SortOrder::Desc, old: None, new: k(1) },
            RankOp::Put { board: "bb".into(), expiry: 0, sort: SortOrder::Desc, old: None, new: k(1) },
        ]);
        c.trim_expired(9);
        assert_eq!(c.count("b", 9), 0);
        c.apply(vec![RankOp::DropBoard { board: "b".into() }]);
        assert_eq!(c.partitions(), vec![("bb".into(), 0, 1)]);
    }
}
