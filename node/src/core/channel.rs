//! Chat channels (N `server/core_channel.go`, `api_channel.go`, `pipeline_channel.go`):
//! channel ids with Nakama's target checks, chat messages (stamped here, persisted through
//! Raft when the sender's presence asked for it, delivered by the realtime layer), updates
//! and removals by the sender, and history listings.

use base64::Engine;
use shoal_proto::{
    ChannelMessage, ChannelMessageList, Status, Stream, channel_id_build, channel_id_parse,
    stream_mode,
};
use shoal_storage::{
    ChannelMessageCommand, ChannelMessageCursor, ChannelMessageRecord, Command, FriendState, Reply,
};
use uuid::Uuid;

use super::{Core, internal, now_nanos};

/// Nakama's `ChannelMessageType*` codes.
pub mod message_code {
    pub const CHAT: i32 = 0;
    pub const CHAT_UPDATE: i32 = 1;
    pub const CHAT_REMOVE: i32 = 2;
}

/// Who writes to which channel: the sender's session user (nil for the system) and the
/// channel as the client named it and as parsed. `persist` is the sender's presence
/// setting on the channel (`channel_join.persistence`, default true).
#[derive(Debug, Clone, Copy)]
pub struct ChannelSender<'a> {
    pub channel_id: &'a str,
    pub stream: &'a Stream,
    pub user_id: Uuid,
    pub username: &'a str,
    pub persist: bool,
}

fn uuid_str(u: &Uuid) -> String {
    if u.is_nil() {
        String::new()
    } else {
        u.to_string()
    }
}

fn is_json_object(s: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).is_ok()
}

fn check_content(content: &str) -> Result<(), Status> {
    if is_json_object(content) {
        Ok(())
    } else {
        Err(Status::invalid(
            "Message content must be a valid JSON object",
        ))
    }
}

fn message_id(s: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(s).map_err(|_| Status::invalid("Invalid message identifier"))
}

fn invalid_cursor() -> Status {
    Status::invalid("Cursor is invalid or expired.")
}

fn encode_cursor(c: &ChannelMessageCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shoal_storage::encode(c))
}

fn decode_cursor(s: &str) -> Result<Option<ChannelMessageCursor>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid_cursor())?;
    shoal_storage::decode(&bytes)
        .map(Some)
        .map_err(|_| invalid_cursor())
}

/// A persisted message as listed: always `persistent`, fields derived from its channel.
pub fn message_to_api(
    channel_id: &str,
    stream: &Stream,
    m: &ChannelMessageRecord,
) -> ChannelMessage {
    let mut out = ChannelMessage {
        channel_id: channel_id.to_owned(),
        message_id: m.id.to_string(),
        code: m.code,
        sender_id: uuid_str(&m.sender_id),
        username: m.username.clone(),
        content: m.content.clone(),
        create_time: m.create_time(),
        update_time: m.update_time,
        persistent: true,
        ..Default::default()
    };
    out.set_stream_fields(stream);
    out
}

impl ChannelSender<'_> {
    /// The message this sender delivers, before storage has a say.
    fn message(&self, id: &Uuid, code: i32, content: &str, time: i64) -> ChannelMessage {
        let mut m = ChannelMessage {
            channel_id: self.channel_id.to_owned(),
            message_id: id.to_string(),
            code,
            sender_id: uuid_str(&self.user_id),
            username: self.username.to_owned(),
            content: content.to_owned(),
            create_time: time,
            update_time: time,
            persistent: self.persist,
            ..Default::default()
        };
        m.set_stream_fields(self.stream);
        m
    }
}

impl Core {
    /// The channel id and stream `user_id` joins (`channel_join`, `nk.channel_id_build`):
    /// Nakama's syntax rules, then for a DM that the other user exists and has not blocked
    /// `user_id` (skipped for the system user). Errors are invalid-argument statuses with
    /// Nakama's text (the socket sends them as `BAD_INPUT`).
    pub async fn channel_id_build(
        &self,
        user_id: &Uuid,
        target: &str,
        channel_type: i32,
    ) -> Result<(String, Stream), Status> {
        let (id, stream) =
            channel_id_build(user_id, target, channel_type).map_err(|e| e.to_status())?;
        if stream.mode == stream_mode::DM && !user_id.is_nil() {
            let other = Uuid::parse_str(target).map_err(internal)?;
            let exists = self.reader.user(&other).map_err(internal)?.is_some();
            let blocked = self
                .reader
                .friend_edge(&other, user_id)
                .map_err(internal)?
                .is_some_and(|e| e.state == FriendState::Blocked);
            if !exists || blocked {
                return Err(Status::invalid("User ID not found: Invalid channel target"));
            }
        }
        // Groups are not stored yet, so group membership is not checked.
        Ok((id, stream))
    }

    /// A chat message from `sender` (`channel_message_send`, `nk.channel_message_send`):
    /// stamped with an id and times, persisted first when `sender.persist`, and returned for
    /// delivery to the channel (its ack is `ChannelMessageAck::from(&message)`).
    pub async fn channel_message_create(
        &self,
        sender: &ChannelSender<'_>,
        content: &str,
    ) -> Result<ChannelMessage, Status> {
        check_content(content)?;
        let t = now_nanos();
        let id = Uuid::new_v4();
        let message = sender.message(
            &id,
            message_code::CHAT,
            content,
            t.div_euclid(1_000_000_000),
        );
        if sender.persist {
            let record = ChannelMessageRecord {
                id,
                code: message_code::CHAT,
                sender_id: sender.user_id,
                username: sender.username.to_owned(),
                content: content.to_owned(),
                create_time_ns: t,
                update_time: message.update_time,
            };
            let cmd = ChannelMessageCommand::Write {
                stream: sender.stream.clone(),
                message: record,
            };
            self.propose(Command::ChannelMessage(cmd)).await?;
        }
        Ok(message)
    }

    /// An edit of `message_id` by its sender (`channel_message_update`). When persisted, the
    /// stored message must be the sender's, in this channel (`Could not find message to
    /// update in channel history` otherwise); the delivered message (code 1) carries its
    /// original create time.
    pub async fn channel_message_update(
        &self,
        sender: &ChannelSender<'_>,
        message_id: &str,
        content: &str,
    ) -> Result<ChannelMessage, Status> {
        let id = self::message_id(message_id)?;
        check_content(content)?;
        let now = super::now();
        let mut message = sender.message(&id, message_code::CHAT_UPDATE, content, now);
        if sender.persist {
            let cmd = ChannelMessageCommand::Update {
                stream: sender.stream.clone(),
                id,
                sender_id: sender.user_id,
                username: sender.username.to_owned(),
                content: content.to_owned(),
                now,
            };
            if let Reply::ChannelMessage(stored) =
                self.propose(Command::ChannelMessage(cmd)).await?
            {
                message.create_time = stored.create_time();
            }
        }
        Ok(message)
    }

    /// A removal of `message_id` by its sender (`channel_message_remove`): like an update,
    /// with code 2 and content `{}`.
    pub async fn channel_message_remove(
        &self,
        sender: &ChannelSender<'_>,
        message_id: &str,
    ) -> Result<ChannelMessage, Status> {
        let id = self::message_id(message_id)?;
        let now = super::now();
        let mut message = sender.message(&id, message_code::CHAT_REMOVE, "{}", now);
        if sender.persist {
            let cmd = ChannelMessageCommand::Remove {
                stream: sender.stream.clone(),
                id,
                sender_id: sender.user_id,
            };
            if let Reply::ChannelMessage(stored) =
                self.propose(Command::ChannelMessage(cmd)).await?
            {
                message.create_time = stored.create_time();
            }
        }
        Ok(message)
    }

    /// A channel's persisted history (`GET /v2/channel/{id}`, `nk.channel_messages_list`):
    /// `limit` 1–100 (default 1), `forward` (default true: oldest first), `cursor` from a
    /// previous listing. A client (`caller`) may list a DM only as one of its two users;
    /// rooms are open to anyone; `None` is the runtime, which may list anything.
    pub async fn channel_messages_list(
        &self,
        caller: Option<&Uuid>,
        channel_id: &str,
        limit: Option<i64>,
        forward: Option<bool>,
        cursor: &str,
    ) -> Result<ChannelMessageList, Status> {
        if channel_id.is_empty() {
            return Err(Status::invalid("Invalid channel ID."));
        }
        let limit = limit.unwrap_or(1);
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid(
                "Invalid limit - limit must be between 1 and 100.",
            ));
        }
        let forward = forward.unwrap_or(true);
        let stream =
            channel_id_parse(channel_id).map_err(|_| Status::invalid("Invalid channel ID."))?;
        let cursor = decode_cursor(cursor)?;
        if let Some(c) = &cursor
            && (c.forward != forward || c.stream != stream)
        {
            return Err(invalid_cursor());
        }
        if let Some(caller) = caller
            && stream.mode == stream_mode::DM
        {
            let me = caller.to_string();
            if stream.subject != me && stream.subcontext != me {
                return Err(Status::invalid("Channel not found."));
            }
        }
        self.read_barrier().await?;
        let page = self
            .reader
            .channel_messages_page(&stream, forward, cursor.as_ref(), limit as usize)
            .map_err(|e| match e {
                shoal_storage::ReadError::InvalidCursor => invalid_cursor(),
                e => internal(e),
            })?;
        Ok(ChannelMessageList {
            messages: page
                .messages
                .iter()
                .map(|m| message_to_api(channel_id, &stream, m))
                .collect(),
            next_cursor: page.next.as_ref().map(encode_cursor).unwrap_or_default(),
            prev_cursor: page.prev.as_ref().map(encode_cursor).unwrap_or_default(),
            cacheable_cursor: page
                .cacheable
                .as_ref()
                .map(encode_cursor)
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_ids_are_checked_with_nakamas_messages() {
        assert!(check_content(" {\"a\":1}").is_ok());
        for bad in ["", "[]", "\"x\"", "{bad"] {
            assert_eq!(
                check_content(bad).unwrap_err().message,
                "Message content must be a valid JSON object"
            );
        }
        assert_eq!(
            message_id("nope").unwrap_err().message,
            "Invalid message identifier"
        );
        assert_eq!(
            decode_cursor("%%").unwrap_err().message,
            "Cursor is invalid or expired."
        );
    }

    #[test]
    fn listed_messages_carry_their_channel_fields() {
        let (id, stream) = channel_id_build(&Uuid::from_u128(1), "lobby", 1).unwrap();
        let rec = ChannelMessageRecord {
            id: Uuid::from_u128(9),
            code: 0,
            sender_id: Uuid::nil(),
            username: String::new(),
            content: "{}".into(),
            create_time_ns: 2_000_000_001,
            update_time: 3,
        };
        let m = message_to_api(&id, &stream, &rec);
        assert_eq!(
            (
                m.room_name.as_str(),
                m.create_time,
                m.update_time,
                m.persistent
            ),
            ("lobby", 2, 3, true)
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["code"], 0, "code is a wrapper: present even when 0");
        assert!(json.get("sender_id").is_none());
    }
}
