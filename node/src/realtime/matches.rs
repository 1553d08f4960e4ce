//! Matches. Relayed matches are streams (mode 5) and need nothing but the tracker.
//! Authoritative matches (mode 6) run here, on the node that created them: each in its own
//! Lua VM ([`shoal_runtime::MatchHandler`]) driven by a task at its tick rate. Joins from
//! other nodes reach the owner as requests; members' data as ordered frames; the owner's
//! broadcasts go to members wherever they are connected.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use serde_json::{Value, json};
use shoal_proto::{ErrorCode, MatchInfo, MatchListQuery, Status, Stream, stream_mode};
use shoal_runtime::{CallContext, JoinDecision, MatchMessage, MatchPresence, MatchSetup};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::session::SessionHandle;
use super::tracker::{Change, Meta};
use super::wire::{Frame, JoinerWire, MatchInfoWire, MatchPresenceWire, Reply, Request};
use super::{RtCode, RtError, Realtime, match_id_of};

/// Control calls queued per match (joins, leaves, signals), at most.
const CONTROL_QUEUE_LEN: usize = 256;
/// Member messages buffered per match between ticks, at most; more are dropped.
const INPUT_QUEUE_LEN: usize = 1024;
/// Presence reasons (Nakama's `runtime.PresenceReason`).
const REASON_JOIN: i32 = 1;
const REASON_LEAVE: i32 = 3;

pub(super) enum Control {
    JoinAttempt { presence: MatchPresence, ctx: CallContext, metadata: BTreeMap<String, String>, reply: oneshot::Sender<Result<JoinDecision, Status>> },
    Joins(Vec<MatchPresence>),
    Leaves(Vec<MatchPresence>),
    Signal { data: String, reply: oneshot::Sender<Result<String, Status>> },
}

pub(super) struct Info {
    pub(super) label: String,
    tick_rate: i32,
    module: String,
    create_ms: i64,
}

struct Entry {
    control: mpsc::Sender<Control>,
    input: mpsc::Sender<MatchMessage>,
    info: Arc<Mutex<Info>>,
}

/// This node's authoritative matches.
#[derive(Default)]
pub struct MatchRegistry {
    matches: RwLock<HashMap<Uuid, Entry>>,
    /// Tick-start lateness samples (µs), for the benchmark's jitter figure.
    pub lateness_us: Mutex<Vec<u32>>,
    /// Delay (µs) of member data that entered through another node, from that node's
    /// receipt to arrival here.
    pub forward_us: Mutex<Vec<u32>>,
}

impl MatchRegistry {
    pub(super) fn remove(&self, id: Uuid) {
        self.matches.write().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn get(&self, id: Uuid) -> Option<(mpsc::Sender<Control>, mpsc::Sender<MatchMessage>, Arc<Mutex<Info>>)> {
        self.matches.read().unwrap_or_else(|e| e.into_inner()).get(&id).map(|e| (e.control.clone(), e.input.clone(), e.info.clone()))
    }

    pub fn len(&self) -> usize {
        self.matches.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn now_ms() -> i64 {
    crate::core::now_nanos() / 1_000_000
}

/// A parsed match id: `<uuid>.<node>` (authoritative) or `<uuid>.` (relayed).
pub struct MatchId {
    pub id: Uuid,
    pub node: String,
}

impl MatchId {
    pub fn parse(s: &str) -> Option<MatchId> {
        let (id, node) = s.split_once('.')?;
        Some(MatchId { id: Uuid::parse_str(id).ok()?, node: node.to_string() })
    }

    pub fn stream(&self) -> Stream {
        let mode = if self.node.is_empty() { stream_mode::MATCH_RELAYED } else { stream_mode::MATCH_AUTHORITATIVE };
        Stream { mode, subject: self.id.to_string(), subcontext: String::new(), label: self.node.clone() }
    }
}

fn presence_of(s: &SessionHandle, node: &str) -> MatchPresence {
    MatchPresence { user_id: s.user_id.to_string(), session_id: s.id.to_string(), username: s.username.clone(), node: node.to_string(), reason: 0 }
}

fn to_wire(p: &MatchPresence) -> MatchPresenceWire {
    MatchPresenceWire { user_id: p.user_id.clone(), session_id: p.session_id.clone(), username: p.username.clone(), node: p.node.clone() }
}

fn from_wire(p: MatchPresenceWire) -> MatchPresence {
    MatchPresence { user_id: p.user_id, session_id: p.session_id, username: p.username, node: p.node, reason: 0 }
}

pub(super) fn user_presence_json(p: &MatchPresence) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("user_id".into(), p.user_id.clone().into());
    o.insert("session_id".into(), p.session_id.clone().into());
    if !p.username.is_empty() {
        o.insert("username".into(), p.username.clone().into());
    }
    Value::Object(o)
}

/// The `match` reply object (`rtapi.Match`). A new joiner is not in its own `presences`;
/// a session joining a match it is already in is (as in Nakama).
fn match_json(match_id: &str, authoritative: bool, label: Option<&str>, members: &[super::tracker::Presence], me: &SessionHandle, include_self: bool) -> Value {
    let others: Vec<Value> = members
        .iter()
        .filter(|p| include_self || p.session_id != me.id)
        .map(|p| serde_json::to_value(p.user_presence()).unwrap_or_default())
        .collect();
    let mut o = serde_json::Map::new();
    o.insert("match_id".into(), match_id.into());
    if authoritative {
        o.insert("authoritative".into(), true.into());
    }
    if let Some(l) = label {
        o.insert("label".into(), l.into());
    }
    o.insert("size".into(), (members.len() as i64).into());
    if !others.is_empty() {
        o.insert("presences".into(), others.into());
    }
    o.insert("self".into(), json!({"user_id": me.user_id.to_string(), "session_id": me.id.to_string(), "username": me.username}));
    Value::Object(o)
}

fn status_to_rt(s: Status, code: RtCode) -> RtError {
    RtError { code, message: s.message }
}

impl Realtime {
    /// `nk.match_create`: starts an authoritative match of `module` on this node.
    pub async fn match_create(&self, module: &str, params: Option<Value>) -> Result<String, Status> {
        let Some(pool) = self.core.runtime.get() else { return Err(Status::unavailable("Lua runtime not ready.")) };
        let id = Uuid::new_v4();
        let match_id = format!("{id}.{}", self.node);
        let setup = MatchSetup { match_id: match_id.clone(), node: self.node.to_string(), module: module.to_string() };
        let (handler, init) = shoal_runtime::blocking::section(|| pool.create_match(setup, params)).map_err(|e| {
            let s: Status = e.into();
            Status::new(if s.code() == ErrorCode::Internal { ErrorCode::Internal } else { s.code() }, s.message)
        })?;
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE_LEN);
        let (input, input_rx) = mpsc::channel(INPUT_QUEUE_LEN);
        let info = Arc::new(Mutex::new(Info { label: init.label, tick_rate: init.tick_rate as i32, module: module.to_string(), create_ms: now_ms() }));
        self.matches.matches.write().unwrap_or_else(|e| e.into_inner()).insert(id, Entry { control, input, info: info.clone() });
        tokio::spawn(super::match_loop::run_match(self.weak(), id, handler, init.tick_rate, info, control_rx, input_rx));
        tracing::debug!(%match_id, module, "authoritative match started");
        Ok(match_id)
    }

    /// Client `match_create`: a relayed match with the creator as its first member.
    pub fn match_create_relayed(&self, s: &SessionHandle, name: Option<&str>) -> Value {
        let id = match name.filter(|n| !n.is_empty()) {
            Some(n) => Uuid::new_v5(&Uuid::NAMESPACE_DNS, n.as_bytes()),
            None => Uuid::new_v4(),
        };
        let mid = MatchId { id, node: String::new() };
        let stream = mid.stream();
        let new = self.track(&stream, s.id, s.user_id, &s.username, Meta { hidden: false, persistence: false, status: None });
        let members = self.members(&stream);
        match_json(&format!("{id}."), false, None, &members, s, !new)
    }

    /// Client `match_join` (by id; tokens are resolved by the caller). A relayed match from
    /// a matchmaker token (`from_token`) starts with its first joiner.
    pub async fn match_join(&self, s: &Arc<SessionHandle>, match_id: &str, metadata: BTreeMap<String, String>, from_token: bool) -> Result<Value, RtError> {
        let mid = MatchId::parse(match_id).ok_or_else(|| RtError::new(RtCode::BadInput, "Invalid match ID"))?;
        let stream = mid.stream();
        if mid.node.is_empty() {
            if self.count(&stream) == 0 && !from_token {
                return Err(RtError::new(RtCode::MatchNotFound, "Match not found"));
            }
            let new = self.track(&stream, s.id, s.user_id, &s.username, Meta { hidden: false, persistence: false, status: None });
            let members = self.members(&stream);
            return Ok(match_json(match_id, false, None, &members, s, !new));
        }
        if self.presence(&stream, s.id).is_some() {
            let members = self.members(&stream);
            let label = self.match_label(&mid).await;
            return Ok(match_json(match_id, true, label.as_deref(), &members, s, true));
        }
        let me = presence_of(s, &self.node);
        let label = if *mid.node == *self.node {
            self.join_attempt_local(mid.id, me, s.ctx(), metadata).await?
        } else {
            let joiner = JoinerWire {
                presence: to_wire(&me),
                vars: s.vars.clone().into_iter().collect(),
                expiry: s.expiry,
                lang: s.lang.clone(),
                client_ip: s.client_ip.clone(),
                client_port: s.client_port.clone(),
                metadata: metadata.into_iter().collect(),
            };
            match self.request(&mid.node, &Request::JoinAttempt { match_id: mid.id.into_bytes(), joiner }).await {
                Ok(Reply::Joined { label }) => label,
                Ok(_) => return Err(RtError::new(RtCode::RuntimeException, "unexpected reply")),
                Err(e) if e.code() == ErrorCode::NotFound => return Err(RtError::new(RtCode::MatchNotFound, "Match not found")),
                Err(e) if e.code() == ErrorCode::PermissionDenied => return Err(RtError::new(RtCode::MatchJoinRejected, e.message)),
                Err(e) if e.code() == ErrorCode::Unavailable => return Err(RtError::new(RtCode::MatchNotFound, "Match not found")),
                Err(e) => return Err(status_to_rt(e, RtCode::RuntimeException)),
            }
        };
        self.track(&stream, s.id, s.user_id, &s.username, Meta { hidden: false, persistence: false, status: None });
        let members = self.members(&stream);
        Ok(match_json(match_id, true, Some(&label), &members, s, false))
    }

    /// Runs a join attempt on a local match; the label on success.
    async fn join_attempt_local(&self, id: Uuid, presence: MatchPresence, ctx: CallContext, metadata: BTreeMap<String, String>) -> Result<String, RtError> {
        let Some((control, _, info)) = self.matches.get(id) else { return Err(RtError::new(RtCode::MatchNotFound, "Match not found")) };
        let (tx, rx) = oneshot::channel();
        let call = Control::JoinAttempt { presence, ctx, metadata, reply: tx };
        if tokio::time::timeout(super::PEER_CALL_TIMEOUT, control.send(call)).await.map_or(true, |r| r.is_err()) {
            return Err(RtError::new(RtCode::MatchNotFound, "Match not found"));
        }
        match tokio::time::timeout(super::PEER_CALL_TIMEOUT, rx).await {
            Ok(Ok(Ok(d))) if d.allow => Ok(info.lock().unwrap_or_else(|e| e.into_inner()).label.clone()),
            Ok(Ok(Ok(d))) => Err(RtError::new(RtCode::MatchJoinRejected, d.reason.filter(|r| !r.is_empty()).unwrap_or_else(|| "Match join rejected".into()))),
            Ok(Ok(Err(e))) => Err(RtError::new(RtCode::MatchJoinRejected, e.message)),
            _ => Err(RtError::new(RtCode::MatchNotFound, "Match not found")),
        }
    }

    async fn match_label(&self, mid: &MatchId) -> Option<String> {
        self.match_get(&format!("{}.{}", mid.id, mid.node)).await.ok().flatten().and_then(|m| m.label)
    }

    pub fn match_leave(&self, s: &SessionHandle, match_id: &str) {
        if let Some(mid) = MatchId::parse(match_id) {
            self.untrack(&mid.stream(), s.id);
        }
    }

    /// Client `match_data_send`: relayed data goes to the other members (or those listed);
    /// authoritative data to the owning match's next tick. Non-members are ignored.
    pub fn match_data_send(&self, s: &SessionHandle, match_id: &str, op_code: i64, data: Vec<u8>, filter: &[String], reliable: bool) {
        let Some(mid) = MatchId::parse(match_id) else { return };
        let stream = mid.stream();
        if self.presence(&stream, s.id).is_none() {
            return;
        }
        if mid.node.is_empty() {
            let mut body = serde_json::Map::new();
            body.insert("match_id".into(), match_id.into());
            body.insert("presence".into(), json!({"user_id": s.user_id.to_string(), "session_id": s.id.to_string(), "username": s.username}));
            if op_code != 0 {
                body.insert("op_code".into(), op_code.to_string().into());
            }
            if !data.is_empty() {
                body.insert("data".into(), base64::engine::general_purpose::STANDARD.encode(&data).into());
            }
            if reliable {
                body.insert("reliable".into(), true.into());
            }
            let text = json!({ "match_data": body }).to_string();
            let members = self.members(&stream);
            let targets = members
                .iter()
                .filter(|p| if filter.is_empty() { p.session_id != s.id } else { filter.contains(&p.session_id.to_string()) });
            self.deliver(targets.map(|p| (&*p.node, p.session_id)), &text);
            return;
        }
        let sender = presence_of(s, &self.node);
        let data = if data.is_empty() { None } else { Some(data) };
        if *mid.node == *self.node {
            data_arrived(self, mid.id, to_wire(&sender), op_code, data, reliable, None);
        } else {
            let sent_at_us = crate::core::now_nanos() / 1000;
            self.send_frame(&mid.node, &Frame::MatchData { match_id: mid.id.into_bytes(), sender: to_wire(&sender), op_code, data, reliable, sent_at_us });
        }
    }

    /// `nk.match_get`, wherever the match runs.
    pub async fn match_get(&self, match_id: &str) -> Result<Option<MatchInfo>, Status> {
        let Some(mid) = MatchId::parse(match_id) else { return Ok(None) };
        if mid.node.is_empty() {
            let size = self.count(&mid.stream());
            return Ok((size > 0).then(|| MatchInfo { match_id: match_id.into(), size: size as i32, ..Default::default() }));
        }
        if *mid.node == *self.node {
            return Ok(self.local_info(mid.id).map(Into::into));
        }
        match self.request(&mid.node, &Request::MatchGet { match_id: mid.id.into_bytes() }).await {
            Ok(Reply::Match(m)) => Ok(m.map(Into::into)),
            Ok(_) => Err(Status::internal()),
            Err(e) if e.code() == ErrorCode::Unavailable => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn local_info(&self, id: Uuid) -> Option<MatchInfoWire> {
        let (_, _, info) = self.matches.get(id)?;
        let i = info.lock().unwrap_or_else(|e| e.into_inner());
        let mid = MatchId { id, node: self.node.to_string() };
        Some(MatchInfoWire {
            match_id: format!("{id}.{}", self.node),
            authoritative: true,
            label: Some(i.label.clone()),
            size: self.count(&mid.stream()) as i32,
            tick_rate: i.tick_rate,
            handler_name: i.module.clone(),
            create_ms: i.create_ms,
        })
    }

    /// `nk.match_list` / `GET /v2/match`: matches across the cluster, newest first.
    pub async fn match_list(&self, q: &MatchListQuery) -> Result<Vec<MatchInfo>, Status> {
        let parsed = match q.query.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => Some(shoal_proto::query::Query::parse(text).map_err(|e| Status::invalid(format!("Invalid query: {e}")))?),
            None => None,
        };
        let mut all = self.local_matches(q, parsed.as_ref());
        if q.authoritative != Some(false) {
            let calls = self.peer_names().into_iter().map(|peer| {
                let req = Request::MatchList(q.clone());
                let rt = self.clone();
                async move { rt.request(&peer, &req).await }
            });
            for r in futures::future::join_all(calls).await {
                if let Ok(Reply::Matches(list)) = r {
                    all.extend(list);
                }
            }
        }
        if q.authoritative != Some(true) && q.label.is_none() && parsed.is_none() {
            let st = self.lock();
            for (stream, size) in st.tracker.streams_of_mode(stream_mode::MATCH_RELAYED) {
                let size = size as i32;
                if q.min_size.is_some_and(|m| size < m) || q.max_size.is_some_and(|m| size > m) {
                    continue;
                }
                all.push(MatchInfoWire {
                    match_id: match_id_of(stream),
                    authoritative: false,
                    label: None,
                    size,
                    tick_rate: 0,
                    handler_name: String::new(),
                    create_ms: 0,
                });
            }
        }
        all.sort_by(|a, b| b.create_ms.cmp(&a.create_ms).then_with(|| a.match_id.cmp(&b.match_id)));
        all.truncate(q.limit);
        Ok(all.into_iter().map(Into::into).collect())
    }

    fn local_matches(&self, q: &MatchListQuery, parsed: Option<&shoal_proto::query::Query>) -> Vec<MatchInfoWire> {
        if q.authoritative == Some(false) {
            return vec![];
        }
        let ids: Vec<Uuid> = self.matches.matches.read().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
        ids.into_iter()
            .filter_map(|id| self.local_info(id))
            .filter(|m| {
                let label = m.label.as_deref().unwrap_or_default();
                if q.min_size.is_some_and(|n| m.size < n) || q.max_size.is_some_and(|n| m.size > n) {
                    return false;
                }
                if let Some(query) = parsed {
                    let doc = json!({ "label": serde_json::from_str::<Value>(label).unwrap_or(Value::Null) });
                    return query.matches(&doc);
                }
                q.label.as_deref().is_none_or(|l| l == label)
            })
            .collect()
    }

    /// `nk.match_signal`.
    pub async fn match_signal(&self, match_id: &str, data: &str) -> Result<String, Status> {
        let mid = MatchId::parse(match_id).filter(|m| !m.node.is_empty()).ok_or_else(|| Status::invalid("Invalid match ID"))?;
        if *mid.node != *self.node {
            return match self.request(&mid.node, &Request::Signal { match_id: mid.id.into_bytes(), data: data.into() }).await? {
                Reply::Signal(s) => Ok(s),
                _ => Err(Status::internal()),
            };
        }
        let (control, _, _) = self.matches.get(mid.id).ok_or_else(|| Status::not_found("Match not found"))?;
        let (tx, rx) = oneshot::channel();
        control.send(Control::Signal { data: data.into(), reply: tx }).await.map_err(|_| Status::not_found("Match not found"))?;
        match tokio::time::timeout(super::PEER_CALL_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Status::not_found("Match not found")),
            Err(_) => Err(Status::unavailable("Match signal timed out")),
        }
    }
}

impl RtError {
    pub fn new(code: RtCode, message: impl Into<String>) -> RtError {
        RtError { code, message: message.into() }
    }
}

/// Member data for a local match, from this node or (`forward_delay_us` set) a peer.
pub(crate) fn data_arrived(rt: &Realtime, id: Uuid, sender: MatchPresenceWire, op_code: i64, data: Option<Vec<u8>>, reliable: bool, forward_delay_us: Option<i64>) {
    let Some((_, input, _)) = rt.matches.get(id) else { return };
    if let Some(d) = forward_delay_us {
        let mut samples = rt.matches.forward_us.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < 1_000_000 {
            samples.push(d.clamp(0, u32::MAX as i64) as u32);
        }
    }
    let msg = MatchMessage { sender: from_wire(sender), op_code, data, reliable, receive_time_ms: now_ms() };
    if input.try_send(msg).is_err() {
        tracing::debug!(match_id = %id, "match input queue full; dropping a message");
    }
}

/// Tracker changes on a local match's stream become `match_join` / `match_leave` calls.
pub(crate) fn presences_changed(rt: &Realtime, c: &Change) {
    let Ok(id) = Uuid::parse_str(&c.stream.subject) else { return };
    let Some((control, _, _)) = rt.matches.get(id) else { return };
    let conv = |p: &super::tracker::Presence, reason| MatchPresence {
        user_id: p.user_id.to_string(),
        session_id: p.session_id.to_string(),
        username: p.username.clone(),
        node: p.node.to_string(),
        reason,
    };
    // An update (leave + join of the same session) is not a membership change.
    let leaves: Vec<_> = c.leaves.iter().filter(|l| !c.joins.iter().any(|j| j.session_id == l.session_id)).map(|p| conv(p, REASON_LEAVE)).collect();
    let joins: Vec<_> = c.joins.iter().filter(|j| !c.leaves.iter().any(|l| l.session_id == j.session_id)).map(|p| conv(p, REASON_JOIN)).collect();
    if !joins.is_empty() && control.try_send(Control::Joins(joins)).is_err() {
        tracing::warn!(match_id = %id, "match control queue full; a join was dropped");
    }
    if !leaves.is_empty() && control.try_send(Control::Leaves(leaves)).is_err() {
        tracing::warn!(match_id = %id, "match control queue full; a leave was dropped");
    }
}

/// A node died: its authoritative matches are gone. This node's members of them leave,
/// and each is told every member left.
pub(crate) fn owner_gone(rt: &Realtime, node: &str) {
    let streams: Vec<Stream> = {
        let st = rt.lock();
        st.tracker.streams_of_mode(stream_mode::MATCH_AUTHORITATIVE).filter(|(s, _)| s.label == node).map(|(s, _)| s.clone()).collect()
    };
    for stream in streams {
        let members = rt.members(&stream);
        let leaves: Vec<_> = members.iter().map(|p| p.user_presence()).collect();
        let text = json!({ "match_presence_event": { "match_id": match_id_of(&stream), "leaves": leaves } }).to_string();
        let local: Vec<Uuid> = members.iter().filter(|p| *p.node == *rt.node).map(|p| p.session_id).collect();
        {
            let mut st = rt.lock();
            for sid in &local {
                if st.tracker.untrack(&stream, *sid).is_some() {
                    rt.replicate(&mut st, super::tracker::Delta::Untrack { stream: stream.clone(), session_id: sid.into_bytes() });
                }
            }
        }
        rt.deliver(local.iter().map(|id| (&*rt.node, *id)), &text);
    }
}

/// Serves match requests from peers.
pub(crate) async fn serve(rt: &Realtime, req: Request) -> Reply {
    match req {
        Request::JoinAttempt { match_id, joiner } => {
            let ctx = CallContext {
                user_id: Some(joiner.presence.user_id.clone()),
                username: Some(joiner.presence.username.clone()),
                vars: Some(joiner.vars.into_iter().collect()),
                user_session_exp: Some(joiner.expiry),
                session_id: Some(joiner.presence.session_id.clone()),
                lang: Some(joiner.lang),
                client_ip: Some(joiner.client_ip).filter(|s| !s.is_empty()),
                client_port: Some(joiner.client_port).filter(|s| !s.is_empty()),
                ..Default::default()
            };
            let metadata = joiner.metadata.into_iter().collect();
            match rt.join_attempt_local(Uuid::from_bytes(match_id), from_wire(joiner.presence), ctx, metadata).await {
                Ok(label) => Reply::Joined { label },
                Err(e) if e.code == RtCode::MatchNotFound => Reply::error(&Status::not_found(e.message)),
                Err(e) => Reply::error(&Status::permission_denied(e.message)),
            }
        }
        Request::Signal { match_id, data } => {
            let id = format!("{}.{}", Uuid::from_bytes(match_id), rt.node);
            match rt.match_signal(&id, &data).await {
                Ok(s) => Reply::Signal(s),
                Err(e) => Reply::error(&e),
            }
        }
        Request::MatchGet { match_id } => Reply::Match(rt.local_info(Uuid::from_bytes(match_id))),
        Request::MatchList(q) => {
            let parsed = q.query.as_deref().filter(|s| !s.is_empty()).and_then(|t| shoal_proto::query::Query::parse(t).ok());
            Reply::Matches(rt.local_matches(&q, parsed.as_ref()))
        }
        other => super::matchmaker::serve(rt, other).await,
    }
}
