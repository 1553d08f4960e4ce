//! Presence events: what this node's sessions are told when presences join or leave a
//! stream (N `tracker.go processEvent`). Every node handles the events of every change for
//! its own sessions only, so each member hears of each change once, wherever it came from.

use serde_json::{Value, json};
use shoal_proto::{Stream, UserPresence, stream_mode};

use super::Realtime;
use super::tracker::{Change, Presence};

fn visible(list: &[Presence]) -> Vec<UserPresence> {
    list.iter().filter(|p| !p.meta.hidden).map(Presence::user_presence).collect()
}

fn put_list(obj: &mut serde_json::Map<String, Value>, key: &str, list: Vec<UserPresence>) {
    if !list.is_empty() {
        obj.insert(key.into(), serde_json::to_value(list).unwrap_or_default());
    }
}

/// Adds a channel stream's `room_name` / `group_id` / `user_id_one`/`two` to `obj`.
pub fn channel_fields(stream: &Stream, obj: &mut serde_json::Map<String, Value>) {
    if let Ok(Value::Object(fields)) = serde_json::to_value(shoal_proto::ChannelFields::of(stream)) {
        obj.extend(fields);
    }
}

pub(crate) fn dispatch(rt: &Realtime, c: &Change) {
    let (joins, leaves) = (visible(&c.joins), visible(&c.leaves));
    if c.stream.mode == stream_mode::MATCH_AUTHORITATIVE && *c.stream.label == *rt.node {
        super::matches::presences_changed(rt, c);
    }
    if joins.is_empty() && leaves.is_empty() {
        return;
    }
    let s = &c.stream;
    let mut body = serde_json::Map::new();
    let key = match s.mode {
        stream_mode::NOTIFICATIONS | stream_mode::PARTY => return,
        stream_mode::STATUS => {
            put_list(&mut body, "joins", joins);
            put_list(&mut body, "leaves", leaves);
            let text = json!({ "status_presence_event": body }).to_string();
            let followers = rt.status.followers(&s.subject);
            rt.deliver(followers.iter().map(|id| (&*rt.node, *id)), &text);
            return;
        }
        stream_mode::CHANNEL | stream_mode::GROUP | stream_mode::DM => {
            body.insert("channel_id".into(), Value::String(shoal_proto::stream_to_channel_id(s).unwrap_or_default()));
            put_list(&mut body, "joins", joins);
            put_list(&mut body, "leaves", leaves);
            channel_fields(s, &mut body);
            "channel_presence_event"
        }
        stream_mode::MATCH_RELAYED | stream_mode::MATCH_AUTHORITATIVE => {
            body.insert("match_id".into(), Value::String(super::match_id_of(s)));
            put_list(&mut body, "joins", joins);
            put_list(&mut body, "leaves", leaves);
            "match_presence_event"
        }
        _ => {
            body.insert("stream".into(), serde_json::to_value(shoal_proto::StreamWire::from(s)).unwrap_or_default());
            put_list(&mut body, "joins", joins);
            put_list(&mut body, "leaves", leaves);
            "stream_presence_event"
        }
    };
    let text = json!({ key: body }).to_string();
    // Tell this node's members, not the sessions the event is about.
    let about: Vec<_> = c.joins.iter().chain(&c.leaves).map(|p| p.session_id).collect();
    let local: Vec<_> = {
        let st = rt.lock();
        st.tracker
            .members(s)
            .filter(|p| *p.node == *rt.node && !about.contains(&p.session_id))
            .map(|p| p.session_id)
            .collect()
    };
    rt.deliver(local.iter().map(|id| (&*rt.node, *id)), &text);
}
