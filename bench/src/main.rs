//! `shoal-bench`: benchmark scenarios against real `shoal` processes started from the
//! release binary. Each prints its figures and writes them as JSON under `bench/results/`;
//! `all` runs every scenario and rewrites the table in `BENCHMARKS.md`. Figures are
//! measurements, never assertions.
//!
//! `cargo build --release --bin shoal && cargo run -p shoal-bench --release -- storage-write --nodes 3 --clients 64`

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use shoal_tests::{TestCluster, TestNode};

mod all;
mod auth;
mod failover;
mod http;
mod leaderboard;
mod load;
mod lua_pool;
mod markdown;
mod matches;
mod report;
mod rollout;
mod rpc_http;
mod socket;
mod socket_idle;
mod socket_rpc;
mod storage;
mod summary;
mod sysstat;

use load::Load;

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
    /// Every scenario in sequence (under 20 minutes on 2 cores): one table, `all.json`, and
    /// the table in BENCHMARKS.md.
    All {
        /// The file whose `<!-- bench:all:begin -->`…`<!-- bench:all:end -->` part is rewritten.
        #[arg(long, default_value = "BENCHMARKS.md")]
        markdown: PathBuf,
    },
    /// Replicated storage-object writes, each client its own user and keys.
    StorageWrite {
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Open loop at this many requests per second (closed loop when absent).
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Storage-object reads (one object per request) of objects written beforehand.
    StorageRead {
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Device authentication on one node: fresh ids (create), then the same ids again.
    AuthDevice {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Per phase.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long)]
        rate: Option<f64>,
    },
    /// The Lua runtime in-process: fresh-VM build time, VM lease cost, RPC echo call.
    LuaPool {
        /// Modules in the bundle.
        #[arg(long, default_value_t = 10)]
        modules: usize,
        #[arg(long, default_value_t = 200_000)]
        iterations: u64,
    },
    /// A board of `records` records on one node: top-100 and around-owner reads (1 and
    /// `clients` clients), and the rank-cache rebuild when the node restarts.
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
        #[arg(long)]
        rate: Option<f64>,
    },
    /// A rolling module upgrade of 3 nodes under HTTP RPC load on every node.
    Rollout {
        #[arg(long, default_value_t = 8)]
        clients_per_node: usize,
    },
    /// HTTP RPC echo via `?http_key=` on one node.
    RpcHttp {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long)]
        rate: Option<f64>,
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
    /// Leader SIGKILL in a 3-node cluster under open-loop writes: time until writes resume.
    Failover {
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Writes per second (through the followers).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
    },
}

/// The nodes of one scenario; killed when dropped.
pub enum Nodes {
    One(TestNode),
    Cluster(TestCluster),
}

/// Starts `nodes` nodes (one plain node when 1) with quiet logs and `extra_args`, and
/// returns their client API base URLs.
pub async fn start(nodes: usize, extra_args: &[&str]) -> anyhow::Result<(Vec<String>, Nodes)> {
    let mut args = vec!["--logger.level", "warn"];
    args.extend_from_slice(extra_args);
    if nodes == 1 {
        let n = TestNode::start(&args).await?;
        Ok((vec![n.base()], Nodes::One(n)))
    } else {
        let order: Vec<usize> = (0..nodes).collect();
        let c = TestCluster::start(nodes, &order, &args).await?;
        Ok((c.nodes.iter().map(|n| n.base()).collect(), Nodes::Cluster(c)))
    }
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

fn write_json(out: &Path, name: &str, value: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let file = out.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(value)?)?;
    println!("wrote {}", file.display());
    Ok(())
}

/// Prints load results and writes each as `<scenario>-<nodes>n-<clients>c[-open].json`.
fn write_results(out: &Path, results: &[report::Result]) -> anyhow::Result<()> {
    println!("{}", report::Result::table_header());
    for r in results {
        println!("{}", r.table_row());
    }
    for r in results {
        let open = if r.target_rate_per_s.is_some() { "-open" } else { "" };
        write_json(out, &format!("{}-{}n-{}c{open}", r.scenario, r.nodes, r.clients), r)?;
    }
    Ok(())
}

async fn network_scenario(cli: Cli) -> anyhow::Result<()> {
    if std::env::var_os("SHOAL_BIN").is_none() {
        let release = shoal_tests::shoal_bin();
        anyhow::ensure!(release.exists(), "{} not found: run `cargo build --release --bin shoal` first", release.display());
    }
    let out = &cli.out;
    match cli.scenario {
        Scenario::All { markdown } => all::run(out, &markdown).await,
        Scenario::StorageWrite { nodes, clients, seconds, rate } => {
            write_results(out, &[storage::write(nodes, Load { clients, seconds, rate }).await?])
        }
        Scenario::StorageRead { nodes, clients, seconds, rate } => {
            write_results(out, &[storage::read(nodes, Load { clients, seconds, rate }).await?])
        }
        Scenario::AuthDevice { clients, seconds, rate } => write_results(out, &auth::run(Load { clients, seconds, rate }).await?),
        Scenario::RpcHttp { clients, seconds, rate } => write_results(out, &[rpc_http::run(Load { clients, seconds, rate }).await?]),
        Scenario::LeaderboardWrite { clients, seconds, rate } => {
            write_results(out, &[leaderboard::writes(Load { clients, seconds, rate }).await?])
        }
        Scenario::SocketRpc { clients, seconds } => {
            let f = socket_rpc::run(clients, seconds).await?;
            f.print();
            write_json(out, &format!("socket-rpc-1n-{clients}c"), &f)
        }
        Scenario::SocketIdle { sockets, users, hold_seconds, sample, parallel } => {
            let f = socket_idle::run(sockets, users, hold_seconds, sample, parallel).await?;
            f.print();
            write_json(out, "socket-idle", &f)
        }
        Scenario::Matches { matches, players, seconds, send_hz } => {
            let f = matches::matches(matches, players, seconds, send_hz).await?;
            f.print();
            write_json(out, &format!("matches-{matches}m-{players}p"), &f)
        }
        Scenario::MatchForward { players, seconds, send_hz, tick_rate } => {
            let f = matches::forward(players, seconds, send_hz, tick_rate).await?;
            f.print();
            write_json(out, &format!("match-forward-3n-{players}p"), &f)
        }
        Scenario::Rollout { clients_per_node } => {
            let f = rollout::run(clients_per_node).await?;
            f.print();
            write_json(out, "rollout-3n", &f)
        }
        Scenario::Failover { rounds, rate } => {
            let f = failover::run(rounds, rate).await?;
            f.print();
            write_json(out, "failover-3n", &f)
        }
        Scenario::Leaderboard { records, clients, seconds } => {
            let f = leaderboard::reads(records, clients, seconds).await?;
            f.print();
            write_json(out, "leaderboard", &f)
        }
        Scenario::LuaPool { .. } => anyhow::bail!("lua-pool runs in-process, without a node"),
    }
}
