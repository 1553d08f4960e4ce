//! Realtime `nk.*`: matches (`match_create/get/list/signal`), streams (`stream_user_*`,
//! `stream_count/close/send/send_raw`), notifications (`notification_send`,
//! `notifications_send`) and `channel_message_send` (N `runtime_lua_nakama.go`
//! `matchCreate` … `channelMessageSend`). Arguments are checked with Nakama's messages, then
//! passed to the host; where Nakama names the wrong argument in a message (its stream
//! checks say `#3` whatever the position), Shoal names the right one.

use mlua::{Lua, Table, Value};
use shoal_proto::{
    ChannelMessageAck, ErrorCode, MatchInfo, MatchListQuery, NotificationSend, Status, Stream,
    StreamPresence,
};

use super::Installer;
use super::account::list;
use super::args::{Args, NkError, NkResult, canonical_uuid, host_error, raise};
use crate::convert::{as_i64, as_text, lua_to_json};

/// A table argument converted to JSON text that must be an object; `not_object` is the
/// error otherwise.
fn object_text(args: &Args, i: usize, t: Table, not_object: &str) -> NkResult<String> {
    let json = lua_to_json(&Value::Table(t)).map_err(|e| args.error(i, &e))?;
    if !json.is_object() {
        return Err(args.error(i, not_object));
    }
    serde_json::to_string(&json).map_err(|e| args.error(i, &e.to_string()))
}

/// A UUID-valued table field read as Go's `uuid.FromString(v.String())`: `Ok(None)` when
/// absent or the nil UUID (Go's checks treat it as unset), `Err(())` when it does not parse.
fn uuid_value(v: &Value) -> Result<Option<String>, ()> {
    match v {
        Value::Nil => Ok(None),
        v => match as_text(v).and_then(|s| uuid::Uuid::parse_str(&s).ok()) {
            Some(u) if u.is_nil() => Ok(None),
            Some(u) => Ok(Some(u.to_string())),
            None => Err(()),
        },
    }
}

/// A stream table `{mode?, subject?, subcontext?, label?}` (argument `i`). `subject` and
/// `subcontext` must be UUIDs when given; the nil UUID is the same as none.
fn stream(args: &Args, i: usize) -> NkResult<Stream> {
    let t = args.table(i)?;
    let mut s = Stream::default();
    match t.raw_get::<Value>("mode")? {
        Value::Nil => {}
        v @ (Value::Integer(_) | Value::Number(_)) => s.mode = as_i64(&v).unwrap_or(0) as u8,
        _ => return Err(args.error(i, "stream mode must be a number")),
    }
    for (key, slot) in [
        ("subject", &mut s.subject),
        ("subcontext", &mut s.subcontext),
    ] {
        match t.raw_get::<Value>(key)? {
            Value::Nil => {}
            Value::String(v) => match uuid::Uuid::parse_str(&v.to_string_lossy()) {
                Ok(u) if u.is_nil() => {}
                Ok(u) => *slot = u.to_string(),
                Err(_) => {
                    return Err(args.error(i, &format!("stream {key} must be a valid identifier")));
                }
            },
            _ => return Err(args.error(i, &format!("stream {key} must be a string"))),
        }
    }
    match t.raw_get::<Value>("label")? {
        Value::Nil => {}
        Value::String(v) => s.label = v.to_string_lossy(),
        _ => return Err(args.error(i, "stream label must be a string")),
    }
    Ok(s)
}

fn user_id(args: &Args, i: usize) -> NkResult<String> {
    args.uuid(i, "expects user id", "expects valid user id")
}

fn session_id(args: &Args, i: usize) -> NkResult<String> {
    args.uuid(i, "expects session id", "expects valid session id")
}

/// `stream_user_join/update(user_id, session_id, stream, hidden?=false, persistence?=true,
/// status?="")`. Username and node are left empty: the host knows the session.
fn stream_presence(args: &Args) -> NkResult<(Stream, StreamPresence)> {
    let user_id = user_id(args, 1)?;
    let session_id = session_id(args, 2)?;
    let stream = stream(args, 3)?;
    let presence = StreamPresence {
        user_id,
        session_id,
        hidden: args.opt_bool(4, false)?,
        persistence: args.opt_bool(5, true)?,
        status: args.opt_string(6)?.unwrap_or_default(),
        ..Default::default()
    };
    Ok((stream, presence))
}

/// Join and update: a session that is not connected is argument #2's fault.
fn tracker_error<'a>(args: &'a Args, what: &'a str) -> impl FnOnce(Status) -> NkError + 'a {
    move |s| {
        if s.code() == ErrorCode::NotFound {
            args.error(2, "session id does not exist")
        } else {
            raise(format!("stream user {what} failed: {}", s.message))
        }
    }
}

/// The presences `stream_send` targets (argument 3): `{session_id, node?}` each, node
/// defaulting to this one. `None` (nil or an empty list) is the whole stream.
fn send_targets(args: &Args, i: usize, this_node: &str) -> NkResult<Option<Vec<StreamPresence>>> {
    let Some(list) = args.opt_table(i)? else {
        return Ok(None);
    };
    if list.raw_len() == 0 {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(list.raw_len());
    for pair in list.pairs::<Value, Value>() {
        let Value::Table(t) = pair?.1 else {
            return Err(args.error(i, "expects a valid set of presences"));
        };
        let session_id = match t.raw_get::<Value>("session_id")? {
            Value::Nil => String::new(),
            Value::String(s) => canonical_uuid(&s.to_string_lossy())
                .ok_or_else(|| args.error(i, "presence session id must be a valid identifier"))?,
            _ => return Err(args.error(i, "presence session id must be a string")),
        };
        let node = match t.raw_get::<Value>("node")? {
            Value::Nil => String::new(),
            Value::String(s) => s.to_string_lossy(),
            _ => return Err(args.error(i, "presence node must be a string")),
        };
        let text = |key: &str| -> NkResult<String> {
            Ok(match t.raw_get::<Value>(key)? {
                Value::String(s) => s.to_string_lossy(),
                _ => String::new(),
            })
        };
        let user_id = text("user_id")?;
        out.push(StreamPresence {
            user_id: canonical_uuid(&user_id).unwrap_or(user_id),
            session_id,
            username: text("username")?,
            node: if node.is_empty() {
                this_node.to_owned()
            } else {
                node
            },
            ..Default::default()
        });
    }
    Ok(Some(out))
}

/// `stream_user_kick`'s presence (argument 1): `{user_id, session_id, node?}`.
fn kicked(args: &Args, this_node: &str) -> NkResult<(String, String)> {
    let Some(t) = args.opt_table(1)? else {
        return Err(args.error(1, "expects a valid presence"));
    };
    let user_id = uuid_value(&t.raw_get::<Value>("user_id")?)
        .map_err(|_| args.error(1, "expects each presence to have a valid user_id"))?;
    let session_id = uuid_value(&t.raw_get::<Value>("session_id")?)
        .map_err(|_| args.error(1, "expects each presence to have a valid session_id"))?;
    let node = match t.raw_get::<Value>("node")? {
        Value::Nil => this_node.to_owned(),
        Value::String(s) => s.to_string_lossy(),
        _ => return Err(args.error(1, "expects node to be string")),
    };
    match (user_id, session_id, node.is_empty()) {
        (Some(u), Some(s), false) => Ok((u, s)),
        _ => Err(args.error(
            1,
            "expects each presence to have a valid user_id, session_id, and node",
        )),
    }
}

/// `stream_user_list`'s rows.
fn presence_table(lua: &Lua, p: &StreamPresence) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 7)?;
    t.raw_set("user_id", p.user_id.as_str())?;
    t.raw_set("session_id", p.session_id.as_str())?;
    t.raw_set("node", p.node.as_str())?;
    t.raw_set("hidden", p.hidden)?;
    t.raw_set("persistence", p.persistence)?;
    t.raw_set("username", p.username.as_str())?;
    t.raw_set("status", p.status.as_str())?;
    Ok(t)
}

/// `stream_user_get`'s result: the presence's metadata only, as Nakama returns it.
fn meta_table(lua: &Lua, p: &StreamPresence) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 4)?;
    t.raw_set("hidden", p.hidden)?;
    t.raw_set("persistence", p.persistence)?;
    t.raw_set("username", p.username.as_str())?;
    t.raw_set("status", p.status.as_str())?;
    Ok(t)
}

/// `{match_id, authoritative, label, size, tick_rate, handler_name}`; a missing label, a
/// zero tick rate and an empty handler name are nil.
fn match_table(lua: &Lua, m: &MatchInfo) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 6)?;
    t.raw_set("match_id", m.match_id.as_str())?;
    t.raw_set("authoritative", m.authoritative)?;
    if let Some(label) = &m.label {
        t.raw_set("label", label.as_str())?;
    }
    t.raw_set("size", m.size)?;
    if m.tick_rate != 0 {
        t.raw_set("tick_rate", m.tick_rate)?;
    }
    if !m.handler_name.is_empty() {
        t.raw_set("handler_name", m.handler_name.as_str())?;
    }
    Ok(t)
}

/// The ack of `channel_message_send`, with Nakama's (camelCase) keys.
fn ack_table(lua: &Lua, a: &ChannelMessageAck) -> NkResult<Table> {
    let t = lua.create_table_with_capacity(0, 7)?;
    t.raw_set("channelId", a.channel_id.as_str())?;
    t.raw_set("messageId", a.message_id.as_str())?;
    t.raw_set("code", a.code)?;
    t.raw_set("username", a.username.as_str())?;
    t.raw_set("createTime", a.create_time)?;
    t.raw_set("updateTime", a.update_time)?;
    t.raw_set("persistent", a.persistent)?;
    Ok(t)
}

/// An optional argument that must be exactly of one Lua type (Nakama's "expects … or nil"
/// checks convert nothing).
fn opt_exact<T>(
    args: &Args,
    i: usize,
    message: &str,
    pick: impl FnOnce(&Value) -> Option<T>,
) -> NkResult<Option<T>> {
    match args.get(i) {
        Value::Nil => Ok(None),
        v => pick(v).map(Some).ok_or_else(|| args.error(i, message)),
    }
}

fn exact_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        _ => None,
    }
}

fn exact_size(v: &Value) -> Option<i32> {
    match v {
        Value::Integer(_) | Value::Number(_) => as_i64(v).map(|n| n as i32),
        _ => None,
    }
}

/// One entry of `notifications_send`, checked as Nakama does (field types first, then the
/// required fields).
fn notification_entry(args: &Args, v: &Value) -> NkResult<NotificationSend> {
    let Value::Table(t) = v else {
        return Err(args.error(1, "expects a valid set of notifications"));
    };
    let mut n = NotificationSend::default();
    let mut content = None;
    let mut user = None;
    match t.raw_get::<Value>("persistent")? {
        Value::Nil => {}
        Value::Boolean(b) => n.persistent = b,
        _ => return Err(args.error(1, "expects persistent to be boolean")),
    }
    match t.raw_get::<Value>("subject")? {
        Value::Nil => {}
        Value::String(s) => n.subject = s.to_string_lossy(),
        _ => return Err(args.error(1, "expects subject to be string")),
    }
    match t.raw_get::<Value>("content")? {
        Value::Nil => {}
        Value::Table(c) => {
            content = Some(object_text(args, 1, c, "expects content to be a table")?);
        }
        _ => return Err(args.error(1, "expects content to be a table")),
    }
    match t.raw_get::<Value>("code")? {
        Value::Nil => {}
        v @ (Value::Integer(_) | Value::Number(_)) => {
            let code = as_i64(&v).unwrap_or(0);
            if code <= 0 {
                return Err(args.error(1, "expects code to number above 0"));
            }
            n.code = code as i32;
        }
        _ => return Err(args.error(1, "expects code to be number")),
    }
    match t.raw_get::<Value>("user_id")? {
        Value::Nil => {}
        Value::String(s) => {
            user = Some(
                canonical_uuid(&s.to_string_lossy())
                    .ok_or_else(|| args.error(1, "expects user_id to be a valid UUID"))?,
            );
        }
        _ => return Err(args.error(1, "expects user_id to be string")),
    }
    match t.raw_get::<Value>("sender_id")? {
        Value::Nil => {}
        Value::String(s) => {
            n.sender_id = canonical_uuid(&s.to_string_lossy())
                .ok_or_else(|| args.error(1, "expects sender_id to be a valid UUID"))?;
        }
        _ => return Err(args.error(1, "expects sender_id to be string")),
    }
    if n.subject.is_empty() {
        return Err(args.error(1, "expects subject to be provided and to be non-empty"));
    }
    let Some(content) = content else {
        return Err(args.error(1, "expects content to be provided and be valid JSON"));
    };
    let Some(user) = user.filter(|u| !uuid::Uuid::parse_str(u).is_ok_and(|u| u.is_nil())) else {
        return Err(args.error(1, "expects user_id to be provided and be a valid UUID"));
    };
    if n.code == 0 {
        return Err(args.error(1, "expects code to be provided and be a number above 0"));
    }
    n.content = content;
    n.user_id = user;
    Ok(n)
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    install_matches(i)?;
    install_streams(i)?;
    install_messages(i)
}

fn install_matches(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("match_create", move |_, args| {
        let module = args.nonempty(1, "expects module name")?;
        const PARAMS: &str = "expects params to be nil or a table of key-value pairs";
        let params = match args.get(2) {
            Value::Nil => None,
            v @ Value::Table(_) => {
                let json = lua_to_json(v).map_err(|e| args.error(2, &e))?;
                if !json.is_object() {
                    return Err(args.error(2, PARAMS));
                }
                Some(json)
            }
            _ => return Err(args.error(2, PARAMS)),
        };
        shared
            .host
            .match_create(&module, params)
            .map_err(|s| raise(s.message))
    })?;
    let shared = i.shared.clone();
    i.add("match_get", move |lua, args| {
        let id = args.string(1)?;
        let found = shared
            .host
            .match_get(&id)
            .map_err(host_error("failed to get match"))?;
        found.map(|m| match_table(lua, &m)).transpose()
    })?;
    let shared = i.shared.clone();
    i.add("match_list", move |lua, args| {
        let query = MatchListQuery {
            limit: args.opt_int(1)?.unwrap_or(1).max(0) as usize,
            authoritative: opt_exact(&args, 2, "expects authoritative true/false or nil", |v| {
                match v {
                    Value::Boolean(b) => Some(*b),
                    _ => None,
                }
            })?,
            label: opt_exact(&args, 3, "expects label string or nil", exact_string)?,
            min_size: opt_exact(&args, 4, "expects minimum size number or nil", exact_size)?,
            max_size: opt_exact(&args, 5, "expects maximum size number or nil", exact_size)?,
            query: opt_exact(&args, 6, "expects query string or nil", exact_string)?,
        };
        let matches = shared
            .host
            .match_list(&query)
            .map_err(host_error("failed to list matches"))?;
        list(lua, &matches, match_table)
    })?;
    let shared = i.shared.clone();
    i.add("match_signal", move |_, args| {
        let id = args.string(1)?;
        let data = args.opt_string(2)?.unwrap_or_default();
        shared
            .host
            .match_signal(&id, &data)
            .map_err(host_error("failed to signal match"))
    })
}

fn install_streams(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("stream_user_list", move |lua, args| {
        let stream = stream(&args, 1)?;
        let include_hidden = args.opt_bool(2, true)?;
        let include_not_hidden = args.opt_bool(3, true)?;
        let presences = shared
            .host
            .stream_user_list(&stream, include_hidden, include_not_hidden)
            .map_err(host_error("failed to list stream presences"))?;
        list(lua, &presences, presence_table)
    })?;
    let shared = i.shared.clone();
    i.add("stream_user_get", move |lua, args| {
        let user_id = user_id(&args, 1)?;
        let session_id = session_id(&args, 2)?;
        let stream = stream(&args, 3)?;
        let found = shared
            .host
            .stream_user_get(&stream, &user_id, &session_id)
            .map_err(host_error("failed to get stream presence"))?;
        found.map(|p| meta_table(lua, &p)).transpose()
    })?;
    let shared = i.shared.clone();
    i.add("stream_user_join", move |_, args| {
        let (stream, presence) = stream_presence(&args)?;
        shared
            .host
            .stream_user_join(&stream, &presence)
            .map_err(tracker_error(&args, "join"))
    })?;
    let shared = i.shared.clone();
    i.add("stream_user_update", move |_, args| {
        let (stream, presence) = stream_presence(&args)?;
        shared
            .host
            .stream_user_update(&stream, &presence)
            .map_err(tracker_error(&args, "update"))?;
        Ok(())
    })?;
    let shared = i.shared.clone();
    i.add("stream_user_leave", move |_, args| {
        let user_id = user_id(&args, 1)?;
        let session_id = session_id(&args, 2)?;
        let stream = stream(&args, 3)?;
        shared
            .host
            .stream_user_leave(&stream, &user_id, &session_id)
            .map_err(host_error("stream user leave failed"))
    })?;
    let shared = i.shared.clone();
    i.add("stream_user_kick", move |_, args| {
        let (user_id, session_id) = kicked(&args, &shared.config.node)?;
        let stream = stream(&args, 2)?;
        shared
            .host
            .stream_user_leave(&stream, &user_id, &session_id)
            .map_err(host_error("stream user kick failed"))
    })?;
    let shared = i.shared.clone();
    i.add("stream_count", move |_, args| {
        let stream = stream(&args, 1)?;
        shared
            .host
            .stream_count(&stream)
            .map_err(host_error("failed to count stream presences"))
    })?;
    let shared = i.shared.clone();
    i.add("stream_close", move |_, args| {
        let stream = stream(&args, 1)?;
        shared
            .host
            .stream_close(&stream)
            .map_err(host_error("failed to close stream"))
    })?;
    for (name, raw) in [("stream_send", false), ("stream_send_raw", true)] {
        let shared = i.shared.clone();
        i.add(name, move |_, args| {
            let stream = stream(&args, 1)?;
            let data = if raw {
                let envelope = args.table(2)?;
                object_text(&args, 2, envelope, "not a valid envelope")?
            } else {
                args.string(2)?
            };
            let targets = send_targets(&args, 3, &shared.config.node)?;
            let reliable = args.opt_bool(4, true)?;
            shared
                .host
                .stream_send(&stream, &data, targets.as_deref(), reliable, raw)
                .map_err(host_error("failed to send to stream"))
        })?;
    }
    Ok(())
}

fn install_messages(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("notification_send", move |_, args| {
        let user_id = canonical_uuid(&args.string(1)?)
            .ok_or_else(|| args.error(1, "expects user_id to be a valid UUID"))?;
        let subject = args.nonempty(2, "expects subject to be a non-empty string")?;
        let content = object_text(
            &args,
            3,
            args.table(3)?,
            "expects content to be a table of key-value pairs",
        )?;
        let code = args.int(4)?;
        if code <= 0 {
            return Err(args.error(4, "expects code number to be a positive integer"));
        }
        let sender_id = args
            .opt_uuid(
                5,
                "expects sender_id to either be not set, empty string or a valid UUID",
            )?
            .unwrap_or_default();
        let notification = NotificationSend {
            user_id,
            subject,
            content,
            code: code as i32,
            sender_id,
            persistent: args.opt_bool(6, false)?,
        };
        shared
            .host
            .notifications_send(&[notification])
            .map_err(host_error("failed to send notifications"))
    })?;
    let shared = i.shared.clone();
    i.add("notifications_send", move |_, args| {
        let t = args.table(1)?;
        let mut notifications = Vec::new();
        for pair in t.pairs::<Value, Value>() {
            notifications.push(notification_entry(&args, &pair?.1)?);
        }
        shared
            .host
            .notifications_send(&notifications)
            .map_err(host_error("failed to send notifications"))
    })?;
    let shared = i.shared.clone();
    i.add("channel_message_send", move |lua, args| {
        let channel_id = args.string(1)?;
        let content = match args.opt_table(2)? {
            Some(t) => object_text(
                &args,
                2,
                t,
                "expects message content to be a valid JSON object",
            )?,
            None => "{}".to_owned(),
        };
        let sender_id = args
            .opt_uuid(
                3,
                "expects sender id to either be not set, empty string or a valid UUID",
            )?
            .unwrap_or_default();
        let sender_username = args.opt_string(4)?.unwrap_or_default();
        let persist = args.opt_bool(5, false)?;
        let ack = shared
            .host
            .channel_message_send(&channel_id, &content, &sender_id, &sender_username, persist)
            .map_err(|s| {
                // A channel id that does not parse is raised as is, like Nakama's
                // `ChannelIdToStream` errors.
                if s.code() == ErrorCode::InvalidArgument {
                    raise(s.message)
                } else {
                    raise(format!("failed to send channel message: {}", s.message))
                }
            })?;
        ack_table(lua, &ack)
    })
}
