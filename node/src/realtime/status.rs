//! Status follows of this node's sessions (N `status_registry.go`): who follows whom, so
//! status presence events (from any node) reach the local followers.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use uuid::Uuid;

#[derive(Default)]
pub struct StatusRegistry {
    inner: RwLock<Follows>,
}

#[derive(Default)]
struct Follows {
    /// followed user id → local follower sessions.
    by_user: HashMap<String, HashSet<Uuid>>,
    /// local session → followed user ids.
    by_session: HashMap<Uuid, HashSet<String>>,
}

impl StatusRegistry {
    pub fn follow(&self, session: Uuid, users: &[String]) {
        let mut f = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for u in users {
            f.by_user.entry(u.clone()).or_default().insert(session);
            f.by_session.entry(session).or_default().insert(u.clone());
        }
    }

    pub fn unfollow(&self, session: Uuid, users: &[String]) {
        let mut f = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for u in users {
            if let Some(set) = f.by_user.get_mut(u) {
                set.remove(&session);
                if set.is_empty() {
                    f.by_user.remove(u);
                }
            }
            if let Some(set) = f.by_session.get_mut(&session) {
                set.remove(u);
            }
        }
    }

    pub fn remove_session(&self, session: Uuid) {
        let users: Vec<String> = {
            let f = self.inner.read().unwrap_or_else(|e| e.into_inner());
            f.by_session.get(&session).map(|s| s.iter().cloned().collect()).unwrap_or_default()
        };
        self.unfollow(session, &users);
        self.inner.write().unwrap_or_else(|e| e.into_inner()).by_session.remove(&session);
    }

    /// Local sessions following `user_id`.
    pub fn followers(&self, user_id: &str) -> Vec<Uuid> {
        let f = self.inner.read().unwrap_or_else(|e| e.into_inner());
        f.by_user.get(user_id).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }
}
