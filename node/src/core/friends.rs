//! Friends: list (by state, in insertion order, with cursors), add, delete, block.

use base64::Engine;
use serde::{Deserialize, Serialize};
use shoal_proto::{Friend, FriendList, Status};
use shoal_storage::Command;
use uuid::Uuid;

use super::account::user_to_api;
use super::{Core, internal, now, now_nanos};

#[derive(Serialize, Deserialize)]
struct FriendCursor {
    user: Uuid,
    state: u8,
    position: i64,
    other: Uuid,
}

#[derive(Clone, Copy)]
enum FriendOp {
    Add,
    Delete,
    Block,
}

impl Core {
    pub async fn friends_list(
        &self,
        user_id: &Uuid,
        limit: Option<i64>,
        state: Option<i64>,
        cursor: &str,
    ) -> Result<FriendList, Status> {
        let limit = limit.unwrap_or(1000);
        if !(1..=1000).contains(&limit) {
            return Err(Status::invalid("Invalid limit - limit must be between 1 and 1000."));
        }
        if let Some(s) = state
            && !(0..=3).contains(&s)
        {
            return Err(Status::invalid("Invalid state - state must be between 0 and 3."));
        }
        let after = if cursor.is_empty() {
            None
        } else {
            let c: FriendCursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|b| shoal_storage::decode(&b).ok())
                .filter(|c: &FriendCursor| c.user == *user_id)
                .ok_or_else(|| Status::invalid("Invalid cursor."))?;
            Some((c.state, c.position, c.other))
        };
        self.read_barrier().await?;
        let mut edges: Vec<(u8, i64, Uuid, shoal_storage::FriendEdge)> = self
            .reader
            .friend_edges(user_id)
            .map_err(internal)?
            .into_iter()
            .map(|(other, e)| (e.state as u8, e.position, other, e))
            .filter(|(s, ..)| state.is_none_or(|want| *s as i64 == want))
            .collect();
        edges.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let start = match after {
            Some(a) => edges.partition_point(|e| (e.0, e.1, e.2) <= a),
            None => 0,
        };
        let mut friends = Vec::new();
        let mut last = None;
        for (s, position, other, edge) in edges[start..].iter().take(limit as usize) {
            let Some(u) = self.reader.user(other).map_err(internal)? else { continue };
            friends.push(Friend {
                user: user_to_api(&u),
                state: *s as i32,
                update_time: edge.update_time,
                metadata: edge.metadata.clone(),
            });
            last = Some(FriendCursor { user: *user_id, state: *s, position: *position, other: *other });
        }
        let more = edges.len() > start + limit as usize;
        let cursor = match (more, last) {
            (true, Some(c)) => {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shoal_storage::encode(&c))
            }
            _ => String::new(),
        };
        Ok(FriendList { friends, cursor })
    }

    /// Resolves ids and usernames to user ids, with Nakama's validation.
    fn friend_targets(
        &self,
        user_id: &Uuid,
        ids: &[String],
        usernames: &[String],
        op: FriendOp,
    ) -> Result<Vec<Uuid>, Status> {
        let self_msg = match op {
            FriendOp::Add => "Cannot add self as friend.",
            FriendOp::Delete => "Cannot delete self.",
            FriendOp::Block => "Cannot block self.",
        };
        let mut targets = Vec::new();
        for id in ids {
            let uid = Uuid::parse_str(id)
                .ok()
                .filter(|u| !u.is_nil())
                .ok_or_else(|| Status::invalid(format!("Invalid user ID '{id}'.")))?;
            if uid == *user_id {
                return Err(Status::invalid(self_msg));
            }
            targets.push(uid);
        }
        for name in usernames {
            if name.is_empty() {
                return Err(Status::invalid("Username must not be empty."));
            }
            if let Some(uid) = self.reader.user_id_by_username(name).map_err(internal)? {
                if uid == *user_id {
                    return Err(Status::invalid(self_msg));
                }
                targets.push(uid);
            }
        }
        targets.sort();
        targets.dedup();
        Ok(targets)
    }

    async fn friends_change(
        &self,
        user_id: &Uuid,
        ids: &[String],
        usernames: &[String],
        metadata: &str,
        op: FriendOp,
    ) -> Result<(), Status> {
        if ids.is_empty() && usernames.is_empty() {
            return Ok(());
        }
        let targets = self.friend_targets(user_id, ids, usernames, op)?;
        if targets.is_empty() {
            return Err(Status::invalid("No valid ID or username was provided."));
        }
        let (t, position) = (now(), now_nanos());
        let cmd = match op {
            FriendOp::Add => Command::FriendsAdd {
                user_id: *user_id,
                targets,
                metadata: metadata.to_string(),
                now: t,
                position,
            },
            FriendOp::Delete => Command::FriendsDelete { user_id: *user_id, targets },
            FriendOp::Block => Command::FriendsBlock { user_id: *user_id, targets, now: t, position },
        };
        self.propose(cmd).await?;
        Ok(())
    }

    pub async fn friends_add(
        &self,
        user_id: &Uuid,
        ids: &[String],
        usernames: &[String],
        metadata: &str,
    ) -> Result<(), Status> {
        if !metadata.is_empty() && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(metadata).is_err() {
            return Err(Status::invalid("Metadata must be a valid JSON object."));
        }
        self.friends_change(user_id, ids, usernames, metadata, FriendOp::Add).await
    }

    pub async fn friends_delete(&self, user_id: &Uuid, ids: &[String], usernames: &[String]) -> Result<(), Status> {
        self.friends_change(user_id, ids, usernames, "", FriendOp::Delete).await
    }

    pub async fn friends_block(&self, user_id: &Uuid, ids: &[String], usernames: &[String]) -> Result<(), Status> {
        self.friends_change(user_id, ids, usernames, "", FriendOp::Block).await
    }
}
