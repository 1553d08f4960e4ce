//! `shoal-chaos`: process-level fault injection against real `shoal` nodes, in the style
//! of Jepsen and TigerBeetle's Vortex. A supervisor starts a cluster on loopback, a
//! seeded nemesis kills, pauses and partitions nodes while workers drive the public API
//! (REST and the `/ws` socket), every operation is recorded with its outcome, and
//! checkers judge the history. Talks to the nodes over the network only: no dependency
//! on Shoal's crates (so no RocksDB). See chaos/README.md.

mod checker;
mod client;
mod cluster;
mod history;
mod nemesis;
mod node;
mod report;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::cluster::Cluster;
use crate::history::History;
use crate::nemesis::{Fault, Nemesis, Order, Scenario};
use crate::workload::{Mix, Workload};

#[derive(Parser)]
#[command(name = "shoal-chaos", about = "Kill, pause and partition real shoal nodes under load; check nothing acknowledged is lost")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One scenario against a fresh cluster.
    Run {
        #[arg(long, value_enum)]
        scenario: Scenario,
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// How long faults are injected (e.g. 60s, 5m).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        #[command(flatten)]
        common: Common,
    },
    /// The CI scenario (under 3 minutes on 2 cores, debug build): every fault kind in
    /// turn on 3 nodes (partitions only if the nodes have the fault seam).
    Smoke {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(clap::Args, Clone)]
struct Common {
    /// RNG seed for the fault schedule and the workload (random if not given).
    #[arg(long)]
    seed: Option<u64>,
    /// The shoal binary (default: $SHOAL_BIN, else `shoal` next to this binary).
    #[arg(long)]
    shoal: Option<PathBuf>,
    /// Where node data and logs go (default: a new dir under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the run dir even when every checker passes.
    #[arg(long)]
    keep: bool,
    /// Extra node config as KEY=VALUE, passed to every node as `--KEY VALUE`
    /// (e.g. `cluster.election_timeout_max_ms=600`); repeatable.
    #[arg(long = "node-flag", value_parser = parse_flag)]
    node_flags: Vec<(String, String)>,
}

fn parse_flag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    Ok((k.trim_start_matches('-').to_string(), v.to_string()))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn shoal_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let p = match given.or_else(|| std::env::var_os("SHOAL_BIN").map(PathBuf::from)) {
        Some(p) => p,
        None => std::env::current_exe()?.parent().context("exe dir")?.join("shoal"),
    };
    if !p.is_file() {
        bail!("no shoal binary at {} (build it with `cargo build --workspace --bins`, or pass --shoal)", p.display());
    }
    Ok(std::fs::canonicalize(p)?)
}

pub struct RunConfig {
    pub label: String,
    pub faults: Vec<Fault>,
    pub order: Order,
    pub nodes: usize,
    pub duration: Duration,
    pub seed: u64,
    pub shoal: PathBuf,
    pub dir: PathBuf,
    pub keep: bool,
    pub node_flags: Vec<(String, String)>,
    /// The command line that reproduces this run.
    pub reproduce: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (cfg, common) = match cli.cmd {
        Cmd::Run { scenario, nodes, duration, common } => {
            if nodes < 3 {
                eprintln!("shoal-chaos: --nodes must be at least 3 (a minority must be able to fail)");
                return ExitCode::from(2);
            }
            let cfg = (scenario.name().to_string(), scenario.faults(), Order::Random, nodes, duration);
            let mut common = common;
            for (k, v) in scenario.node_flags() {
                if !common.node_flags.iter().any(|(ck, _)| ck == &k) {
                    common.node_flags.insert(0, (k, v));
                }
            }
            (cfg, common)
        }
        Cmd::Smoke { common } => {
            use Fault::*;
            let faults = vec![KillLeader, PauseLeader, Deploy, PartitionLeader, KillRandom, PauseRandom, PartitionMinority, KillLeader, PartitionBridge];
            (("smoke".to_string(), faults, Order::RoundRobin, 3, Duration::from_secs(80)), common)
        }
    };
    let (label, faults, order, nodes, duration) = cfg;
    let seed = common.seed.unwrap_or_else(rand::random);
    let shoal = match shoal_bin(common.shoal.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shoal-chaos: {e:#}");
            return ExitCode::from(2);
        }
    };
    let flags: String = common.node_flags.iter().map(|(k, v)| format!(" --node-flag {k}={v}")).collect();
    let reproduce = if label == "smoke" {
        format!("shoal-chaos smoke --seed {seed} --shoal {}{flags}", shoal.display())
    } else {
        format!("shoal-chaos run --scenario {label} --nodes {nodes} --duration {}s --seed {seed} --shoal {}{flags}", duration.as_secs(), shoal.display())
    };
    let dir = common.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("shoal-chaos-{label}-{seed}-{}", std::process::id())));
    let cfg = RunConfig { label, faults, order, nodes, duration, seed, shoal, dir, keep: common.keep, node_flags: common.node_flags.clone(), reproduce };
    println!("shoal-chaos {}: {} nodes, {:?} of faults, seed {seed}", cfg.label, cfg.nodes, cfg.duration);
    println!("run dir {}", cfg.dir.display());
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shoal-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(&cfg)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("\nFAIL. Reproduce with:\n  {}", cfg.reproduce);
            println!("node logs and history.jsonl: {}", cfg.dir.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("\nshoal-chaos could not complete the run: {e:#}");
            println!("reproduce with:\n  {}", cfg.reproduce);
            println!("node logs: {}", cfg.dir.display());
            ExitCode::from(2)
        }
    }
}

/// The current UTC time as `HH:MM:SS.mmm`, to line timeline times up with node logs.
fn utc_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:03} UTC", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
}

/// One run; Ok(true) when every checker passed.
async fn run(cfg: &RunConfig) -> anyhow::Result<bool> {
    if cfg.dir.exists() {
        bail!("run dir {} already exists", cfg.dir.display());
    }
    std::fs::create_dir_all(&cfg.dir)?;
    // Run a private copy: a rebuild of the original mid-run must not mix versions
    // between restarts.
    let bin = cfg.dir.join("shoal");
    std::fs::copy(&cfg.shoal, &bin).with_context(|| format!("copying {}", cfg.shoal.display()))?;
    let history = Arc::new(History::new());
    let started = utc_now();
    println!("t=0 is {started} (node logs are in UTC)");
    let mut cluster = Cluster::new(cfg.nodes, bin, cfg.dir.clone(), &cfg.node_flags)?;
    let t = Instant::now();
    cluster.start(Duration::from_secs(120)).await.context("starting the cluster")?;
    println!("cluster of {} ready in {:.1}s; partition seam: {}", cfg.nodes, t.elapsed().as_secs_f64(), if cluster.partitions {
        "available"
    } else {
        "NOT available (partition faults will be skipped)"
    });
    if !cluster.partitions && cfg.faults.iter().all(|f| f.is_partition()) {
        bail!("this scenario only has partition faults, and the nodes do not serve POST /v2/console/debug/partition (needs --cluster.fault_injection)");
    }

    let mix = Mix::default();
    let tag = format!("{:x}", cfg.seed);
    let sessions = workload::setup(&cluster.api, &cluster.nodes[0].base(), &tag, mix.owners).await.context("workload setup")?;
    let w = Arc::new(Workload {
        history: history.clone(),
        api: cluster.api.clone(),
        bases: cluster.nodes.iter().map(|n| n.base()).collect(),
        api_ports: cluster.nodes.iter().map(|n| n.api_port).collect(),
        sessions,
        stop: Default::default(),
        seed: cfg.seed,
        mix,
    });
    let workers = w.spawn();

    let deadline = Instant::now() + cfg.duration;
    let mut nemesis = Nemesis::new(&mut cluster, history.clone(), cfg.seed, cfg.faults.clone(), cfg.order);
    nemesis.run(deadline).await;
    let nemesis_report = std::mem::take(&mut nemesis.report);
    drop(nemesis);

    w.stop.store(true, Ordering::Relaxed);
    for h in workers {
        let _ = h.await;
    }
    eprintln!("[{:>9}] workload stopped; healing and checking", history::secs(history.now()));

    let mut verdicts = Vec::new();
    let heal = cluster.heal().await;
    let ready = match heal {
        Ok(()) => cluster.wait_ready(Duration::from_secs(60)).await,
        Err(e) => Err(e),
    };
    verdicts.push(match &ready {
        Ok(d) => checker::Verdict::new("every node back to ready", true, format!("all {} nodes ready, one leader, {:.1}s after healing", cfg.nodes, d.as_secs_f64())),
        Err(e) => checker::Verdict::new("every node back to ready", false, format!("{e:#}")),
    });
    let mut liveness = checker::Verdict::new("recovered after every fault", nemesis_report.liveness.is_empty(), "");
    liveness.summary = if liveness.pass {
        format!("{} faults, cluster ready again after each", nemesis_report.recoveries.len())
    } else {
        "the cluster did not recover from a fault within 60 s".into()
    };
    liveness.details = nemesis_report.liveness.clone();
    verdicts.push(liveness);

    if ready.is_ok() {
        if let Err(e) = cluster.wait_converged(Duration::from_secs(30)).await {
            eprintln!("warning: {e:#}");
        }
        let problems = w.final_register_reads().await;
        let ops = history.snapshot();
        verdicts.push(checker::linearizability(&ops, w.mix.keys).await);
        if !problems.is_empty() {
            let mut v = checker::Verdict::new("final reads", false, "final register reads failed");
            v.details = problems;
            verdicts.push(v);
        }
        verdicts.push(checker::durable_writes(&w, &ops).await);
        if nemesis_report.deploys > 0 {
            verdicts.push(checker::deploys(&cluster, &ops, nemesis_report.deploys).await);
        }
        verdicts.push(checker::accounts(&w, &ops).await);
        let (inc, same) = checker::leaderboard(&w, &ops).await;
        verdicts.push(inc);
        verdicts.push(same);
    } else {
        // The histories can still be judged; only the read-back checks need the cluster.
        verdicts.push(checker::linearizability(&history.snapshot(), w.mix.keys).await);
        verdicts.push(checker::Verdict::new("final reads", false, "skipped: the cluster is not ready (register histories checked without them)"));
    }
    let panics = cluster.panics();
    let thread_panics = panics.iter().filter(|l| l.contains("panicked at")).count();
    let summary = format!("{thread_panics} panics; {} log lines mention `panicked`", panics.len());
    let mut pv = checker::Verdict::new("no panic in any node log", panics.is_empty(), summary);
    pv.details = panics.into_iter().take(10).collect();
    verdicts.push(pv);
    cluster.shutdown();

    let ops = history.snapshot();
    let pass = verdicts.iter().all(|v| v.pass);
    let text = report::render(cfg, &started, &ops, &nemesis_report, &verdicts, pass);
    println!("{text}");
    std::fs::write(cfg.dir.join("report.txt"), &text)?;
    report::write_history(&cfg.dir.join("history.jsonl"), &ops)?;
    if pass && !cfg.keep {
        drop(cluster);
        let _ = std::fs::remove_dir_all(&cfg.dir);
    }
    Ok(pass)
}
