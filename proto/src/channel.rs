//! Nakama's chat channel ids (N `server/core_channel.go` `BuildChannelId`,
//! `ChannelIdToStream`, `StreamToChannelId`): `"<mode>.<subject>.<subcontext>.<label>"`,
//! where a room is `2...<name>`, a group `3.<group id>..` and a direct message
//! `4.<lower user id>.<higher user id>.`.
//!
//! Only the syntax lives here; whether a DM target exists (and does not block the sender)
//! or the sender is in a group is for the caller to check against storage.

use uuid::Uuid;

use crate::error::Status;
use crate::realtime::{ChannelMessage, Stream, stream_mode};

/// `rtapi.ChannelJoin.Type`.
pub mod channel_type {
    /// Treated as a room, as in Nakama.
    pub const UNSPECIFIED: i32 = 0;
    pub const ROOM: i32 = 1;
    pub const DIRECT_MESSAGE: i32 = 2;
    pub const GROUP: i32 = 3;
}

/// Why a channel id or channel target is refused. `Display` is Nakama's error text, which
/// the socket sends as is (`BAD_INPUT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelIdError {
    /// `runtime.ErrInvalidChannelTarget`, with Nakama's detail when it gives one.
    #[error("{}", target_message(.0))]
    InvalidTarget(&'static str),
    /// `runtime.ErrInvalidChannelType`.
    #[error("Invalid channel type")]
    InvalidType,
    /// `runtime.ErrChannelIDInvalid`. The REST API answers it with `Invalid channel ID.`
    /// and the socket with `Invalid channel identifier`.
    #[error("invalid channel id")]
    InvalidId,
}

fn target_message(detail: &str) -> String {
    if detail.is_empty() {
        "Invalid channel target".to_owned()
    } else {
        format!("{detail}: Invalid channel target")
    }
}

impl ChannelIdError {
    /// The error as an invalid-argument status with Nakama's text.
    pub fn to_status(&self) -> Status {
        Status::invalid(self.to_string())
    }
}

/// The channel id and stream that `sender` joins for `target` of `channel_type`
/// (`channel_type::*`). A DM orders the two user ids as Nakama does (the lower string is the
/// subject); a DM with oneself is refused.
pub fn channel_id_build(
    sender: &Uuid,
    target: &str,
    channel_type: i32,
) -> Result<(String, Stream), ChannelIdError> {
    if target.is_empty() {
        return Err(ChannelIdError::InvalidTarget(""));
    }
    let stream = match channel_type {
        channel_type::UNSPECIFIED | channel_type::ROOM => {
            if target.len() > 64 {
                return Err(ChannelIdError::InvalidTarget(
                    "Channel name is required and must be 1-64 chars",
                ));
            }
            // Go's POSIX `[[:cntrl:]]`: ASCII control characters. A Rust string is always
            // valid UTF-8, so Nakama's UTF-8 check cannot fail here.
            if target.bytes().any(|b| b.is_ascii_control()) {
                return Err(ChannelIdError::InvalidTarget(
                    "Channel name must not contain control chars",
                ));
            }
            Stream {
                mode: stream_mode::CHANNEL,
                label: target.to_owned(),
                ..Default::default()
            }
        }
        channel_type::DIRECT_MESSAGE => {
            let other = Uuid::parse_str(target)
                .ok()
                .filter(|u| !u.is_nil() && u != sender)
                .ok_or(ChannelIdError::InvalidTarget(
                    "Invalid user ID in direct message join",
                ))?;
            let (one, two) = dm_pair(sender, &other);
            Stream {
                mode: stream_mode::DM,
                subject: one,
                subcontext: two,
                label: String::new(),
            }
        }
        channel_type::GROUP => {
            let group = Uuid::parse_str(target).map_err(|_| {
                ChannelIdError::InvalidTarget("Invalid group ID in group channel join")
            })?;
            Stream {
                mode: stream_mode::GROUP,
                subject: uuid_part(&group),
                ..Default::default()
            }
        }
        _ => return Err(ChannelIdError::InvalidType),
    };
    let id = stream_to_channel_id(&stream).ok_or(ChannelIdError::InvalidId)?;
    Ok((id, stream))
}

/// The two DM participants in Nakama's order: the lower id string first.
fn dm_pair(a: &Uuid, b: &Uuid) -> (String, String) {
    let (a, b) = (uuid_part(a), uuid_part(b));
    if b > a { (a, b) } else { (b, a) }
}

/// A stream's UUID component: canonical lowercase, and empty for the nil UUID (as Nakama
/// writes it into channel ids).
fn uuid_part(u: &Uuid) -> String {
    if u.is_nil() {
        String::new()
    } else {
        u.to_string()
    }
}

/// Parses a UUID component of a channel id; empty means nil.
fn parse_part(s: &str) -> Result<String, ChannelIdError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    Uuid::parse_str(s)
        .map(|u| uuid_part(&u))
        .map_err(|_| ChannelIdError::InvalidId)
}

/// The stream of a channel id, with Nakama's rules: a room has only a label (1–64 bytes),
/// a group only a subject, a DM no label.
pub fn channel_id_parse(channel_id: &str) -> Result<Stream, ChannelIdError> {
    let parts: Vec<&str> = channel_id.splitn(4, '.').collect();
    let [mode, subject, subcontext, label] = parts[..] else {
        return Err(ChannelIdError::InvalidId);
    };
    match mode {
        "2" => {
            if !subject.is_empty() || !subcontext.is_empty() || label.is_empty() || label.len() > 64
            {
                return Err(ChannelIdError::InvalidId);
            }
            Ok(Stream {
                mode: stream_mode::CHANNEL,
                label: label.to_owned(),
                ..Default::default()
            })
        }
        "3" => {
            if !subcontext.is_empty() || !label.is_empty() {
                return Err(ChannelIdError::InvalidId);
            }
            Ok(Stream {
                mode: stream_mode::GROUP,
                subject: parse_part(subject)?,
                ..Default::default()
            })
        }
        "4" => {
            if !label.is_empty() {
                return Err(ChannelIdError::InvalidId);
            }
            Ok(Stream {
                mode: stream_mode::DM,
                subject: parse_part(subject)?,
                subcontext: parse_part(subcontext)?,
                label: String::new(),
            })
        }
        _ => Err(ChannelIdError::InvalidId),
    }
}

/// The channel id of a chat stream; `None` for a stream that is not a room, group or DM.
pub fn stream_to_channel_id(stream: &Stream) -> Option<String> {
    matches!(
        stream.mode,
        stream_mode::CHANNEL | stream_mode::GROUP | stream_mode::DM
    )
    .then(|| {
        format!(
            "{}.{}.{}.{}",
            stream.mode, stream.subject, stream.subcontext, stream.label
        )
    })
}

/// What a channel's stream says about it, as Nakama derives `room_name`, `group_id` and
/// `user_id_one`/`user_id_two` (empty fields are left out of JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChannelFields {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub room_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_id_one: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_id_two: String,
}

impl ChannelFields {
    pub fn of(stream: &Stream) -> ChannelFields {
        let mut f = ChannelFields::default();
        match stream.mode {
            stream_mode::CHANNEL => f.room_name = stream.label.clone(),
            stream_mode::GROUP => f.group_id = stream.subject.clone(),
            stream_mode::DM => {
                f.user_id_one = stream.subject.clone();
                f.user_id_two = stream.subcontext.clone();
            }
            _ => {}
        }
        f
    }
}

impl ChannelMessage {
    /// Sets the fields the channel's stream determines ([`ChannelFields`]).
    pub fn set_stream_fields(&mut self, stream: &Stream) {
        let f = ChannelFields::of(stream);
        self.room_name = f.room_name;
        self.group_id = f.group_id;
        self.user_id_one = f.user_id_one;
        self.user_id_two = f.user_id_two;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "11111111-1111-4111-8111-111111111111";
    const B: &str = "22222222-2222-4222-8222-222222222222";

    fn a() -> Uuid {
        Uuid::parse_str(A).unwrap()
    }

    #[test]
    fn rooms_build_and_parse() {
        let (id, stream) = channel_id_build(&a(), "lobby.eu", channel_type::ROOM).unwrap();
        assert_eq!(id, "2...lobby.eu");
        assert_eq!(
            stream,
            Stream {
                mode: 2,
                label: "lobby.eu".into(),
                ..Default::default()
            }
        );
        // A label may hold dots: only the first three separate components.
        assert_eq!(channel_id_parse(&id).unwrap(), stream);
        // Type 0 is a room too.
        assert_eq!(
            channel_id_build(&a(), "lobby", channel_type::UNSPECIFIED)
                .unwrap()
                .0,
            "2...lobby"
        );
        assert_eq!(
            channel_id_build(&a(), &"x".repeat(64), 1)
                .unwrap()
                .1
                .label
                .len(),
            64
        );
        // "2...." is the room ".".
        assert_eq!(channel_id_parse("2....").unwrap().label, ".");
    }

    #[test]
    fn room_targets_are_validated_with_nakamas_messages() {
        let err = |t: &str, ty: i32| channel_id_build(&a(), t, ty).unwrap_err().to_string();
        assert_eq!(err("", 1), "Invalid channel target");
        assert_eq!(
            err(&"x".repeat(65), 1),
            "Channel name is required and must be 1-64 chars: Invalid channel target"
        );
        assert_eq!(
            err("bad\nname", 1),
            "Channel name must not contain control chars: Invalid channel target"
        );
        assert_eq!(
            err("bad\u{7f}", 1),
            "Channel name must not contain control chars: Invalid channel target"
        );
        assert_eq!(err("room", 4), "Invalid channel type");
        assert_eq!(err("room", -1), "Invalid channel type");
        let s = channel_id_build(&a(), "", 1).unwrap_err().to_status();
        assert_eq!(s.code, 3);
    }

    #[test]
    fn direct_messages_order_the_pair() {
        let b = Uuid::parse_str(B).unwrap();
        let (id_ab, s_ab) = channel_id_build(&a(), B, channel_type::DIRECT_MESSAGE).unwrap();
        let (id_ba, s_ba) = channel_id_build(&b, A, channel_type::DIRECT_MESSAGE).unwrap();
        assert_eq!(id_ab, format!("4.{A}.{B}."));
        assert_eq!(id_ab, id_ba);
        assert_eq!(s_ab, s_ba);
        assert_eq!(
            (s_ab.mode, s_ab.subject.as_str(), s_ab.subcontext.as_str()),
            (4, A, B)
        );
        assert_eq!(channel_id_parse(&id_ab).unwrap(), s_ab);
        // Upper-case or braced targets are the same user.
        let upper = B.to_uppercase();
        assert_eq!(channel_id_build(&a(), &upper, 2).unwrap().0, id_ab);
        let msg = "Invalid user ID in direct message join: Invalid channel target";
        for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000", A] {
            assert_eq!(
                channel_id_build(&a(), bad, 2).unwrap_err().to_string(),
                msg,
                "{bad}"
            );
        }
    }

    #[test]
    fn groups_build_and_parse() {
        let (id, stream) = channel_id_build(&a(), B, channel_type::GROUP).unwrap();
        assert_eq!(id, format!("3.{B}.."));
        assert_eq!((stream.mode, stream.subject.as_str()), (3, B));
        assert_eq!(channel_id_parse(&id).unwrap(), stream);
        assert_eq!(
            channel_id_build(&a(), "nope", 3).unwrap_err().to_string(),
            "Invalid group ID in group channel join: Invalid channel target"
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "2..lobby",
            "1...lobby",
            "5...x",
            "2...",
            &format!("2...{}", "x".repeat(65)),
            &format!("2.{A}..lobby"),
            &format!("3.{A}.{B}."),
            &format!("3.{A}..label"),
            "3.not-a-uuid..",
            &format!("4.{A}.{B}.label"),
            &format!("4.{A}.bad."),
        ] {
            assert_eq!(
                channel_id_parse(bad),
                Err(ChannelIdError::InvalidId),
                "{bad:?}"
            );
        }
        assert_eq!(ChannelIdError::InvalidId.to_string(), "invalid channel id");
        // Ids are normalised: an upper-case uuid parses to the canonical stream.
        let s = channel_id_parse(&format!("3.{}..", B.to_uppercase())).unwrap();
        assert_eq!(stream_to_channel_id(&s).unwrap(), format!("3.{B}.."));
        assert_eq!(
            stream_to_channel_id(&Stream {
                mode: 0,
                ..Default::default()
            }),
            None
        );
    }

    #[test]
    fn message_fields_follow_the_stream() {
        let mut m = ChannelMessage::default();
        m.set_stream_fields(&channel_id_build(&a(), B, 2).unwrap().1);
        assert_eq!((m.user_id_one.as_str(), m.user_id_two.as_str()), (A, B));
        let mut m = ChannelMessage::default();
        m.set_stream_fields(&channel_id_build(&a(), "room", 1).unwrap().1);
        assert_eq!(m.room_name, "room");
        let mut m = ChannelMessage::default();
        m.set_stream_fields(&channel_id_build(&a(), B, 3).unwrap().1);
        assert_eq!(m.group_id, B);
    }
}
