//! `shoal-bench`: benchmark scenarios against real `shoal` processes started from the
//! release binary. Each prints a table row and writes its result as JSON under
//! `bench/results/`. Figures are measurements, never assertions.
//!
//! `cargo build --release --bin shoal && cargo run -p shoal-bench --release -- storage-write --nodes 3 --clients 64`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use shoal_tests::{TestCluster, TestNode};

mod leaderboard;
mod lua_pool;
mod matches;
mod report;
mod rollout;
mod socket;
mod socket_idle;
mod socket_rpc;

#[derive(Parser)]
#[command(name = "shoal-bench")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Where JSON results go.
    #[arg(long, global = true, default_value = "bench/results")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum Scenario {
    /// Replicated storage-object writes (closed loop), each client its own user and keys.
    StorageWrite {
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The Lua runtime in-process: fresh-VM build time, VM lease cost, RPC echo call.
    LuaPool {
        /// Modules in the bundle.
        #[arg(long, default_value_t = 10)]
        modules: usize,
        #[arg(long, default_value_t = 200_000)]
        iterations: u64,
    },
    /// A board of `records` records on one node: top-100 and around-owner reads, and the
    /// rank-cache rebuild when the node restarts.
    Leaderboard {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Client leaderboard record writes through every node of a 3-node cluster.
    LeaderboardWrite {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// A rolling module upgrade of 3 nodes under HTTP RPC load on every node.
    Rollout {
        #[arg(long, default_value_t = 8)]
        clients_per_node: usize,
    },
    /// HTTP RPC echo via `?http_key=` (closed loop) on one node.
    RpcHttp {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The Lua `echo` RPC over realtime sockets (closed loop), one socket per client, one node.
    SocketRpc {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Idle authenticated sockets held by one node: server RSS per socket, pings afterwards.
    SocketIdle {
        #[arg(long, default_value_t = 50_000)]
        sockets: usize,
        /// Users whose sessions the sockets share (round robin).
        #[arg(long, default_value_t = 5_000)]
        users: usize,
        /// How long the sockets are held before measuring (past the server's ping period
        /// and pong wait, so every socket has answered a ping).
        #[arg(long, default_value_t = 30)]
        hold_seconds: u64,
        /// Sockets asked for a ping after the hold.
        #[arg(long, default_value_t = 1_000)]
        sample: usize,
        /// Connects in flight.
        #[arg(long, default_value_t = 256)]
        parallel: usize,
    },
    /// Authoritative Lua matches (tick 10 Hz) on one node, socket players sending input.
    Matches {
        #[arg(long, default_value_t = 250)]
        matches: usize,
        /// Players per match.
        #[arg(long, default_value_t = 10)]
        players: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Inputs per second per player.
        #[arg(long, default_value_t = 10.0)]
        send_hz: f64,
    },
    /// One match owned by node 1 of 3, players on nodes 1 and 2: forwarding delay, echo RTT.
    MatchForward {
        #[arg(long, default_value_t = 20)]
        players: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Echo requests per second per player.
        #[arg(long, default_value_t = 20.0)]
        send_hz: f64,
        /// The match's tick rate: the echo waits for the next tick, so this bounds the
        /// tick-wait part of every round trip (1/tick_rate).
        #[arg(long, default_value_t = 60)]
        tick_rate: u32,
    },
}

/// Starts `nodes` nodes (one plain node when 1) and returns their client API base URLs.
async fn start(nodes: usize) -> anyhow::Result<(Vec<String>, Option<TestCluster>, Option<TestNode>)> {
    let quiet = ["--logger.level", "warn"];
    if nodes == 1 {
        let n = TestNode::start(&quiet).await?;
        Ok((vec![n.base()], None, Some(n)))
    } else {
        let order: Vec<usize> = (0..nodes).collect();
        let c = TestCluster::start(nodes, &order, &quiet).await?;
        Ok((c.nodes.iter().map(|n| n.base()).collect(), Some(c), None))
    }
}

async fn storage_write(nodes: usize, clients: usize, seconds: u64) -> anyhow::Result<report::Result> {
    let (bases, _cluster, _node) = start(nodes).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    // One user per client, spread over the nodes; sessions made before the clock starts.
    let mut sessions = Vec::new();
    for i in 0..clients {
        let base = bases[i % bases.len()].clone();
        let resp: serde_json::Value = http
            .post(format!("{base}/v2/account/authenticate/custom?create=true"))
            .basic_auth("defaultkey", Some(""))
            .json(&json!({"id": format!("bench-user-{i:06}")}))
            .send()
            .await?
            .json()
            .await?;
        let token = resp["token"].as_str().context("authenticate gave no token")?.to_string();
        sessions.push((base, token));
    }
    let sessions = Arc::new(sessions);
    let (elapsed, total, errors) = closed_loop(clients, seconds, move |i, n| {
        let (http, sessions) = (http.clone(), sessions.clone());
        async move {
            let (base, token) = &sessions[i];
            let body = json!({"objects":[{"collection":"bench","key":format!("k{}", n % 1000),"value":format!("{{\"c\":{i},\"n\":{n}}}")}]});
            match http.put(format!("{base}/v2/storage")).bearer_auth(token).json(&body).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;
    Ok(report::Result::new("storage-write", nodes, clients, elapsed, &total, errors))
}

/// Runs `clients` closed-loop workers for `seconds`; each call returns true on success.
pub(crate) async fn closed_loop<F, Fut>(clients: usize, seconds: u64, call: F) -> (std::time::Duration, hdrhistogram::Histogram<u64>, u64)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (call, stop, errors) = (call.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = report::histogram();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let t = Instant::now();
                if call(i, n).await {
                    h.record(t.elapsed().as_micros().max(1) as u64).ok();
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            h
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let mut total = report::histogram();
    for t in tasks {
        if let Ok(h) = t.await {
            let _ = total.add(h);
        }
    }
    (elapsed, total, errors.load(Ordering::Relaxed))
}

async fn rpc_http(clients: usize, seconds: u64) -> anyhow::Result<report::Result> {
    let modules = tempfile::tempdir()?;
    std::fs::write(
        modules.path().join("echo.lua"),
        "require('nakama').register_rpc(function(context, payload) return payload end, 'echo')\n",
    )?;
    let node = TestNode::start(&["--logger.level", "warn", "--runtime.path", &modules.path().display().to_string()]).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let url = format!("{}/v2/rpc/echo?http_key=defaulthttpkey", node.base());
    let body = serde_json::to_string(&serde_json::to_string(&json!({"hello": "world", "n": 42}))?)?;
    let (elapsed, h, errors) = closed_loop(clients, seconds, move |_, _| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            match http.post(&url).body(body).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;
    Ok(report::Result::new("rpc-http", 1, clients, elapsed, &h, errors))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::LuaPool { modules, iterations } = cli.scenario {
        let figures = lua_pool::run(modules, iterations)?;
        figures.print();
        return write_json(&cli.out, "lua-pool", &figures);
    }
    tokio::runtime::Runtime::new()?.block_on(network_scenario(cli))
}

fn write_json(out: &std::path::Path, name: &str, value: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let file = out.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(value)?)?;
    println!("wrote {}", file.display());
    Ok(())
}

async fn network_scenario(cli: Cli) -> anyhow::Result<()> {
    if std::env::var_os("SHOAL_BIN").is_none() {
        let release = shoal_tests::shoal_bin();
        anyhow::ensure!(release.exists(), "{} not found: run `cargo build --release --bin shoal` first", release.display());
    }
    let result = match cli.scenario {
        Scenario::StorageWrite { nodes, clients, seconds } => storage_write(nodes, clients, seconds).await?,
        Scenario::RpcHttp { clients, seconds } => rpc_http(clients, seconds).await?,
        Scenario::SocketRpc { clients, seconds } => {
            let f = socket_rpc::run(clients, seconds).await?;
            f.print();
            return write_json(&cli.out, &format!("socket-rpc-1n-{clients}c"), &f);
        }
        Scenario::SocketIdle { sockets, users, hold_seconds, sample, parallel } => {
            let f = socket_idle::run(sockets, users, hold_seconds, sample, parallel).await?;
            f.print();
            return write_json(&cli.out, "socket-idle", &f);
        }
        Scenario::Matches { matches, players, seconds, send_hz } => {
            let f = matches::matches(matches, players, seconds, send_hz).await?;
            f.print();
            return write_json(&cli.out, &format!("matches-{matches}m-{players}p"), &f);
        }
        Scenario::MatchForward { players, seconds, send_hz, tick_rate } => {
            let f = matches::forward(players, seconds, send_hz, tick_rate).await?;
            f.print();
            return write_json(&cli.out, &format!("match-forward-3n-{players}p"), &f);
        }
        Scenario::Rollout { clients_per_node } => {
            let f = rollout::run(clients_per_node).await?;
            f.print();
            return write_json(&cli.out, "rollout-3n", &f);
        }
        Scenario::LeaderboardWrite { clients, seconds } => leaderboard::writes(clients, seconds).await?,
        Scenario::Leaderboard { records, clients, seconds } => {
            let f = leaderboard::reads(records, clients, seconds).await?;
            println!("{}", report::Result::table_header());
            for r in &f.results {
                println!("{}", r.table_row());
            }
            println!(
                "records {} filled in {:.1} s; restart to serving {} ms; rank cache rebuilt: {}",
                f.records, f.fill_seconds, f.restart_to_serving_ms, f.rank_cache_rebuild
            );
            let json = serde_json::json!({
                "results": f.results, "records": f.records, "fill_seconds": f.fill_seconds,
                "restart_to_serving_ms": f.restart_to_serving_ms, "rank_cache_rebuild": f.rank_cache_rebuild,
            });
            return write_json(&cli.out, "leaderboard", &json);
        }
        Scenario::LuaPool { .. } => anyhow::bail!("lua-pool runs in-process, without a node"),
    };
    println!("{}", report::Result::table_header());
    println!("{}", result.table_row());
    write_json(&cli.out, &format!("{}-{}n-{}c", result.scenario, result.nodes, result.clients), &result)
}
