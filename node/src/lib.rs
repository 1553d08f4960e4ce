//! The `shoal` node: the composition root that wires config, storage, Raft, the runtime and
//! the client API together, plus `core` (one function per operation) and `api` (REST).
//!
//! Owns: process start-up and shutdown, the node id, the HTTP listener. Everything else is
//! delegated to the library crates.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shoal_cluster::RaftHandle;
use shoal_config::NodeConfig;
use shoal_storage::ClusterNode;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod api;
pub mod core;
pub mod tokens;

/// A running node. Dropping it without `shutdown` leaves the tasks running until the
/// runtime stops.
pub struct NodeHandle {
    pub api_addr: SocketAddr,
    pub raft: RaftHandle,
    pub core: core::Core,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl NodeHandle {
    /// Stops accepting requests, lets in-flight ones finish, and stops Raft.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(10), &mut self.server).await.is_err() {
            self.server.abort();
        }
        self.raft.shutdown().await;
    }
}

/// The node's Raft id: random on first start, then read from `<data_dir>/node_id`, so a
/// restarted node is the same member.
fn node_id(data_dir: &Path) -> anyhow::Result<u64> {
    let path = data_dir.join("node_id");
    match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse().with_context(|| format!("corrupt {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Keep ids positive and well inside i64 so every tool prints them the same way.
            let id = rand::random::<u64>() >> 2 | 1;
            let tmp = data_dir.join("node_id.tmp");
            std::fs::write(&tmp, id.to_string())?;
            std::fs::rename(&tmp, &path)?;
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn bind_host(address: &str) -> &str {
    if address.is_empty() { "0.0.0.0" } else { address }
}

/// Starts a node: opens its data dir, starts Raft (initialising a single-member group when
/// `cluster.bootstrap_expect = 1`), and serves the client API.
pub async fn start(config: NodeConfig) -> anyhow::Result<NodeHandle> {
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let id = node_id(&config.data_dir)?;
    let (log, sm, reader) = shoal_storage::open(&config.data_dir)?;

    let listener = tokio::net::TcpListener::bind((bind_host(&config.socket.address), config.socket.port))
        .await
        .with_context(|| format!("binding the client API on port {}", config.socket.port))?;
    let api_addr = listener.local_addr()?;
    let advertised = |port: u16| {
        let host = if config.cluster.address.is_empty() { "127.0.0.1" } else { &config.cluster.address };
        format!("{host}:{port}")
    };
    let self_node = ClusterNode {
        name: config.name.clone(),
        cluster_addr: advertised(config.cluster.port),
        api_addr: advertised(api_addr.port()),
    };
    let raft = RaftHandle::start(&config, id, self_node, log, sm).await?;
    if config.cluster.bootstrap_expect == 1 {
        raft.wait_for_leader(Duration::from_secs(30)).await?;
    }
    let core = core::Core::new(config.clone(), raft.clone(), reader);
    let app = api::router(core.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "client API server stopped");
        }
    });
    tracing::info!(node = %config.name, node_id = id, api = %api_addr, "node started");
    Ok(NodeHandle { api_addr, raft, core, shutdown: Some(tx), server })
}
