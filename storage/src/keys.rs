//! Every RocksDB key and column family Shoal writes, built in this one file.
//!
//! Column families: `log` (Raft log, u64 big-endian index), `meta` (vote, purge point, applied
//! state, snapshot), `data` (the state machine). In `data`, each record kind has a one-byte
//! tag followed by memcomparable-encoded components, so lexicographic key order equals the
//! order of the components and prefix scans stay within one kind.

use uuid::Uuid;

pub const CF_LOG: &str = "log";
pub const CF_META: &str = "meta";
pub const CF_DATA: &str = "data";
pub const ALL_CFS: [&str; 3] = [CF_LOG, CF_META, CF_DATA];

// meta keys
pub const META_VOTE: &[u8] = b"vote";
pub const META_LAST_PURGED: &[u8] = b"last_purged";
pub const META_LAST_APPLIED: &[u8] = b"last_applied";
pub const META_MEMBERSHIP: &[u8] = b"membership";
pub const META_SNAPSHOT: &[u8] = b"snapshot";

pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub fn log_index(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[..8]);
    u64::from_be_bytes(b)
}

// data tags
const T_USER: u8 = b'u';
const T_USERNAME: u8 = b'n';
const T_DEVICE: u8 = b'd';
const T_CUSTOM: u8 = b'c';
const T_EMAIL: u8 = b'e';
const T_STORAGE: u8 = b's';
const T_STORAGE_PUBLIC: u8 = b'p';
const T_STORAGE_OWNER: u8 = b'o';
const T_FRIEND: u8 = b'f';
const T_REVOKED_SESSION: u8 = b'r';
const T_REVOKED_REFRESH: u8 = b'R';
const T_REVOKED_ALL: u8 = b'a';
const T_LEADERBOARD: u8 = b'L';
const T_LB_RECORD: u8 = b'l';
const T_LB_RANK: u8 = b'k';
const T_LB_OWNER: u8 = b'w';
const T_LB_SIZE: u8 = b'z';
const T_LB_RESET: u8 = b'x';
const T_NOTIFICATION: u8 = b'i';
const T_NOTIFICATION_ID: u8 = b'I';
const T_MESSAGE: u8 = b'm';
const T_MESSAGE_ID: u8 = b'M';
const T_BUNDLE: u8 = b'B';

/// Builds a key: a tag, then components. Strings are memcomparable-encoded (0x00 escaped as
/// 0x00 0xFF, terminated by 0x00 0x01), so a component never runs into the next one and
/// byte order equals string order.
pub struct KeyBuf(Vec<u8>);

impl KeyBuf {
    fn new(tag: u8) -> Self {
        let mut v = Vec::with_capacity(48);
        v.push(tag);
        KeyBuf(v)
    }
    fn str(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self.0.extend_from_slice(&[0x00, 0x01]);
        self
    }
    fn uuid(mut self, u: &Uuid) -> Self {
        self.0.extend_from_slice(u.as_bytes());
        self
    }
    fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    /// An i64 in 8 bytes whose byte order is numeric order (sign bit flipped, big-endian).
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&sortable_i64(v).to_be_bytes());
        self
    }
    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

pub fn user(id: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_USER).uuid(id).into_vec()
}
pub fn username(name: &str) -> Vec<u8> {
    KeyBuf::new(T_USERNAME).str(name).into_vec()
}
pub fn device(id: &str) -> Vec<u8> {
    KeyBuf::new(T_DEVICE).str(id).into_vec()
}
pub fn custom(id: &str) -> Vec<u8> {
    KeyBuf::new(T_CUSTOM).str(id).into_vec()
}
pub fn email(email: &str) -> Vec<u8> {
    KeyBuf::new(T_EMAIL).str(email).into_vec()
}

/// Primary record of a storage object: (collection, user, key).
pub fn storage(collection: &str, user: &Uuid, key: &str) -> Vec<u8> {
    KeyBuf::new(T_STORAGE).str(collection).uuid(user).str(key).into_vec()
}
/// Every object of one collection, all users.
pub fn storage_collection_prefix(collection: &str) -> Vec<u8> {
    KeyBuf::new(T_STORAGE).str(collection).into_vec()
}
/// Every object of one user in one collection (for deletes of a whole account).
pub fn storage_user_prefix(collection: &str, user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_STORAGE).str(collection).uuid(user).into_vec()
}
/// Index of public (read=2) objects of a collection, ordered by (key, user).
pub fn storage_public(collection: &str, key: &str, user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_PUBLIC).str(collection).str(key).uuid(user).into_vec()
}
pub fn storage_public_prefix(collection: &str) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_PUBLIC).str(collection).into_vec()
}
/// Index of one owner's objects, ordered by (user, collection, read, key). The value is empty.
pub fn storage_owner(user: &Uuid, collection: &str, read: u8, key: &str) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_OWNER).uuid(user).str(collection).byte(read).str(key).into_vec()
}
pub fn storage_owner_prefix(user: &Uuid, collection: &str) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_OWNER).uuid(user).str(collection).into_vec()
}
pub fn storage_owner_read_prefix(user: &Uuid, collection: &str, read: u8) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_OWNER).uuid(user).str(collection).byte(read).into_vec()
}
/// Every storage index entry of one owner, across collections.
pub fn storage_owner_all(user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_STORAGE_OWNER).uuid(user).into_vec()
}

/// Friend edge from `user` to `other`.
pub fn friend(user: &Uuid, other: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_FRIEND).uuid(user).uuid(other).into_vec()
}
pub fn friend_prefix(user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_FRIEND).uuid(user).into_vec()
}

pub fn revoked_session(token_id: &str) -> Vec<u8> {
    KeyBuf::new(T_REVOKED_SESSION).str(token_id).into_vec()
}
pub fn revoked_refresh(token_id: &str) -> Vec<u8> {
    KeyBuf::new(T_REVOKED_REFRESH).str(token_id).into_vec()
}
pub fn revoked_all(user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_REVOKED_ALL).uuid(user).into_vec()
}

// Leaderboards and tournaments. Records are partitioned by (board, expiry); `expiry` is 0
// for boards that never reset.

/// A leaderboard or tournament definition.
pub fn leaderboard(id: &str) -> Vec<u8> {
    KeyBuf::new(T_LEADERBOARD).str(id).into_vec()
}
/// Every leaderboard definition, ordered by id.
pub fn leaderboard_all() -> Vec<u8> {
    vec![T_LEADERBOARD]
}
/// Locator of one owner's record in one partition; the value is the (score, subscore) that
/// finds the record under `leaderboard_rank`.
pub fn leaderboard_record(board: &str, expiry: i64, owner: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_LB_RECORD).str(board).i64(expiry).uuid(owner).into_vec()
}
/// Every record locator of a board, all partitions.
pub fn leaderboard_record_board(board: &str) -> Vec<u8> {
    KeyBuf::new(T_LB_RECORD).str(board).into_vec()
}
/// Splits a record locator key of a board into (expiry, owner).
pub fn decode_leaderboard_record(board_prefix_len: usize, key: &[u8]) -> Option<(i64, Uuid)> {
    let rest = key.get(board_prefix_len..)?;
    if rest.len() != 24 {
        return None;
    }
    let mut e = [0u8; 8];
    e.copy_from_slice(&rest[..8]);
    Some((unsortable_i64(u64::from_be_bytes(e)), Uuid::from_slice(&rest[8..]).ok()?))
}
/// The ordering index, whose value is the full record: (board, expiry, rank key) where the
/// 32-byte rank key (see `rank_cache::RankKey`) sorts in rank order, so forward iteration
/// over a partition lists it best first.
pub fn leaderboard_rank(board: &str, expiry: i64, rank_key: &[u8; 32]) -> Vec<u8> {
    KeyBuf::new(T_LB_RANK).str(board).i64(expiry).bytes(rank_key).into_vec()
}
/// Every index entry of one partition.
pub fn leaderboard_rank_partition(board: &str, expiry: i64) -> Vec<u8> {
    KeyBuf::new(T_LB_RANK).str(board).i64(expiry).into_vec()
}
/// Every index entry of a board, all partitions.
pub fn leaderboard_rank_board(board: &str) -> Vec<u8> {
    KeyBuf::new(T_LB_RANK).str(board).into_vec()
}
/// Splits an index key of `board` into (expiry, rank key).
pub fn decode_leaderboard_rank(board_prefix_len: usize, key: &[u8]) -> Option<(i64, [u8; 32])> {
    let rest = key.get(board_prefix_len..)?;
    if rest.len() != 40 {
        return None;
    }
    let mut e = [0u8; 8];
    e.copy_from_slice(&rest[..8]);
    let mut rk = [0u8; 32];
    rk.copy_from_slice(&rest[8..]);
    Some((unsortable_i64(u64::from_be_bytes(e)), rk))
}
/// One owner's records across boards, for deleting or exporting an account. Value empty.
pub fn leaderboard_owner(owner: &Uuid, board: &str, expiry: i64) -> Vec<u8> {
    KeyBuf::new(T_LB_OWNER).uuid(owner).str(board).i64(expiry).into_vec()
}
pub fn leaderboard_owner_all(owner: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_LB_OWNER).uuid(owner).into_vec()
}
/// (board, expiry) of a `leaderboard_owner` key.
pub fn decode_leaderboard_owner(key: &[u8]) -> Option<(String, i64)> {
    let (board, pos) = decode_str(key, 17)?;
    let b = key.get(pos..pos + 8)?;
    let mut e = [0u8; 8];
    e.copy_from_slice(b);
    Some((board, unsortable_i64(u64::from_be_bytes(e))))
}
/// Number of entrants of one tournament partition (u32), counted only with a max size.
pub fn tournament_size(board: &str, expiry: i64) -> Vec<u8> {
    KeyBuf::new(T_LB_SIZE).str(board).i64(expiry).into_vec()
}
pub fn tournament_size_board(board: &str) -> Vec<u8> {
    KeyBuf::new(T_LB_SIZE).str(board).into_vec()
}
/// Marker of a reset of `board` at `reset_time` that the cluster has recorded. Value empty.
pub fn leaderboard_reset(board: &str, reset_time: i64) -> Vec<u8> {
    KeyBuf::new(T_LB_RESET).str(board).i64(reset_time).into_vec()
}
pub fn leaderboard_reset_board(board: &str) -> Vec<u8> {
    KeyBuf::new(T_LB_RESET).str(board).into_vec()
}

// Notifications: one user's persistent notifications in creation order, and a locator by
// id for deletes.

/// A persistent notification, ordered by (user, create time in ns, id); the value is the
/// record.
pub fn notification(user: &Uuid, create_time_ns: i64, id: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_NOTIFICATION).uuid(user).i64(create_time_ns).uuid(id).into_vec()
}
/// Every notification of one user, oldest first.
pub fn notification_user(user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_NOTIFICATION).uuid(user).into_vec()
}
/// Locator of a notification by (user, id); the value is its create time in ns.
pub fn notification_id(user: &Uuid, id: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_NOTIFICATION_ID).uuid(user).uuid(id).into_vec()
}
pub fn notification_id_user(user: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_NOTIFICATION_ID).uuid(user).into_vec()
}

// Channel messages: a channel's persisted history in creation order, and a locator by
// message id for updates and removals. A channel is its stream (mode, subject,
// subcontext, label).

fn stream_key(tag: u8, stream: &shoal_proto::Stream) -> KeyBuf {
    KeyBuf::new(tag).byte(stream.mode).str(&stream.subject).str(&stream.subcontext).str(&stream.label)
}
/// A persisted message, ordered by (channel, create time in ns, id); the value is the record.
pub fn channel_message(stream: &shoal_proto::Stream, create_time_ns: i64, id: &Uuid) -> Vec<u8> {
    stream_key(T_MESSAGE, stream).i64(create_time_ns).uuid(id).into_vec()
}
/// Every persisted message of one channel.
pub fn channel_message_stream(stream: &shoal_proto::Stream) -> Vec<u8> {
    stream_key(T_MESSAGE, stream).into_vec()
}
/// (create time in ns, id) of a `channel_message` key of the channel whose prefix has
/// `stream_prefix_len` bytes.
pub fn decode_channel_message(stream_prefix_len: usize, key: &[u8]) -> Option<(i64, Uuid)> {
    let rest = key.get(stream_prefix_len..)?;
    if rest.len() != 24 {
        return None;
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&rest[..8]);
    Some((unsortable_i64(u64::from_be_bytes(t)), Uuid::from_slice(&rest[8..]).ok()?))
}
/// Locator of a message by id; the value is (stream, create time in ns).
pub fn channel_message_id(id: &Uuid) -> Vec<u8> {
    KeyBuf::new(T_MESSAGE_ID).uuid(id).into_vec()
}

/// i64 → u64 with the same order (flip the sign bit).
pub fn sortable_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}
/// Inverse of `sortable_i64`.
pub fn unsortable_i64(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

/// Decodes the trailing string component of a key starting at `pos`; returns it and the
/// position after it.
pub fn decode_str(key: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut out = Vec::new();
    while pos < key.len() {
        let b = key[pos];
        if b == 0 {
            match key.get(pos + 1)? {
                0xFF => {
                    out.push(0);
                    pos += 2;
                }
                0x01 => return String::from_utf8(out).ok().map(|s| (s, pos + 2)),
                _ => return None,
            }
        } else {
            out.push(b);
            pos += 1;
        }
    }
    None
}

pub fn decode_uuid(key: &[u8], pos: usize) -> Option<(Uuid, usize)> {
    let b = key.get(pos..pos + 16)?;
    Some((Uuid::from_slice(b).ok()?, pos + 16))
}

/// The smallest key greater than every key with this prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_components_keep_order_and_do_not_bleed() {
        let u = Uuid::nil();
        // "a" < "a\0" < "ab": the encoding must keep that order.
        let a = storage("c", &u, "a");
        let a0 = storage("c", &u, "a\0");
        let ab = storage("c", &u, "ab");
        assert!(a < a0 && a0 < ab);
        // collection "ab" must not fall inside the prefix of collection "a".
        let p = storage_user_prefix("a", &u);
        assert!(!storage("ab", &u, "k").starts_with(&p));
        let (s, next) = decode_str(&a0, 1).unwrap();
        assert_eq!(s, "c");
        let (uu, next) = decode_uuid(&a0, next).unwrap();
        assert_eq!(uu, u);
        assert_eq!(decode_str(&a0, next).unwrap().0, "a\0");
    }

    #[test]
    fn i64_components_sort_numerically() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        let ks: Vec<_> = vals.iter().map(|v| tournament_size("b", *v)).collect();
        assert!(ks.windows(2).all(|w| w[0] < w[1]));
        for v in vals {
            assert_eq!(unsortable_i64(sortable_i64(v)), v);
        }
        let k = leaderboard_owner(&Uuid::from_u128(3), "board\0x", -42);
        assert_eq!(decode_leaderboard_owner(&k), Some(("board\0x".into(), -42)));
        let p = leaderboard_rank_board("b");
        let rk = leaderboard_rank("b", 9, &[7u8; 32]);
        assert_eq!(decode_leaderboard_rank(p.len(), &rk), Some((9, [7u8; 32])));
        // Board "b" must not cover board "bc".
        assert!(!leaderboard_rank("bc", 9, &[0u8; 32]).starts_with(&p));
    }

    #[test]
    fn notification_and_message_keys_order_by_time_then_id() {
        let u = Uuid::from_u128(1);
        let k = |t: i64, id: u128| notification(&u, t, &Uuid::from_u128(id));
        assert!(k(-1, 9) < k(5, 1) && k(5, 1) < k(5, 2) && k(5, 2) < k(6, 0));
        assert!(k(5, 1).starts_with(&notification_user(&u)));
        assert!(!notification(&Uuid::from_u128(2), 0, &u).starts_with(&notification_user(&u)));
        let room = |label: &str| shoal_proto::Stream { mode: 2, label: label.into(), ..Default::default() };
        let p = channel_message_stream(&room("a"));
        let m = channel_message(&room("a"), 42, &u);
        assert_eq!(decode_channel_message(p.len(), &m), Some((42, u)));
        // Room "a" must not cover room "ab".
        assert!(!channel_message(&room("ab"), 42, &u).starts_with(&p));
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        let p = friend_prefix(&Uuid::from_u128(5));
        let end = prefix_end(&p);
        assert!(friend(&Uuid::from_u128(5), &Uuid::max()) < end);
        assert!(friend(&Uuid::from_u128(6), &Uuid::nil()) >= end);
    }
}

// Module bundles: the cluster's current bundle and the one before it (for rollback).

/// The bundle every node runs; the value is a `BundleRecord`.
pub fn bundle_current() -> Vec<u8> {
    KeyBuf::new(T_BUNDLE).byte(0).into_vec()
}
/// The bundle `bundle_current` replaced.
pub fn bundle_previous() -> Vec<u8> {
    KeyBuf::new(T_BUNDLE).byte(1).into_vec()
}
