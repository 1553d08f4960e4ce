//! `shoal deploy DIR` and `shoal rollback`: send a module bundle (or a rollback) to any
//! node's console API, show the rollout node by node, and succeed only when every live node
//! runs the target version.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::Value;

use crate::status::{ConsoleArgs, fetch};

#[derive(Parser, Debug)]
#[command(name = "shoal deploy", about = "Deploy the Lua modules in DIR to a running cluster, one node at a time")]
pub struct DeployArgs {
    /// Directory of `*.lua` modules (searched recursively).
    pub dir: PathBuf,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

#[derive(Parser, Debug)]
#[command(name = "shoal rollback", about = "Return a running cluster to its previous module bundle")]
pub struct RollbackArgs {
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// Every `*.lua` under `dir`, by relative path.
fn read_dir(dir: &PathBuf) -> anyhow::Result<BTreeMap<String, String>> {
    let bundle = shoal_runtime::ModuleBundle::from_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if bundle.modules().is_empty() {
        bail!("{} holds no .lua files", dir.display());
    }
    Ok(bundle.modules().iter().map(|m| (m.path.clone(), m.source.clone())).collect())
}

pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let files = read_dir(&args.dir)?;
    let version = shoal_runtime::ModuleBundle::from_files(files.clone())?.version().to_string();
    println!("deploying {} module(s) from {} as {}", files.len(), args.dir.display(), short(&version));
    let body = serde_json::json!({ "files": files });
    run(&args.console, "/v2/console/bundle", Some(body)).await
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    println!("rolling back to the previous bundle");
    run(&args.console, "/v2/console/bundle/rollback", None).await
}

fn short(v: &str) -> &str {
    &v[..v.len().min(12)]
}

/// Posts the request while printing each node's version as it changes; then checks that
/// every live node runs the rollout's version.
async fn run(console: &ConsoleArgs, path: &str, body: Option<Value>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let url = format!("http://{}{path}", console.console);
    let mut req = client.post(&url).basic_auth(&console.username, Some(&console.password));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let status_args = console.clone();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(s) = fetch(&status_args).await {
        for n in s.nodes {
            seen.insert(n.name, n.bundle_version);
        }
    }
    let call = req.send();
    tokio::pin!(call);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let resp = loop {
        tokio::select! {
            r = &mut call => break r.with_context(|| format!("requesting {url}"))?,
            _ = tick.tick() => {
                if let Ok(s) = fetch(&status_args).await {
                    for n in s.nodes.into_iter().filter(|n| n.raft_role != "down") {
                        if seen.get(&n.name) != Some(&n.bundle_version) {
                            println!("  {:<12} now runs {}", n.name, short(&n.bundle_version));
                            seen.insert(n.name, n.bundle_version);
                        }
                    }
                }
            }
        }
    };
    let code = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !code.is_success() {
        let message = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["message"].as_str().map(str::to_string)).unwrap_or(text);
        bail!("refused: {message}");
    }
    let rollout: Value = serde_json::from_str(&text).context("decoding the rollout report")?;
    for step in rollout["steps"].as_array().into_iter().flatten() {
        let node = step["node"].as_str().unwrap_or_default();
        let ms = step["ms"].as_u64().unwrap_or(0);
        if step["ok"].as_bool() == Some(true) {
            println!("  {node:<12} upgraded in {ms} ms");
        } else {
            println!("  {node:<12} FAILED after {ms} ms: {}", step["error"].as_str().unwrap_or_default());
        }
    }
    let target = rollout["version"].as_str().unwrap_or_default().to_string();
    if let Some(why) = rollout["rolled_back_because"].as_str() {
        bail!("rollout of {} failed ({why}); the cluster is back on {}", short(&target), short(rollout["previous"].as_str().unwrap_or_default()));
    }
    // Gossip may take a round to show the last step everywhere; a restarted node can be
    // listed twice (old and new generation) until the old one expires.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (live, behind) = loop {
        let status = fetch(&status_args).await?;
        let mut names: BTreeMap<String, bool> = BTreeMap::new();
        for n in status.nodes.iter().filter(|n| n.raft_role != "down") {
            *names.entry(n.name.clone()).or_default() |= n.bundle_version == target;
        }
        let behind: Vec<String> = names.iter().filter(|(_, ok)| !**ok).map(|(n, _)| n.clone()).collect();
        if behind.is_empty() || tokio::time::Instant::now() >= deadline {
            break (names.len(), behind);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if !behind.is_empty() {
        bail!("not every live node runs {}: {}", short(&target), behind.join(", "));
    }
    println!("every live node ({live}) runs {}", short(&target));
    Ok(())
}
