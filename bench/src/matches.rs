//! Authoritative Lua matches (`modules/bench/bench_match.lua`) played over sockets.
//!
//! `matches`: `matches` matches on one node, each with `players` socket players sending one
//! input per send period; the match consumes them and broadcasts one snapshot per tick.
//! Figures: tick-start lateness (console), message rates in and out (clients and the
//! matches' own counters), snapshots received per player, and client-to-client latency:
//! every input carries its send time, and one observer per match records, for each other
//! player's input it sees in a snapshot for the first time, the time since that send
//! (input → next tick → broadcast, so up to one tick period of waiting is part of it).
//!
//! `match-forward`: one match owned by node 1 of three, half its players on node 1 and half
//! on node 2, each asking for echoes at a steady rate. Figures: node 1's forwarding delay of
//! data that entered through node 2, and the send → echo round trip per entry node.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shoal_tests::{TestCluster, TestNode};
use tokio_tungstenite::tungstenite::Message;

use crate::{http, report, sysstat};
use crate::socket::{self, Console, Dist, Ws};

const OP_INPUT: i64 = 1;
const OP_ECHO: i64 = 2;
const OP_SNAPSHOT: i64 = 10;
const OP_ECHOED: i64 = OP_ECHO + 100;
/// Players keep reading this long after the window for echoes still in flight.
const DRAIN: Duration = Duration::from_millis(500);
/// Time between the players' first sends and the start of the measured window.
const WARMUP: Duration = Duration::from_secs(2);

/// When a player sends and when it counts.
#[derive(Clone, Copy)]
struct Plan {
    period: Duration,
    first_send: Instant,
    start: Instant,
    end: Instant,
    /// Echo payloads are microseconds since this instant.
    epoch: Instant,
}

struct Player {
    ws: Ws,
    index: usize,
    match_id: Arc<str>,
    op: i64,
    /// Records client-to-client latency from the snapshots it receives.
    observe: bool,
}

struct Played {
    /// Sends inside the window, and in all.
    sent: u64,
    sent_total: u64,
    snapshots: u64,
    echo_rtt: Histogram<u64>,
    client_to_client: Histogram<u64>,
}

#[derive(Deserialize)]
struct Push<'a> {
    #[serde(borrow)]
    match_data: Option<MatchData<'a>>,
}

#[derive(Deserialize)]
struct MatchData<'a> {
    op_code: Value,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
}

/// Connects each `(port, token, match id)` and joins it to the match, `parallel` at a time.
async fn join(specs: Vec<(u16, String, Arc<str>)>, op: i64, parallel: usize) -> anyhow::Result<Vec<Player>> {
    futures::stream::iter(specs.into_iter().enumerate())
        .map(|(index, (port, token, match_id))| async move {
            let mut ws = socket::connect(port, &token, None).await?;
            let reply = socket::request(&mut ws, "join", "match_join", json!({ "match_id": &*match_id })).await?;
            anyhow::ensure!(reply.get("match").is_some(), "match_join gave {reply}");
            Ok(Player { ws, index, match_id, op, observe: false })
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await
}

/// A value in [0.9, 1.1): send periods are jittered so that sends drift against ticks.
fn jitter(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    0.9 + (*state >> 11) as f64 / (1u64 << 53) as f64 * 0.2
}

fn match_data_send(match_id: &str, op: i64, data: &[u8]) -> Message {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    socket::envelope(None, "match_data_send", json!({ "match_id": match_id, "op_code": op.to_string(), "data": b64 }))
}

/// Sends `player.op` messages every `plan.period` (jittered) until the window ends, and
/// counts what arrives inside it.
async fn play(player: Player, plan: Plan) -> anyhow::Result<Played> {
    let (mut sink, mut stream) = player.ws.split();
    let mut played =
        Played { sent: 0, sent_total: 0, snapshots: 0, echo_rtt: report::histogram(), client_to_client: report::histogram() };
    let mut seen = HashMap::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (player.index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut next = plan.first_send + plan.period.mul_f64(jitter(&mut rng) - 0.9) * 5;
    let (mut seq, b64) = (0u64, base64::engine::general_purpose::STANDARD);
    let send_at = tokio::time::sleep_until(next.into());
    let stop = tokio::time::sleep_until((plan.end + DRAIN).into());
    tokio::pin!(send_at, stop);
    loop {
        tokio::select! {
            _ = &mut send_at, if next < plan.end => {
                seq += 1;
                let data = match player.op {
                    OP_ECHO => plan.epoch.elapsed().as_micros().to_string(),
                    _ => format!("p{}:{seq}:{}", player.index, plan.epoch.elapsed().as_micros()),
                };
                let now = Instant::now();
                sink.send(match_data_send(&player.match_id, player.op, data.as_bytes())).await?;
                played.sent_total += 1;
                if now >= plan.start {
                    played.sent += 1;
                }
                next += plan.period.mul_f64(jitter(&mut rng));
                send_at.as_mut().reset(next.into());
            }
            _ = &mut stop => break,
            m = stream.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => anyhow::bail!("player {} closed by the server: {f:?}", player.index),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => anyhow::bail!("player {} socket ended", player.index),
                };
                let now = Instant::now();
                let Ok(Push { match_data: Some(md) }) = serde_json::from_str::<Push>(text.as_str()) else { continue };
                let op = md.op_code.as_i64().or_else(|| md.op_code.as_str().and_then(|s| s.parse().ok()));
                match op {
                    Some(OP_SNAPSHOT) if now >= plan.start && now < plan.end => {
                        played.snapshots += 1;
                        if player.observe && let Some(d) = md.data {
                            record_inputs(&d, player.index, now, &plan, &mut seen, &mut played.client_to_client);
                        }
                    }
                    Some(OP_ECHOED) => {
                        let sent_us = md.data.and_then(|d| b64.decode(d.as_bytes()).ok()).and_then(|b| String::from_utf8(b).ok()?.parse::<u64>().ok());
                        if let Some(sent) = sent_us.map(|us| plan.epoch + Duration::from_micros(us))
                            && sent >= plan.start
                            && sent < plan.end
                        {
                            played.echo_rtt.record(now.duration_since(sent).as_micros().max(1) as u64).ok();
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = sink.close().await;
    Ok(played)
}

/// Records the send → receive time of every other player's input in a snapshot (base64 of
/// `tick;p<index>:<seq>:<sent µs>;…`) not seen before, when it was sent inside the window.
fn record_inputs(data: &str, me: usize, now: Instant, plan: &Plan, seen: &mut HashMap<usize, u64>, h: &mut Histogram<u64>) {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) else { return };
    let Ok(text) = std::str::from_utf8(&bytes) else { return };
    for part in text.split(';').skip(1) {
        let mut fields = part.trim_start_matches('p').split(':').map(|f| f.parse::<u64>().ok());
        let (Some(Some(index)), Some(Some(seq)), Some(Some(sent_us))) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let index = index as usize;
        if index == me || seen.get(&index).is_some_and(|&s| s >= seq) {
            continue;
        }
        seen.insert(index, seq);
        let sent = plan.epoch + Duration::from_micros(sent_us);
        if sent >= plan.start && sent < plan.end {
            report::record(h, now.saturating_duration_since(sent));
        }
    }
}

/// Plays every player under `plan`, each on its own task.
fn spawn_all(players: Vec<Player>, plan: Plan) -> Vec<tokio::task::JoinHandle<anyhow::Result<Played>>> {
    players.into_iter().map(|p| tokio::spawn(play(p, plan))).collect()
}

/// Each player's result in player order: what it counted, or why it stopped early.
async fn collect(tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Played>>>) -> Vec<Result<Played, String>> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(match t.await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(e) => Err(e.to_string()),
        });
    }
    out
}

fn plan(period: Duration, seconds: u64) -> Plan {
    let now = Instant::now();
    let start = now + WARMUP;
    Plan { period, first_send: now, start, end: start + Duration::from_secs(seconds), epoch: now }
}

async fn sleep_until(t: Instant) {
    tokio::time::sleep_until(t.into()).await;
}

/// The summed counters of `bench_match_stats`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct MatchCounters {
    matches: u64,
    members: u64,
    inputs: u64,
    echoes: u64,
    snapshots: u64,
    snapshot_deliveries: u64,
}

/// The matches' counters: 10 matches per RPC (each signal waits for its match's task to
/// take it, and one RPC must stay within the runtime's call budget), the RPCs concurrently.
async fn counters(base: &str, ids: &[Arc<str>]) -> anyhow::Result<MatchCounters> {
    let calls = ids.chunks(10).map(|chunk| {
        let ids: Vec<&str> = chunk.iter().map(|s| &**s).collect();
        async move { http::rpc(base, "bench_match_stats", &json!({ "ids": ids })).await }
    });
    let mut sum = MatchCounters::default();
    for c in futures::future::join_all(calls).await {
        let c: MatchCounters = serde_json::from_value(c?)?;
        sum.matches += c.matches;
        sum.members += c.members;
        sum.inputs += c.inputs;
        sum.echoes += c.echoes;
        sum.snapshots += c.snapshots;
        sum.snapshot_deliveries += c.snapshot_deliveries;
    }
    Ok(sum)
}

/// Counters read over a span of time, stamped at the span's middle.
async fn counters_at(base: &str, ids: &[Arc<str>]) -> anyhow::Result<(Instant, MatchCounters)> {
    let t = Instant::now();
    let c = counters(base, ids).await?;
    println!("match counters read in {:.2} s", t.elapsed().as_secs_f64());
    Ok((t + t.elapsed() / 2, c))
}

async fn create_matches(base: &str, count: usize, tick_rate: u32) -> anyhow::Result<Vec<Arc<str>>> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let batch = (count - ids.len()).min(25);
        let made = http::rpc(base, "bench_create_matches", &json!({ "count": batch, "tick_rate": tick_rate })).await?;
        let made: Vec<String> = serde_json::from_value(made)?;
        ids.extend(made.into_iter().map(Arc::from));
    }
    Ok(ids)
}

#[derive(Debug, Serialize)]
pub struct MatchesFigures {
    pub matches: usize,
    pub players_per_match: usize,
    pub players: usize,
    pub players_failed: usize,
    pub first_failure: Option<String>,
    pub tick_rate: u32,
    pub send_hz: f64,
    pub seconds: u64,
    pub tick_lateness: Dist,
    pub client_sent_per_s: f64,
    pub server_inputs_per_s: f64,
    /// Inputs the matches consumed of all the clients sent (warm-up included).
    pub inputs_consumed_ratio: f64,
    pub server_ticks_broadcast_per_s: f64,
    pub server_deliveries_per_s: f64,
    pub client_snapshots_received_per_s: f64,
    pub snapshots_expected_per_s: f64,
    pub per_player_snapshots_per_s_min: f64,
    pub per_player_snapshots_per_s_p50: f64,
    /// Input send → seen in a snapshot by another player of the match.
    pub client_to_client: Rtt,
    /// Over the measured window.
    pub sys: sysstat::SysStats,
}

pub async fn matches(matches: usize, players: usize, seconds: u64, send_hz: f64) -> anyhow::Result<MatchesFigures> {
    const TICK_RATE: u32 = 10;
    let modules = socket::modules_dir();
    let node = TestNode::start(&socket::node_args(&modules)).await?;
    let base = node.base();
    let total = matches * players;
    let ids = create_matches(&base, matches, TICK_RATE).await?;
    let tokens = http::sessions(std::slice::from_ref(&base), "bench-player", total, 32).await?;
    let specs = tokens.into_iter().enumerate().map(|(i, t)| (node.port, t, ids[i / players].clone())).collect();
    let mut joined = join(specs, OP_INPUT, 64).await?;
    for p in &mut joined {
        p.observe = p.index % players == 0;
    }
    println!("{matches} matches, {} players joined", joined.len());
    // The counters are read before the first input and after the window (outside the span
    // the tick lateness covers): inputs are counted from the first send to the last.
    let (t0, before) = counters_at(&base, &ids).await?;
    let plan = plan(Duration::from_secs_f64(1.0 / send_hz), seconds);
    let tasks = spawn_all(joined, plan);
    let console = Console::new(node.console_port);
    sleep_until(plan.start).await;
    console.realtime(true).await?;
    let sampler = sysstat::Sampler::start();
    sleep_until(plan.end).await;
    let sys = sampler.stop().await;
    let stats = console.realtime(false).await?;
    // Inputs sent just before the end are consumed by the next tick or two.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (t1, after) = counters_at(&base, &ids).await?;
    let (played, failed): (Vec<_>, Vec<_>) = collect(tasks).await.into_iter().partition(Result::is_ok);
    let played: Vec<Played> = played.into_iter().flatten().collect();
    let failed: Vec<String> = failed.into_iter().filter_map(Result::err).collect();
    let secs = seconds as f64;
    let server_secs = t1.duration_since(t0).as_secs_f64();
    let sending_secs = plan.end.duration_since(plan.first_send).as_secs_f64();
    let sent_total: u64 = played.iter().map(|p| p.sent_total).sum();
    let mut per_player: Vec<f64> = played.iter().map(|p| p.snapshots as f64 / secs).collect();
    per_player.sort_by(f64::total_cmp);
    let mut client_to_client = report::histogram();
    for p in &played {
        let _ = client_to_client.add(&p.client_to_client);
    }
    Ok(MatchesFigures {
        matches,
        players_per_match: players,
        players: total,
        players_failed: failed.len(),
        first_failure: failed.into_iter().next(),
        tick_rate: TICK_RATE,
        send_hz,
        seconds,
        tick_lateness: stats.tick_lateness,
        client_sent_per_s: played.iter().map(|p| p.sent).sum::<u64>() as f64 / secs,
        server_inputs_per_s: (after.inputs - before.inputs) as f64 / sending_secs,
        inputs_consumed_ratio: (after.inputs - before.inputs) as f64 / sent_total.max(1) as f64,
        server_ticks_broadcast_per_s: (after.snapshots - before.snapshots) as f64 / server_secs,
        server_deliveries_per_s: (after.snapshot_deliveries - before.snapshot_deliveries) as f64 / server_secs,
        client_snapshots_received_per_s: played.iter().map(|p| p.snapshots).sum::<u64>() as f64 / secs,
        snapshots_expected_per_s: (total as u32 * TICK_RATE) as f64,
        per_player_snapshots_per_s_min: per_player.first().copied().unwrap_or(0.0),
        per_player_snapshots_per_s_p50: per_player.get(per_player.len() / 2).copied().unwrap_or(0.0),
        client_to_client: Rtt::of(&client_to_client),
        sys,
    })
}

impl MatchesFigures {
    pub fn print(&self) {
        let l = &self.tick_lateness;
        println!(
            "{} matches × {} players (tick {} Hz, input {:.0} Hz), {} s; players failed: {}{}",
            self.matches,
            self.players_per_match,
            self.tick_rate,
            self.send_hz,
            self.seconds,
            self.players_failed,
            self.first_failure.as_ref().map(|f| format!(" (first: {f})")).unwrap_or_default()
        );
        println!(
            "tick lateness over {} ticks: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            l.count,
            socket::ms(l.p50_us),
            socket::ms(l.p99_us),
            socket::ms(l.max_us)
        );
        println!(
            "in:  clients sent {:.0}/s, matches consumed {:.0}/s ({:.1}% of all sent)",
            self.client_sent_per_s,
            self.server_inputs_per_s,
            self.inputs_consumed_ratio * 100.0
        );
        println!(
            "out: {:.0} snapshot ticks/s, {:.0} deliveries/s; clients received {:.0}/s of {:.0}/s expected (per player min {:.2}/s, p50 {:.2}/s)",
            self.server_ticks_broadcast_per_s,
            self.server_deliveries_per_s,
            self.client_snapshots_received_per_s,
            self.snapshots_expected_per_s,
            self.per_player_snapshots_per_s_min,
            self.per_player_snapshots_per_s_p50
        );
        let c = &self.client_to_client;
        println!(
            "client to client over {} inputs: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            c.count, c.p50_ms, c.p90_ms, c.p99_ms, c.max_ms
        );
        println!("cpu: node {:.0}% of a core, client {:.0}%", self.sys.server_cpu_pct, self.sys.client_cpu_pct);
    }
}

/// A round-trip distribution in milliseconds.
#[derive(Debug, Serialize)]
pub struct Rtt {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Rtt {
    fn of(h: &Histogram<u64>) -> Rtt {
        let ms = |v: u64| v as f64 / 1000.0;
        Rtt {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ForwardFigures {
    pub players: usize,
    pub players_failed: usize,
    pub first_failure: Option<String>,
    pub tick_rate: u32,
    pub send_hz: f64,
    pub seconds: u64,
    pub match_id: String,
    pub forward_delay: Dist,
    pub owner_tick_lateness: Dist,
    pub echoes_sent: u64,
    pub server_echoes: u64,
    pub rtt_owner_node: Rtt,
    pub rtt_other_node: Rtt,
    pub rtt_p50_diff_ms: f64,
    pub rtt_p99_diff_ms: f64,
    /// Over the measured window, all three nodes.
    pub sys: sysstat::SysStats,
}

pub async fn forward(players: usize, seconds: u64, send_hz: f64, tick_rate: u32) -> anyhow::Result<ForwardFigures> {
    let modules = socket::modules_dir();
    let cluster = TestCluster::start(3, &[0, 1, 2], &socket::node_args(&modules)).await?;
    let (n1, n2) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (c1, c2) = (Console::new(n1.console_port), Console::new(n2.console_port));
    shoal_tests::wait_until(Duration::from_secs(30), "realtime peers synced", || {
        let (c1, c2) = (c1.clone(), c2.clone());
        async move {
            let ok = |s: anyhow::Result<socket::RealtimeStats>| s.is_ok_and(|s| s.synced_peers >= 2);
            ok(c1.realtime(false).await) && ok(c2.realtime(false).await)
        }
    })
    .await?;
    let ids = create_matches(&n1.base(), 1, tick_rate).await?;
    let match_id = ids[0].clone();
    anyhow::ensure!(match_id.ends_with(&format!(".{}", n1.name)), "match {match_id} is not owned by {}", n1.name);
    let tokens = http::sessions(&[n1.base()], "bench-forward", players, 32).await?;
    // Even players enter through the owner (node 1), odd ones through node 2.
    let specs = tokens.into_iter().enumerate().map(|(i, t)| (if i % 2 == 0 { n1.port } else { n2.port }, t, match_id.clone())).collect();
    let joined = join(specs, OP_ECHO, 16).await?;
    shoal_tests::wait_until(Duration::from_secs(10), "members visible to the match", || {
        let (base, ids) = (n1.base(), ids.clone());
        async move { counters(&base, &ids).await.is_ok_and(|c| c.members as usize == players) }
    })
    .await?;
    let plan = plan(Duration::from_secs_f64(1.0 / send_hz), seconds);
    let tasks = spawn_all(joined, plan);
    sleep_until(plan.start).await;
    let before = counters(&n1.base(), &ids).await?;
    c1.realtime(true).await?;
    let sampler = sysstat::Sampler::start();
    sleep_until(plan.end).await;
    let sys = sampler.stop().await;
    let stats = c1.realtime(false).await?;
    let after = counters(&n1.base(), &ids).await?;
    // Players alternate between the nodes: [0] entered through the owner, [1] through n2.
    let (mut rtts, mut sent, mut failed) = ([report::histogram(), report::histogram()], 0, Vec::new());
    for (i, r) in collect(tasks).await.into_iter().enumerate() {
        match r {
            Ok(p) => {
                sent += p.sent;
                let _ = rtts[i % 2].add(&p.echo_rtt);
            }
            Err(e) => failed.push(e),
        }
    }
    let (owner, other) = (Rtt::of(&rtts[0]), Rtt::of(&rtts[1]));
    drop(cluster);
    Ok(ForwardFigures {
        players,
        players_failed: failed.len(),
        first_failure: failed.into_iter().next(),
        tick_rate,
        send_hz,
        seconds,
        match_id: match_id.to_string(),
        forward_delay: stats.forward_delay,
        owner_tick_lateness: stats.tick_lateness,
        echoes_sent: sent,
        server_echoes: after.echoes - before.echoes,
        rtt_p50_diff_ms: other.p50_ms - owner.p50_ms,
        rtt_p99_diff_ms: other.p99_ms - owner.p99_ms,
        rtt_owner_node: owner,
        rtt_other_node: other,
        sys,
    })
}

impl ForwardFigures {
    pub fn print(&self) {
        let (f, l) = (&self.forward_delay, &self.owner_tick_lateness);
        println!(
            "{} players (half on the owner n1, half on n2), echo requests {:.0} Hz, tick {} Hz, {} s; players failed: {}{}",
            self.players,
            self.send_hz,
            self.tick_rate,
            self.seconds,
            self.players_failed,
            self.first_failure.as_ref().map(|f| format!(" (first: {f})")).unwrap_or_default()
        );
        println!(
            "n1 forward delay over {} messages: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; n1 tick lateness p99 {:.2} ms",
            f.count,
            socket::ms(f.p50_us),
            f.p99_us as f64 / 1000.0,
            f.max_us as f64 / 1000.0,
            socket::ms(l.p99_us)
        );
        println!("echoes: {} sent in the window, {} echoed by the match", self.echoes_sent, self.server_echoes);
        println!("{:<22} {:>8} {:>8} {:>8} {:>8} {:>8}", "send → echo", "count", "p50 ms", "p90 ms", "p99 ms", "max ms");
        for (name, r) in [("players on n1 (owner)", &self.rtt_owner_node), ("players on n2", &self.rtt_other_node)] {
            println!("{name:<22} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2}", r.count, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms);
        }
        println!("n2 − n1: p50 {:+.2} ms, p99 {:+.2} ms", self.rtt_p50_diff_ms, self.rtt_p99_diff_ms);
    }
}
