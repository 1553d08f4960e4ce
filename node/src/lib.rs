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
use shoal_cluster::{Cluster, NodeInfo, RaftHandle};
use shoal_config::NodeConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod api;
pub mod bundles;
pub mod console;
pub mod core;
pub mod deploy;
mod pipeline;
pub mod realtime;
mod leaderboard_resets;
pub mod runtime_host;
pub mod status;
pub mod tokens;

/// A running node. Dropping it without `shutdown` leaves the tasks running until the
/// runtime stops.
pub struct NodeHandle {
    pub api_addr: SocketAddr,
    pub console_addr: SocketAddr,
    pub raft: RaftHandle,
    pub cluster: Cluster,
    pub core: core::Core,
    pub realtime: realtime::Realtime,
    shutdown: Option<oneshot::Sender<()>>,
    servers: Vec<JoinHandle<()>>,
}

impl NodeHandle {
    /// Stops accepting requests, lets in-flight ones finish, and stops Raft.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for mut server in std::mem::take(&mut self.servers) {
            if tokio::time::timeout(Duration::from_secs(10), &mut server).await.is_err() {
                server.abort();
            }
        }
        self.cluster.shutdown().await;
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
    let console_listener = tokio::net::TcpListener::bind((bind_host(&config.console.address), config.console.port))
        .await
        .with_context(|| format!("binding the console on port {}", config.console.port))?;
    let console_addr = console_listener.local_addr()?;
    let advertise = |addr: SocketAddr, host: &str| {
        let host = if host.is_empty() || host == "0.0.0.0" { "127.0.0.1" } else { host };
        SocketAddr::new(host.parse().unwrap_or(addr.ip()), addr.port())
    };
    let info = NodeInfo {
        name: config.name.clone(),
        node_id: id,
        api_addr: advertise(api_addr, &config.socket.address),
        console_addr: advertise(console_addr, &config.console.address),
    };
    let cluster = Cluster::start(&config, info, log, sm).await?;
    let raft = cluster.raft.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let (stop_api, stop_console, stop_resets) = {
        let rx = futures::future::FutureExt::shared(rx);
        (rx.clone(), rx.clone(), rx)
    };
    // The console serves from the start, so `shoal status` works while a cluster forms.
    let realtime_slot: Arc<std::sync::OnceLock<realtime::Realtime>> = Arc::default();
    let bundles_slot: Arc<std::sync::OnceLock<Arc<bundles::Bundles>>> = Arc::default();
    let console_app = console::router(config.clone(), cluster.clone(), realtime_slot.clone(), bundles_slot.clone());
    let console_server = tokio::spawn(async move {
        let serve = axum::serve(console_listener, console_app).with_graceful_shutdown(async move {
            let _ = stop_console.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "console server stopped");
        }
    });
    if config.cluster.bootstrap_expect == 1 && config.cluster.seeds.is_empty() {
        raft.wait_for_leader(Duration::from_secs(30)).await?;
    } else {
        // Module bodies may write (`nk.leaderboard_create` at load is common), and writes
        // need a Raft leader: load them once the cluster has formed.
        while raft.wait_for_leader(Duration::from_secs(10)).await.is_err() {
            tracing::info!(bootstrap_expect = config.cluster.bootstrap_expect, "waiting for the cluster to elect a leader");
        }
    }
    let core = core::Core::new(config.clone(), raft.clone(), reader);
    let bundle = shoal_runtime::ModuleBundle::from_dir(&config.runtime_path())
        .with_context(|| format!("reading modules from {}", config.runtime_path().display()))?;
    let realtime = realtime::Realtime::start(core.clone(), cluster.clone());
    let _ = core.realtime.set(realtime.clone());
    let _ = realtime_slot.set(realtime.clone());
    let host = Arc::new(runtime_host::NodeHost::new(core.clone(), realtime.clone(), tokio::runtime::Handle::current()));
    let bundles = bundles::Bundles::new(core.clone(), realtime.clone(), host.clone());
    let _ = core.bundles.set(bundles.clone());
    let _ = bundles_slot.set(bundles.clone());
    // The cluster's bundle wins over local files (which only seed the first one).
    let bundle = bundles.startup_bundle(bundle).await?;
    let pool = shoal_runtime::VmPool::new(bundle, shoal_runtime::PoolConfig::from_node_config(&config), host)
        .await
        .context("loading the Lua modules")?;
    tokio::spawn(bundles::catch_up_loop(Arc::downgrade(&bundles)));
    tracing::info!(bundle_version = %pool.version(), rpcs = pool.registry().rpc_ids().count(), "lua runtime ready");
    cluster.publish(shoal_cluster::gossip_keys::BUNDLE_VERSION, pool.version()).await;
    let _ = core.runtime.set(pool);

    let resets = tokio::spawn(leaderboard_resets::run(core.clone(), async move {
        let _ = stop_resets.await;
    }));
    let app = api::router(core.clone()).merge(pipeline::router(core.clone(), realtime.clone()));
    let api_server = tokio::spawn(async move {
        // Pushes and replies must not wait on Nagle (Nakama's Go server has nodelay on too).
        let listener = axum::serve::ListenerExt::tap_io(listener, |s| {
            let _ = s.set_nodelay(true);
        });
        let serve = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop_api.await;
            });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "client API server stopped");
        }
    });
    tracing::info!(node = %config.name, node_id = id, api = %api_addr, console = %console_addr, cluster = %cluster.cluster_addr(), "node started");
    Ok(NodeHandle {
        api_addr,
        console_addr,
        raft,
        cluster,
        core,
        realtime,
        shutdown: Some(tx),
        servers: vec![api_server, console_server, resets],
    })
}
