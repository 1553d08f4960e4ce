//! `socket-rpc`: the Lua `echo` RPC over realtime sockets (one authenticated socket per
//! client, each its own user), closed loop on one node. The socket counterpart of `rpc-http`.
//! Also reports the CPU the node and this client used per RPC: on a small machine both
//! share the cores, so throughput is bounded by their sum.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use shoal_tests::TestNode;

use crate::report;
use crate::socket::{self, Ws};

#[derive(Debug, Serialize)]
pub struct Figures {
    #[serde(flatten)]
    pub result: report::Result,
    pub server_cpu_cores: f64,
    pub client_cpu_cores: f64,
    pub server_cpu_us_per_rpc: f64,
    pub client_cpu_us_per_rpc: f64,
}

pub async fn run(clients: usize, seconds: u64) -> anyhow::Result<Figures> {
    let modules = socket::modules_dir();
    let node = TestNode::start(&socket::node_args(&modules)).await?;
    let pid = socket::node_pid(node.port);
    if let Some(pid) = pid {
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
    let cpu = || (pid.and_then(|p| socket::cpu_time(Some(p))).unwrap_or_default(), socket::cpu_time(None).unwrap_or_default());
    let (server_before, client_before) = cpu();
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
    let (server_after, client_after) = cpu();
    let result = report::Result::new("socket-rpc", 1, clients, elapsed, &h, errors);
    let per_rpc = |d: Duration| d.as_secs_f64() * 1e6 / result.ok.max(1) as f64;
    let cores = |d: Duration| d.as_secs_f64() / elapsed.as_secs_f64();
    let (server, client) = (server_after - server_before, client_after - client_before);
    Ok(Figures {
        server_cpu_cores: cores(server),
        client_cpu_cores: cores(client),
        server_cpu_us_per_rpc: per_rpc(server),
        client_cpu_us_per_rpc: per_rpc(client),
        result,
    })
}

impl Figures {
    pub fn print(&self) {
        println!("{}", report::Result::table_header());
        println!("{}", self.result.table_row());
        println!(
            "cpu: node {:.2} cores ({:.1} µs per rpc), client {:.2} cores ({:.1} µs per rpc)",
            self.server_cpu_cores, self.server_cpu_us_per_rpc, self.client_cpu_cores, self.client_cpu_us_per_rpc
        );
    }
}
