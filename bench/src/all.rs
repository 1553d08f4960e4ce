//! `all`: every scenario in sequence, sized to finish in under 20 minutes on a 2-core
//! machine, each on its own fresh node or cluster. One summary table: printed, in
//! `all.json` (with every scenario's full figures) and in BENCHMARKS.md. A scenario that
//! fails, panics or overruns its deadline becomes a row saying so, and the run goes on.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::Serialize;

use crate::load::Load;
use crate::summary::{self, HEADERS, NAKAMA_AUTH_CREATE, NAKAMA_RPC_HTTP, NAKAMA_RPC_SOCKET, Row};
use crate::sysstat::Machine;
use crate::{auth, failover, leaderboard, markdown, matches, rollout, rpc_http, socket_idle, socket_rpc, storage};

/// Measurement window of the headline scenarios (as Nakama's figures were measured).
const HEADLINE_S: u64 = 20;
/// Measurement window of the others.
const WINDOW_S: u64 = 15;
/// Clients of the HTTP/socket RPC and auth scenarios (as Nakama's figures were measured).
const CLIENTS: usize = 50;
/// Clients of the storage and leaderboard-write scenarios.
const MANY: usize = 64;
const LEADERBOARD_RECORDS: u64 = 1_000_000;
/// Requested; the open-files limit decides what is attempted.
const IDLE_SOCKETS: usize = 50_000;
const FAILOVER_ROUNDS: usize = 5;
/// Matches × players of `match-relay`: one size this machine sustains, one past it.
const MATCHES: [(usize, usize); 2] = [(100, 10), (250, 10)];
const FAILOVER_RATE: f64 = 100.0;

#[derive(Serialize)]
struct AllReport {
    machine: Machine,
    started_utc: String,
    wall_seconds: f64,
    rows: Vec<Row>,
    /// Every scenario's full figures, by step name.
    figures: serde_json::Map<String, serde_json::Value>,
}

impl AllReport {
    /// Runs one scenario with a deadline; records its rows and figures, or its failure.
    async fn step<T: Serialize>(
        &mut self,
        name: &str,
        deadline: Duration,
        scenario: impl Future<Output = anyhow::Result<T>>,
        rows: impl FnOnce(&T) -> Vec<Row>,
    ) -> Option<T> {
        println!("\n=== {name} (deadline {} s)", deadline.as_secs());
        let t = Instant::now();
        let outcome = match tokio::time::timeout(deadline, AssertUnwindSafe(scenario).catch_unwind()).await {
            Ok(Ok(Ok(figures))) => Ok(figures),
            Ok(Ok(Err(e))) => Err(format!("{e:#}")),
            Ok(Err(panic)) => Err(format!(
                "panicked: {}",
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
            )),
            Err(_) => Err(format!("did not finish within {} s", deadline.as_secs())),
        };
        println!("=== {name} took {:.1} s", t.elapsed().as_secs_f64());
        match outcome {
            Ok(figures) => {
                let new = rows(&figures);
                println!("{}", markdown::text_table(&HEADERS, &new.iter().map(Row::cells).collect::<Vec<_>>()));
                self.rows.extend(new);
                self.figures.insert(name.into(), serde_json::to_value(&figures).unwrap_or_default());
                Some(figures)
            }
            Err(e) => {
                println!("{name} failed: {e}");
                self.rows.push(Row::failed(name, &e));
                self.figures.insert(name.into(), serde_json::json!({ "error": e }));
                None
            }
        }
    }
}

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

pub async fn run(out: &Path, markdown_path: &Path) -> anyhow::Result<()> {
    let machine = Machine::read();
    println!("machine: {}", machine.describe());
    let started = Instant::now();
    let started_utc = now_utc();
    let mut all = AllReport { machine, started_utc, wall_seconds: 0.0, rows: Vec::new(), figures: Default::default() };

    let rpc = all
        .step("rpc-http", minutes(2), rpc_http::run(Load::closed(CLIENTS, HEADLINE_S)), |r| {
            vec![summary::rpc_row(r, &NAKAMA_RPC_HTTP).cpu_per_request(r)]
        })
        .await;
    // Open loop at half the closed-loop maximum: latency when the server is not saturated.
    let rate = rpc.map_or(5_000.0, |r| (r.throughput_per_s / 2.0).round().max(100.0));
    let open = Load { clients: CLIENTS, seconds: WINDOW_S, rate: Some(rate) };
    all.step("rpc-http-open", minutes(2), rpc_http::run(open), |r| {
        vec![Row::load(r).note("open loop at ½ the closed-loop throughput; latency from the scheduled send")]
    })
    .await;
    all.step("socket-rpc", minutes(2), socket_rpc::run(CLIENTS, HEADLINE_S), |f| {
        let r = &f.result;
        vec![summary::rpc_row(r, &NAKAMA_RPC_SOCKET).note("rpc-socket: one socket per client").cpu_per_request(r)]
    })
    .await;
    all.step("auth-device", minutes(2), auth::run(Load::closed(CLIENTS, HEADLINE_S)), |[create, existing]| {
        vec![
            Row::load(create)
                .vs(create, &NAKAMA_AUTH_CREATE)
                .target("≥ 3× throughput", create.throughput_per_s >= 3.0 * NAKAMA_AUTH_CREATE.throughput)
                .note("a fresh device id per request")
                .cpu_per_request(create),
            Row::load(existing).note("the ids created just before, authenticated again").cpu_per_request(existing),
        ]
    })
    .await;
    for (nodes, clients) in [(1, 1), (1, MANY), (3, 1), (3, MANY)] {
        let name = format!("storage-write-{nodes}n-{clients}c");
        all.step(&name, minutes(2), storage::write(nodes, Load::closed(clients, WINDOW_S)), |r| {
            let row = Row::load(r).cpu_per_request(r);
            vec![match (nodes, clients) {
                (3, 1) => row.target("3 nodes, 1 client: p50 < 2 ms", r.p50_ms < 2.0),
                (3, _) => row.target(
                    "3 nodes, 64 clients: ≥ 5,000/s at p99 < 25 ms",
                    r.throughput_per_s >= 5_000.0 && r.p99_ms < 25.0,
                ),
                _ => row,
            }]
        })
        .await;
    }
    for nodes in [1, 3] {
        all.step(&format!("storage-read-{nodes}n"), minutes(2), storage::read(nodes, Load::closed(MANY, WINDOW_S)), |r| {
            vec![Row::load(r).note("one object per request, written before the window").cpu_per_request(r)]
        })
        .await;
    }
    all.step("leaderboard-write", minutes(2), leaderboard::writes(Load::closed(MANY, WINDOW_S)), |r| {
        vec![Row::load(r).note("client record writes through every node")]
    })
    .await;
    all.step("leaderboard", minutes(8), leaderboard::reads(LEADERBOARD_RECORDS, 8, 10), summary::leaderboard_rows).await;
    all.step("socket-idle", minutes(5), socket_idle::run(IDLE_SOCKETS, 5_000, 30, 1_000, 256), summary::socket_idle_row).await;
    for (count, players) in MATCHES {
        let name = format!("match-relay-{count}x{players}");
        all.step(&name, minutes(3), matches::matches(count, players, WINDOW_S, 10.0), summary::match_relay_row).await;
    }
    all.step("cross-node", minutes(3), matches::forward(20, WINDOW_S, 20.0, 60), summary::cross_node_row).await;
    all.step("failover", minutes(4), failover::run(FAILOVER_ROUNDS, FAILOVER_RATE), summary::failover_row).await;
    all.step("rollout", minutes(4), rollout::run(8), summary::rollout_row).await;

    all.wall_seconds = started.elapsed().as_secs_f64();
    let rows: Vec<Vec<String>> = all.rows.iter().map(Row::cells).collect();
    println!("\n{}", markdown::text_table(&HEADERS, &rows));
    println!("\nall scenarios took {:.1} min", all.wall_seconds / 60.0);
    crate::write_json(out, "all", &all)?;
    let generated = format!(
        "Generated by `shoal-bench all` on {} ({}), wall time {:.1} min.\n\nMachine: {}.\n\n{}\n",
        all.started_utc,
        git_revision(),
        all.wall_seconds / 60.0,
        all.machine.describe(),
        markdown::markdown_table(&HEADERS, &rows)
    );
    match markdown::rewrite(markdown_path, &generated) {
        Ok(()) => println!("rewrote the table in {}", markdown_path.display()),
        Err(e) => println!("BENCHMARKS.md not rewritten: {e:#}"),
    }
    Ok(())
}


fn now_utc() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

/// `git <short rev>`, with a note when the tree has uncommitted changes.
fn git_revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) if git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()) => format!("git {rev} + uncommitted changes"),
        Some(rev) => format!("git {rev}"),
        None => "git revision unknown".into(),
    }
}
