//! The console API on `console.port` (HTTP Basic with `console.username`/`password`).
//! Serves the cluster status document that `shoal status` prints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shoal_cluster::Cluster;
use shoal_config::NodeConfig;
use shoal_proto::Status;

use crate::api::{ApiError, basic_credentials};

/// One node in `GET /v2/console/cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeStatus {
    pub name: String,
    /// The Raft node id, as a string (it does not fit a JSON double).
    pub node_id: String,
    pub api_address: String,
    pub console_address: String,
    pub cluster_address: String,
    /// "leader", "follower", "learner", "candidate", "uninitialized", or "down" for a
    /// member Raft still lists that gossip no longer sees.
    pub raft_role: String,
    pub ready: bool,
    pub term: u64,
    /// Highest log index this node knows is committed (its applied index).
    pub commit_index: u64,
    pub applied_index: u64,
    pub bundle_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterStatus {
    pub leader: String,
    pub nodes: Vec<NodeStatus>,
}

#[derive(Clone)]
struct ConsoleState {
    config: Arc<NodeConfig>,
    cluster: Cluster,
    realtime: Arc<std::sync::OnceLock<crate::realtime::Realtime>>,
    bundles: Arc<std::sync::OnceLock<Arc<crate::bundles::Bundles>>>,
    lockout: Arc<Lockout>,
}

/// Failed logins per console username: 5 within a minute lock the account for the rest of
/// that minute (as Nakama's console), so the password cannot be guessed at speed.
#[derive(Default)]
struct Lockout {
    failures: std::sync::Mutex<std::collections::HashMap<String, Vec<std::time::Instant>>>,
}

const LOCKOUT_FAILURES: usize = 5;
const LOCKOUT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// Usernames tracked at most (a flood of made-up names cannot grow memory).
const LOCKOUT_USERS_MAX: usize = 10_000;

impl Lockout {
    fn recent(&self, user: &str) -> usize {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = f.get_mut(user) else { return 0 };
        list.retain(|t| t.elapsed() < LOCKOUT_WINDOW);
        list.len()
    }

    fn fail(&self, user: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() >= LOCKOUT_USERS_MAX && !f.contains_key(user) {
            f.retain(|_, l| l.iter().any(|t| t.elapsed() < LOCKOUT_WINDOW));
            if f.len() >= LOCKOUT_USERS_MAX {
                return;
            }
        }
        f.entry(user.to_string()).or_default().push(std::time::Instant::now());
    }
}

fn check_auth(state: &ConsoleState, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Status::unauthenticated("Console authentication required."))?;
    let invalid = || ApiError(Status::unauthenticated("Console authentication invalid."));
    let Some((u, p)) = basic_credentials(header) else { return Err(invalid()) };
    if state.lockout.recent(&u) >= LOCKOUT_FAILURES {
        return Err(invalid());
    }
    if u == state.config.console.username && p == state.config.console.password {
        Ok(())
    } else {
        state.lockout.fail(&u);
        Err(invalid())
    }
}

pub async fn cluster_status(cluster: &Cluster) -> ClusterStatus {
    let raft = cluster.raft.status();
    let members = cluster.members().await;
    let mut nodes: Vec<NodeStatus> = members
        .iter()
        .map(|m| {
            let num = |k: &str| m.extra.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
            NodeStatus {
                name: m.name.clone(),
                node_id: m.node_id.to_string(),
                api_address: m.api_addr.clone(),
                console_address: m.console_addr.clone(),
                cluster_address: m.cluster_addr.clone(),
                raft_role: m.raft_role.clone(),
                ready: m.ready,
                term: num(shoal_cluster::gossip_keys::TERM),
                commit_index: num(shoal_cluster::gossip_keys::APPLIED_INDEX),
                applied_index: num(shoal_cluster::gossip_keys::APPLIED_INDEX),
                bundle_version: m.bundle_version.clone(),
            }
        })
        .collect();
    for (id, n) in &raft.nodes {
        if !members.iter().any(|m| m.node_id == *id) {
            nodes.push(NodeStatus {
                name: n.name.clone(),
                node_id: id.to_string(),
                api_address: n.api_addr.clone(),
                console_address: String::new(),
                cluster_address: n.cluster_addr.clone(),
                raft_role: "down".into(),
                ready: false,
                term: 0,
                commit_index: 0,
                applied_index: 0,
                bundle_version: String::new(),
            });
        }
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let leader = raft.leader.and_then(|l| raft.nodes.get(&l)).map(|n| n.name.clone()).unwrap_or_default();
    ClusterStatus { leader, nodes }
}

async fn get_cluster(State(state): State<ConsoleState>, headers: HeaderMap) -> Result<Json<ClusterStatus>, ApiError> {
    check_auth(&state, &headers)?;
    Ok(Json(cluster_status(&state.cluster).await))
}

/// `GET /v2/console/realtime`: this node's sessions and matches, and the distributions of
/// authoritative match tick-start lateness and of the forwarding delay of match data that
/// entered through another node (`?reset=true` clears the samples after reading).
async fn get_realtime(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_auth(&state, &headers)?;
    let rt = state.realtime.get().ok_or_else(|| Status::unavailable("Realtime layer not ready."))?;
    let reset = q.get("reset").is_some_and(|v| v == "true");
    Ok(Json(rt.stats(reset)))
}

/// `POST /v2/console/bundle` `{"files": {"<relative path>.lua": "<source>", …}}`: deploy.
async fn post_bundle(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<crate::bundles::Rollout>, ApiError> {
    check_auth(&state, &headers)?;
    #[derive(serde::Deserialize)]
    struct Deploy {
        files: std::collections::BTreeMap<String, String>,
    }
    let deploy: Deploy = serde_json::from_slice(&body).map_err(|e| Status::invalid(format!("invalid deploy body: {e}")))?;
    let bundles = state.bundles.get().cloned().ok_or_else(|| Status::unavailable("The node is still starting."))?;
    Ok(Json(bundles.deploy(deploy.files.into_iter().collect()).await?))
}

/// `POST /v2/console/bundle/rollback`: back to the previous bundle.
async fn post_rollback(State(state): State<ConsoleState>, headers: HeaderMap) -> Result<Json<crate::bundles::Rollout>, ApiError> {
    check_auth(&state, &headers)?;
    let bundles = state.bundles.get().cloned().ok_or_else(|| Status::unavailable("The node is still starting."))?;
    Ok(Json(bundles.rollback().await?))
}

/// `POST /v2/console/debug/partition` `{"blocked": ["127.0.0.1:7352", …]}`: cut this node's
/// cluster traffic to and from those peers (`[]` heals). Only with
/// `cluster.fault_injection`; otherwise the route does not exist.
async fn post_partition(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_auth(&state, &headers)?;
    #[derive(serde::Deserialize)]
    struct Partition {
        blocked: Vec<String>,
    }
    let p: Partition = serde_json::from_slice(&body).map_err(|e| Status::invalid(format!("invalid partition body: {e}")))?;
    let mut peers = std::collections::HashSet::new();
    for a in &p.blocked {
        peers.insert(a.parse::<std::net::SocketAddr>().map_err(|_| Status::invalid(format!("invalid address {a}")))?);
    }
    tracing::warn!(blocked = ?p.blocked, "fault injection: partition set");
    state.cluster.set_partition(peers);
    Ok(Json(serde_json::json!({ "blocked": p.blocked })))
}

pub fn router(
    config: Arc<NodeConfig>,
    cluster: Cluster,
    realtime: Arc<std::sync::OnceLock<crate::realtime::Realtime>>,
    bundles: Arc<std::sync::OnceLock<Arc<crate::bundles::Bundles>>>,
) -> Router {
    let router = Router::new()
        .route("/v2/console/cluster", get(get_cluster))
        .route("/v2/console/realtime", get(get_realtime))
        .route(
            "/v2/console/bundle",
            axum::routing::post(post_bundle).layer(axum::extract::DefaultBodyLimit::max(crate::bundles::BUNDLE_MAX_BYTES + (1 << 20))),
        )
        .route("/v2/console/bundle/rollback", axum::routing::post(post_rollback));
    let router = if config.cluster.fault_injection {
        router.route("/v2/console/debug/partition", axum::routing::post(post_partition))
    } else {
        router
    };
    router
        .fallback(|| async { ApiError(Status::not_found("Not Found")) })
        .with_state(ConsoleState { config, cluster, realtime, bundles, lockout: Arc::default() })
}
