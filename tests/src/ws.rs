//! A realtime socket client for tests: Nakama JSON envelopes over tokio-tungstenite, with
//! replies matched by `cid` and pushed messages queued for the test to wait on.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Socket {
    ws: Ws,
    next_cid: u64,
    pushed: VecDeque<Value>,
    pub closed: bool,
}

/// How long a test waits for one reply or push.
pub const WAIT: Duration = Duration::from_secs(10);

impl Socket {
    /// Connects to `ws://127.0.0.1:<port>/ws?token=…&status=…`.
    pub async fn connect(port: u16, token: &str, status: bool) -> anyhow::Result<Socket> {
        let url = format!("ws://127.0.0.1:{port}/ws?lang=en&status={status}&token={token}");
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Socket { ws, next_cid: 1, pushed: VecDeque::new(), closed: false })
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends `{cid, key: body}` and returns the cid.
    pub async fn send(&mut self, key: &str, body: Value) -> anyhow::Result<String> {
        let cid = self.next_cid.to_string();
        self.next_cid += 1;
        let env = json!({ "cid": cid, key: body });
        self.send_text(&env.to_string()).await?;
        Ok(cid)
    }

    /// Sends without a cid (e.g. `match_data_send`).
    pub async fn send_no_cid(&mut self, key: &str, body: Value) -> anyhow::Result<()> {
        self.send_text(&json!({ key: body }).to_string()).await
    }

    /// Reads one envelope; `None` when the socket closed or nothing came in time.
    pub async fn read(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(timeout, self.ws.next()).await.ok()?;
            match next {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).ok(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(_)) | Some(Err(_)) | None => {
                    self.closed = true;
                    return None;
                }
            }
        }
    }

    /// Sends a request and waits for the envelope with its cid (pushes are queued).
    pub async fn request(&mut self, key: &str, body: Value) -> anyhow::Result<Value> {
        let cid = self.send(key, body).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(v) = self.read(left).await else {
                anyhow::bail!("no reply to {key} (cid {cid}); socket closed: {}", self.closed);
            };
            if v.get("cid").and_then(Value::as_str) == Some(cid.as_str()) {
                return Ok(v);
            }
            self.pushed.push_back(v);
        }
    }

    /// Waits for a pushed envelope with `key` that satisfies `pred` (others stay queued).
    pub async fn wait_push(&mut self, key: &str, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        self.wait_push_within(key, WAIT, pred).await
    }

    pub async fn wait_push_within(&mut self, key: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(i) = self.pushed.iter().position(|v| v.get(key).is_some_and(&pred)) {
            return Ok(self.pushed.remove(i).expect("index in range")[key].clone());
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(v) = self.read(left).await else {
                anyhow::bail!("no {key} push arrived (closed: {}); queued: {:?}", self.closed, self.pushed);
            };
            if v.get(key).is_some_and(&pred) {
                return Ok(v[key].clone());
            }
            self.pushed.push_back(v);
        }
    }

    /// Whether the server closes the socket within `within` (pushes are discarded).
    pub async fn closes_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.closed {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.read(left).await.is_none() && !self.closed {
                return false;
            }
        }
        true
    }
}
