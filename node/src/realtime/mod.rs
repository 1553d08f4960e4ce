//! The realtime layer: this node's sessions, the cluster-wide presence tracker, delivery of
//! messages to presences on any node, authoritative matches, the matchmaker and status
//! follows. The socket pipeline (`crate::pipeline`) and the Lua host call into it.
//!
//! Replication: a node is the only writer of its sessions' presences. Each change is
//! applied locally and sent to every peer as a numbered [`tracker::Delta`] on the ordered
//! mesh stream; heartbeats carry the latest number, so a peer that missed one (a full
//! queue, a broken stream) notices and fetches a snapshot. A peer not heard from for
//! [`PEER_DEAD_AFTER`] is dead: its presences are removed and its members told.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use shoal_cluster::Cluster;
use shoal_proto::{Status, Stream, stream_mode};
use uuid::Uuid;

use crate::core::Core;

mod channel;
mod events;
mod match_loop;
pub mod matches;
pub mod matchmaker;
mod matchmaker_pool;
mod peers;
pub mod session;
mod status;
mod streams;
pub mod tracker;
mod wire;

pub use session::{SessionHandle, SessionRegistry};
use tracker::{Change, Delta, Meta, Presence, Tracker};
use wire::Frame;

/// How often nodes send heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// A peer silent this long is treated as dead by the realtime layer.
pub const PEER_DEAD_AFTER: Duration = Duration::from_millis(3000);
/// Deadline of a realtime request to another node.
pub const PEER_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A clonable handle over the node's realtime state.
#[derive(Clone)]
pub struct Realtime {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub node: Arc<str>,
    pub generation: u64,
    pub core: Core,
    pub cluster: Cluster,
    pub sessions: SessionRegistry,
    pub(crate) state: Mutex<State>,
    pub(crate) status: status::StatusRegistry,
    pub matches: matches::MatchRegistry,
    pub(crate) matchmaker: matchmaker::Matchmaker,
}

/// The tracker with this node's delta counter and what it knows of each peer.
pub struct State {
    pub(crate) tracker: Tracker,
    pub(crate) seq: u64,
    pub(crate) peers: HashMap<Arc<str>, peers::Peer>,
}

impl std::ops::Deref for Realtime {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Realtime {
    /// Creates the realtime layer and starts its heartbeat and matchmaker tasks; they stop
    /// when the last handle is dropped.
    pub fn start(core: Core, cluster: Cluster) -> Realtime {
        let generation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let rt = Realtime {
            inner: Arc::new(Inner {
                node: core.config.name.as_str().into(),
                generation,
                matchmaker: matchmaker::Matchmaker::new(&core.config),
                core,
                cluster: cluster.clone(),
                sessions: SessionRegistry::default(),
                state: Mutex::new(State { tracker: Tracker::default(), seq: 0, peers: HashMap::new() }),
                status: status::StatusRegistry::default(),
                matches: matches::MatchRegistry::default(),
            }),
        };
        cluster.set_mesh_handler(Arc::new(peers::Handler(Arc::downgrade(&rt.inner))));
        tokio::spawn(peers::heartbeat_loop(Arc::downgrade(&rt.inner)));
        tokio::spawn(matchmaker::interval_loop(Arc::downgrade(&rt.inner)));
        rt
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Realtime {
        Realtime { inner }
    }

    pub(crate) fn weak(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ------------------------------------------------------------ local presences

    /// Tracks one of this node's sessions on a stream, replicates the change and tells the
    /// members. Returns whether it was new (or changed).
    pub fn track(&self, stream: &Stream, session_id: Uuid, user_id: Uuid, username: &str, meta: Meta) -> bool {
        let p = Presence { session_id, user_id, username: username.to_string(), node: self.node.clone(), meta };
        let wire = tracker::wire(stream, &p);
        let change = {
            let mut st = self.lock();
            let Some(change) = st.tracker.track(stream, p) else { return false };
            self.replicate(&mut st, Delta::Track(wire));
            change
        };
        self.on_changes(vec![change]);
        true
    }

    pub fn untrack(&self, stream: &Stream, session_id: Uuid) -> bool {
        let change = {
            let mut st = self.lock();
            let Some(change) = st.tracker.untrack(stream, session_id) else { return false };
            self.replicate(&mut st, Delta::Untrack { stream: stream.clone(), session_id: session_id.into_bytes() });
            change
        };
        self.on_changes(vec![change]);
        true
    }

    /// Untracks every presence of a local session (it disconnected).
    pub fn untrack_session(&self, session_id: Uuid) {
        let changes = {
            let mut st = self.lock();
            let changes = st.tracker.untrack_session(session_id);
            if !changes.is_empty() {
                self.replicate(&mut st, Delta::UntrackSession { session_id: session_id.into_bytes() });
            }
            changes
        };
        self.on_changes(changes);
    }

    /// Numbers a delta and queues it for every peer (under the state lock, so peers receive
    /// deltas in number order).
    fn replicate(&self, st: &mut State, delta: Delta) {
        st.seq += 1;
        if st.peers.is_empty() {
            return;
        }
        let frame = wire::encode(&Frame::Delta { node: self.node.to_string(), generation: self.generation, seq: st.seq, delta });
        for peer in st.peers.values() {
            // A refused frame shows up as a gap at the peer, which then resynchronises.
            let _ = self.cluster.mesh.send(peer.addr, frame.clone());
        }
    }

    pub fn members(&self, stream: &Stream) -> Vec<Presence> {
        self.lock().tracker.members(stream).cloned().collect()
    }

    pub fn presence(&self, stream: &Stream, session_id: Uuid) -> Option<Presence> {
        self.lock().tracker.get(stream, session_id).cloned()
    }

    pub fn count(&self, stream: &Stream) -> usize {
        self.lock().tracker.count(stream)
    }

    // ------------------------------------------------------------ delivery

    /// Sends `text` to the given presences wherever they are connected.
    pub fn deliver<'a>(&self, to: impl IntoIterator<Item = (&'a str, Uuid)>, text: &str) {
        let mut remote: HashMap<&str, Vec<[u8; 16]>> = HashMap::new();
        let mut local_text: Option<Utf8Bytes> = None;
        for (node, session) in to {
            if node == &*self.node {
                if let Some(s) = self.sessions.get(session) {
                    s.send(local_text.get_or_insert_with(|| Utf8Bytes::from(text.to_string())).clone());
                }
            } else {
                remote.entry(node).or_default().push(session.into_bytes());
            }
        }
        for (node, sessions) in remote {
            self.send_frame(node, &Frame::Deliver { sessions, text: text.to_string() });
        }
    }

    /// Sends `text` to every presence on `stream` (optionally except one session).
    pub fn deliver_stream(&self, stream: &Stream, text: &str, except: Option<Uuid>) {
        let members = self.members(stream);
        self.deliver(members.iter().filter(|p| Some(p.session_id) != except).map(|p| (&*p.node, p.session_id)), text);
    }

    /// Queues a frame for a peer by name; false when the peer is unknown or refused it.
    pub(crate) fn send_frame(&self, node: &str, frame: &Frame) -> bool {
        let Some(addr) = self.peer_addr(node) else { return false };
        self.cluster.mesh.send(addr, wire::encode(frame)).is_ok()
    }

    pub(crate) fn peer_addr(&self, node: &str) -> Option<SocketAddr> {
        self.lock().peers.get(node).filter(|p| p.live).map(|p| p.addr)
    }

    /// Live peers' names (not this node).
    pub(crate) fn peer_names(&self) -> Vec<Arc<str>> {
        self.lock().peers.iter().filter(|(_, p)| p.live).map(|(n, _)| n.clone()).collect()
    }

    /// Sends a request to a peer and decodes its reply.
    pub(crate) async fn request(&self, node: &str, req: &wire::Request) -> Result<wire::Reply, Status> {
        self.request_within(node, req, PEER_CALL_TIMEOUT).await
    }

    /// Asks the node at `addr` (from gossip) to swap in the committed bundle `version`.
    pub(crate) async fn request_upgrade(&self, addr: SocketAddr, version: &str, timeout: Duration) -> Result<(), Status> {
        self.request_at(addr, &addr.to_string(), &wire::Request::Upgrade { version: version.into() }, timeout).await.map(|_| ())
    }

    async fn request_within(&self, node: &str, req: &wire::Request, timeout: Duration) -> Result<wire::Reply, Status> {
        let addr = self.peer_addr(node).ok_or_else(|| Status::unavailable(format!("node {node} is not reachable")))?;
        self.request_at(addr, node, req, timeout).await
    }

    async fn request_at(&self, addr: SocketAddr, node: &str, req: &wire::Request, timeout: Duration) -> Result<wire::Reply, Status> {
        let bytes = self.cluster.mesh.request(addr, wire::encode(req), timeout).await.map_err(|e| {
            tracing::warn!(peer = %node, error = %e, "realtime request failed");
            Status::unavailable(format!("node {node} did not answer"))
        })?;
        match wire::decode::<wire::Reply>(&bytes) {
            Some(wire::Reply::Error { code, message }) => Err(wire::Reply::into_status(code, message)),
            Some(r) => Ok(r),
            None => Err(Status::internal()),
        }
    }

    /// Closes a session wherever it is connected.
    pub fn disconnect(&self, session_id: Uuid, reason: &str) {
        if let Some(s) = self.sessions.get(session_id) {
            s.close(reason);
            return;
        }
        let node = self.lock().tracker.session_node(session_id);
        if let Some(node) = node {
            self.send_frame(&node, &Frame::Disconnect { sessions: vec![session_id.into_bytes()], reason: reason.into() });
        }
    }

    /// The node a session is connected to, if it is connected anywhere.
    pub fn session_node(&self, session_id: Uuid) -> Option<Arc<str>> {
        if self.sessions.get(session_id).is_some() {
            return Some(self.node.clone());
        }
        self.lock().tracker.session_node(session_id)
    }

    /// Live sessions on this node.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Registers a new socket session: tracks it on its notifications stream (and, with
    /// `status`, the status stream), and enforces `session.single_socket` cluster-wide.
    pub fn session_open(&self, s: &Arc<SessionHandle>, status: bool) {
        self.sessions.add(s.clone());
        if self.core.config.session.single_socket {
            for other in self.sessions.of_user(s.user_id) {
                if other.id != s.id {
                    other.close("single socket");
                }
            }
            for node in self.peer_names() {
                self.send_frame(&node, &Frame::DisconnectUser { user_id: s.user_id.into_bytes(), except: s.id.into_bytes() });
            }
        }
        let notifications = Stream { mode: stream_mode::NOTIFICATIONS, subject: s.user_id.to_string(), ..Default::default() };
        self.track(&notifications, s.id, s.user_id, &s.username, Meta { hidden: true, persistence: false, status: None });
        if status {
            let st = Stream { mode: stream_mode::STATUS, subject: s.user_id.to_string(), ..Default::default() };
            self.track(&st, s.id, s.user_id, &s.username, Meta { hidden: false, persistence: false, status: Some(String::new()) });
        }
    }

    /// Forgets a closed socket session everywhere: its presences, follows and tickets.
    pub fn session_closed(&self, s: &SessionHandle) {
        self.sessions.remove(s.id);
        self.status.remove_session(s.id);
        self.untrack_session(s.id);
        let rt = self.clone();
        let sid = s.id.to_string();
        tokio::spawn(async move { rt.matchmaker_remove_session(&sid).await });
    }

    /// Applies changes' consequences on this node: presence events to local members,
    /// status events to local followers, joins/leaves to local authoritative matches.
    pub(crate) fn on_changes(&self, changes: Vec<Change>) {
        for c in changes {
            events::dispatch(self, &c);
        }
    }
}

fn percentiles(samples: &mut [u32]) -> serde_json::Value {
    samples.sort_unstable();
    let at = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    serde_json::json!({
        "count": samples.len(),
        "p50_us": at(0.50),
        "p99_us": at(0.99),
        "max_us": samples.last().copied().unwrap_or(0),
    })
}

impl Realtime {
    /// Figures for `GET /v2/console/realtime` (and the benchmarks).
    pub fn stats(&self, reset: bool) -> serde_json::Value {
        let take = |m: &Mutex<Vec<u32>>| {
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            if reset { std::mem::take(&mut *g) } else { g.clone() }
        };
        let mut lateness = take(&self.matches.lateness_us);
        let mut forward = take(&self.matches.forward_us);
        let (peers, presences) = {
            let st = self.lock();
            (st.peers.values().filter(|p| p.live && p.synced).count(), st.tracker.len())
        };
        serde_json::json!({
            "node": &*self.node,
            "sessions": self.sessions.len(),
            "matches": self.matches.len(),
            "presences": presences,
            "synced_peers": peers,
            "tick_lateness": percentiles(&mut lateness),
            "forward_delay": percentiles(&mut forward),
        })
    }
}

/// The channel id and match id of a stream, as clients see them.
pub fn match_id_of(stream: &Stream) -> String {
    format!("{}.{}", stream.subject, stream.label)
}

/// `rtapi.Error.Code`: the socket's error codes (NAKAMA-SURFACE §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtCode {
    RuntimeException = 0,
    UnrecognizedPayload = 1,
    MissingPayload = 2,
    BadInput = 3,
    MatchNotFound = 4,
    MatchJoinRejected = 5,
    RuntimeFunctionNotFound = 6,
    RuntimeFunctionException = 7,
}

/// A socket-level error: its code and message go into the error envelope.
#[derive(Debug, Clone)]
pub struct RtError {
    pub code: RtCode,
    pub message: String,
}

impl RtError {
    /// The `Status` a Lua caller sees for this error.
    pub fn to_status(&self) -> Status {
        use shoal_proto::ErrorCode as E;
        let code = match self.code {
            RtCode::BadInput | RtCode::UnrecognizedPayload | RtCode::MissingPayload => E::InvalidArgument,
            RtCode::MatchNotFound | RtCode::RuntimeFunctionNotFound => E::NotFound,
            RtCode::MatchJoinRejected => E::PermissionDenied,
            RtCode::RuntimeException | RtCode::RuntimeFunctionException => E::Internal,
        };
        Status::new(code, self.message.clone())
    }
}
