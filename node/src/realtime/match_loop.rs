//! The loop of one authoritative match: control calls (join attempts, joins, leaves,
//! signals) as they come, `match_loop` every tick with the member data received since the
//! last one, and delivery of what the dispatcher asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use shoal_proto::{Status, Stream};
use shoal_runtime::{DispatchAction, MatchHandler, MatchMessage, MatchPresence};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Realtime;
use super::matches::{Control, Info, MatchId, user_presence_json};
use super::wire::Frame;

/// Delivers a dispatcher broadcast.
fn broadcast(rt: &Realtime, stream: &Stream, match_id: &str, op_code: i64, data: Option<&[u8]>, presences: Option<&[MatchPresence]>, sender: Option<&MatchPresence>, reliable: bool) {
    let mut body = serde_json::Map::new();
    body.insert("match_id".into(), match_id.into());
    if let Some(s) = sender {
        body.insert("presence".into(), user_presence_json(s));
    }
    if op_code != 0 {
        body.insert("op_code".into(), op_code.to_string().into());
    }
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        body.insert("data".into(), base64::engine::general_purpose::STANDARD.encode(d).into());
    }
    if reliable {
        body.insert("reliable".into(), true.into());
    }
    let text = json!({ "match_data": body }).to_string();
    let members = rt.members(stream);
    let targets = members.iter().filter(|p| presences.is_none_or(|list| list.iter().any(|x| x.session_id == p.session_id.to_string())));
    rt.deliver(targets.map(|p| (&*p.node, p.session_id)), &text);
}

/// Applies a callback's dispatcher actions; deferred broadcasts are kept for the tick end.
fn apply_actions(rt: &Realtime, stream: &Stream, match_id: &str, info: &Mutex<Info>, actions: Vec<DispatchAction>, deferred: &mut Vec<DispatchAction>) {
    for a in actions {
        match a {
            DispatchAction::Broadcast { deferred: true, .. } => deferred.push(a),
            DispatchAction::Broadcast { op_code, data, presences, sender, reliable, .. } => {
                broadcast(rt, stream, match_id, op_code, data.as_deref(), presences.as_deref(), sender.as_ref(), reliable)
            }
            DispatchAction::Kick(list) => kick(rt, stream, &list),
            DispatchAction::LabelUpdate(label) => info.lock().unwrap_or_else(|e| e.into_inner()).label = label,
        }
    }
}

fn kick(rt: &Realtime, stream: &Stream, list: &[MatchPresence]) {
    let mut remote: HashMap<String, Vec<[u8; 16]>> = HashMap::new();
    for p in list {
        let Ok(sid) = Uuid::parse_str(&p.session_id) else { continue };
        let Some(presence) = rt.presence(stream, sid) else { continue };
        if *presence.node == *rt.node {
            rt.untrack(stream, sid);
        } else {
            remote.entry(presence.node.to_string()).or_default().push(sid.into_bytes());
        }
    }
    for (node, sessions) in remote {
        rt.send_frame(&node, &Frame::Untrack { stream: stream.clone(), sessions });
    }
}

/// The match loop: control calls as they come, `match_loop` every tick with the messages
/// received since the last one. Ends when a callback returns nil state or fails, or when
/// the node stops; then the members are removed from the match.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_match(
    weak: std::sync::Weak<super::Inner>,
    id: Uuid,
    mut handler: MatchHandler,
    tick_rate: u32,
    info: Arc<Mutex<Info>>,
    mut control: mpsc::Receiver<Control>,
    mut input: mpsc::Receiver<MatchMessage>,
) {
    let period = Duration::from_secs_f64(1.0 / tick_rate.clamp(1, 60) as f64);
    let start = tokio::time::Instant::now() + period;
    let mut interval = tokio::time::interval_at(start, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tick: i64 = 0;
    let match_id = {
        let Some(inner) = weak.upgrade() else { return };
        format!("{id}.{}", inner.node)
    };
    let stream = MatchId { id, node: match_id.split_once('.').map(|(_, n)| n.to_string()).unwrap_or_default() }.stream();
    let mut deferred = Vec::new();
    let mut messages = Vec::new();
    let max_empty = weak.upgrade().map(|i| i.core.config.r#match.max_empty_sec).unwrap_or(0);
    let mut empty_since: Option<tokio::time::Instant> = None;
    'run: loop {
        tokio::select! {
            biased;
            call = control.recv() => {
                let Some(call) = call else { break };
                let Some(inner) = weak.upgrade() else { break };
                let rt = Realtime::from_inner(inner);
                let keep = match call {
                    Control::JoinAttempt { presence, ctx, metadata, reply } => {
                        let r = handler.join_attempt(tick, &ctx, &presence, &metadata).map_err(Status::from);
                        // A failed call or a nil state ends the match.
                        let keep = r.as_ref().is_ok_and(|d| !d.ended);
                        let _ = reply.send(r);
                        keep
                    }
                    Control::Joins(list) => handler.join(tick, &list).unwrap_or_else(|e| { tracing::warn!(%match_id, error = %e, "match_join failed"); false }),
                    Control::Leaves(list) => handler.leave(tick, &list).unwrap_or_else(|e| { tracing::warn!(%match_id, error = %e, "match_leave failed"); false }),
                    Control::Signal { data, reply } => match handler.signal(tick, &data) {
                        Ok((keep, result)) => { let _ = reply.send(Ok(result.unwrap_or_default())); keep }
                        Err(e) => { let _ = reply.send(Err(Status::from(e))); false }
                    },
                };
                apply_actions(&rt, &stream, &match_id, &info, handler.take_actions(), &mut deferred);
                if !keep {
                    break 'run;
                }
            }
            at = interval.tick() => {
                let late = tokio::time::Instant::now().saturating_duration_since(at);
                let Some(inner) = weak.upgrade() else { break };
                let rt = Realtime::from_inner(inner);
                {
                    let mut samples = rt.matches.lateness_us.lock().unwrap_or_else(|e| e.into_inner());
                    if samples.len() < 1_000_000 {
                        samples.push(late.as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                messages.clear();
                while let Ok(m) = input.try_recv() {
                    messages.push(m);
                }
                let keep = handler.tick(tick, &messages).unwrap_or_else(|e| { tracing::warn!(%match_id, error = %e, "match_loop failed"); false });
                tick += 1;
                apply_actions(&rt, &stream, &match_id, &info, handler.take_actions(), &mut deferred);
                for a in std::mem::take(&mut deferred) {
                    if let DispatchAction::Broadcast { op_code, data, presences, sender, reliable, .. } = a {
                        broadcast(&rt, &stream, &match_id, op_code, data.as_deref(), presences.as_deref(), sender.as_ref(), reliable);
                    }
                }
                if !keep {
                    break 'run;
                }
                // `match.max_empty_sec`: a match nobody has been in for that long stops.
                if max_empty > 0 {
                    if rt.count(&stream) == 0 {
                        let since = *empty_since.get_or_insert(at);
                        if at.duration_since(since) >= Duration::from_secs(max_empty) {
                            tracing::debug!(%match_id, "stopping an empty match");
                            break 'run;
                        }
                    } else {
                        empty_since = None;
                    }
                }
            }
        }
    }
    let Some(inner) = weak.upgrade() else { return };
    let rt = Realtime::from_inner(inner);
    rt.matches.remove(id);
    // Members leave: this node's directly, other nodes' through their owners.
    let members = rt.members(&stream);
    let all: Vec<MatchPresence> = members.iter().map(|p| MatchPresence { session_id: p.session_id.to_string(), ..Default::default() }).collect();
    kick(&rt, &stream, &all);
    tracing::debug!(%match_id, ticks = tick, "authoritative match ended");
}
