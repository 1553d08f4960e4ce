//! The presence tracker: which sessions are on which streams, cluster-wide.
//!
//! Every node holds the whole map. A node is the only writer of the presences of its own
//! sessions; it applies each change locally and replicates it to every peer as a numbered
//! delta (see `super::peers`). This module is the map itself: pure, synchronous, no I/O.
//! Each change returns what joined and left, so the caller can tell the members.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shoal_proto::{Stream, StreamPresence, UserPresence};
use uuid::Uuid;

/// Per-presence flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub hidden: bool,
    pub persistence: bool,
    /// `None`: no status (the presence shows none).
    pub status: Option<String>,
}

/// One session on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub node: Arc<str>,
    pub meta: Meta,
}

impl Presence {
    pub fn user_presence(&self) -> UserPresence {
        UserPresence {
            user_id: self.user_id.to_string(),
            session_id: self.session_id.to_string(),
            username: self.username.clone(),
            persistence: self.meta.persistence,
            status: self.meta.status.clone(),
        }
    }

    pub fn stream_presence(&self) -> StreamPresence {
        StreamPresence {
            user_id: self.user_id.to_string(),
            session_id: self.session_id.to_string(),
            username: self.username.clone(),
            node: self.node.to_string(),
            hidden: self.meta.hidden,
            persistence: self.meta.persistence,
            status: self.meta.status.clone().unwrap_or_default(),
        }
    }
}

/// A presence as replicated between nodes (the node is the sender's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceWire {
    pub stream: Stream,
    pub session_id: [u8; 16],
    pub user_id: [u8; 16],
    pub username: String,
    pub meta: Meta,
}

/// One replicated change of a node's own presences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delta {
    /// Track, or update the flags of, a presence.
    Track(PresenceWire),
    Untrack { stream: Stream, session_id: [u8; 16] },
    /// Every presence of a session (it disconnected).
    UntrackSession { session_id: [u8; 16] },
}

/// What one change did to one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub stream: Stream,
    pub joins: Vec<Presence>,
    pub leaves: Vec<Presence>,
}

#[derive(Default)]
pub struct Tracker {
    streams: HashMap<Stream, HashMap<Uuid, Presence>>,
    sessions: HashMap<Uuid, HashSet<Stream>>,
    by_node: HashMap<Arc<str>, HashSet<Uuid>>,
}

impl Tracker {
    /// Tracks `p` on `stream`. An existing presence with other flags is replaced: it leaves
    /// and joins again (how status updates reach followers). `None` when nothing changed.
    pub fn track(&mut self, stream: &Stream, p: Presence) -> Option<Change> {
        let members = self.streams.entry(stream.clone()).or_default();
        let old = members.get(&p.session_id).cloned();
        if old.as_ref().is_some_and(|o| o.meta == p.meta && o.username == p.username) {
            return None;
        }
        self.sessions.entry(p.session_id).or_default().insert(stream.clone());
        self.by_node.entry(p.node.clone()).or_default().insert(p.session_id);
        members.insert(p.session_id, p.clone());
        Some(Change { stream: stream.clone(), joins: vec![p], leaves: old.into_iter().collect() })
    }

    pub fn untrack(&mut self, stream: &Stream, session_id: Uuid) -> Option<Change> {
        let members = self.streams.get_mut(stream)?;
        let old = members.remove(&session_id)?;
        if members.is_empty() {
            self.streams.remove(stream);
        }
        if let Some(set) = self.sessions.get_mut(&session_id) {
            set.remove(stream);
            if set.is_empty() {
                self.sessions.remove(&session_id);
                if let Some(s) = self.by_node.get_mut(&old.node) {
                    s.remove(&session_id);
                }
            }
        }
        Some(Change { stream: stream.clone(), joins: vec![], leaves: vec![old] })
    }

    /// Untracks every presence of a session.
    pub fn untrack_session(&mut self, session_id: Uuid) -> Vec<Change> {
        let streams: Vec<Stream> = self.sessions.get(&session_id).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        streams.iter().filter_map(|s| self.untrack(s, session_id)).collect()
    }

    /// Untracks every presence of a node's sessions (the node died or resynchronises).
    pub fn remove_node(&mut self, node: &str) -> Vec<Change> {
        let sessions: Vec<Uuid> = self.by_node.remove(node).map(|s| s.into_iter().collect()).unwrap_or_default();
        let mut merged: HashMap<Stream, Change> = HashMap::new();
        for s in sessions {
            for c in self.untrack_session(s) {
                merged.entry(c.stream.clone()).or_insert_with(|| Change { stream: c.stream.clone(), ..Default::default() }).leaves.extend(c.leaves);
            }
        }
        merged.into_values().collect()
    }

    /// Presences tracked, cluster-wide.
    pub fn len(&self) -> usize {
        self.streams.values().map(|m| m.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    pub fn members(&self, stream: &Stream) -> impl Iterator<Item = &Presence> {
        self.streams.get(stream).into_iter().flat_map(|m| m.values())
    }

    pub fn get(&self, stream: &Stream, session_id: Uuid) -> Option<&Presence> {
        self.streams.get(stream)?.get(&session_id)
    }

    pub fn count(&self, stream: &Stream) -> usize {
        self.streams.get(stream).map_or(0, |m| m.len())
    }

    /// Streams of a mode.
    pub fn streams_of_mode(&self, mode: u8) -> impl Iterator<Item = (&Stream, usize)> {
        self.streams.iter().filter(move |(s, _)| s.mode == mode).map(|(s, m)| (s, m.len()))
    }

    pub fn session_streams(&self, session_id: Uuid) -> Vec<Stream> {
        self.sessions.get(&session_id).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// A session's node, if it is tracked anywhere.
    pub fn session_node(&self, session_id: Uuid) -> Option<Arc<str>> {
        let stream = self.sessions.get(&session_id)?.iter().next()?;
        self.streams.get(stream)?.get(&session_id).map(|p| p.node.clone())
    }

    /// Every presence of `node`'s sessions, for a snapshot.
    pub fn node_presences(&self, node: &str) -> Vec<PresenceWire> {
        let mut out = Vec::new();
        for sid in self.by_node.get(node).into_iter().flatten() {
            for stream in self.sessions.get(sid).into_iter().flatten() {
                if let Some(p) = self.get(stream, *sid) {
                    out.push(wire(stream, p));
                }
            }
        }
        out
    }

    /// Applies a peer's delta.
    pub fn apply(&mut self, node: &Arc<str>, delta: Delta) -> Vec<Change> {
        match delta {
            Delta::Track(w) => {
                let stream = w.stream.clone();
                self.track(&stream, from_wire(node, w)).into_iter().collect()
            }
            Delta::Untrack { stream, session_id } => self.untrack(&stream, Uuid::from_bytes(session_id)).into_iter().collect(),
            Delta::UntrackSession { session_id } => self.untrack_session(Uuid::from_bytes(session_id)),
        }
    }

    /// Replaces everything known of `node` with a snapshot of it.
    pub fn replace_node(&mut self, node: &Arc<str>, presences: Vec<PresenceWire>) -> Vec<Change> {
        let mut changes = self.remove_node(node);
        for w in presences {
            let stream = w.stream.clone();
            if let Some(c) = self.track(&stream, from_wire(node, w)) {
                changes.push(c);
            }
        }
        changes
    }
}

pub fn wire(stream: &Stream, p: &Presence) -> PresenceWire {
    PresenceWire {
        stream: stream.clone(),
        session_id: p.session_id.into_bytes(),
        user_id: p.user_id.into_bytes(),
        username: p.username.clone(),
        meta: p.meta.clone(),
    }
}

fn from_wire(node: &Arc<str>, w: PresenceWire) -> Presence {
    Presence {
        session_id: Uuid::from_bytes(w.session_id),
        user_id: Uuid::from_bytes(w.user_id),
        username: w.username,
        node: node.clone(),
        meta: w.meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(node: &Arc<str>, session: u128, status: Option<&str>) -> Presence {
        Presence {
            session_id: Uuid::from_u128(session),
            user_id: Uuid::from_u128(session + 1000),
            username: format!("u{session}"),
            node: node.clone(),
            meta: Meta { hidden: false, persistence: true, status: status.map(str::to_string) },
        }
    }

    #[test]
    fn track_update_untrack_and_node_removal() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let room = Stream { mode: 2, label: "room".into(), ..Default::default() };
        let mut t = Tracker::default();
        let c = t.track(&room, p(&a, 1, None)).expect("joined");
        assert_eq!((c.joins.len(), c.leaves.len()), (1, 0));
        assert!(t.track(&room, p(&a, 1, None)).is_none(), "same flags change nothing");
        let c = t.track(&room, p(&a, 1, Some("busy"))).expect("updated");
        assert_eq!((c.joins.len(), c.leaves.len()), (1, 1));
        t.track(&room, p(&b, 2, None));
        t.track(&Stream { mode: 0, subject: "x".into(), ..Default::default() }, p(&b, 2, None));
        assert_eq!(t.count(&room), 2);
        assert_eq!(t.session_node(Uuid::from_u128(2)).as_deref(), Some("b"));
        let snapshot = t.node_presences("b");
        assert_eq!(snapshot.len(), 2);
        let changes = t.remove_node("b");
        assert_eq!(changes.iter().map(|c| c.leaves.len()).sum::<usize>(), 2);
        assert_eq!(t.count(&room), 1);
        let changes = t.replace_node(&b, snapshot);
        assert_eq!(changes.len(), 2);
        assert_eq!(t.count(&room), 2);
        let c = t.untrack_session(Uuid::from_u128(1));
        assert_eq!(c.len(), 1);
        assert_eq!(t.members(&room).map(|p| p.session_id).collect::<Vec<_>>(), vec![Uuid::from_u128(2)]);
        assert!(t.untrack(&room, Uuid::from_u128(1)).is_none());
    }
}
