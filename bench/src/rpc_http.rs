//! `rpc-http`: the Lua `echo` RPC over REST with `?http_key=` (no session), on one node.

use std::sync::Arc;

use serde_json::json;

use crate::load::{self, Load};
use crate::{http, report, socket};

pub async fn run(load: Load) -> anyhow::Result<report::Result> {
    let modules = socket::modules_dir();
    let (bases, _node) = crate::start(1, &["--runtime.path", &modules]).await?;
    let client = http::client(load.clients);
    let url: Arc<str> = format!("{}/v2/rpc/echo?http_key=defaulthttpkey", bases[0]).into();
    let body = http::rpc_body(&json!({"hello": "world", "n": 42}));
    let run = load::run(load, move |_, _| http::send_ok(client.post(&*url).body(body.clone()))).await;
    Ok(run.result("rpc-http", 1))
}
