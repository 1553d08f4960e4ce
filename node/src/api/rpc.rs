//! `GET|POST /v2/rpc/{id}` as Nakama's `RpcFuncHttp`: http_key or session auth, the
//! JSON-string body convention, `?unwrap`, and its own error bodies.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shoal_proto::{ErrorCode, Status};
use shoal_runtime::CallContext;

use super::extract::{Params, basic_username, decode_json_str};
use crate::core::{Core, RpcError};

/// An RPC-route error: `{"code","error","message"}`.
fn rpc_error(status: StatusCode, code: ErrorCode, error: serde_json::Value, message: &str) -> Response {
    let body = json!({"code": code.as_i32(), "error": error, "message": message});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The body, within `socket.max_request_size_bytes`.
async fn read_body(core: &Core, body: Body) -> Result<Bytes, ()> {
    axum::body::to_bytes(body, core.config.socket.max_request_size_bytes as usize).await.map_err(|_| ())
}

fn too_large() -> Response {
    let msg = "http: request body too large";
    rpc_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, json!(msg), msg)
}

fn unauthorized(message: &str) -> Response {
    rpc_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, json!(message), message)
}

pub async fn rpc(
    State(core): State<Core>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    q: Params,
    body: Body,
) -> Response {
    let Ok(body) = read_body(&core, body).await else { return too_large() };
    let query = q.pairs();
    let http_key = &core.config.runtime.http_key;
    let mut ctx = peer_context(peer, query, &["http_key"]);

    // Auth: ?http_key=, else Authorization (Basic = http key, otherwise a session).
    if let Some((_, k)) = query.iter().find(|(k, _)| k == "http_key") {
        if k != http_key {
            return unauthorized("HTTP key invalid");
        }
    } else if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if auth.len() > 6 && auth[..6].eq_ignore_ascii_case("basic ") {
            if basic_username(auth).as_deref() != Some(http_key.as_str()) {
                return unauthorized("HTTP key invalid");
            }
        } else {
            let token = auth.split_once(' ').map(|(_, t)| t.trim()).unwrap_or(auth);
            match core.tokens.verify_session(&core.reader, token) {
                Ok(claims) => {
                    ctx.user_id = Some(claims.uid.clone());
                    ctx.username = Some(claims.usn.clone());
                    ctx.vars = Some(claims.vrs.clone());
                    ctx.user_session_exp = Some(claims.exp);
                }
                Err(_) => return unauthorized("Auth token invalid"),
            }
        }
    } else {
        return unauthorized("Auth token or HTTP key required");
    }

    let unwrap = query.iter().any(|(k, _)| k == "unwrap");
    let payload = if method == Method::GET {
        String::new()
    } else if unwrap {
        match String::from_utf8(body.to_vec()) {
            Ok(s) => s,
            Err(_) => return rpc_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, json!({}), "payload is not valid UTF-8"),
        }
    } else if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        match decode_json_str(&body) {
            Ok(s) => s,
            // Nakama answers every undecodable body with the same fixed message.
            Err(_) => {
                let msg = "json: cannot unmarshal object into Go value of type string";
                return rpc_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, json!({}), msg);
            }
        }
    };
    let mut hdrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers.iter() {
        if k.as_str().eq_ignore_ascii_case("grpc-timeout") {
            continue;
        }
        if let Ok(v) = v.to_str() {
            hdrs.entry(k.as_str().to_string()).or_default().push(v.to_string());
        }
    }
    ctx.headers = hdrs;

    match core.rpc(&id, ctx, payload).await {
        Ok(out) if unwrap => {
            let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("text/plain").to_string();
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], out).into_response()
        }
        Ok(out) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json".to_string())], json!({"payload": out}).to_string())
            .into_response(),
        Err(RpcError::NotFound) => rpc_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, json!("RPC function not found"), "RPC function not found"),
        Err(RpcError::Failed(s)) => function_error(&s),
    }
}

/// A function's own error: HTTP status from its code, `"error": {}` as Nakama sends.
fn function_error(s: &Status) -> Response {
    let status = StatusCode::from_u16(s.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    rpc_error(status, s.code(), json!({}), &s.message)
}

/// The caller's address and the query parameters (less the auth keys) as a call context.
fn peer_context(peer: SocketAddr, query: &[(String, String)], auth_keys: &[&str]) -> CallContext {
    let mut ctx = CallContext { client_ip: Some(peer.ip().to_string()), client_port: Some(peer.port().to_string()), ..Default::default() };
    for (k, v) in query.iter().filter(|(k, _)| !auth_keys.contains(&k.as_str())) {
        ctx.query_params.entry(k.clone()).or_default().push(v.clone());
    }
    ctx
}

/// `GET|POST /runtime/{path}`: a `register_http` handler (Nakama 1.x), authorised by the
/// http key as `?key=` (1.x), `?http_key=` or Basic; the JSON body in, the returned table
/// out as JSON.
pub async fn runtime_http(
    State(core): State<Core>,
    Path(path): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    q: Params,
    body: Body,
) -> Response {
    let Ok(body) = read_body(&core, body).await else { return too_large() };
    let query = q.pairs();
    let http_key = &core.config.runtime.http_key;
    let key = query
        .iter()
        .find(|(k, _)| k == "key" || k == "http_key")
        .map(|(_, v)| v.clone())
        .or_else(|| headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(basic_username));
    match key {
        None => return unauthorized("HTTP key required"),
        Some(k) if &k != http_key => return unauthorized("HTTP key invalid"),
        Some(_) => {}
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return rpc_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, json!({}), &e.to_string()),
        }
    };
    let ctx = peer_context(peer, query, &["key", "http_key"]);
    match core.runtime_http(&path, ctx, payload).await {
        Ok(v) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response(),
        Err(RpcError::NotFound) => rpc_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, json!("HTTP handler not found"), "HTTP handler not found"),
        Err(RpcError::Failed(s)) => function_error(&s),
    }
}
