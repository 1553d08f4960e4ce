//! `leaderboard`: a board of `records` records (filled through an authoritative Lua RPC,
//! every record a Raft write), then top-100 and around-owner reads over REST, and the time a
//! restarted node takes to rebuild the rank cache and serve again. `leaderboard-write`:
//! client record writes through every node of a 3-node cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_tests::TestNode;

use crate::load::{self, Load};
use crate::{http, report};

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

/// Concurrent fill calls.
const FILL_CLIENTS: usize = 32;

fn owner(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn modules() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("bench.lua"), MODULE)?;
    Ok(dir)
}

/// Fills `bench` with `records` records from `clients` concurrent fill calls.
async fn fill(client: &reqwest::Client, base: &str, records: u64, clients: usize) -> anyhow::Result<Duration> {
    const BATCH: u64 = 250;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, next) = (client.clone(), base.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                if from >= records {
                    return Ok::<(), anyhow::Error>(());
                }
                let to = (from + BATCH).min(records);
                let resp = client
                    .post(format!("{base}/v2/rpc/fill?http_key=defaulthttpkey"))
                    .body(http::rpc_body(&json!({"from": from, "to": to})))
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

#[derive(Debug, serde::Serialize)]
pub struct Figures {
    pub results: Vec<report::Result>,
    pub fill_seconds: f64,
    pub records: u64,
    pub restart_to_serving_ms: u128,
    pub rank_cache_rebuild: String,
}

impl Figures {
    pub fn print(&self) {
        println!("{}", report::Result::table_header());
        for r in &self.results {
            println!("{}", r.table_row());
        }
        println!(
            "records {} filled in {:.1} s; restart to serving {} ms; rank cache rebuilt: {}",
            self.records, self.fill_seconds, self.restart_to_serving_ms, self.rank_cache_rebuild
        );
    }
}

pub async fn reads(records: u64, clients: usize, seconds: u64) -> anyhow::Result<Figures> {
    let dir = modules()?;
    let path = dir.path().display().to_string();
    // Default log level: the rank cache rebuild is logged at info.
    let mut node = TestNode::start(&["--runtime.path", &path]).await?;
    let base = node.base();
    // No request timeout: one fill call writes a batch of records.
    let fill_client = reqwest::Client::builder().pool_max_idle_per_host(FILL_CLIENTS).build()?;
    println!("filling {records} records ...");
    let filled = fill(&fill_client, &base, records, FILL_CLIENTS).await?;
    println!("filled in {:.1} s ({:.0} records/s)", filled.as_secs_f64(), records as f64 / filled.as_secs_f64());
    let token: Arc<str> = http::sessions(std::slice::from_ref(&base), "bench-reader", 1, 1).await?.remove(0).into();
    let client = http::client(clients);
    let mut results = Vec::new();
    for c in [1, clients] {
        let (http2, base2, token2) = (client.clone(), base.clone(), token.clone());
        let run = load::run(Load::closed(c, seconds), move |_, _| {
            let req = http2.get(format!("{base2}/v2/leaderboard/bench?limit=100")).bearer_auth(&*token2);
            http::send_ok(req)
        })
        .await;
        results.push(run.result("leaderboard-top100", 1));
        let (http2, base2, token2) = (client.clone(), base.clone(), token.clone());
        let run = load::run(Load::closed(c, seconds), move |i, n| {
            let o = owner((i as u64 * 7_777_777 + n * 104_729) % records);
            let req = http2.get(format!("{base2}/v2/leaderboard/bench/owner/{o}?limit=100")).bearer_auth(&*token2);
            http::send_ok(req)
        })
        .await;
        results.push(run.result("leaderboard-around-owner", 1));
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

/// Client record writes (REST) through every node of a 3-node cluster, one user per client.
pub async fn writes(load: Load) -> anyhow::Result<report::Result> {
    let dir = modules()?;
    let path = dir.path().display().to_string();
    let (bases, cluster) = crate::start(3, &["--runtime.path", &path]).await?;
    let tokens = Arc::new(http::sessions(&bases, "bench-writer", load.clients, 32).await?);
    let (client, bases) = (http::client(load.clients), Arc::new(bases));
    let run = load::run(load, move |i, n| {
        let (base, token) = (&bases[i % bases.len()], &tokens[i]);
        let body = json!({"score": (n * 7919 + i as u64) % 100_000, "subscore": n % 10});
        http::send_ok(client.post(format!("{base}/v2/leaderboard/bench_client")).bearer_auth(token).json(&body))
    })
    .await;
    drop(cluster);
    Ok(run.result("leaderboard-write", 3))
}
