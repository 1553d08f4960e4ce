//! Shared pieces of the realtime scenarios: sockets with small buffers (optionally from a
//! chosen loopback source address), Nakama envelopes, failures named by kind, and the
//! node's console figures.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<tokio::net::TcpStream>;

/// How long one request waits for its reply.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);

/// `modules/bench`, the runtime path of the realtime scenarios.
pub fn modules_dir() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../modules/bench");
    dir.canonicalize().unwrap_or(dir).display().to_string()
}

/// Node flags of the realtime scenarios: quiet logs, the bench modules.
pub fn node_args(modules: &str) -> [&str; 4] {
    ["--logger.level", "warn", "--runtime.path", modules]
}

/// Client buffers sized like the server's: an idle socket should cost kilobytes, not
/// tungstenite's 128 KiB read buffer.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

/// Opens `ws://127.0.0.1:<port>/ws?token=…&status=false`, from `source` (a loopback
/// address, port chosen by the kernel) when given.
pub async fn connect(port: u16, token: &str, source: Option<Ipv4Addr>) -> anyhow::Result<Ws> {
    let tcp = tokio::net::TcpSocket::new_v4()?;
    // Closing resets instead of leaving the port in TIME_WAIT: thousands of sockets from
    // 127.0.0.2… would otherwise keep ports that the next node's wildcard bind needs.
    tcp.set_zero_linger()?;
    if let Some(ip) = source {
        tcp.bind(SocketAddr::from((ip, 0)))?;
    }
    let stream = tcp.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://127.0.0.1:{port}/ws?lang=en&status=false&token={token}");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config())).await?;
    Ok(ws)
}

/// Opens one socket per token (token `i` for socket `i`), `parallel` at a time.
pub async fn connect_all(port: u16, tokens: &[String], parallel: usize) -> anyhow::Result<Vec<Ws>> {
    let mut out = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(parallel.max(1)) {
        for ws in futures::future::join_all(chunk.iter().map(|t| connect(port, t, None))).await {
            out.push(ws?);
        }
    }
    Ok(out)
}

/// `{"cid": cid, key: body}` (no cid when `cid` is None) as a text frame.
pub fn envelope(cid: Option<&str>, key: &str, body: Value) -> Message {
    let env = match cid {
        Some(c) => json!({ "cid": c, key: body }),
        None => json!({ key: body }),
    };
    Message::Text(env.to_string().into())
}

/// The next text frame, parsed; pings are answered by tungstenite while reading.
pub async fn next_text<S>(stream: &mut S) -> anyhow::Result<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(m)) => anyhow::bail!("socket closed: {m:?}"),
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("socket closed"),
        }
    }
}

/// Sends `{cid, key: body}` and returns the envelope that carries `cid` back (pushes that
/// arrive first are dropped); an `error` reply is an error.
pub async fn request(ws: &mut Ws, cid: &str, key: &str, body: Value) -> anyhow::Result<Value> {
    ws.send(envelope(Some(cid), key, body)).await?;
    let reply = tokio::time::timeout(REPLY_WAIT, async {
        loop {
            let v = next_text(ws).await?;
            if v.get("cid").and_then(Value::as_str) == Some(cid) {
                return Ok::<_, anyhow::Error>(v);
            }
        }
    })
    .await
    .with_context(|| format!("no reply to {key} within {REPLY_WAIT:?}"))??;
    if reply.get("error").is_some() {
        return Err(anyhow::Error::new(ErrorReply(reply.to_string())).context(format!("{key} failed")));
    }
    Ok(reply)
}

/// A request answered with an `error` envelope.
#[derive(Debug)]
struct ErrorReply(String);

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ErrorReply {}

/// The kind of a [`request`] failure: `timeout` (no reply in time), `error reply`, or
/// `socket` (the connection failed or closed).
pub fn error_kind(e: &anyhow::Error) -> String {
    if e.downcast_ref::<tokio::time::error::Elapsed>().is_some() {
        "timeout"
    } else if e.downcast_ref::<ErrorReply>().is_some() {
        "error reply"
    } else {
        "socket"
    }
    .into()
}

/// One distribution of `GET /v2/console/realtime`, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dist {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// `GET /v2/console/realtime` of one node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RealtimeStats {
    pub node: String,
    pub sessions: u64,
    pub matches: u64,
    pub presences: u64,
    pub synced_peers: u64,
    pub tick_lateness: Dist,
    pub forward_delay: Dist,
}

/// A node's console, for its realtime figures.
#[derive(Clone)]
pub struct Console {
    http: reqwest::Client,
    url: Arc<str>,
}

impl Console {
    pub fn new(console_port: u16) -> Console {
        Console { http: reqwest::Client::new(), url: format!("http://127.0.0.1:{console_port}/v2/console/realtime").into() }
    }

    /// The figures; `reset` clears the node's samples after reading them.
    pub async fn realtime(&self, reset: bool) -> anyhow::Result<RealtimeStats> {
        let r = self.http.get(format!("{}?reset={reset}", self.url)).basic_auth("admin", Some("password")).timeout(REPLY_WAIT).send().await?;
        anyhow::ensure!(r.status().is_success(), "console realtime: {}", r.status());
        Ok(r.json().await?)
    }
}

/// Milliseconds with two decimals, from microseconds.
pub fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}
