//! `socket-rpc`: the Lua `echo` RPC over realtime sockets (one authenticated socket per
//! client, each its own user), closed loop on one node. The socket counterpart of `rpc-http`.

use std::sync::Arc;

use serde_json::json;
use shoal_tests::TestNode;

use crate::report;
use crate::socket::{self, Ws};

pub async fn run(clients: usize, seconds: u64) -> anyhow::Result<report::Result> {
    let modules = socket::modules_dir();
    let node = TestNode::start(&socket::node_args(&modules)).await?;
    if let Some(pid) = socket::node_pid(node.port) {
        println!("node pid {pid}");
    }
    let tokens = socket::sessions(&node.base(), "bench-socket-rpc", clients, 32).await?;
    let mut sockets = socket::connect_all(node.port, &tokens, 32).await?;
    let payload = json!({"hello": "world", "n": 42}).to_string();
    // Every socket answers once before the clock starts.
    for ws in &mut sockets {
        let reply = socket::request(ws, "0", "rpc", json!({"id": "echo", "payload": payload})).await?;
        anyhow::ensure!(reply["rpc"]["payload"] == payload.as_str(), "echo returned {reply}");
    }
    let sockets: Arc<Vec<tokio::sync::Mutex<Ws>>> = Arc::new(sockets.into_iter().map(tokio::sync::Mutex::new).collect());
    let (elapsed, h, errors) = crate::closed_loop(clients, seconds, move |i, n| {
        let (sockets, payload) = (sockets.clone(), payload.clone());
        async move {
            let mut ws = sockets[i].lock().await;
            let body = json!({"id": "echo", "payload": payload});
            match socket::request(&mut ws, &n.to_string(), "rpc", body).await {
                Ok(reply) => reply["rpc"]["payload"] == payload.as_str(),
                Err(_) => false,
            }
        }
    })
    .await;
    Ok(report::Result::new("socket-rpc", 1, clients, elapsed, &h, errors))
}
