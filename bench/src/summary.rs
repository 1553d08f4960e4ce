//! The summary table of `all`: one row per measured figure set, cells formatted once for
//! the terminal and for BENCHMARKS.md, with Nakama's figures and issue 9's targets beside
//! Shoal's.

use serde::Serialize;

use crate::report::{self, errors_text};
use crate::sysstat::SysStats;
use crate::{failover, leaderboard, matches, rollout, socket_idle};

/// Nakama 3.40 + PostgreSQL on the same kind of machine, 50 clients, 20 s (issue 9).
pub struct Nakama {
    pub throughput: f64,
    pub p99_ms: f64,
}
pub const NAKAMA_RPC_HTTP: Nakama = Nakama { throughput: 15_623.0, p99_ms: 18.2 };
pub const NAKAMA_RPC_SOCKET: Nakama = Nakama { throughput: 15_798.0, p99_ms: 13.1 };
pub const NAKAMA_AUTH_CREATE: Nakama = Nakama { throughput: 1_336.0, p99_ms: 114.0 };

pub const HEADERS: [&str; 12] = [
    "scenario",
    "nodes",
    "clients",
    "throughput",
    "p50 ms",
    "p99 ms",
    "server CPU %",
    "server RSS MB",
    "errors",
    "vs Nakama 3.40",
    "target (issue 9)",
    "notes",
];

/// One line of the summary; cells already formatted ("—" where a figure does not apply).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub nodes: String,
    pub clients: String,
    pub throughput: String,
    pub p50_ms: String,
    pub p99_ms: String,
    pub server_cpu_pct: String,
    pub server_rss_mb: String,
    pub errors: String,
    pub vs_nakama: String,
    pub target: String,
    pub notes: String,
}

const NONE: &str = "—";

fn f0(v: f64) -> String {
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn ms(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn errors_cell(n: u64, kinds: &std::collections::BTreeMap<String, u64>) -> String {
    if n == 0 { "0".into() } else { format!("{n} ({})", errors_text(kinds)) }
}

impl Row {
    fn blank(scenario: &str, nodes: usize) -> Row {
        Row {
            scenario: scenario.into(),
            nodes: nodes.to_string(),
            clients: NONE.into(),
            throughput: NONE.into(),
            p50_ms: NONE.into(),
            p99_ms: NONE.into(),
            server_cpu_pct: NONE.into(),
            server_rss_mb: NONE.into(),
            errors: NONE.into(),
            vs_nakama: NONE.into(),
            target: NONE.into(),
            notes: String::new(),
        }
    }

    pub fn failed(scenario: &str, error: &str) -> Row {
        let mut error: String = error.split_whitespace().collect::<Vec<_>>().join(" ");
        if error.chars().count() > 160 {
            error = error.chars().take(160).collect::<String>() + "…";
        }
        Row { errors: format!("FAILED: {error}"), ..Row::blank(scenario, 0) }
    }

    fn sys(mut self, s: &SysStats) -> Row {
        self.server_cpu_pct = format!("{:.0}", s.server_cpu_pct);
        self.server_rss_mb = format!("{:.0}", s.server_rss_peak_mb);
        self
    }

    /// A request/response load result.
    pub fn load(r: &report::Result) -> Row {
        Row {
            clients: r.clients.to_string(),
            throughput: format!("{}/s", f0(r.throughput_per_s)),
            p50_ms: ms(r.p50_ms),
            p99_ms: ms(r.p99_ms),
            errors: errors_cell(r.errors, &r.errors_by_kind),
            ..Row::blank(&r.label(), r.nodes)
        }
        .sys(&r.sys)
    }

    pub fn vs(mut self, r: &report::Result, n: &Nakama) -> Row {
        self.vs_nakama = format!(
            "{:.2}× of {}/s; p99 {:.2}× of {} ms",
            r.throughput_per_s / n.throughput,
            f0(n.throughput),
            r.p99_ms / n.p99_ms,
            n.p99_ms
        );
        self
    }

    pub fn target(mut self, what: &str, met: bool) -> Row {
        self.target = format!("{what}: {}", if met { "met" } else { "MISSED" });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.notes = note.into();
        self
    }

    /// Adds the CPU cost per request to the notes.
    pub fn cpu_per_request(mut self, r: &report::Result) -> Row {
        let (server, client) = r.cpu_us_per_request();
        let cpu = format!("CPU per request: server {server:.0} µs, load generator {client:.0} µs");
        self.notes = if self.notes.is_empty() { cpu } else { format!("{}; {cpu}", self.notes) };
        self
    }

    pub fn cells(&self) -> Vec<String> {
        vec![
            self.scenario.clone(),
            self.nodes.clone(),
            self.clients.clone(),
            self.throughput.clone(),
            self.p50_ms.clone(),
            self.p99_ms.clone(),
            self.server_cpu_pct.clone(),
            self.server_rss_mb.clone(),
            self.errors.clone(),
            self.vs_nakama.clone(),
            self.target.clone(),
            self.notes.clone(),
        ]
    }
}

/// An RPC echo scenario against Nakama's figure and the 2.5× / ½ p99 target; CPU per request.
pub fn rpc_row(r: &report::Result, nakama: &Nakama) -> Row {
    Row::load(r)
        .vs(r, nakama)
        .target(
            "≥ 2.5× throughput at ≤ ½ p99",
            r.throughput_per_s >= 2.5 * nakama.throughput && r.p99_ms <= nakama.p99_ms / 2.0,
        )
}

pub fn leaderboard_rows(f: &leaderboard::Figures) -> Vec<Row> {
    let note = format!(
        "{} records (filled by Lua RPC in {:.0} s); restart to serving {} ms",
        f0(f.records as f64),
        f.fill_seconds,
        f.restart_to_serving_ms
    );
    f.results.iter().map(|r| Row::load(r).note(note.clone())).collect()
}

pub fn socket_idle_row(f: &socket_idle::Figures) -> Vec<Row> {
    let capped = f.sockets_attempted < f.sockets_requested;
    let kb = f.server_rss_per_socket_kb;
    let mut row = Row {
        clients: format!("{} sockets", f0(f.sockets_opened as f64)),
        p50_ms: ms(f.ping_p50_ms),
        p99_ms: ms(f.ping_p99_ms),
        errors: match &f.first_failure {
            None => "0".into(),
            Some(first) => format!("{} connect failures (first: {first})", f.connect_failures),
        },
        ..Row::blank("socket-idle", 1)
    }
    .sys(&f.sys);
    row.server_rss_mb = format!("{:.0}", f.server_rss_after_kb as f64 / 1024.0);
    row.target = format!(
        "≥ 50,000/node at ≤ 32 KB each: {:.1} KB/socket {}; count {}",
        kb,
        if kb <= 32.0 { "met" } else { "MISSED" },
        if f.sockets_opened >= 50_000 {
            "met".to_string()
        } else if capped {
            format!("not testable here (open-files hard limit {})", f.client_nofile_limit)
        } else {
            "MISSED".to_string()
        }
    );
    row.notes = format!(
        "held {} s; server {} sessions, RSS {:.0} → {:.0} MB ({kb:.1} KB/socket; client {:.1} KB/socket); p50/p99 = ping of {} sampled sockets ({} answered)",
        f.hold_seconds,
        f.server_sessions_after_hold,
        f.server_rss_before_kb as f64 / 1024.0,
        f.server_rss_after_kb as f64 / 1024.0,
        f.client_rss_per_socket_kb,
        f.ping_sample,
        f.ping_ok
    );
    vec![row]
}

pub fn match_relay_row(f: &matches::MatchesFigures) -> Vec<Row> {
    let c = &f.client_to_client;
    let l = &f.tick_lateness;
    vec![
        Row {
            clients: format!("{} × {}", f.matches, f.players_per_match),
            throughput: format!("{} msg/s", f0(f.client_snapshots_received_per_s)),
            p50_ms: ms(c.p50_ms),
            p99_ms: ms(c.p99_ms),
            errors: match &f.first_failure {
                None => "0".into(),
                Some(first) => format!("{} players failed (first: {first})", f.players_failed),
            },
            ..Row::blank("match-relay", 1)
        }
        .sys(&f.sys)
        .note(format!(
            "{} Hz ticks, input {:.0} Hz/player; p50/p99 = client → match → other client (includes the wait for the next tick); \
             tick lateness p50 {} ms, p99 {} ms; snapshots received {} of {} /s; inputs consumed {:.1}%",
            f.tick_rate,
            f.send_hz,
            ms(crate::socket::ms(l.p50_us)),
            ms(crate::socket::ms(l.p99_us)),
            f0(f.client_snapshots_received_per_s),
            f0(f.snapshots_expected_per_s),
            f.inputs_consumed_ratio * 100.0
        )),
    ]
}

pub fn cross_node_row(f: &matches::ForwardFigures) -> Vec<Row> {
    let (o, n) = (&f.rtt_owner_node, &f.rtt_other_node);
    vec![
        Row {
            clients: format!("{} players", f.players),
            throughput: format!("{}/s", f0((o.count + n.count) as f64 / f.seconds as f64)),
            p50_ms: ms(n.p50_ms),
            p99_ms: ms(n.p99_ms),
            errors: match &f.first_failure {
                None => "0".into(),
                Some(first) => format!("{} players failed (first: {first})", f.players_failed),
            },
            ..Row::blank("cross-node (match-forward)", 3)
        }
        .sys(&f.sys)
        .note(format!(
            "p50/p99 = echo round trip entering through a non-owner node; through the owner p50 {} / p99 {} ms; \
             extra p50 {:+.2} ms, p99 {:+.2} ms; owner's forward delay p99 {:.3} ms; tick {} Hz",
            ms(o.p50_ms),
            ms(o.p99_ms),
            f.rtt_p50_diff_ms,
            f.rtt_p99_diff_ms,
            f.forward_delay.p99_us as f64 / 1000.0,
            f.tick_rate
        )),
    ]
}

pub fn failover_row(f: &failover::Figures) -> Vec<Row> {
    let w = &f.writes;
    let med = |v: Vec<f64>| {
        let mut v = v;
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    vec![
        Row {
            clients: format!("open {}/s", f0(f.rate_per_s)),
            throughput: format!("{}/s", f0(w.throughput_per_s)),
            p50_ms: ms(f.gap_p50_ms),
            p99_ms: ms(f.gap_p99_ms),
            errors: errors_cell(w.errors, &w.errors_by_kind),
            ..Row::blank("failover", 3)
        }
        .sys(&w.sys)
        .note(format!(
            "p50/p99 = leader SIGKILL → first success of a write sent after it, over {} kills (max {} ms); new leader seen after p50 {} ms; \
             restart → ready p50 {} ms; errors are writes caught by the kill",
            f.rounds.len(),
            ms(f.gap_max_ms),
            ms(med(f.rounds.iter().map(|r| r.new_leader_ms).collect())),
            ms(med(f.rounds.iter().map(|r| r.restart_to_ready_ms).collect())),
        )),
    ]
}

pub fn rollout_row(f: &rollout::Figures) -> Vec<Row> {
    vec![Row::load(&f.load).note(format!(
        "rolling module upgrade: deploy {} ms, {} requests during it; new code first answered after {:?} ms per node",
        f0(f.deploy_ms as f64),
        f0(f.requests_during_deploy as f64),
        f.first_new_answer_ms
    ))]
}
