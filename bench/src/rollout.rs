//! `rollout`: a rolling module upgrade of a three-node cluster under closed-loop HTTP RPC
//! load on every node. Reports how long the deploy took (and each node's step), how many
//! requests ran during it and how many failed (target 0), and when each node's clients first
//! saw the new code.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use shoal_tests::{Auth, Client, TestCluster};

fn write_bundle(dir: &Path, tag: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("main.lua"),
        format!("local nk = require(\"nakama\")\nnk.register_rpc(function(context, payload) return \"{tag}\" end, \"version\")\n"),
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub nodes: usize,
    pub clients_per_node: usize,
    pub deploy_ms: u64,
    pub steps: serde_json::Value,
    pub requests_during_deploy: u64,
    pub requests_total: u64,
    pub failed: u64,
    /// Per node: ms from the deploy's start until its clients first got the new answer.
    pub first_new_answer_ms: Vec<u64>,
}

impl Figures {
    pub fn print(&self) {
        println!(
            "rollout on {} nodes: deploy {} ms, {} requests during it ({} in all), {} failed; new code first seen per node after {:?} ms",
            self.nodes, self.deploy_ms, self.requests_during_deploy, self.requests_total, self.failed, self.first_new_answer_ms
        );
        println!("steps: {}", self.steps);
    }
}

async fn version(c: &Client) -> Option<String> {
    let r = c.call("POST", "/v2/rpc/version?http_key=defaulthttpkey", Auth::None, Some(b"\"\"".to_vec())).await;
    (r.status == 200).then(|| r.body["payload"].as_str().map(str::to_string)).flatten()
}

pub async fn run(clients_per_node: usize) -> anyhow::Result<Figures> {
    let dirs = tempfile::tempdir()?;
    let (v1, v2) = (dirs.path().join("v1"), dirs.path().join("v2"));
    write_bundle(&v1, "v1")?;
    write_bundle(&v2, "v2")?;
    let v1s = v1.display().to_string();
    let cluster = TestCluster::start(3, &[0, 1, 2], &["--runtime.path", &v1s]).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let (requests, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let first_new: Arc<Vec<AtomicU64>> = Arc::new((0..3).map(|_| AtomicU64::new(u64::MAX)).collect());
    let deploy_at = Arc::new(AtomicU64::new(u64::MAX));
    let mut tasks = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        for _ in 0..clients_per_node {
            let c = node.client();
            let (stop, requests, failed, first_new, deploy_at) = (stop.clone(), requests.clone(), failed.clone(), first_new.clone(), deploy_at.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let v = version(&c).await;
                    requests.fetch_add(1, Ordering::Relaxed);
                    match v.as_deref() {
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Some("v2") => {
                            let at = (started.elapsed().as_millis() as u64).saturating_sub(deploy_at.load(Ordering::Relaxed));
                            first_new[i].fetch_min(at, Ordering::Relaxed);
                        }
                        Some(_) => {}
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut files = serde_json::Map::new();
    files.insert("main.lua".into(), std::fs::read_to_string(v2.join("main.lua"))?.into());
    let before = requests.load(Ordering::Relaxed);
    deploy_at.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    let t = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v2/console/bundle", cluster.nodes[0].console_port))
        .basic_auth("admin", Some("password"))
        .json(&serde_json::json!({ "files": files }))
        .timeout(Duration::from_secs(300))
        .send()
        .await?;
    let deploy_ms = t.elapsed().as_millis() as u64;
    let during = requests.load(Ordering::Relaxed) - before;
    anyhow::ensure!(resp.status().is_success(), "deploy answered {}", resp.status());
    let rollout: serde_json::Value = resp.json().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(Figures {
        nodes: 3,
        clients_per_node,
        deploy_ms,
        steps: rollout["steps"].clone(),
        requests_during_deploy: during,
        requests_total: requests.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        first_new_answer_ms: first_new.iter().map(|a| a.load(Ordering::Relaxed)).collect(),
    })
}
