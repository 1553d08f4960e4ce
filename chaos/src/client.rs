//! The client side: REST calls with outcome classification, sessions, and a minimal
//! realtime socket for RPCs. Everything goes over the network to real nodes.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::history::Outcome;

/// How long one operation may take before the client gives up (its outcome is then
/// unknown). Longer than the nodes' 5 s cluster call deadline, so a node that is merely
/// waiting for Raft answers 503 rather than timing out here.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

pub const SERVER_KEY: &str = "defaultkey";
pub const CONSOLE_USER: &str = "admin";
pub const CONSOLE_PASSWORD: &str = "password";

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug)]
pub enum CallError {
    /// No connection was made: the request certainly did not reach the node.
    Connect(String),
    /// Sent (or maybe sent), then no complete answer: timeout, reset, bad body.
    Lost(String),
}

pub enum Auth<'a> {
    Server,
    Bearer(&'a str),
}

/// A REST client with no connection reuse: every request opens its own connection, so a
/// refused connection always means "not sent" and a killed node never leaves a stale
/// pooled connection that would blur that line.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
}

impl Api {
    pub fn new() -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(OP_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Api { http })
    }

    pub async fn call(&self, method: reqwest::Method, url: &str, auth: Auth<'_>, body: Option<&Value>) -> Result<Reply, CallError> {
        let mut req = self.http.request(method, url);
        req = match auth {
            Auth::Server => req.basic_auth(SERVER_KEY, Some("")),
            Auth::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b.to_string());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Err(CallError::Connect(error_chain(&e))),
            Err(e) => return Err(CallError::Lost(error_chain(&e))),
        };
        let status = resp.status().as_u16();
        match resp.bytes().await {
            Ok(b) => Ok(Reply { status, body: serde_json::from_slice(&b).unwrap_or(Value::Null) }),
            Err(e) => Err(CallError::Lost(error_chain(&e))),
        }
    }

    /// GET on a console address with the console's basic auth and a short deadline.
    pub async fn console_get(&self, console: &str, path: &str, timeout: Duration) -> Option<Value> {
        let r = self
            .http
            .get(format!("http://{console}{path}"))
            .basic_auth(CONSOLE_USER, Some(CONSOLE_PASSWORD))
            .timeout(timeout)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// True if a GET of `url` answers 2xx within `timeout`.
    pub async fn get_ok(&self, url: &str, timeout: Duration) -> bool {
        self.http.get(url).timeout(timeout).send().await.is_ok_and(|r| r.status().is_success())
    }

    /// POST on a console address; returns the status and body.
    pub async fn console_post(&self, console: &str, path: &str, body: &Value, timeout: Duration) -> Result<Reply, CallError> {
        let r = self
            .http
            .post(format!("http://{console}{path}"))
            .basic_auth(CONSOLE_USER, Some(CONSOLE_PASSWORD))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| CallError::Lost(error_chain(&e)))?;
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Outcome of a write-like call. `rejected` tells a definite "precondition failed" answer
/// (storage version check) apart from other 4xx.
pub fn classify(res: &Result<Reply, CallError>) -> (Outcome, String) {
    match res {
        Ok(r) if (200..300).contains(&r.status) => (Outcome::Ok, String::new()),
        Ok(r) => {
            let msg = format!("{} {}", r.status, r.body);
            let text = r.body["message"].as_str().unwrap_or("");
            if r.status == 400 && text.contains("version check failed") {
                (Outcome::Rejected, msg)
            } else if r.status >= 500 || r.status == 429 || r.status == 408 {
                // 503 "Cluster is unavailable" covers both "certainly not applied" and
                // "may still land": the client cannot tell, so unknown.
                (Outcome::Unknown, msg)
            } else {
                (Outcome::Failed, msg)
            }
        }
        Err(CallError::Connect(e)) => (Outcome::Failed, format!("connect: {e}")),
        Err(CallError::Lost(e)) => (Outcome::Unknown, format!("lost: {e}")),
    }
}

/// The `uid` claim of a session token.
pub fn token_user_id(token: &str) -> anyhow::Result<String> {
    let payload = token.split('.').nth(1).context("token is not a JWT")?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))?;
    let v: Value = serde_json::from_slice(&raw)?;
    Ok(v["uid"].as_str().context("token without uid")?.to_string())
}

/// A user the workload acts as.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub user_id: String,
}

/// Authenticates (creating) a custom id against `base`.
pub async fn authenticate(api: &Api, base: &str, custom_id: &str) -> Result<Session, String> {
    let url = format!("{base}/v2/account/authenticate/custom?create=true");
    let res = api.call(reqwest::Method::POST, &url, Auth::Server, Some(&json!({ "id": custom_id }))).await;
    match res {
        Ok(r) if r.status == 200 => {
            let token = r.body["token"].as_str().ok_or("no token in reply")?.to_string();
            let user_id = token_user_id(&token).map_err(|e| e.to_string())?;
            Ok(Session { token, user_id })
        }
        Ok(r) => Err(format!("{} {}", r.status, r.body)),
        Err(e) => Err(format!("{e:?}")),
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A realtime socket that sends one request at a time and waits for its reply.
pub struct Socket {
    ws: Ws,
    next_cid: u64,
}

pub enum SocketReply {
    Rpc,
    Error(Value),
    /// Closed, timed out, or unreadable: the request's outcome is unknown.
    Lost(String),
}

impl Socket {
    pub async fn connect(api_port: u16, token: &str) -> anyhow::Result<Socket> {
        let url = format!("ws://127.0.0.1:{api_port}/ws?lang=en&status=false&token={token}");
        let (ws, _) = match tokio::time::timeout(Duration::from_secs(3), tokio_tungstenite::connect_async(url)).await {
            Ok(r) => r?,
            Err(_) => bail!("socket connect timed out"),
        };
        Ok(Socket { ws, next_cid: 1 })
    }

    /// Sends `{"cid", "rpc": {"id", "payload"}}` and waits (up to [`OP_TIMEOUT`]) for the
    /// envelope with that cid.
    pub async fn rpc(&mut self, id: &str, payload: &str) -> SocketReply {
        let cid = self.next_cid.to_string();
        self.next_cid += 1;
        let env = json!({ "cid": cid, "rpc": { "id": id, "payload": payload } });
        if let Err(e) = self.ws.send(Message::Text(env.to_string().into())).await {
            return SocketReply::Lost(format!("send: {e}"));
        }
        let deadline = tokio::time::Instant::now() + OP_TIMEOUT;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return SocketReply::Lost("timed out".into()),
                Ok(n) => n,
            };
            let v: Value = match next {
                Some(Ok(Message::Text(t))) => match serde_json::from_str(t.as_str()) {
                    Ok(v) => v,
                    Err(e) => return SocketReply::Lost(format!("bad envelope: {e}")),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => return SocketReply::Lost(format!("closed: {other:?}")),
                Some(Err(e)) => return SocketReply::Lost(format!("read: {e}")),
                None => return SocketReply::Lost("closed".into()),
            };
            if v["cid"].as_str() != Some(cid.as_str()) {
                continue; // a push
            }
            if !v["rpc"].is_null() {
                return SocketReply::Rpc;
            }
            return SocketReply::Error(v["error"].clone());
        }
    }
}
