//! Envelope decoding and dispatch (N `pipeline.go` and `pipeline_*.go`): one message in,
//! at most one reply with the same `cid` out. Realtime before/after hooks wrap every message
//! but `rpc`. Payloads are strict: an unknown field or a bad value disconnects.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use shoal_proto::{Stream, UserPresence, stream_mode};
use shoal_runtime::HookId;
use uuid::Uuid;

use super::SocketState;
use crate::core::RpcError;
use crate::realtime::tracker::Meta;
use crate::realtime::{RtCode, RtError, SessionHandle};

fn flex_opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    flex_i64(d).map(Some)
}

/// protojson numbers: int64/int32 arrive as JSON numbers or strings.
fn flex_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        F(f64),
        S(String),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::F(f) if f.fract() == 0.0 => Ok(f as i64),
        N::F(_) => Err(serde::de::Error::custom("not an integer")),
        N::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ChannelJoin {
    target: String,
    #[serde(rename = "type", deserialize_with = "flex_i64")]
    kind: i64,
    persistence: Option<bool>,
    hidden: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ChannelMessage {
    channel_id: String,
    message_id: String,
    content: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ChannelLeave {
    channel_id: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchCreate {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchJoin {
    match_id: String,
    token: String,
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchLeave {
    match_id: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchDataSend {
    match_id: String,
    #[serde(deserialize_with = "flex_i64")]
    op_code: i64,
    data: String,
    presences: Vec<UserPresence>,
    reliable: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchmakerAdd {
    #[serde(deserialize_with = "flex_i64")]
    min_count: i64,
    #[serde(deserialize_with = "flex_i64")]
    max_count: i64,
    query: String,
    string_properties: BTreeMap<String, String>,
    numeric_properties: BTreeMap<String, f64>,
    /// `Int64Value`: absent means 1.
    #[serde(deserialize_with = "flex_opt_i64")]
    count_multiple: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MatchmakerRemove {
    ticket: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Rpc {
    id: String,
    payload: String,
    http_key: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct StatusFollow {
    user_ids: Vec<String>,
    usernames: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct StatusUnfollow {
    user_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct StatusUpdate {
    status: Option<String>,
}

/// The message keys this server knows, with their Go oneof names (hook ids).
fn go_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "channel_join" => "ChannelJoin",
        "channel_leave" => "ChannelLeave",
        "channel_message_send" => "ChannelMessageSend",
        "channel_message_update" => "ChannelMessageUpdate",
        "channel_message_remove" => "ChannelMessageRemove",
        "match_create" => "MatchCreate",
        "match_data_send" => "MatchDataSend",
        "match_join" => "MatchJoin",
        "match_leave" => "MatchLeave",
        "matchmaker_add" => "MatchmakerAdd",
        "matchmaker_remove" => "MatchmakerRemove",
        "ping" => "Ping",
        "pong" => "Pong",
        "rpc" => "Rpc",
        "status_follow" => "StatusFollow",
        "status_unfollow" => "StatusUnfollow",
        "status_update" => "StatusUpdate",
        "party_create" => "PartyCreate",
        "party_join" => "PartyJoin",
        "party_leave" => "PartyLeave",
        "party_promote" => "PartyPromote",
        "party_accept" => "PartyAccept",
        "party_remove" => "PartyRemove",
        "party_close" => "PartyClose",
        "party_join_request_list" => "PartyJoinRequestList",
        "party_matchmaker_add" => "PartyMatchmakerAdd",
        "party_matchmaker_remove" => "PartyMatchmakerRemove",
        "party_data_send" => "PartyDataSend",
        "party_update" => "PartyUpdate",
        _ => return None,
    })
}

/// `rtapi.Envelope` messages only the server sends.
const SERVER_ONLY: &[&str] = &[
    "channel",
    "channel_message",
    "channel_message_ack",
    "channel_presence_event",
    "error",
    "match",
    "match_data",
    "match_presence_event",
    "matchmaker_matched",
    "matchmaker_ticket",
    "notifications",
    "status",
    "status_presence_event",
    "stream_data",
    "stream_presence_event",
    "party",
    "party_data",
    "party_join_request",
    "party_leader",
    "party_matchmaker_ticket",
    "party_presence_event",
];

/// What handling one message produced.
enum Outcome {
    /// `{cid, key: body}`.
    Reply(&'static str, Value),
    /// `{cid}` alone.
    Ack,
    /// No reply at all (`match_data_send`, `pong`).
    Silent,
}

/// One session's message handler.
pub struct Pipeline {
    state: SocketState,
    session: Arc<SessionHandle>,
}

impl Pipeline {
    pub fn new(state: SocketState, session: Arc<SessionHandle>) -> Pipeline {
        Pipeline { state, session }
    }

    fn send(&self, v: &Value) {
        self.session.send(Utf8Bytes::from(v.to_string()));
    }

    fn send_error(&self, cid: Option<&str>, e: &RtError) {
        let mut err = Map::new();
        if e.code != RtCode::RuntimeException {
            err.insert("code".into(), (e.code as i32).into());
        }
        err.insert("message".into(), e.message.clone().into());
        let mut env = Map::new();
        if let Some(c) = cid {
            env.insert("cid".into(), c.into());
        }
        env.insert("error".into(), Value::Object(err));
        self.send(&Value::Object(env));
    }

    /// Handles one text frame; `false` means disconnect.
    pub async fn handle(&self, text: &str) -> bool {
        let Ok(Value::Object(mut env)) = serde_json::from_str::<Value>(text) else {
            tracing::debug!("received malformed payload; disconnecting");
            return false;
        };
        let cid = match env.get("cid") {
            None => None,
            Some(Value::String(c)) => Some(c.clone()),
            Some(_) => return false,
        };
        let keys: Vec<String> = env.keys().filter(|k| *k != "cid").cloned().collect();
        let key = match keys.as_slice() {
            [] => {
                self.send_error(cid.as_deref(), &RtError::new(RtCode::MissingPayload, "Missing message."));
                return false;
            }
            [k] => k.clone(),
            _ => return false,
        };
        // A message only the server sends is a known but unhandled one (code 1, then
        // closed); any other unknown key is an unknown JSON field: closed silently.
        if SERVER_ONLY.contains(&key.as_str()) {
            self.send_error(cid.as_deref(), &RtError::new(RtCode::UnrecognizedPayload, "Unrecognized message."));
            return false;
        }
        let Some(go) = go_name(&key) else {
            tracing::debug!(message = %key, "received malformed payload; disconnecting");
            return false;
        };
        let pool = self.state.core.runtime.get();
        let hook = HookId::realtime(go);
        let hooked = key != "rpc";
        let before = hooked && pool.as_ref().is_some_and(|p| p.registry().has_before(&hook));
        if before {
            let pool = pool.as_ref().expect("checked");
            match pool.call_before(&hook, self.session.ctx(), Value::Object(env.clone())).await {
                Ok(Some(Value::Object(rewritten))) if rewritten.contains_key(&key) => env = rewritten,
                Ok(Some(_)) => return false,
                Ok(None) => {
                    self.send_error(cid.as_deref(), &RtError::new(RtCode::UnrecognizedPayload, "Requested resource was not found."));
                    return false;
                }
                Err(e) => {
                    let s: shoal_proto::Status = e.into();
                    self.send_error(cid.as_deref(), &RtError::new(RtCode::RuntimeFunctionException, s.message));
                    return true;
                }
            }
        }
        let input = env.get(&key).cloned().unwrap_or(Value::Null);
        let result = match self.dispatch(&key, input).await {
            Ok(r) => r,
            Err(Malformed) => {
                tracing::debug!(message = %key, "received malformed payload; disconnecting");
                return false;
            }
        };
        let out = match result {
            Ok(Outcome::Silent) => None,
            Ok(Outcome::Ack) => {
                let mut m = Map::new();
                if let Some(c) = &cid {
                    m.insert("cid".into(), c.clone().into());
                }
                Some(Value::Object(m))
            }
            Ok(Outcome::Reply(k, body)) => {
                let mut m = Map::new();
                if let Some(c) = &cid {
                    m.insert("cid".into(), c.clone().into());
                }
                m.insert(k.into(), body);
                Some(Value::Object(m))
            }
            Err(e) => {
                self.send_error(cid.as_deref(), &e);
                return true;
            }
        };
        if let Some(out) = &out {
            self.send(out);
        }
        if hooked
            && let Some(pool) = pool
            && pool.registry().has_after(&hook)
        {
            let ctx = self.session.ctx();
            let out = out.unwrap_or_else(|| json!({}));
            tokio::spawn(async move {
                if let Err(e) = pool.call_after(&hook, ctx, out, Value::Object(env)).await {
                    tracing::warn!(hook = %hook, error = %e, "realtime after hook failed");
                }
            });
        }
        true
    }

    async fn dispatch(&self, key: &str, input: Value) -> Result<Result<Outcome, RtError>, Malformed> {
        let rt = &self.state.realtime;
        let s = &self.session;
        Ok(match key {
            "ping" => {
                parse::<Empty>(input)?;
                Ok(Outcome::Reply("pong", json!({})))
            }
            "pong" => {
                parse::<Empty>(input)?;
                Ok(Outcome::Silent)
            }
            "rpc" => self.rpc(parse(input)?).await,
            "status_follow" => self.status_follow(parse(input)?).await,
            "status_unfollow" => {
                let m: StatusUnfollow = parse(input)?;
                rt.status.unfollow(s.id, &m.user_ids);
                Ok(Outcome::Ack)
            }
            "status_update" => self.status_update(parse(input)?),
            "channel_join" => {
                let m: ChannelJoin = parse(input)?;
                rt.channel_join(s, &m.target, m.kind, m.persistence.unwrap_or(true), m.hidden).await.map(|v| Outcome::Reply("channel", v))
            }
            "channel_leave" => {
                let m: ChannelLeave = parse(input)?;
                rt.channel_leave(s, &m.channel_id).map(|_| Outcome::Ack)
            }
            "channel_message_send" => {
                let m: ChannelMessage = parse(input)?;
                rt.channel_message_send_socket(s, &m.channel_id, &m.content).await.map(|a| Outcome::Reply("channel_message_ack", a))
            }
            "channel_message_update" => {
                let m: ChannelMessage = parse(input)?;
                rt.channel_message_update_socket(s, &m.channel_id, &m.message_id, &m.content).await.map(|a| Outcome::Reply("channel_message_ack", a))
            }
            "channel_message_remove" => {
                let m: ChannelMessage = parse(input)?;
                rt.channel_message_remove_socket(s, &m.channel_id, &m.message_id).await.map(|a| Outcome::Reply("channel_message_ack", a))
            }
            "match_create" => {
                let m: MatchCreate = parse(input)?;
                Ok(Outcome::Reply("match", rt.match_create_relayed(s, Some(&m.name))))
            }
            "match_join" => {
                let m: MatchJoin = parse(input)?;
                let from_token = m.match_id.is_empty() && !m.token.is_empty();
                let id = if !m.match_id.is_empty() {
                    Some(m.match_id)
                } else if !m.token.is_empty() {
                    match rt.match_id_from_token(&m.token) {
                        Some(id) => Some(id),
                        None => return Ok(Err(RtError::new(RtCode::BadInput, "Invalid match token"))),
                    }
                } else {
                    None
                };
                match id {
                    None => Err(RtError::new(RtCode::BadInput, "No match ID or token found")),
                    Some(id) => rt.match_join(s, &id, m.metadata, from_token).await.map(|v| Outcome::Reply("match", v)),
                }
            }
            "match_leave" => {
                let m: MatchLeave = parse(input)?;
                rt.match_leave(s, &m.match_id);
                Ok(Outcome::Ack)
            }
            "match_data_send" => {
                let m: MatchDataSend = parse(input)?;
                let data = if m.data.is_empty() {
                    Vec::new()
                } else {
                    base64::engine::general_purpose::STANDARD.decode(m.data.as_bytes()).map_err(|_| Malformed)?
                };
                let filter: Vec<String> = m.presences.into_iter().map(|p| p.session_id).collect();
                if crate::realtime::matches::MatchId::parse(&m.match_id).is_none() {
                    // Nakama answers a bad id (with no cid: the send is not awaited).
                    self.send_error(None, &RtError::new(RtCode::BadInput, "Invalid match ID"));
                } else {
                    rt.match_data_send(s, &m.match_id, m.op_code, data, &filter, m.reliable);
                }
                Ok(Outcome::Silent)
            }
            "matchmaker_add" => {
                let m: MatchmakerAdd = parse(input)?;
                rt.matchmaker_add(s, &m.query, m.min_count, m.max_count, m.count_multiple.unwrap_or(1), m.string_properties, m.numeric_properties)
                    .await
                    .map(|t| Outcome::Reply("matchmaker_ticket", json!({ "ticket": t })))
            }
            "matchmaker_remove" => {
                let m: MatchmakerRemove = parse(input)?;
                if m.ticket.is_empty() {
                    Err(RtError::new(RtCode::BadInput, "Invalid matchmaker ticket"))
                } else {
                    rt.matchmaker_remove(s, &m.ticket).await.map(|_| Outcome::Ack)
                }
            }
            k if k.starts_with("party_") => Err(RtError::new(RtCode::BadInput, "Parties are not supported by this server.")),
            _ => Err(RtError::new(RtCode::UnrecognizedPayload, "Unrecognized message.")),
        })
    }

    async fn rpc(&self, m: Rpc) -> Result<Outcome, RtError> {
        let _ = m.http_key;
        if m.id.is_empty() {
            return Err(RtError::new(RtCode::BadInput, "RPC ID must be set"));
        }
        // Looked up case-insensitively; answered with the id as sent (as Nakama).
        match self.state.core.rpc(&m.id.to_lowercase(), self.session.ctx(), m.payload).await {
            Ok(out) => {
                let mut body = Map::new();
                body.insert("id".into(), m.id.into());
                if !out.is_empty() {
                    body.insert("payload".into(), out.into());
                }
                Ok(Outcome::Reply("rpc", Value::Object(body)))
            }
            Err(RpcError::NotFound) => Err(RtError::new(RtCode::RuntimeFunctionNotFound, "RPC function not found")),
            Err(RpcError::Failed(status)) => Err(RtError::new(RtCode::RuntimeFunctionException, status.message)),
        }
    }

    async fn status_follow(&self, m: StatusFollow) -> Result<Outcome, RtError> {
        let mut ids = Vec::new();
        for id in &m.user_ids {
            if Uuid::parse_str(id).is_err() {
                return Err(RtError::new(RtCode::BadInput, "Invalid user identifier"));
            }
            ids.push(id.to_lowercase());
        }
        if !m.usernames.is_empty() {
            let users = self.state.core.get_users(&[], &m.usernames).await.map_err(|e| RtError::new(RtCode::RuntimeException, e.message))?;
            ids.extend(users.users.into_iter().map(|u| u.id));
        }
        let me = self.session.user_id.to_string();
        ids.retain(|u| *u != me);
        ids.sort();
        ids.dedup();
        let rt = &self.state.realtime;
        rt.status.follow(self.session.id, &ids);
        let mut presences = Vec::new();
        for u in &ids {
            let stream = Stream { mode: stream_mode::STATUS, subject: u.clone(), ..Default::default() };
            presences.extend(rt.members(&stream).iter().filter(|p| !p.meta.hidden).map(|p| p.user_presence()));
        }
        let mut body = Map::new();
        if !presences.is_empty() {
            body.insert("presences".into(), serde_json::to_value(presences).unwrap_or_default());
        }
        Ok(Outcome::Reply("status", Value::Object(body)))
    }

    fn status_update(&self, m: StatusUpdate) -> Result<Outcome, RtError> {
        let rt = &self.state.realtime;
        let s = &self.session;
        let stream = Stream { mode: stream_mode::STATUS, subject: s.user_id.to_string(), ..Default::default() };
        match m.status {
            None => {
                rt.untrack(&stream, s.id);
            }
            Some(status) => {
                if status.chars().count() > 2048 {
                    return Err(RtError::new(RtCode::BadInput, "Status must be 2048 characters or less"));
                }
                rt.track(&stream, s.id, s.user_id, &s.username, Meta { hidden: false, persistence: false, status: Some(status) });
            }
        }
        Ok(Outcome::Ack)
    }
}

/// A payload that does not parse: the socket is closed.
struct Malformed;

fn parse<T: DeserializeOwned + Default>(v: Value) -> Result<T, Malformed> {
    match v {
        Value::Null => Ok(T::default()),
        v @ Value::Object(_) => serde_json::from_value(v).map_err(|_| Malformed),
        // A message is a JSON object; anything else does not parse.
        _ => Err(Malformed),
    }
}
