//! `socket-idle`: how many idle authenticated sockets one node holds and what each costs in
//! server RSS (`/proc/<pid>/status` VmRSS before and after). Sockets come from several
//! loopback source addresses (127.0.0.2, .3, …; at most 10,000 sockets each: `bind()` with
//! port 0 takes even ephemeral ports first, about 14k of the 28k, and searching for a
//! free odd one makes every further bind slow) and share the sessions of `users` users. Every socket
//! has a task that reads it (answering the server's pings); after holding them past a ping
//! period, a sample is asked for a `ping` → `pong`.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use shoal_tests::TestNode;
use tokio::sync::{mpsc, oneshot};

use crate::{http, report, sysstat};
use crate::socket::{self, Ws};

/// Sockets per loopback source address (see the module comment).
const PER_SOURCE_ADDRESS: usize = 10_000;
/// Client descriptors kept free for everything that is not a socket under test.
const CLIENT_FD_RESERVE: u64 = 64;
/// Consecutive-ish failures after which opening stops.
const FAILURES_MAX: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
pub struct Figures {
    pub sockets_requested: usize,
    pub sockets_attempted: usize,
    pub sockets_opened: usize,
    pub connect_failures: usize,
    pub first_failure: Option<String>,
    pub users: usize,
    pub source_addresses: Vec<String>,
    pub open_seconds: f64,
    pub hold_seconds: u64,
    pub server_sessions_after_hold: u64,
    pub client_sockets_alive_after_hold: usize,
    pub server_rss_before_kb: u64,
    pub server_rss_after_kb: u64,
    pub server_rss_per_socket_kb: f64,
    pub server_open_fds: usize,
    pub server_nofile_limit: u64,
    pub client_nofile_limit: u64,
    pub client_rss_per_socket_kb: f64,
    pub ping_sample: usize,
    pub ping_ok: usize,
    pub ping_p50_ms: f64,
    pub ping_p99_ms: f64,
    pub ping_max_ms: f64,
    /// Over opening and holding the sockets.
    pub sys: sysstat::SysStats,
}

/// Asks a held socket for one ping round trip; None if it failed or the socket is gone.
type PingRequest = oneshot::Sender<Option<Duration>>;

pub async fn run(sockets: usize, users: usize, hold_seconds: u64, sample: usize, parallel: usize) -> anyhow::Result<Figures> {
    let client_limit = rlimit::increase_nofile_limit(u64::MAX)?;
    let attempted = sockets.min(client_limit.saturating_sub(CLIENT_FD_RESERVE) as usize);
    if attempted < sockets {
        println!("client open-files limit is {client_limit} (hard); attempting {attempted} of {sockets} sockets");
    }
    let node = TestNode::start(&["--logger.level", "warn"]).await?;
    let pid = node.pid().ok_or_else(|| anyhow::anyhow!("node process not found"))?;
    let server_limit = sysstat::nofile_limit(pid).unwrap_or(0);
    println!("node pid {pid}, open-files limit {server_limit}");
    let users = users.clamp(1, sockets.max(1));
    let tokens = Arc::new(http::sessions(&[node.base()], "bench-idle", users, 32).await?);
    let sources: Vec<Ipv4Addr> = (0..attempted.div_ceil(PER_SOURCE_ADDRESS).max(1)).map(|j| Ipv4Addr::new(127, 0, 0, 2 + j as u8)).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = sysstat::status_kb(Some(pid), "VmRSS").unwrap_or(0);
    let client_rss_before = sysstat::status_kb(None, "VmRSS").unwrap_or(0);

    let alive = Arc::new(AtomicUsize::new(0));
    let sampler = sysstat::Sampler::start();
    let started = Instant::now();
    let mut opens = futures::stream::iter(0..attempted)
        .map(|i| {
            let (tokens, alive, source, port) = (tokens.clone(), alive.clone(), sources[i % sources.len()], node.port);
            async move {
                let ws = tokio::time::timeout(CONNECT_TIMEOUT, socket::connect(port, &tokens[i % tokens.len()], Some(source)))
                    .await
                    .map_err(|_| anyhow::anyhow!("connect timed out after {CONNECT_TIMEOUT:?}"))??;
                let (tx, rx) = mpsc::channel(1);
                alive.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    hold(ws, rx).await;
                    alive.fetch_sub(1, Ordering::Relaxed);
                });
                Ok::<_, anyhow::Error>(tx)
            }
        })
        .buffer_unordered(parallel.max(1));
    let mut held: Vec<mpsc::Sender<PingRequest>> = Vec::with_capacity(attempted);
    let (mut failures, mut first_failure) = (0usize, None);
    while let Some(r) = opens.next().await {
        match r {
            Ok(tx) => {
                held.push(tx);
                if held.len() % 5000 == 0 {
                    println!("{} sockets open ({:.1} s)", held.len(), started.elapsed().as_secs_f64());
                }
            }
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("after {} sockets: {e:#}", held.len()));
                if failures >= FAILURES_MAX {
                    println!("stopping after {failures} failed connects");
                    break;
                }
            }
        }
    }
    drop(opens);
    let open_seconds = started.elapsed().as_secs_f64();
    println!("{} sockets open in {open_seconds:.1} s; {failures} failed; holding {hold_seconds} s", held.len());
    tokio::time::sleep(Duration::from_secs(hold_seconds)).await;

    let rss_after = sysstat::status_kb(Some(pid), "VmRSS").unwrap_or(0);
    let client_rss_after = sysstat::status_kb(None, "VmRSS").unwrap_or(0);
    let server_fds = sysstat::open_fds(pid).unwrap_or(0);
    let sys = sampler.stop().await;
    let stats = socket::Console::new(node.console_port).realtime(false).await?;
    let (ping_ok, pings) = ping_sample(&held, sample).await;
    let opened = held.len();
    let per = |before: u64, after: u64| if opened == 0 { 0.0 } else { after.saturating_sub(before) as f64 / opened as f64 };
    let figures = Figures {
        sockets_requested: sockets,
        sockets_attempted: attempted,
        sockets_opened: opened,
        connect_failures: failures,
        first_failure,
        users,
        source_addresses: sources.iter().map(|a| a.to_string()).collect(),
        open_seconds,
        hold_seconds,
        server_sessions_after_hold: stats.sessions,
        client_sockets_alive_after_hold: alive.load(Ordering::Relaxed),
        server_rss_before_kb: rss_before,
        server_rss_after_kb: rss_after,
        server_rss_per_socket_kb: per(rss_before, rss_after),
        server_open_fds: server_fds,
        server_nofile_limit: server_limit,
        client_nofile_limit: client_limit,
        client_rss_per_socket_kb: per(client_rss_before, client_rss_after),
        ping_sample: sample.min(opened),
        ping_ok,
        ping_p50_ms: pings.value_at_quantile(0.5) as f64 / 1000.0,
        ping_p99_ms: pings.value_at_quantile(0.99) as f64 / 1000.0,
        ping_max_ms: pings.max() as f64 / 1000.0,
        sys,
    };
    drop(held);
    drop(node);
    Ok(figures)
}

/// Reads the socket (tungstenite answers the server's pings) until it closes; sends a
/// `ping` envelope when asked.
async fn hold(mut ws: Ws, mut requests: mpsc::Receiver<PingRequest>) {
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(_)) => {}
                _ => return,
            },
            r = requests.recv() => {
                let Some(reply) = r else {
                    let _ = ws.close(None).await;
                    return;
                };
                let t = Instant::now();
                let ok = socket::request(&mut ws, "ping", "ping", json!({})).await.is_ok_and(|v| v.get("pong").is_some());
                let _ = reply.send(ok.then(|| t.elapsed()));
            }
        }
    }
}

/// Pings `sample` sockets spread evenly over `held`; returns how many answered and their
/// round trips.
async fn ping_sample(held: &[mpsc::Sender<PingRequest>], sample: usize) -> (usize, hdrhistogram::Histogram<u64>) {
    let sample = sample.min(held.len());
    let mut h = report::histogram();
    if sample == 0 {
        return (0, h);
    }
    let step = held.len() / sample;
    let asks = (0..sample).map(|k| {
        let tx = held[k * step].clone();
        async move {
            let (reply, rx) = oneshot::channel();
            tx.send(reply).await.ok()?;
            rx.await.ok().flatten()
        }
    });
    let rtts: Vec<Option<Duration>> = futures::stream::iter(asks).buffer_unordered(100).collect().await;
    for rtt in rtts.iter().flatten() {
        h.record(rtt.as_micros().max(1) as u64).ok();
    }
    (rtts.iter().flatten().count(), h)
}

impl Figures {
    pub fn print(&self) {
        println!(
            "sockets held {} of {} requested ({} attempted, {} failed{}), {} users, sources {}",
            self.sockets_opened,
            self.sockets_requested,
            self.sockets_attempted,
            self.connect_failures,
            self.first_failure.as_ref().map(|f| format!("; first: {f}")).unwrap_or_default(),
            self.users,
            self.source_addresses.join(",")
        );
        println!(
            "after {} s: server sessions {}, client sockets alive {}; server fds {} (limit {}), client limit {}",
            self.hold_seconds,
            self.server_sessions_after_hold,
            self.client_sockets_alive_after_hold,
            self.server_open_fds,
            self.server_nofile_limit,
            self.client_nofile_limit
        );
        println!(
            "server RSS {} → {} kB: {:.1} kB per socket (client {:.1} kB per socket)",
            self.server_rss_before_kb, self.server_rss_after_kb, self.server_rss_per_socket_kb, self.client_rss_per_socket_kb
        );
        println!(
            "ping sample {}/{} answered: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ping_ok, self.ping_sample, self.ping_p50_ms, self.ping_p99_ms, self.ping_max_ms
        );
    }
}
