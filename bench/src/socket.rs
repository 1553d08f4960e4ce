//! Shared pieces of the realtime scenarios: sessions over REST, sockets with small buffers
//! (optionally from a chosen loopback source address), Nakama envelopes, the node's console
//! figures and its process (pid, RSS).

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

/// Authenticates (creating) custom ids `<prefix>-<i>` for i in 0..count, `parallel` at a
/// time, and returns their session tokens in order.
pub async fn sessions(base: &str, prefix: &str, count: usize, parallel: usize) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(parallel).build()?;
    let ids: Vec<usize> = (0..count).collect();
    let mut tokens = vec![String::new(); count];
    for chunk in ids.chunks(parallel.max(1)) {
        let calls = chunk.iter().map(|&i| {
            let (http, url) = (http.clone(), format!("{base}/v2/account/authenticate/custom?create=true"));
            let id = format!("{prefix}-{i:06}");
            async move {
                let resp: Value = http.post(url).basic_auth("defaultkey", Some("")).json(&json!({ "id": id })).send().await?.json().await?;
                let token = resp["token"].as_str().with_context(|| format!("authenticate gave no token: {resp}"))?;
                Ok::<_, anyhow::Error>((i, token.to_owned()))
            }
        });
        for r in futures::future::join_all(calls).await {
            let (i, token) = r?;
            tokens[i] = token;
        }
    }
    Ok(tokens)
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
    anyhow::ensure!(reply.get("error").is_none(), "{key} failed: {reply}");
    Ok(reply)
}

/// An RPC over HTTP with the runtime's http key; the payload is JSON-encoded as a string.
pub async fn http_rpc(base: &str, id: &str, payload: &Value) -> anyhow::Result<Value> {
    let body = serde_json::to_string(&payload.to_string())?;
    let resp = reqwest::Client::new().post(format!("{base}/v2/rpc/{id}?http_key=defaulthttpkey")).body(body).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    anyhow::ensure!(status.is_success(), "rpc {id} failed ({status}): {v}");
    let payload = v["payload"].as_str().context("rpc reply has no payload")?;
    Ok(serde_json::from_str(payload)?)
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

/// The pid of the `shoal` process serving the client API on `port` (its command line holds
/// `--socket.port <port>`).
pub fn node_pid(port: u16) -> Option<u32> {
    let want = format!("--socket.port\0{port}\0");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline).contains(&want).then_some(pid)
    })
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`, …); `pid` None is this process.
pub fn status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = pid.map_or_else(|| "/proc/self/status".to_string(), |p| format!("/proc/{p}/status"));
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// CPU time (user + system) a process has used; `pid` None is this process.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15,
    // in USER_HZ (100 per second on Linux).
    let rest: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// A process's soft open-files limit, from `/proc/<pid>/limits`.
pub fn nofile_limit(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    text.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse().ok()
}

/// Milliseconds with two decimals, from microseconds.
pub fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}
