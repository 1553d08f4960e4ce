//! `socket-rpc`: the Lua `echo` RPC over realtime sockets (one authenticated socket per
//! client, each its own user), closed loop on one node. The socket counterpart of `rpc-http`.
//! Also reports the CPU the node and this client used per RPC: on a small machine both
//! share the cores, so throughput is bounded by their sum.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use shoal_tests::TestNode;

use crate::load::{self, Load};
use crate::socket::{self, Ws};
use crate::{http, report};

#[derive(Debug, Serialize)]
pub struct Figures {
    #[serde(flatten)]
    pub result: report::Result,
    pub server_cpu_us_per_rpc: f64,
    pub client_cpu_us_per_rpc: f64,
}

pub async fn run(clients: usize, seconds: u64) -> anyhow::Result<Figures> {
    let modules = socket::modules_dir();
    let node = TestNode::start(&socket::node_args(&modules)).await?;
    let tokens = http::sessions(&[node.base()], "bench-socket-rpc", clients, 32).await?;
    let mut sockets = socket::connect_all(node.port, &tokens, 32).await?;
    let payload = json!({"hello": "world", "n": 42}).to_string();
    // Every socket answers once before the clock starts.
    for ws in &mut sockets {
        let reply = socket::request(ws, "0", "rpc", json!({"id": "echo", "payload": payload})).await?;
        anyhow::ensure!(reply["rpc"]["payload"] == payload.as_str(), "echo returned {reply}");
    }
    let sockets: Arc<Vec<tokio::sync::Mutex<Ws>>> = Arc::new(sockets.into_iter().map(tokio::sync::Mutex::new).collect());
    let run = load::run(Load::closed(clients, seconds), move |i, n| {
        let (sockets, payload) = (sockets.clone(), payload.clone());
        async move {
            let mut ws = sockets[i].lock().await;
            let body = json!({"id": "echo", "payload": payload});
            match socket::request(&mut ws, &n.to_string(), "rpc", body).await {
                Ok(reply) if reply["rpc"]["payload"] == payload.as_str() => Ok(()),
                Ok(_) => Err("wrong answer".into()),
                Err(e) => Err(socket::error_kind(&e)),
            }
        }
    })
    .await;
    let result = run.result("socket-rpc", 1);
    let (server_cpu_us_per_rpc, client_cpu_us_per_rpc) = result.cpu_us_per_request();
    Ok(Figures { server_cpu_us_per_rpc, client_cpu_us_per_rpc, result })
}

impl Figures {
    pub fn print(&self) {
        self.result.print();
        println!(
            "cpu: node {:.1} µs per rpc, client {:.1} µs per rpc",
            self.server_cpu_us_per_rpc, self.client_cpu_us_per_rpc
        );
    }
}
