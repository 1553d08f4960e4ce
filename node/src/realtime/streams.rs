//! `nk.stream_*`: custom streams for modules. A session is tracked by its own node, so a
//! join/leave for a session connected elsewhere is a request to that node.

use serde_json::{Map, Value};
use shoal_proto::{Status, Stream, StreamPresence, StreamWire};
use uuid::Uuid;

use super::Realtime;
use super::tracker::{self, Meta};
use super::wire::{Reply, Request};

fn session_uuid(s: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(s).map_err(|_| Status::invalid("expects valid session id"))
}

impl Realtime {
    /// Tracks (or with `update_only`, re-flags) a session on a stream wherever it is
    /// connected. `Ok(false)`: nothing changed (or, for updates, not on the stream).
    pub async fn stream_track(&self, stream: &Stream, p: &StreamPresence, update_only: bool) -> Result<bool, Status> {
        let sid = session_uuid(&p.session_id)?;
        let meta = Meta { hidden: p.hidden, persistence: p.persistence, status: Some(p.status.clone()).filter(|s| !s.is_empty()) };
        if let Some(s) = self.sessions.get(sid) {
            if update_only && self.presence(stream, sid).is_none() {
                return Ok(false);
            }
            return Ok(self.track(stream, sid, s.user_id, &s.username, meta));
        }
        let node = self.session_node(sid).ok_or_else(|| Status::not_found("Session not found."))?;
        let presence = tracker::PresenceWire {
            stream: stream.clone(),
            session_id: sid.into_bytes(),
            user_id: Uuid::parse_str(&p.user_id).unwrap_or_default().into_bytes(),
            username: String::new(),
            meta,
        };
        match self.request(&node, &Request::StreamTrack { presence, update_only }).await? {
            Reply::Bool(b) => Ok(b),
            _ => Err(Status::internal()),
        }
    }

    pub async fn stream_untrack(&self, stream: &Stream, session_id: &str) -> Result<(), Status> {
        let sid = session_uuid(session_id)?;
        if self.sessions.get(sid).is_some() {
            self.untrack(stream, sid);
            return Ok(());
        }
        let Some(node) = self.presence(stream, sid).map(|p| p.node) else { return Ok(()) };
        self.request(&node, &Request::StreamUntrack { stream: stream.clone(), session_id: sid.into_bytes() }).await.map(|_| ())
    }

    pub fn stream_list(&self, stream: &Stream, include_hidden: bool, include_not_hidden: bool) -> Vec<StreamPresence> {
        self.members(stream)
            .iter()
            .filter(|p| if p.meta.hidden { include_hidden } else { include_not_hidden })
            .map(|p| p.stream_presence())
            .collect()
    }

    pub fn stream_get(&self, stream: &Stream, session_id: &str) -> Option<StreamPresence> {
        let sid = Uuid::parse_str(session_id).ok()?;
        self.presence(stream, sid).map(|p| p.stream_presence())
    }

    /// Untracks every presence on the stream, on every node.
    pub async fn stream_close(&self, stream: &Stream) -> Result<(), Status> {
        for p in self.members(stream) {
            self.stream_untrack(stream, &p.session_id.to_string()).await?;
        }
        Ok(())
    }

    /// `nk.stream_send` / `nk.stream_send_raw`.
    pub fn stream_send(&self, stream: &Stream, data: &str, to: Option<&[StreamPresence]>, reliable: bool, raw: bool) -> Result<(), Status> {
        let text = if raw {
            let v: Value = serde_json::from_str(data).map_err(|_| Status::invalid("expects a valid envelope"))?;
            if !v.is_object() {
                return Err(Status::invalid("expects a valid envelope"));
            }
            v.to_string()
        } else {
            let mut body = Map::new();
            body.insert("stream".into(), serde_json::to_value(StreamWire::from(stream)).unwrap_or_default());
            if !data.is_empty() {
                body.insert("data".into(), data.into());
            }
            if reliable {
                body.insert("reliable".into(), true.into());
            }
            serde_json::json!({ "stream_data": body }).to_string()
        };
        let members = self.members(stream);
        let targets = members.iter().filter(|p| to.is_none_or(|list| list.iter().any(|x| x.session_id == p.session_id.to_string())));
        self.deliver(targets.map(|p| (&*p.node, p.session_id)), &text);
        Ok(())
    }
}
