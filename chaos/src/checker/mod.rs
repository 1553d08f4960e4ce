//! Checkers: each judges the recorded history (plus final reads made after healing) and
//! returns a verdict. They never excuse an anomaly: an operation counts as "may have
//! taken effect" only when the client truly could not know (timeout, lost connection,
//! 5xx); a refused connection counts as "certainly not applied" and is checked as such.

pub mod linear;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::client::{Auth, Session, classify};
use crate::history::{FINAL_READER, Op, OpKind, Outcome, secs};
use crate::workload::{BOARD, LEDGER_COLLECTION, RPC_COLLECTION, Workload, storage_read, value_id};
use linear::{Event, RegInput, RegOutput, Register};

pub struct Verdict {
    pub name: &'static str,
    pub pass: bool,
    pub summary: String,
    pub details: Vec<String>,
}

impl Verdict {
    pub fn new(name: &'static str, pass: bool, summary: impl Into<String>) -> Verdict {
        Verdict { name, pass, summary: summary.into(), details: Vec::new() }
    }
}

/// Steps the search may take per register before it gives up (inconclusive).
const SEARCH_BUDGET: u64 = 50_000_000;
const DETAIL_LINES_MAX: usize = 30;

fn describe(op: &Op) -> String {
    let what = match &op.kind {
        OpKind::Read { observed, .. } if op.outcome == Outcome::Ok => format!("read -> {}", observed.map_or("absent".into(), |w| format!("w{w}"))),
        OpKind::Read { .. } => "read".into(),
        OpKind::Write { value, .. } => format!("write w{value}"),
        OpKind::Cas { expected: Some(e), value, .. } => format!("cas w{e} -> w{value}"),
        OpKind::Cas { expected: None, value, .. } => format!("create w{value}"),
        other => format!("{other:?}"),
    };
    let who = if op.worker == FINAL_READER { "final".to_string() } else { format!("worker {}", op.worker) };
    let tail = if op.detail.is_empty() { String::new() } else { format!(" ({})", op.detail.chars().take(100).collect::<String>()) };
    format!("op {} {who} on n{}: {what} [{} .. {}] {}{tail}", op.id, op.node + 1, secs(op.invoke), secs(op.complete), op.outcome.name())
}

/// Linearizability of every storage register, checked key by key.
pub async fn linearizability(ops: &[Op], keys: usize) -> Verdict {
    let mut per_key: Vec<Vec<&Op>> = vec![Vec::new(); keys];
    for op in ops {
        let key = match &op.kind {
            OpKind::Read { key, .. } | OpKind::Write { key, .. } | OpKind::Cas { key, .. } => *key,
            _ => continue,
        };
        let keep = match (&op.kind, op.outcome) {
            (OpKind::Read { .. }, o) => o == Outcome::Ok,
            (_, Outcome::Failed) => false,
            (OpKind::Write { .. }, Outcome::Rejected) => false,
            _ => true,
        };
        if keep {
            per_key[key].push(op);
        }
    }
    let mut tasks = Vec::new();
    for (k, kops) in per_key.iter().enumerate() {
        let events: Vec<Event<RegInput, RegOutput>> = kops
            .iter()
            .map(|op| {
                let (input, output) = match (&op.kind, op.outcome) {
                    (OpKind::Read { observed, .. }, _) => (RegInput::Read, Some(RegOutput::Value(*observed))),
                    (OpKind::Write { value, .. }, o) => (RegInput::Write(*value), (o == Outcome::Ok).then_some(RegOutput::Done)),
                    (OpKind::Cas { expected, value, .. }, o) => (
                        RegInput::Cas { expected: *expected, value: *value },
                        match o {
                            Outcome::Ok => Some(RegOutput::Cas(true)),
                            Outcome::Rejected => Some(RegOutput::Cas(false)),
                            _ => None,
                        },
                    ),
                    _ => unreachable!("register ops only"),
                };
                Event { input, output, call: op.invoke, ret: op.complete }
            })
            .collect();
        tasks.push((k, tokio::task::spawn_blocking(move || linear::check(&Register, &events, SEARCH_BUDGET))));
    }
    let mut v = Verdict::new("linearizable registers", true, "");
    let (mut good, mut bad, mut inconclusive) = (0, 0, 0);
    for (k, t) in tasks {
        let kops = &per_key[k];
        match t.await.expect("checker task") {
            linear::Verdict::Linearizable => good += 1,
            linear::Verdict::Inconclusive { steps } => {
                inconclusive += 1;
                v.details.push(format!("register r{k}: INCONCLUSIVE after {steps} search steps ({} ops)", kops.len()));
            }
            linear::Verdict::NotLinearizable { linearized, stuck } => {
                bad += 1;
                v.pass = false;
                let s = kops[stuck];
                v.details.push(format!("register r{k}: NOT linearizable; no order places {}", describe(s)));
                if let Some(&last) = linearized.last() {
                    v.details.push(format!("  deepest linearization ({} ops) ended with {}", linearized.len(), describe(kops[last])));
                }
                let (from, to) = (s.invoke.saturating_sub(2_000_000), s.complete.saturating_add(500_000));
                let near: Vec<&&Op> = kops.iter().filter(|o| o.complete >= from && o.invoke <= to).collect();
                v.details.push(format!("  ops on r{k} overlapping [{} .. {}] ({} of them):", secs(from), secs(to), near.len()));
                for o in near.iter().rev().take(DETAIL_LINES_MAX).rev() {
                    v.details.push(format!("    {}", describe(o)));
                }
            }
        }
    }
    let n: usize = per_key.iter().map(|k| k.len()).sum();
    let unknown = per_key.iter().flatten().filter(|o| o.outcome == Outcome::Unknown).count();
    v.summary = format!("{good}/{keys} registers linearizable, {bad} not, {inconclusive} inconclusive ({n} ops checked, {unknown} of unknown outcome)");
    v
}

/// Reads `keys` of `collection` owned by `session` on node `node`, 50 at a time, retrying
/// failures; key → write id (u64::MAX if the value is unreadable).
async fn read_all(w: &Workload, node: usize, session: &Session, collection: &str, keys: &[String]) -> Result<HashMap<String, u64>, String> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(50) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match storage_read(&w.api, &w.bases[node], session, collection, chunk).await {
                Ok(objs) => {
                    out.extend(objs.into_iter().map(|(k, v, _)| (k, value_id(&v).unwrap_or(u64::MAX))));
                    break;
                }
                Err((_, d)) if attempt >= 10 => return Err(format!("reading {collection} on n{}: {d}", node + 1)),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    Ok(out)
}

/// Every acknowledged write-once object and socket-RPC write is present, with its value,
/// on every node; every write refused before it was sent is absent.
pub async fn durable_writes(w: &Workload, ops: &[Op]) -> Verdict {
    let mut v = Verdict::new("no acknowledged write lost", true, "");
    let mut acked = 0;
    // Acknowledged keys missing (or wrong) on at least one node.
    let mut lost_keys = std::collections::HashSet::new();
    for (label, collection, session) in [
        ("write-once", LEDGER_COLLECTION, &w.sessions.storage),
        ("socket rpc", RPC_COLLECTION, &w.sessions.rpc),
    ] {
        let writes: Vec<(&str, u64, Outcome)> = ops
            .iter()
            .filter_map(|o| match &o.kind {
                OpKind::Ledger { key, value } if collection == LEDGER_COLLECTION => Some((key.as_str(), *value, o.outcome)),
                OpKind::SocketRpc { key, value } if collection == RPC_COLLECTION => Some((key.as_str(), *value, o.outcome)),
                _ => None,
            })
            .collect();
        let keys: Vec<String> = writes.iter().map(|(k, _, _)| k.to_string()).collect();
        acked += writes.iter().filter(|w| w.2 == Outcome::Ok).count();
        for node in 0..w.bases.len() {
            let found = match read_all(w, node, session, collection, &keys).await {
                Ok(f) => f,
                Err(e) => {
                    v.pass = false;
                    v.details.push(e);
                    continue;
                }
            };
            for (key, value, outcome) in &writes {
                let got = found.get(*key);
                let problem = match (outcome, got) {
                    (Outcome::Ok, None) => Some("acknowledged but missing".to_string()),
                    (Outcome::Failed, Some(_)) => Some("refused before sending, yet present".to_string()),
                    (_, Some(g)) if g != value => Some(format!("holds w{g} instead of w{value}")),
                    _ => None,
                };
                if let Some(p) = problem {
                    if *outcome == Outcome::Ok {
                        lost_keys.insert((collection, key.to_string()));
                    }
                    v.pass = false;
                    if v.details.len() < DETAIL_LINES_MAX {
                        let op = ops.iter().find(|o| matches!(&o.kind, OpKind::Ledger { key: k, .. } | OpKind::SocketRpc { key: k, .. } if k == key));
                        v.details.push(format!("{label} {key} on n{}: {p}; {}", node + 1, op.map(describe_any).unwrap_or_default()));
                    }
                }
            }
        }
    }
    v.summary = if lost_keys.is_empty() && v.pass {
        format!("{acked} acknowledged writes read back on all {} nodes; 0 lost", w.bases.len())
    } else {
        format!("{acked} acknowledged writes; {} of them lost or wrong on at least one node", lost_keys.len())
    };
    v
}

fn describe_any(op: &Op) -> String {
    format!("op {} on n{} [{} .. {}] {} {}", op.id, op.node + 1, secs(op.invoke), secs(op.complete), op.outcome.name(), op.detail)
}

/// Every acknowledged account exists on every node.
pub async fn accounts(w: &Workload, ops: &[Op]) -> Verdict {
    let mut v = Verdict::new("no acknowledged account lost", true, "");
    let ids: Vec<&str> = ops
        .iter()
        .filter_map(|o| match &o.kind {
            OpKind::Account { user_id: Some(u), .. } if o.outcome == Outcome::Ok => Some(u.as_str()),
            _ => None,
        })
        .collect();
    for node in 0..w.bases.len() {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(50) {
            let q: Vec<String> = chunk.iter().map(|id| format!("ids={id}")).collect();
            let url = format!("{}/v2/user?{}", w.bases[node], q.join("&"));
            let mut attempt = 0;
            loop {
                attempt += 1;
                let res = w.api.call(Method::GET, &url, Auth::Bearer(&w.sessions.storage.token), None).await;
                if let (Outcome::Ok, Ok(r)) = (classify(&res).0, &res) {
                    for u in r.body["users"].as_array().into_iter().flatten() {
                        found.insert(u["id"].as_str().unwrap_or("").to_string());
                    }
                    break;
                }
                if attempt >= 10 {
                    v.pass = false;
                    v.details.push(format!("reading users on n{} failed: {:?}", node + 1, classify(&res)));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        for id in &ids {
            if !found.contains(*id) {
                v.pass = false;
                if v.details.len() < DETAIL_LINES_MAX {
                    v.details.push(format!("account {id} acknowledged but missing on n{}", node + 1));
                }
            }
        }
    }
    v.summary = format!("{} acknowledged accounts present on all {} nodes", ids.len(), w.bases.len());
    if !v.pass {
        v.summary = format!("{} acknowledged accounts; some missing", ids.len());
    }
    v
}

/// (owner id, score, subscore, num_score, rank) per record, in list order.
type Board = Vec<(String, i64, i64, i64, i64)>;

fn num(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(i64::MIN),
        Value::Number(n) => n.as_i64().unwrap_or(i64::MIN),
        Value::Null => 0,
        _ => i64::MIN,
    }
}

async fn read_board(w: &Workload, node: usize) -> Result<Board, String> {
    let url = format!("{}/v2/leaderboard/{BOARD}?limit=100", w.bases[node]);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = w.api.call(Method::GET, &url, Auth::Bearer(&w.sessions.storage.token), None).await;
        if let (Outcome::Ok, Ok(r)) = (classify(&res).0, &res) {
            return Ok(r.body["records"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| (r["owner_id"].as_str().unwrap_or("").to_string(), num(&r["score"]), num(&r["subscore"]), num(&r["num_score"]), num(&r["rank"])))
                .collect());
        }
        if attempt >= 10 {
            return Err(format!("listing the leaderboard on n{} failed: {:?}", node + 1, classify(&res)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Increments: acked ≤ score ≤ acked + unknown per owner on every node; and the board is
/// the same (owners, scores, ranks) on every node.
pub async fn leaderboard(w: &Workload, ops: &[Op]) -> (Verdict, Verdict) {
    let mut inc = Verdict::new("no lost or double-applied increment", true, "");
    let mut same = Verdict::new("leaderboard identical on every node", true, "");
    let mut counts: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    for o in ops {
        if let OpKind::Increment { owner } = o.kind {
            let c = counts.entry(owner).or_default();
            match o.outcome {
                Outcome::Ok => c.0 += 1,
                Outcome::Unknown => c.1 += 1,
                _ => {}
            }
        }
    }
    let mut boards = Vec::new();
    for node in 0..w.bases.len() {
        match read_board(w, node).await {
            Ok(b) => boards.push(b),
            Err(e) => {
                inc.pass = false;
                same.pass = false;
                inc.details.push(e);
            }
        }
    }
    for (node, board) in boards.iter().enumerate() {
        for (owner, (acked, unknown)) in &counts {
            let uid = &w.sessions.owners[*owner].user_id;
            let score = board.iter().find(|r| &r.0 == uid).map(|r| r.1).unwrap_or(0);
            if score < *acked || score > acked + unknown {
                inc.pass = false;
                let what = if score < *acked { "increments LOST" } else { "increments DOUBLE-APPLIED" };
                inc.details.push(format!("owner {owner} on n{}: score {score}, acked {acked}, unknown {unknown}: {what}", node + 1));
            }
        }
    }
    let figures: Vec<String> = counts.iter().map(|(o, (a, u))| format!("owner {o}: acked {a} + unknown {u}")).collect();
    inc.summary = format!("{}; scores within bounds on all nodes", figures.join(", "));
    if !inc.pass {
        inc.summary = figures.join(", ");
    }
    if let Some(first) = boards.first() {
        for (node, b) in boards.iter().enumerate().skip(1) {
            if b != first {
                same.pass = false;
                same.details.push(format!("n1: {first:?}"));
                same.details.push(format!("n{}: {b:?}", node + 1));
            }
        }
        for r in first {
            if r.1 != r.3 {
                // Every submission adds 1 to the score and 1 to num_score.
                same.details.push(format!("note: owner {} has score {} but num_score {}", r.0, r.1, r.3));
            }
        }
        same.summary = format!("{} records, same on all {} nodes", first.len(), boards.len());
    }
    if !same.pass {
        same.summary = "boards differ between nodes".into();
    }
    (inc, same)
}

/// After rolling deploys under faults: every node runs the same bundle (a node that
/// missed a rollout catches up by itself within ~25 s), and no socket RPC was answered
/// "not found" (the RPC exists in every bundle, so that would be a request lost to a swap).
pub async fn deploys(cluster: &crate::cluster::Cluster, ops: &[Op], deploys: usize) -> Verdict {
    let mut v = Verdict::new("module bundle converged after deploys", true, "");
    match cluster.wait_bundle_converged(Duration::from_secs(60)).await {
        Ok(version) => v.summary = format!("{deploys} deploys; every node runs bundle {}", version.chars().take(12).collect::<String>()),
        Err(e) => {
            v.pass = false;
            v.summary = e;
        }
    }
    for o in ops {
        // Realtime error code 6 is RUNTIME_FUNCTION_NOT_FOUND.
        if matches!(o.kind, OpKind::SocketRpc { .. }) && (o.detail.contains("\"code\":6,") || o.detail.to_lowercase().contains("not found")) {
            v.pass = false;
            if v.details.len() < DETAIL_LINES_MAX {
                v.details.push(format!("rpc lost to a swap? {}", describe_any(o)));
            }
        }
    }
    v
}
