//! Chat channels and notifications over the realtime layer: joining is tracking a presence
//! on the channel's stream; a message is stamped and persisted by `core`, then delivered
//! to the channel's presences on every node. Notifications go to the user's notification
//! stream, which every socket session of the user is on.

use serde_json::{Map, Value};
use shoal_proto::{ChannelMessage, ChannelMessageAck, NotificationSend, Status, Stream, channel_id_parse, stream_mode};
use uuid::Uuid;

use super::events::channel_fields;
use super::session::SessionHandle;
use super::tracker::Meta;
use super::{Realtime, RtCode, RtError};
use crate::core::channel::ChannelSender;

fn bad(s: Status) -> RtError {
    RtError::new(RtCode::BadInput, s.message)
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

impl Realtime {
    /// `channel_join`: returns the `channel` reply.
    pub async fn channel_join(&self, s: &SessionHandle, target: &str, kind: i64, persistence: bool, hidden: bool) -> Result<Value, RtError> {
        let kind = i32::try_from(kind).map_err(|_| RtError::new(RtCode::BadInput, "Invalid channel type"))?;
        let (id, stream) = self.core.channel_id_build(&s.user_id, target, kind).await.map_err(bad)?;
        if stream.mode == stream_mode::GROUP {
            return Err(RtError::new(RtCode::BadInput, "Group chat is not available: this server has no groups."));
        }
        let new = self.track(&stream, s.id, s.user_id, &s.username, Meta { hidden, persistence, status: None });
        let me = self.presence(&stream, s.id).map(|p| p.user_presence());
        let members = self.members(&stream);
        if new && stream.mode == stream_mode::DM {
            self.dm_invite(s, &stream, &members).await;
        }
        // A session joining a channel it is already in sees itself (as in Nakama).
        let others: Vec<_> = members
            .into_iter()
            .filter(|p| (!new || p.session_id != s.id) && !p.meta.hidden)
            .map(|p| p.user_presence())
            .collect();
        let mut body = Map::new();
        body.insert("id".into(), id.into());
        if !others.is_empty() {
            body.insert("presences".into(), to_value(&others));
        }
        body.insert("self".into(), to_value(&me));
        channel_fields(&stream, &mut body);
        Ok(Value::Object(body))
    }

    /// A DM join tells the other user, if they are not in the conversation, with Nakama's
    /// persistent notification (code -1, `"<username> wants to chat"`).
    async fn dm_invite(&self, s: &SessionHandle, stream: &Stream, members: &[super::tracker::Presence]) {
        let me = s.user_id.to_string();
        let other = if stream.subject == me { &stream.subcontext } else { &stream.subject };
        if other.is_empty() || *other == me || members.iter().any(|p| p.user_id.to_string() == *other) {
            return;
        }
        let send = NotificationSend {
            user_id: other.clone(),
            subject: format!("{} wants to chat", s.username),
            content: serde_json::json!({ "username": s.username }).to_string(),
            code: -1,
            sender_id: me,
            persistent: true,
        };
        if let Err(e) = self.notifications_send(&[send]).await {
            tracing::warn!(error = %e.message, "could not send the direct message invitation");
        }
    }

    fn channel_stream(&self, channel_id: &str) -> Result<Stream, RtError> {
        channel_id_parse(channel_id).map_err(|_| RtError::new(RtCode::BadInput, "Invalid channel identifier"))
    }

    pub fn channel_leave(&self, s: &SessionHandle, channel_id: &str) -> Result<(), RtError> {
        let stream = self.channel_stream(channel_id)?;
        self.untrack(&stream, s.id);
        Ok(())
    }

    /// The sender of a socket chat message: a member of the channel, with its persistence.
    fn member_sender<'a>(&self, s: &'a SessionHandle, channel_id: &'a str, stream: &'a Stream) -> Result<ChannelSender<'a>, RtError> {
        let p = self.presence(stream, s.id).ok_or_else(|| RtError::new(RtCode::BadInput, "Must join channel before sending messages."))?;
        Ok(ChannelSender { channel_id, stream, user_id: s.user_id, username: &s.username, persist: p.meta.persistence })
    }

    fn deliver_message(&self, stream: &Stream, m: &ChannelMessage) {
        let text = serde_json::json!({ "channel_message": m }).to_string();
        self.deliver_stream(stream, &text, None);
    }

    pub async fn channel_message_send_socket(&self, s: &SessionHandle, channel_id: &str, content: &str) -> Result<Value, RtError> {
        let stream = self.channel_stream(channel_id)?;
        let sender = self.member_sender(s, channel_id, &stream)?;
        let m = self.core.channel_message_create(&sender, content).await.map_err(bad)?;
        self.deliver_message(&stream, &m);
        Ok(to_value(&ChannelMessageAck::from(&m)))
    }

    pub async fn channel_message_update_socket(&self, s: &SessionHandle, channel_id: &str, message_id: &str, content: &str) -> Result<Value, RtError> {
        let stream = self.channel_stream(channel_id)?;
        let sender = self.member_sender(s, channel_id, &stream)?;
        let m = self.core.channel_message_update(&sender, message_id, content).await.map_err(bad)?;
        self.deliver_message(&stream, &m);
        Ok(to_value(&ChannelMessageAck::from(&m)))
    }

    pub async fn channel_message_remove_socket(&self, s: &SessionHandle, channel_id: &str, message_id: &str) -> Result<Value, RtError> {
        let stream = self.channel_stream(channel_id)?;
        let sender = self.member_sender(s, channel_id, &stream)?;
        let m = self.core.channel_message_remove(&sender, message_id).await.map_err(bad)?;
        self.deliver_message(&stream, &m);
        Ok(to_value(&ChannelMessageAck::from(&m)))
    }

    /// `nk.channel_message_send`: from the runtime (any sender, no membership needed).
    pub async fn channel_message_send(&self, channel_id: &str, content: &str, sender_id: &str, username: &str, persist: bool) -> Result<ChannelMessageAck, Status> {
        let stream = channel_id_parse(channel_id).map_err(|e| e.to_status())?;
        let user_id = if sender_id.is_empty() {
            Uuid::nil()
        } else {
            Uuid::parse_str(sender_id).map_err(|_| Status::invalid("expects sender_id to be a valid UUID"))?
        };
        let content = if content.is_empty() { "{}" } else { content };
        let sender = ChannelSender { channel_id, stream: &stream, user_id, username, persist };
        let m = self.core.channel_message_create(&sender, content).await?;
        self.deliver_message(&stream, &m);
        Ok(ChannelMessageAck::from(&m))
    }

    /// `nk.notification(s)_send`: persists the persistent ones, then pushes each to its
    /// user's sessions on every node.
    pub async fn notifications_send(&self, sends: &[NotificationSend]) -> Result<(), Status> {
        let created = self.core.notifications_create(sends).await?;
        let mut by_user: std::collections::BTreeMap<&str, Vec<&shoal_proto::Notification>> = Default::default();
        for (send, n) in sends.iter().zip(&created) {
            by_user.entry(send.user_id.as_str()).or_default().push(n);
        }
        for (user, list) in by_user {
            let stream = Stream { mode: stream_mode::NOTIFICATIONS, subject: user.to_lowercase(), ..Default::default() };
            let text = serde_json::json!({ "notifications": { "notifications": list } }).to_string();
            self.deliver_stream(&stream, &text, None);
        }
        Ok(())
    }
}
