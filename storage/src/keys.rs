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
    fn prefix_end_bounds_the_prefix() {
        let p = friend_prefix(&Uuid::from_u128(5));
        let end = prefix_end(&p);
        assert!(friend(&Uuid::from_u128(5), &Uuid::max()) < end);
        assert!(friend(&Uuid::from_u128(6), &Uuid::nil()) >= end);
    }
}
