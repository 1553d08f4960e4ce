//! The REST side of the load generator: one client configuration, a request sent and read
//! with its failure named by kind, and sessions made before a window starts.

use std::ops::Deref;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};

/// How long one request may take before it counts as a `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client keeping up to `pool` idle connections per node.
pub fn client(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .expect("http client")
}

/// Sends `req` and reads the whole body. A failure is named: `http <status>`, `timeout`,
/// `connect`, `body` (the answer broke off) or `io`.
pub async fn send(req: reqwest::RequestBuilder) -> Result<impl Deref<Target = [u8]>, String> {
    let resp = req.send().await.map_err(|e| error_kind(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("http {}", status.as_u16()));
    }
    resp.bytes().await.map_err(|e| if e.is_timeout() { "timeout".into() } else { "body".into() })
}

/// As [`send`], ignoring the body.
pub async fn send_ok(req: reqwest::RequestBuilder) -> crate::load::Outcome {
    send(req).await.map(|_| ())
}

pub fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "io"
    }
    .into()
}

/// An RPC request body: the payload JSON-encoded as a string, as Nakama's REST RPC takes it.
pub fn rpc_body(payload: &Value) -> String {
    serde_json::to_string(&payload.to_string()).expect("json string")
}

/// An RPC with the runtime's http key, its answer's payload parsed as JSON.
pub async fn rpc(base: &str, id: &str, payload: &Value) -> anyhow::Result<Value> {
    let resp = client(1).post(format!("{base}/v2/rpc/{id}?http_key=defaulthttpkey")).body(rpc_body(payload)).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    anyhow::ensure!(status.is_success(), "rpc {id} failed ({status}): {v}");
    let payload = v["payload"].as_str().context("rpc reply has no payload")?;
    Ok(serde_json::from_str(payload)?)
}

/// Authenticates (creating) custom ids `<prefix>-<i>` for i in 0..count, user i through
/// `bases[i % bases.len()]`, `parallel` at a time; returns their session tokens in order.
pub async fn sessions(bases: &[String], prefix: &str, count: usize, parallel: usize) -> anyhow::Result<Vec<String>> {
    let http = client(parallel);
    futures::stream::iter(0..count)
        .map(|i| {
            let url = format!("{}/v2/account/authenticate/custom?create=true", bases[i % bases.len()]);
            let req = http.post(url).basic_auth("defaultkey", Some("")).json(&json!({ "id": format!("{prefix}-{i:06}") }));
            async move {
                let resp: Value = req.send().await?.json().await?;
                let token = resp["token"].as_str().with_context(|| format!("authenticate gave no token: {resp}"))?;
                Ok::<_, anyhow::Error>(token.to_owned())
            }
        })
        .buffered(parallel.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
