//! `rollout`: a rolling module upgrade of a three-node cluster under closed-loop HTTP RPC
//! load on every node. Reports how long the deploy took (and each node's step), how many
//! requests ran during it and how many failed, by kind (target 0), and when each node's
//! clients first saw the new code.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use shoal_tests::TestCluster;

use crate::load;
use crate::{http, report};

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
    /// Every request of the run (2 s before the deploy, the deploy, 2 s after).
    pub load: report::Result,
    /// Per node: ms from the deploy's start until its clients first got the new answer.
    pub first_new_answer_ms: Vec<u64>,
}

impl Figures {
    pub fn print(&self) {
        println!(
            "rollout on {} nodes: deploy {} ms, {} requests during it ({} in all), {} failed; new code first seen per node after {:?} ms",
            self.nodes,
            self.deploy_ms,
            self.requests_during_deploy,
            self.load.ok + self.load.errors,
            self.load.errors,
            self.first_new_answer_ms
        );
        println!("steps: {}", self.steps);
        self.load.print();
    }
}

/// Pause before and after the deploy, under load.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(clients_per_node: usize) -> anyhow::Result<Figures> {
    const NODES: usize = 3;
    let dirs = tempfile::tempdir()?;
    let (v1, v2) = (dirs.path().join("v1"), dirs.path().join("v2"));
    write_bundle(&v1, "v1")?;
    write_bundle(&v2, "v2")?;
    let v1s = v1.display().to_string();
    let cluster = TestCluster::start(NODES, &[0, 1, 2], &["--logger.level", "warn", "--runtime.path", &v1s]).await?;
    let urls: Arc<Vec<String>> =
        Arc::new(cluster.nodes.iter().map(|n| format!("{}/v2/rpc/version?http_key=defaulthttpkey", n.base())).collect());
    let requests = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let first_new: Arc<Vec<AtomicU64>> = Arc::new((0..NODES).map(|_| AtomicU64::new(u64::MAX)).collect());
    let deploy_at = Arc::new(AtomicU64::new(u64::MAX));
    let client = http::client(clients_per_node);
    let call = {
        let (requests, first_new, deploy_at) = (requests.clone(), first_new.clone(), deploy_at.clone());
        move |i: usize, _| {
            let node = i % NODES;
            let req = client.post(&urls[node]).body("\"\"");
            let (requests, first_new, deploy_at) = (requests.clone(), first_new.clone(), deploy_at.clone());
            async move {
                let body = http::send(req).await;
                requests.fetch_add(1, Ordering::Relaxed);
                let body: serde_json::Value = serde_json::from_slice(&body?).map_err(|_| "bad json".to_string())?;
                match body["payload"].as_str() {
                    Some("v2") => {
                        let at = (started.elapsed().as_millis() as u64).saturating_sub(deploy_at.load(Ordering::Relaxed));
                        first_new[node].fetch_min(at, Ordering::Relaxed);
                        Ok(())
                    }
                    Some("v1") => Ok(()),
                    _ => Err("wrong answer".into()),
                }
            }
        }
    };
    let mut files = serde_json::Map::new();
    files.insert("main.lua".into(), std::fs::read_to_string(v2.join("main.lua"))?.into());
    let console = format!("http://127.0.0.1:{}/v2/console/bundle", cluster.nodes[0].console_port);
    let mut deployed = None;
    let deploy = async {
        tokio::time::sleep(SETTLE).await;
        let before = requests.load(Ordering::Relaxed);
        deploy_at.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let t = Instant::now();
        let resp = reqwest::Client::new()
            .post(&console)
            .basic_auth("admin", Some("password"))
            .json(&serde_json::json!({ "files": files }))
            .timeout(Duration::from_secs(300))
            .send()
            .await;
        let deploy_ms = t.elapsed().as_millis() as u64;
        let during = requests.load(Ordering::Relaxed) - before;
        deployed = Some((resp, deploy_ms, during));
        tokio::time::sleep(SETTLE).await;
    };
    let run = load::run_until(NODES * clients_per_node, None, deploy, call).await;
    let (resp, deploy_ms, during) = deployed.expect("deploy ran");
    let resp = resp?;
    anyhow::ensure!(resp.status().is_success(), "deploy answered {}", resp.status());
    let rollout: serde_json::Value = resp.json().await?;
    Ok(Figures {
        nodes: NODES,
        clients_per_node,
        deploy_ms,
        steps: rollout["steps"].clone(),
        requests_during_deploy: during,
        load: run.result("rollout", NODES),
        first_new_answer_ms: first_new.iter().map(|a| a.load(Ordering::Relaxed)).collect(),
    })
}
