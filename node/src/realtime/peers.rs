//! Peers of the realtime layer: who they are (from gossip), whether they are alive (from
//! their heartbeats), and keeping this node's copy of their presences exact (deltas in
//! order, snapshots after a gap). Also the receiving side of every mesh frame and request.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Instant;

use shoal_cluster::MeshHandler;
use uuid::Uuid;

use super::tracker::Delta;
use super::wire::{self, Frame, Reply, Request};
use super::{HEARTBEAT_INTERVAL, Inner, PEER_DEAD_AFTER, Realtime};

/// Deltas buffered while a snapshot is being fetched, at most.
const SYNC_BUFFER_MAX: usize = 65_536;

pub(crate) struct Peer {
    pub addr: SocketAddr,
    /// Considered alive (heard from recently, and in gossip).
    pub live: bool,
    pub last_heard: Instant,
    /// The generation (process start) the synced state belongs to.
    pub generation: u64,
    pub last_seq: u64,
    pub synced: bool,
    pub syncing: bool,
    pub buffer: Vec<(u64, Delta)>,
}

impl Peer {
    fn new(addr: SocketAddr) -> Peer {
        Peer { addr, live: true, last_heard: Instant::now(), generation: 0, last_seq: 0, synced: false, syncing: false, buffer: Vec::new() }
    }
}

/// Every heartbeat interval: refresh peers from gossip, send heartbeats, declare silent
/// peers dead, and fetch snapshots of peers not in sync.
pub(crate) async fn heartbeat_loop(weak: Weak<Inner>) {
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = weak.upgrade() else { return };
        let rt = Realtime::from_inner(inner);
        let members = rt.cluster.members().await;
        let mut dead = Vec::new();
        let mut to_sync = Vec::new();
        {
            let mut st = rt.lock();
            let seq = st.seq;
            for m in &members {
                if m.name == *rt.node {
                    continue;
                }
                let Ok(addr) = m.cluster_addr.parse::<SocketAddr>() else { continue };
                let name: Arc<str> = m.name.as_str().into();
                let peer = st.peers.entry(name.clone()).or_insert_with(|| Peer::new(addr));
                if peer.addr != addr {
                    peer.addr = addr;
                }
                if !peer.live && peer.last_heard.elapsed() < PEER_DEAD_AFTER {
                    peer.live = true;
                }
            }
            let frame = wire::encode(&Frame::Heartbeat { node: rt.node.to_string(), generation: rt.generation, seq });
            for (name, peer) in st.peers.iter_mut() {
                if peer.live && peer.last_heard.elapsed() > PEER_DEAD_AFTER {
                    peer.live = false;
                    peer.synced = false;
                    dead.push(name.clone());
                }
                if peer.live {
                    let _ = rt.cluster.mesh.send(peer.addr, frame.clone());
                    if !peer.synced && !peer.syncing && peer.generation != 0 {
                        // A failed fetch is retried here.
                        peer.syncing = true;
                        to_sync.push(name.clone());
                    }
                }
            }
        }
        for name in dead {
            tracing::info!(peer = %name, "realtime peer is gone; removing its presences");
            node_gone(&rt, &name);
        }
        for name in to_sync {
            tokio::spawn(sync(rt.clone(), name));
        }
    }
}

/// A peer died: drop its presences (members are told) and end what depended on it.
fn node_gone(rt: &Realtime, name: &Arc<str>) {
    let changes = {
        let mut st = rt.lock();
        if let Some(p) = st.peers.get(name) {
            rt.cluster.mesh.forget(p.addr);
        }
        st.tracker.remove_node(name)
    };
    rt.on_changes(changes);
    super::matches::owner_gone(rt, name);
    rt.matchmaker_node_gone(name);
    rt.matchmaker_owner_changed();
}

/// Fetches a peer's snapshot and replaces what this node knows of it.
async fn sync(rt: Realtime, name: Arc<str>) {
    let reply = rt.request(&name, &Request::Snapshot).await;
    let changes = {
        let mut st = rt.lock();
        let Some(peer) = st.peers.get_mut(&name) else { return };
        peer.syncing = false;
        let Ok(Reply::Snapshot { generation, seq, presences }) = reply else {
            tracing::debug!(peer = %name, "snapshot fetch failed; retrying at the next heartbeat");
            return;
        };
        peer.generation = generation;
        peer.last_seq = seq;
        peer.synced = true;
        let buffered = std::mem::take(&mut peer.buffer);
        let mut changes = st.tracker.replace_node(&name, presences);
        for (s, delta) in buffered {
            let peer = st.peers.get_mut(&name).expect("peer present");
            if s <= peer.last_seq {
                continue;
            }
            if s != peer.last_seq + 1 {
                peer.synced = false;
                break;
            }
            peer.last_seq = s;
            changes.extend(st.tracker.apply(&name, delta));
        }
        changes
    };
    tracing::debug!(peer = %name, "realtime state synchronised");
    rt.on_changes(changes);
}

/// The mesh's receiving side.
pub(crate) struct Handler(pub Weak<Inner>);

impl MeshHandler for Handler {
    fn frame(&self, from: SocketAddr, body: Vec<u8>) {
        let Some(inner) = self.0.upgrade() else { return };
        let rt = Realtime::from_inner(inner);
        match wire::decode::<Frame>(&body) {
            Some(f) => on_frame(&rt, from, f),
            None => tracing::warn!("dropping an undecodable realtime frame"),
        }
    }

    fn request(
        &self,
        _from: SocketAddr,
        body: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + '_>> {
        Box::pin(async move {
            let Some(inner) = self.0.upgrade() else {
                return wire::encode(&Reply::Error { code: 14, message: "node is stopping".into() });
            };
            let rt = Realtime::from_inner(inner);
            let reply = match wire::decode::<Request>(&body) {
                Some(req) => serve(&rt, req).await,
                None => Reply::Error { code: 3, message: "undecodable request".into() },
            };
            wire::encode(&reply)
        })
    }
}

/// Notes that a peer is alive (learning it from its frames if gossip has not told of it
/// yet); returns its name as the map's key.
fn heard(st: &mut super::State, node: &str, from: SocketAddr) -> Arc<str> {
    if let Some((name, peer)) = st.peers.iter_mut().find(|(n, _)| &***n == node) {
        peer.last_heard = Instant::now();
        peer.live = true;
        return name.clone();
    }
    let name: Arc<str> = node.into();
    st.peers.insert(name.clone(), Peer::new(from));
    name
}

/// Starts a snapshot fetch for a peer that is out of sync (once at a time).
fn resync(rt: &Realtime, peer: &mut Peer, name: &Arc<str>) {
    peer.synced = false;
    if !peer.syncing {
        peer.syncing = true;
        peer.buffer.clear();
        tokio::spawn(sync(rt.clone(), name.clone()));
    }
}

fn on_frame(rt: &Realtime, from: SocketAddr, f: Frame) {
    match f {
        Frame::Heartbeat { node, generation, seq } => {
            let restarted = {
                let mut st = rt.lock();
                let name = heard(&mut st, &node, from);
                let peer = st.peers.get_mut(&name).expect("peer present");
                let restarted = (peer.generation != 0 && peer.generation != generation).then(|| name.clone());
                // A heartbeat older than the snapshot we hold is stale, not a gap.
                if peer.generation != generation || !peer.synced || peer.last_seq < seq {
                    peer.generation = generation;
                    if !peer.syncing {
                        resync(rt, peer, &name);
                    }
                }
                restarted
            };
            // A peer that restarted before it was declared dead lost its matches.
            if let Some(name) = restarted {
                tracing::info!(peer = %name, "realtime peer restarted");
                super::matches::owner_gone(rt, &name);
                rt.matchmaker_node_gone(&name);
            }
        }
        Frame::Delta { node, generation, seq, delta } => {
            let changes = {
                let mut st = rt.lock();
                let name = heard(&mut st, &node, from);
                let peer = st.peers.get_mut(&name).expect("peer present");
                if peer.generation != generation {
                    peer.generation = generation;
                    peer.synced = false;
                }
                if peer.syncing {
                    if peer.buffer.len() < SYNC_BUFFER_MAX {
                        peer.buffer.push((seq, delta));
                    }
                    return;
                }
                if peer.synced && seq <= peer.last_seq {
                    return;
                }
                if !peer.synced || seq != peer.last_seq + 1 {
                    resync(rt, peer, &name);
                    peer.buffer.push((seq, delta));
                    return;
                }
                peer.last_seq = seq;
                st.tracker.apply(&name, delta)
            };
            rt.on_changes(changes);
        }
        Frame::Deliver { sessions, text } => {
            let text = axum::extract::ws::Utf8Bytes::from(text);
            for id in sessions {
                if let Some(s) = rt.sessions.get(Uuid::from_bytes(id)) {
                    s.send(text.clone());
                }
            }
        }
        Frame::MatchData { match_id, sender, op_code, data, reliable, sent_at_us } => {
            let delay = crate::core::now_nanos() / 1000 - sent_at_us;
            super::matches::data_arrived(rt, Uuid::from_bytes(match_id), sender, op_code, data, reliable, Some(delay));
        }
        Frame::Disconnect { sessions, reason } => {
            for id in sessions {
                if let Some(s) = rt.sessions.get(Uuid::from_bytes(id)) {
                    s.close(&reason);
                }
            }
        }
        Frame::DisconnectUser { user_id, except } => {
            for s in rt.sessions.of_user(Uuid::from_bytes(user_id)) {
                if s.id != Uuid::from_bytes(except) {
                    s.close("single socket");
                }
            }
        }
        Frame::Untrack { stream, sessions } => {
            for id in sessions {
                let id = Uuid::from_bytes(id);
                if rt.sessions.get(id).is_some() {
                    rt.untrack(&stream, id);
                }
            }
        }
        Frame::Matched { session, ticket, text } => rt.matched_arrived(Uuid::from_bytes(session), &ticket, &text),
    }
}

async fn serve(rt: &Realtime, req: Request) -> Reply {
    match req {
        Request::Snapshot => {
            let st = rt.lock();
            Reply::Snapshot { generation: rt.generation, seq: st.seq, presences: st.tracker.node_presences(&rt.node) }
        }
        Request::StreamTrack { presence, update_only } => {
            let sid = Uuid::from_bytes(presence.session_id);
            let Some(s) = rt.sessions.get(sid) else {
                return Reply::error(&shoal_proto::Status::not_found("Session not found."));
            };
            if update_only && rt.presence(&presence.stream, sid).is_none() {
                return Reply::Bool(false);
            }
            Reply::Bool(rt.track(&presence.stream, sid, s.user_id, &s.username, presence.meta))
        }
        Request::StreamUntrack { stream, session_id } => {
            rt.untrack(&stream, Uuid::from_bytes(session_id));
            Reply::Done
        }
        Request::Upgrade { version } => {
            let Some(bundles) = rt.core.bundles.get().cloned() else {
                return Reply::error(&shoal_proto::Status::unavailable("this node is still starting"));
            };
            match bundles.upgrade_local(&version).await {
                Ok(()) => Reply::Done,
                Err(e) => Reply::error(&e),
            }
        }
        other => super::matches::serve(rt, other).await,
    }
}
