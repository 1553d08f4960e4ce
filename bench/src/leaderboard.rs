//! `leaderboard`: a board of `records` records (filled through an authoritative Lua RPC,
//! every record a Raft write), then top-100 and around-owner reads over REST, and the time a
//! restarted node takes to rebuild the rank cache and serve again. `leaderboard-write`:
//! client record writes through every node of a 3-node cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use shoal_tests::{TestCluster, TestNode};

use crate::report;

const MODULE: &str = r#"local nk = require("nakama")
nk.leaderboard_create("bench", true, "desc", "best", "", nil, true)
nk.leaderboard_create("bench_client", false, "desc", "best", "", nil, true)
nk.register_rpc(function(context, payload)
  local input = nk.json_decode(payload)
  for i = input.from, input.to - 1 do
    local owner = string.format("00000000-0000-4000-8000-%012x", i)
    nk.leaderboard_record_write("bench", owner, nil, (i * 7919) % 1000003, i % 7)
  end
  return ""
end, "fill")
"#;

fn owner(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn modules() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("bench.lua"), MODULE)?;
    Ok(dir)
}

async fn session(http: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<String> {
    let resp: serde_json::Value = http
        .post(format!("{base}/v2/account/authenticate/custom?create=true"))
        .basic_auth("defaultkey", Some(""))
        .json(&json!({"id": id}))
        .send()
        .await?
        .json()
        .await?;
    Ok(resp["token"].as_str().context("authenticate gave no token")?.to_owned())
}

/// Fills `bench` with `records` records from `clients` concurrent fill calls.
async fn fill(http: &reqwest::Client, base: &str, records: u64, clients: usize) -> anyhow::Result<Duration> {
    const BATCH: u64 = 250;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, next) = (http.clone(), base.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                if from >= records {
                    return Ok::<(), anyhow::Error>(());
                }
                let to = (from + BATCH).min(records);
                let payload = serde_json::to_string(&serde_json::to_string(&json!({"from": from, "to": to}))?)?;
                let resp = http
                    .post(format!("{base}/v2/rpc/fill?http_key=defaulthttpkey"))
                    .body(payload)
                    .send()
                    .await?;
                anyhow::ensure!(resp.status().is_success(), "fill failed: {}", resp.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

pub struct Figures {
    pub results: Vec<report::Result>,
    pub fill_seconds: f64,
    pub records: u64,
    pub restart_to_serving_ms: u128,
    pub rank_cache_rebuild: String,
}

pub async fn reads(records: u64, clients: usize, seconds: u64) -> anyhow::Result<Figures> {
    let dir = modules()?;
    let path = dir.path().display().to_string();
    let mut node = TestNode::start(&["--runtime.path", &path]).await?;
    let base = node.base();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    println!("filling {records} records ...");
    let filled = fill(&http, &base, records, 32).await?;
    println!("filled in {:.1} s ({:.0} records/s)", filled.as_secs_f64(), records as f64 / filled.as_secs_f64());
    let token = Arc::new(session(&http, &base, "bench-reader-1").await?);
    let mut results = Vec::new();
    for c in [1, clients] {
        let (http2, base2, token2) = (http.clone(), base.clone(), token.clone());
        let (elapsed, h, errors) = crate::closed_loop(c, seconds, move |_, _| {
            let (http, url, token) = (http2.clone(), format!("{base2}/v2/leaderboard/bench?limit=100"), token2.clone());
            async move { get_ok(&http, &url, &token).await }
        })
        .await;
        results.push(report::Result::new("leaderboard-top100", 1, c, elapsed, &h, errors));
        let (http2, base2, token2) = (http.clone(), base.clone(), token.clone());
        let (elapsed, h, errors) = crate::closed_loop(c, seconds, move |i, n| {
            let o = owner((i as u64 * 7_777_777 + n * 104_729) % records);
            let (http, url, token) = (http2.clone(), format!("{base2}/v2/leaderboard/bench/owner/{o}?limit=100"), token2.clone());
            async move { get_ok(&http, &url, &token).await }
        })
        .await;
        results.push(report::Result::new("leaderboard-around-owner", 1, c, elapsed, &h, errors));
    }
    // Restart: RocksDB open, rank cache rebuild, Lua pool, then serving.
    node.kill();
    let t = Instant::now();
    node.spawn().await?;
    let restart = t.elapsed().as_millis();
    let rebuild = node
        .log()
        .lines()
        .rev()
        .find(|l| l.contains("rank cache rebuilt"))
        .map(|l| l.split("rank cache rebuilt").nth(1).unwrap_or("").trim().to_owned())
        .unwrap_or_else(|| "not logged".into());
    Ok(Figures { results, fill_seconds: filled.as_secs_f64(), records, restart_to_serving_ms: restart, rank_cache_rebuild: rebuild })
}

async fn get_ok(http: &reqwest::Client, url: &str, token: &str) -> bool {
    match http.get(url).bearer_auth(token).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}

/// Client record writes (REST) through every node of a 3-node cluster, one user per client.
pub async fn writes(clients: usize, seconds: u64) -> anyhow::Result<report::Result> {
    let dir = modules()?;
    let path = dir.path().display().to_string();
    let cluster = TestCluster::start(3, &[0, 1, 2], &["--logger.level", "warn", "--runtime.path", &path]).await?;
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base()).collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let mut sessions = Vec::new();
    for i in 0..clients {
        let base = bases[i % bases.len()].clone();
        let token = session(&http, &base, &format!("bench-writer-{i:06}")).await?;
        sessions.push((base, token));
    }
    let sessions = Arc::new(sessions);
    let (elapsed, h, errors) = crate::closed_loop(clients, seconds, move |i, n| {
        let (http, sessions) = (http.clone(), sessions.clone());
        async move {
            let (base, token) = &sessions[i];
            let body = json!({"score": (n * 7919 + i as u64) % 100_000, "subscore": n % 10});
            match http.post(format!("{base}/v2/leaderboard/bench_client")).bearer_auth(token).json(&body).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;
    drop(cluster);
    Ok(report::Result::new("leaderboard-write", 3, clients, elapsed, &h, errors))
}
