//! The realtime socket: `GET /ws` upgraded with axum, one session per socket, Nakama's JSON
//! envelopes in and out (NAKAMA-SURFACE §2). This module owns the connection (auth,
//! limits, pings, the bounded writer); `envelope` decodes and dispatches each message to
//! `crate::realtime` and `core`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};

use crate::core::Core;
use crate::realtime::session::Outgoing;
use crate::realtime::{Realtime, SessionHandle};

mod envelope;

/// What the `/ws` handler needs.
#[derive(Clone)]
pub struct SocketState {
    pub core: Core,
    pub realtime: Realtime,
}

/// The `/ws` route.
pub fn router(core: Core, realtime: Realtime) -> axum::Router {
    axum::Router::new().route("/ws", axum::routing::get(upgrade)).with_state(SocketState { core, realtime })
}

/// `GET /ws?token=…&format=json&status=…&lang=…`.
pub async fn upgrade(
    State(state): State<SocketState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    match params.get("format").map(String::as_str) {
        None | Some("") | Some("json") => {}
        Some("protobuf") => {
            return (StatusCode::BAD_REQUEST, "Protobuf socket format is not supported by this server; use format=json.").into_response();
        }
        Some(_) => return (StatusCode::BAD_REQUEST, "Invalid format parameter").into_response(),
    }
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(token) = bearer.or_else(|| params.get("token").cloned()).filter(|t| !t.is_empty()) else {
        return (StatusCode::UNAUTHORIZED, "Missing or invalid token").into_response();
    };
    let Ok(claims) = state.core.tokens.verify_session(&state.core.reader, &token) else {
        return (StatusCode::UNAUTHORIZED, "Missing or invalid token").into_response();
    };
    let Some(user_id) = claims.user_id() else {
        return (StatusCode::UNAUTHORIZED, "Missing or invalid token").into_response();
    };
    let status = params.get("status").is_some_and(|s| s == "true");
    let lang = params.get("lang").filter(|l| !l.is_empty()).cloned().unwrap_or_else(|| "en".into());
    let cfg = &state.core.config.socket;
    let max = cfg.max_message_size_bytes as usize;
    let vars: BTreeMap<String, String> = claims.vrs.clone().into_iter().collect();
    let (session, rx) = SessionHandle::new(user_id, claims.usn.clone(), vars, claims.exp, lang, Some(client), cfg.outgoing_queue_size);
    // Small buffers: an idle socket should cost kilobytes, not tungstenite's 128 KiB default.
    ws.max_message_size(max).max_frame_size(max).read_buffer_size(4096).write_buffer_size(8192).on_upgrade(move |socket| run(state, socket, session, rx, status))
}

async fn run(state: SocketState, socket: WebSocket, session: Arc<SessionHandle>, rx: tokio::sync::mpsc::Receiver<Outgoing>, status: bool) {
    tracing::debug!(node = %state.realtime.node, session = %session.id, user = %session.user_id, "socket session opened");
    let cfg = state.core.config.socket.clone();
    let (sink, mut stream) = socket.split();
    state.realtime.session_open(&session, status);
    let writer = tokio::spawn(write_loop(sink, rx, session.clone(), Duration::from_millis(cfg.ping_period_ms), Duration::from_millis(cfg.write_timeout_ms)));
    let pong_wait = Duration::from_millis(cfg.pong_wait_ms);
    let pipeline = envelope::Pipeline::new(state.clone(), session.clone());
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        let next = tokio::select! {
            m = tokio::time::timeout(pong_wait, stream.next()) => m,
            _ = &mut closed => break,
        };
        let msg = match next {
            Err(_) => {
                session.close("pong timeout");
                break;
            }
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(text) => {
                if !pipeline.handle(text.as_str()).await {
                    break;
                }
            }
            Message::Binary(_) => {
                tracing::debug!("binary frame on a json socket; disconnecting");
                break;
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => {
                session.close(CLIENT_CLOSED);
                break;
            }
        }
        if session.is_closed() {
            break;
        }
    }
    session.close("socket closed");
    state.realtime.session_closed(&session);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// Sends queued messages and pings; closes the socket when the session closes.
async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut rx: tokio::sync::mpsc::Receiver<Outgoing>,
    session: Arc<SessionHandle>,
    ping_period: Duration,
    write_timeout: Duration,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_period, ping_period);
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        let msg = tokio::select! {
            m = rx.recv() => match m {
                Some(Outgoing::Text(t)) => Message::Text(t),
                None => break,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
            _ = &mut closed => break,
        };
        // Everything already queued goes out in one flush (one syscall, not one each).
        let batch = async {
            sink.feed(msg).await?;
            for _ in 0..WRITE_BATCH_MAX {
                match rx.try_recv() {
                    Ok(Outgoing::Text(t)) => sink.feed(Message::Text(t)).await?,
                    Err(_) => break,
                }
            }
            sink.flush().await
        };
        match tokio::time::timeout(write_timeout, batch).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) if session.close_reason().as_deref() == Some(CLIENT_CLOSED) => break,
            _ => {
                session.close("write failed");
                return;
            }
        }
        if session.is_closed() {
            break;
        }
    }
    // Flush what was queued before the close (e.g. the error that caused it); a client that
    // closed first gets nothing more but the reply to its Close.
    while session.close_reason().as_deref() != Some(CLIENT_CLOSED)
        && let Ok(Outgoing::Text(t)) = rx.try_recv()
    {
        if tokio::time::timeout(write_timeout, sink.send(Message::Text(t))).await.map_or(true, |r| r.is_err()) {
            return;
        }
    }
    let reason = session.close_reason().unwrap_or_default();
    if reason != CLIENT_CLOSED {
        let frame = CloseFrame { code: axum::extract::ws::close_code::NORMAL, reason: Utf8Bytes::from(reason) };
        let _ = tokio::time::timeout(write_timeout, sink.send(Message::Close(Some(frame)))).await;
    }
    // Flushes the reply to a client's Close (queued by the protocol layer) and ends the
    // handshake.
    let _ = tokio::time::timeout(write_timeout, sink.close()).await;
}

/// Queued messages written before one flush, at most.
const WRITE_BATCH_MAX: usize = 64;

/// The close reason when the client closed first: its Close is answered, not re-sent.
const CLIENT_CLOSED: &str = "client closed";
