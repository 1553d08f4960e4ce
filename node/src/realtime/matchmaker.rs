//! The matchmaker: one cluster-wide pool, kept by the live node with the lowest name.
//! Tickets from sessions on any node go to that node; every `matchmaker.interval_sec` it
//! forms groups (`matchmaker_pool`) and tells each matched session, wherever it is
//! connected, with a match id from `register_matchmaker_matched` or a token for a relayed
//! match. Each node remembers its own sessions' tickets and hands them to a new pool owner
//! when the old one dies, so tickets survive the owner's loss.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use shoal_config::NodeConfig;
use shoal_proto::Status;
use shoal_runtime::{CallContext, Callback};
use uuid::Uuid;

use super::matchmaker_pool::{Pool, Ticket};
use super::session::SessionHandle;
use super::wire::{Frame, Reply, Request, TicketWire};
use super::{Inner, Realtime, RtCode, RtError};

pub struct Matchmaker {
    pool: Mutex<Pool>,
    /// This node's sessions' tickets, by ticket id.
    local: Mutex<HashMap<String, TicketWire>>,
    /// The pool owner tickets were last handed to.
    owner: Mutex<Option<Arc<str>>>,
    interval: Duration,
    max_intervals: u32,
    max_tickets: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TokenClaims {
    mid: String,
    exp: i64,
}

impl Matchmaker {
    pub fn new(config: &NodeConfig) -> Matchmaker {
        Matchmaker {
            pool: Mutex::new(Pool::new(config.matchmaker.max_tickets)),
            local: Mutex::default(),
            owner: Mutex::default(),
            interval: Duration::from_secs(config.matchmaker.interval_sec.max(1)),
            max_intervals: config.matchmaker.max_intervals,
            max_tickets: config.matchmaker.max_tickets,
        }
    }
}

fn ticket_of(w: &TicketWire) -> Result<Ticket, Status> {
    let query = shoal_proto::query::Query::parse(&w.query).map_err(|e| Status::invalid(format!("Invalid matchmaker query: {e}")))?;
    Ok(Ticket {
        ticket: w.ticket.clone(),
        session_id: w.session_id.clone(),
        user_id: w.user_id.clone(),
        username: w.username.clone(),
        node: w.node.clone(),
        party_id: String::new(),
        query,
        min_count: w.min_count,
        max_count: w.max_count,
        count_multiple: w.count_multiple,
        string_properties: w.string_properties.iter().cloned().collect(),
        numeric_properties: w.numeric_properties.iter().cloned().collect(),
        created_seq: 0,
        intervals: 0,
    })
}

impl Realtime {
    fn mm_owner(&self) -> Arc<str> {
        let mut names = self.peer_names();
        names.push(self.node.clone());
        names.into_iter().min().expect("self is always a candidate")
    }

    /// `matchmaker_add`: returns the ticket id.
    #[allow(clippy::too_many_arguments)]
    pub async fn matchmaker_add(
        &self,
        s: &SessionHandle,
        query: &str,
        min_count: i64,
        max_count: i64,
        count_multiple: i64,
        string_properties: BTreeMap<String, String>,
        numeric_properties: BTreeMap<String, f64>,
    ) -> Result<String, RtError> {
        let mine = self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|t| t.session_id == s.id.to_string()).count();
        if mine as u32 >= self.matchmaker.max_tickets {
            return Err(RtError::new(RtCode::BadInput, "Too many matchmaker tickets"));
        }
        let w = TicketWire {
            ticket: Uuid::new_v4().to_string(),
            session_id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            username: s.username.clone(),
            node: self.node.to_string(),
            query: if query.is_empty() { "*".into() } else { query.to_string() },
            min_count,
            max_count,
            count_multiple,
            string_properties: string_properties.into_iter().collect(),
            numeric_properties: numeric_properties.into_iter().collect(),
        };
        self.submit(&w).await.map_err(|e| {
            // The count checks are the client's (BAD_INPUT with their text); anything else,
            // a bad query included, is Nakama's generic failure.
            if e.code() == shoal_proto::ErrorCode::InvalidArgument && !e.message.starts_with("Invalid matchmaker query") {
                RtError::new(RtCode::BadInput, e.message)
            } else {
                tracing::debug!(error = %e.message, "matchmaker add failed");
                RtError::new(RtCode::RuntimeException, "Error adding to matchmaker")
            }
        })?;
        self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner()).insert(w.ticket.clone(), w.clone());
        Ok(w.ticket)
    }

    /// Hands a ticket to the pool owner (this node or a peer).
    async fn submit(&self, w: &TicketWire) -> Result<(), Status> {
        let owner = self.mm_owner();
        *self.matchmaker.owner.lock().unwrap_or_else(|e| e.into_inner()) = Some(owner.clone());
        if owner == self.node {
            return self.pool_add(w);
        }
        match self.request(&owner, &Request::MatchmakerAdd(w.clone())).await? {
            Reply::Ticket(_) => Ok(()),
            _ => Err(Status::internal()),
        }
    }

    fn pool_add(&self, w: &TicketWire) -> Result<(), Status> {
        let t = ticket_of(w)?;
        self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).add(t).map_err(|e| Status::invalid(e.to_string()))
    }

    /// `matchmaker_remove`.
    pub async fn matchmaker_remove(&self, s: &SessionHandle, ticket: &str) -> Result<(), RtError> {
        let removed = self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner()).remove(ticket);
        if removed.as_ref().is_none_or(|t| t.session_id != s.id.to_string()) {
            return Err(RtError::new(RtCode::BadInput, "Matchmaker ticket not found"));
        }
        let owner = self.mm_owner();
        if owner == self.node {
            self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).remove(ticket, &s.id.to_string());
        } else {
            let _ = self.request(&owner, &Request::MatchmakerRemove { ticket: ticket.into(), session_id: s.id.to_string() }).await;
        }
        Ok(())
    }

    /// A session closed: its tickets leave the pool.
    pub async fn matchmaker_remove_session(&self, session_id: &str) {
        let had = {
            let mut local = self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner());
            let before = local.len();
            local.retain(|_, t| t.session_id != session_id);
            before != local.len()
        };
        if !had {
            return;
        }
        let owner = self.mm_owner();
        if owner == self.node {
            self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).remove_session(session_id);
        } else {
            let _ = self.request(&owner, &Request::MatchmakerRemoveSession { session_id: session_id.into() }).await;
        }
    }

    /// A node died: its sessions' tickets leave the pool.
    pub(crate) fn matchmaker_node_gone(&self, node: &str) {
        self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).remove_node(node);
    }

    /// Membership changed: if the pool owner is now another node, hand it our tickets.
    pub(crate) fn matchmaker_owner_changed(&self) {
        let rt = self.clone();
        tokio::spawn(async move { rt.resubmit_if_owner_changed().await });
    }

    async fn resubmit_if_owner_changed(&self) {
        let owner = self.mm_owner();
        let previous = self.matchmaker.owner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if previous.as_ref() == Some(&owner) {
            return;
        }
        if owner != self.node {
            // No longer the owner: the tickets held here belong to the new owner now.
            *self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()) = Pool::new(self.matchmaker.max_tickets);
        }
        let tickets: Vec<TicketWire> = self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        *self.matchmaker.owner.lock().unwrap_or_else(|e| e.into_inner()) = Some(owner.clone());
        for t in tickets {
            if let Err(e) = self.submit(&t).await {
                tracing::warn!(ticket = %t.ticket, error = %e, "could not hand a matchmaker ticket to the new pool owner");
            }
        }
    }

    /// One matchmaking pass (on the pool owner).
    async fn matchmaker_pass(&self) {
        let groups = self.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).process(self.matchmaker.max_intervals);
        for group in groups {
            self.matched(group).await;
        }
    }

    async fn matched(&self, group: Vec<Ticket>) {
        fn entry(t: &Ticket) -> (&Ticket, serde_json::Map<String, Value>) {
            let mut props = serde_json::Map::new();
            for (k, v) in &t.string_properties {
                props.insert(k.clone(), v.clone().into());
            }
            for (k, v) in &t.numeric_properties {
                props.insert(k.clone(), json!(v));
            }
            (t, props)
        }
        let entries: Vec<_> = group.iter().map(entry).collect();
        let mut match_id = None;
        if let Some(pool) = self.core.runtime.get()
            && pool.registry().has_matchmaker_matched()
        {
            let list: Vec<Value> = entries
                .iter()
                .map(|(t, props)| {
                    json!({
                        "presence": {"user_id": t.user_id, "session_id": t.session_id, "username": t.username, "node": t.node},
                        "properties": props,
                    })
                })
                .collect();
            match pool.call_callback(Callback::MatchmakerMatched, CallContext::default(), vec![Value::Array(list)]).await {
                Ok(Value::String(id)) if !id.is_empty() => match_id = Some(id),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "matchmaker_matched hook failed; falling back to a token"),
            }
        }
        let token = match &match_id {
            Some(_) => None,
            None => Some(self.match_token(&format!("{}.", Uuid::new_v4()))),
        };
        let users: Vec<Value> = entries
            .iter()
            .map(|(t, _)| {
                let mut u = serde_json::Map::new();
                u.insert("presence".into(), json!({"user_id": t.user_id, "session_id": t.session_id, "username": t.username}));
                if !t.string_properties.is_empty() {
                    u.insert("string_properties".into(), json!(t.string_properties));
                }
                if !t.numeric_properties.is_empty() {
                    u.insert("numeric_properties".into(), json!(t.numeric_properties));
                }
                Value::Object(u)
            })
            .collect();
        for (i, t) in group.iter().enumerate() {
            let mut body = serde_json::Map::new();
            body.insert("ticket".into(), t.ticket.clone().into());
            match (&match_id, &token) {
                (Some(id), _) => body.insert("match_id".into(), id.clone().into()),
                (_, Some(tok)) => body.insert("token".into(), tok.clone().into()),
                _ => None,
            };
            body.insert("users".into(), Value::Array(users.clone()));
            body.insert("self".into(), users[i].clone());
            let text = json!({ "matchmaker_matched": body }).to_string();
            let Ok(sid) = Uuid::parse_str(&t.session_id) else { continue };
            if *t.node == *self.node {
                self.matched_arrived(sid, &t.ticket, &text);
            } else {
                self.send_frame(&t.node, &Frame::Matched { session: sid.into_bytes(), ticket: t.ticket.clone(), text });
            }
        }
    }

    /// A matchmaker result for a local session: the ticket is done.
    pub(crate) fn matched_arrived(&self, session: Uuid, ticket: &str, text: &str) {
        self.matchmaker.local.lock().unwrap_or_else(|e| e.into_inner()).remove(ticket);
        if let Some(s) = self.sessions.get(session) {
            s.send(axum::extract::ws::Utf8Bytes::from(text.to_string()));
        }
    }

    /// A signed token naming a relayed match (`match_join {token}`).
    fn match_token(&self, match_id: &str) -> String {
        let claims = TokenClaims { mid: match_id.into(), exp: crate::core::now() + 60 };
        let key = jsonwebtoken::EncodingKey::from_secret(self.core.config.session.encryption_key.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_default()
    }

    /// The match id in a matchmaker token, if the token is valid.
    pub fn match_id_from_token(&self, token: &str) -> Option<String> {
        let key = jsonwebtoken::DecodingKey::from_secret(self.core.config.session.encryption_key.as_bytes());
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken::decode::<TokenClaims>(token, &key, &validation).ok().map(|d| d.claims.mid)
    }
}

/// Runs a matchmaking pass every interval while this node owns the pool.
pub(crate) async fn interval_loop(weak: Weak<Inner>) {
    let period = weak.upgrade().map(|i| i.matchmaker.interval).unwrap_or(Duration::from_secs(15));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = weak.upgrade() else { return };
        let rt = Realtime::from_inner(inner);
        rt.resubmit_if_owner_changed().await;
        if rt.mm_owner() == rt.node {
            rt.matchmaker_pass().await;
        }
    }
}

/// Serves matchmaker requests from peers (this node is the pool owner).
pub(crate) async fn serve(rt: &Realtime, req: Request) -> Reply {
    match req {
        Request::MatchmakerAdd(w) => match rt.pool_add(&w) {
            Ok(()) => Reply::Ticket(w.ticket),
            Err(e) => Reply::error(&e),
        },
        Request::MatchmakerRemove { ticket, session_id } => {
            Reply::Bool(rt.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).remove(&ticket, &session_id))
        }
        Request::MatchmakerRemoveSession { session_id } => {
            rt.matchmaker.pool.lock().unwrap_or_else(|e| e.into_inner()).remove_session(&session_id);
            Reply::Done
        }
        _ => Reply::error(&Status::invalid("unknown realtime request")),
    }
}
