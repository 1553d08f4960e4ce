//! `nk.localcache_*`: a node-local key/value cache shared by every VM of the pool.
//!
//! Values are copied out of Lua (nil, booleans, numbers, strings, and tables of those), so
//! each VM gets its own copy on `get`. Bounded: past `max_entries` the oldest entry goes.
//! `ttl_sec` 0 means no expiry.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mlua::{Lua, Value};

use super::Installer;
use super::args::{NkResult, raise};
use crate::convert::MAX_DEPTH;

#[derive(Debug, Clone, PartialEq)]
enum Cached {
    Nil,
    Bool(bool),
    Number(f64),
    Str(Vec<u8>),
    Table(Vec<(Cached, Cached)>),
}

impl Cached {
    fn from_lua(v: &Value, depth: usize) -> NkResult<Cached> {
        Ok(match v {
            Value::Nil => Cached::Nil,
            Value::Boolean(b) => Cached::Bool(*b),
            Value::Integer(i) => Cached::Number(*i as f64),
            Value::Number(f) => Cached::Number(*f),
            Value::String(s) => Cached::Str(s.as_bytes().to_vec()),
            Value::Table(t) if depth < MAX_DEPTH => {
                let mut entries = Vec::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    entries.push((
                        Cached::from_lua(&k, depth + 1)?,
                        Cached::from_lua(&v, depth + 1)?,
                    ));
                }
                Cached::Table(entries)
            }
            Value::Table(_) => return Err(raise("table nesting too deep (or cyclic)")),
            other => return Err(raise(format!("cannot cache a {} value", other.type_name()))),
        })
    }

    fn to_lua(&self, lua: &Lua) -> mlua::Result<Value> {
        Ok(match self {
            Cached::Nil => Value::Nil,
            Cached::Bool(b) => Value::Boolean(*b),
            Cached::Number(f) => Value::Number(*f),
            Cached::Str(s) => Value::String(lua.create_string(s)?),
            Cached::Table(entries) => {
                let t = lua.create_table()?;
                for (k, v) in entries {
                    t.raw_set(k.to_lua(lua)?, v.to_lua(lua)?)?;
                }
                Value::Table(t)
            }
        })
    }
}

struct Entry {
    value: Cached,
    expires: Option<Instant>,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Insertion order, `(key, seq)`; stale pairs are skipped when evicting.
    order: VecDeque<(String, u64)>,
    next_seq: u64,
}

pub(crate) struct LocalCache {
    inner: Mutex<Inner>,
    max_entries: usize,
}

impl LocalCache {
    pub fn new(max_entries: usize) -> Self {
        LocalCache {
            inner: Mutex::new(Inner::default()),
            max_entries: max_entries.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &str) -> Option<Cached> {
        let mut inner = self.lock();
        let expired = inner
            .map
            .get(key)?
            .expires
            .is_some_and(|e| e <= Instant::now());
        if expired {
            inner.map.remove(key);
            return None;
        }
        inner.map.get(key).map(|e| e.value.clone())
    }

    fn put(&self, key: String, value: Cached, ttl: Option<Duration>) {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let expires = ttl.map(|t| Instant::now() + t);
        inner.map.insert(
            key.clone(),
            Entry {
                value,
                expires,
                seq,
            },
        );
        inner.order.push_back((key, seq));
        while inner.map.len() > self.max_entries {
            let Some((old, old_seq)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&old).is_some_and(|e| e.seq == old_seq) {
                inner.map.remove(&old);
            }
        }
        // Keep the order log from growing without bound when keys are rewritten.
        if inner.order.len() > self.max_entries * 2 {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, s)| map.get(k).is_some_and(|e| e.seq == *s));
        }
    }

    fn delete(&self, key: &str) {
        self.lock().map.remove(key);
    }

    fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
    }
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("localcache_get", move |lua, args| {
        let key = args.nonempty(1, "expects key string")?;
        match shared.cache.get(&key) {
            Some(v) => Ok(v.to_lua(lua)?),
            None => Ok(args.get(2).clone()),
        }
    })?;
    let shared = i.shared.clone();
    i.add("localcache_put", move |_, args| {
        let key = args.nonempty(1, "expects key string")?;
        let value = Cached::from_lua(args.get(2), 0)?;
        let ttl = args.opt_int(3)?.unwrap_or(0);
        if ttl < 0 {
            return Err(args.error(3, "ttl must be 0 or more"));
        }
        shared.cache.put(
            key,
            value,
            (ttl > 0).then(|| Duration::from_secs(ttl as u64)),
        );
        Ok(())
    })?;
    let shared = i.shared.clone();
    i.add("localcache_delete", move |_, args| {
        shared
            .cache
            .delete(&args.nonempty(1, "expects key string")?);
        Ok(())
    })?;
    let shared = i.shared.clone();
    i.add("localcache_clear", move |_, _| {
        shared.cache.clear();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let c = LocalCache::new(2);
        c.put("a".into(), Cached::Number(1.0), None);
        c.put("b".into(), Cached::Number(2.0), None);
        c.put("a".into(), Cached::Number(3.0), None);
        c.put("c".into(), Cached::Number(4.0), None);
        assert_eq!(c.get("b"), None, "oldest write evicted");
        assert_eq!(c.get("a"), Some(Cached::Number(3.0)));
        c.put("t".into(), Cached::Bool(true), Some(Duration::ZERO));
        assert_eq!(c.get("t"), None);
        c.clear();
        assert_eq!(c.get("a"), None);
    }
}
