//! The workload: concurrent workers against random nodes through the public API, each
//! operation recorded in the [`History`] with its outcome. Register values are unique
//! write ids, so every read names the single write it observed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Auth, Reply, Session, Socket, SocketReply, authenticate, classify};
use crate::history::{FINAL_READER, History, Op, OpKind, Outcome};

pub const REGISTER_COLLECTION: &str = "chaos_reg";
pub const LEDGER_COLLECTION: &str = "chaos_ledger";
pub const RPC_COLLECTION: &str = "chaos_rpc";
pub const BOARD: &str = "chaos";

const PROBE_INTERVAL: Duration = Duration::from_millis(50);
const PROBE_IN_FLIGHT_MAX: usize = 200;

/// How many workers of each kind.
#[derive(Clone, Debug)]
pub struct Mix {
    pub registers: usize,
    pub keys: usize,
    pub ledger: usize,
    pub accounts: usize,
    pub increments: usize,
    pub owners: usize,
    pub sockets: usize,
    /// Run the open-loop write probe.
    pub probe: bool,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix { registers: 6, keys: 8, ledger: 2, accounts: 1, increments: 3, owners: 2, sockets: 2, probe: true }
    }
}

/// The users the workload acts as, created before any fault.
pub struct Sessions {
    /// Owns the registers and the write-once objects (clients write their own objects).
    pub storage: Session,
    /// Runs the socket RPCs (and owns what they write).
    pub rpc: Session,
    /// One per leaderboard record being incremented.
    pub owners: Vec<Session>,
}

pub struct Workload {
    pub history: Arc<History>,
    pub api: Api,
    pub bases: Vec<String>,
    pub api_ports: Vec<u16>,
    pub sessions: Sessions,
    pub stop: AtomicBool,
    pub seed: u64,
    pub mix: Mix,
}

pub fn register_key(k: usize) -> String {
    format!("r{k}")
}

fn value_text(w: u64) -> String {
    json!({ "w": w.to_string() }).to_string()
}

/// The write id inside a stored value (`{"w":"<id>"}`).
pub fn value_id(value: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(value).ok()?;
    match &v["w"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Retries `f` until it succeeds or `timeout` passes (setup only; not recorded).
async fn retry<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = std::time::Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() > timeout => bail!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Creates the workload's users and the leaderboard (through the `chaos_setup` RPC).
pub async fn setup(api: &Api, base: &str, tag: &str, owners: usize) -> anyhow::Result<Sessions> {
    let t = Duration::from_secs(30);
    let user = |name: String| retry("creating a workload user", t, move || {
        let name = name.clone();
        async move { authenticate(api, base, &name).await }
    });
    let storage = user(format!("chaos-{tag}-storage")).await?;
    let rpc = user(format!("chaos-{tag}-rpc")).await?;
    let mut o = Vec::new();
    for i in 0..owners {
        o.push(user(format!("chaos-{tag}-owner{i}")).await?);
    }
    let url = format!("{base}/v2/rpc/chaos_setup");
    retry("creating the leaderboard (rpc chaos_setup)", t, || async {
        match api.call(Method::POST, &url, Auth::Bearer(&storage.token), Some(&Value::String("{}".into()))).await {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(format!("{} {}", r.status, r.body)),
            Err(e) => Err(format!("{e:?}")),
        }
    })
    .await?;
    Ok(Sessions { storage, rpc, owners: o })
}

/// The objects a storage read returned, as (key, value, version).
fn read_objects(r: &Reply) -> Vec<(String, String, String)> {
    r.body["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let s = |k: &str| o[k].as_str().unwrap_or("").to_string();
                    (s("key"), s("value"), s("version"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads objects of `collection` owned by `owner`; Ok(key → (value, version)) or the
/// outcome and detail of the failure.
pub async fn storage_read(
    api: &Api,
    base: &str,
    session: &Session,
    collection: &str,
    keys: &[String],
) -> Result<Vec<(String, String, String)>, (Outcome, String)> {
    let ids: Vec<Value> = keys.iter().map(|k| json!({"collection": collection, "key": k, "user_id": session.user_id})).collect();
    let res = api.call(Method::POST, &format!("{base}/v2/storage"), Auth::Bearer(&session.token), Some(&json!({ "object_ids": ids }))).await;
    match classify(&res) {
        (Outcome::Ok, _) => Ok(read_objects(res.as_ref().expect("ok reply"))),
        (o, d) => Err((o, d)),
    }
}

/// Writes one object; the outcome, its detail, and on success the acknowledged version.
async fn storage_write(api: &Api, base: &str, session: &Session, collection: &str, key: &str, value: &str, version: &str) -> (Outcome, String, Option<String>) {
    let body = json!({"objects": [{"collection": collection, "key": key, "value": value, "version": version}]});
    let res = api.call(Method::PUT, &format!("{base}/v2/storage"), Auth::Bearer(&session.token), Some(&body)).await;
    let (o, d) = classify(&res);
    let acked = res.ok().and_then(|r| r.body["acks"][0]["version"].as_str().map(str::to_string)).filter(|_| o == Outcome::Ok);
    (o, d, acked)
}

impl Workload {
    fn rng(&self, worker: usize) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn record(&self, worker: usize, node: usize, kind: OpKind, invoke: u64, outcome: Outcome, detail: String) {
        let complete = self.history.now();
        self.history.record(Op { id: self.history.next_id(), worker, node, kind, invoke, complete, outcome, detail });
    }

    async fn pause_after(&self, rng: &mut StdRng, outcome: Outcome) {
        // A refused connection returns at once: do not spin on a dead node.
        let ms = if outcome == Outcome::Failed { 50 } else { rng.random_range(0..=5) };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Reads, blind writes and compare-and-sets on a few shared registers.
    async fn register_worker(self: Arc<Self>, worker: usize) {
        let mut rng = self.rng(worker);
        let s = &self.sessions.storage;
        // The last value and version this worker read per key (the cas base).
        let mut seen: Vec<Option<(u64, String)>> = vec![None; self.mix.keys];
        while !self.stopped() {
            let k = rng.random_range(0..self.mix.keys);
            let node = rng.random_range(0..self.bases.len());
            let base = &self.bases[node];
            let key = register_key(k);
            let p = rng.random_range(0..100);
            let invoke = self.history.now();
            let outcome = if p < 45 {
                match storage_read(&self.api, base, s, REGISTER_COLLECTION, std::slice::from_ref(&key)).await {
                    Ok(objs) => {
                        let found = objs.into_iter().find(|o| o.0 == key);
                        let observed = found.as_ref().map(|(_, v, _)| value_id(v).unwrap_or(u64::MAX));
                        seen[k] = found.map(|(_, v, ver)| (value_id(&v).unwrap_or(u64::MAX), ver));
                        self.record(worker, node, OpKind::Read { key: k, observed }, invoke, Outcome::Ok, String::new());
                        Outcome::Ok
                    }
                    Err((o, d)) => {
                        self.record(worker, node, OpKind::Read { key: k, observed: None }, invoke, o, d);
                        o
                    }
                }
            } else {
                let value = self.history.next_id();
                let (kind, version) = if p < 75 {
                    (OpKind::Write { key: k, value }, String::new())
                } else {
                    match &seen[k] {
                        Some((w, ver)) => (OpKind::Cas { key: k, expected: Some(*w), value }, ver.clone()),
                        None => (OpKind::Cas { key: k, expected: None, value }, "*".to_string()),
                    }
                };
                let (o, d, acked) = storage_write(&self.api, base, s, REGISTER_COLLECTION, &key, &value_text(value), &version).await;
                if let Some(v) = acked {
                    seen[k] = Some((value, v));
                }
                self.record(worker, node, kind, invoke, o, d);
                o
            };
            self.pause_after(&mut rng, outcome).await;
        }
    }

    /// Blind writes of fresh keys: each acknowledged one must survive everything.
    async fn ledger_worker(self: Arc<Self>, worker: usize) {
        let mut rng = self.rng(worker);
        let mut seq = 0u64;
        while !self.stopped() {
            seq += 1;
            let node = rng.random_range(0..self.bases.len());
            let key = format!("l{worker}-{seq}");
            let value = self.history.next_id();
            let invoke = self.history.now();
            let (o, d, _) = storage_write(&self.api, &self.bases[node], &self.sessions.storage, LEDGER_COLLECTION, &key, &value_text(value), "").await;
            self.record(worker, node, OpKind::Ledger { key, value }, invoke, o, d);
            self.pause_after(&mut rng, o).await;
        }
    }

    /// Open-loop writes: one every [`PROBE_INTERVAL`] whatever the earlier ones are
    /// doing, so a fault that leaves requests hanging still shows when the cluster
    /// accepts new writes again (the failover figure). Checked like write-once objects.
    async fn probe_worker(self: Arc<Self>, worker: usize) {
        let mut rng = self.rng(worker);
        let in_flight = Arc::new(tokio::sync::Semaphore::new(PROBE_IN_FLIGHT_MAX));
        let mut seq = 0u64;
        let mut tick = tokio::time::interval(PROBE_INTERVAL);
        while !self.stopped() {
            tick.tick().await;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else { continue };
            seq += 1;
            let node = rng.random_range(0..self.bases.len());
            let me = self.clone();
            tokio::spawn(async move {
                let key = format!("p{worker}-{seq}");
                let value = me.history.next_id();
                let invoke = me.history.now();
                let (o, d, _) = storage_write(&me.api, &me.bases[node], &me.sessions.storage, LEDGER_COLLECTION, &key, &value_text(value), "").await;
                me.record(worker, node, OpKind::Ledger { key, value }, invoke, o, d);
                drop(permit);
            });
        }
        // Let the last probes finish before the history is judged.
        let _ = in_flight.acquire_many(PROBE_IN_FLIGHT_MAX as u32).await;
    }

    /// New accounts by custom id.
    async fn account_worker(self: Arc<Self>, worker: usize) {
        let mut rng = self.rng(worker);
        let mut seq = 0u64;
        while !self.stopped() {
            seq += 1;
            let node = rng.random_range(0..self.bases.len());
            let custom_id = format!("chaos-{:x}-a{worker}-{seq}", self.seed);
            let invoke = self.history.now();
            let url = format!("{}/v2/account/authenticate/custom?create=true", self.bases[node]);
            let res = self.api.call(Method::POST, &url, Auth::Server, Some(&json!({ "id": custom_id }))).await;
            let (mut o, mut d) = classify(&res);
            let mut user_id = None;
            if o == Outcome::Ok {
                match res.as_ref().ok().and_then(|r| r.body["token"].as_str()).map(crate::client::token_user_id) {
                    Some(Ok(uid)) => user_id = Some(uid),
                    other => (o, d) = (Outcome::Unknown, format!("200 without a usable token: {other:?}")),
                }
            }
            self.record(worker, node, OpKind::Account { custom_id, user_id }, invoke, o, d);
            self.pause_after(&mut rng, o).await;
        }
    }

    /// `+1` submissions to an `incr` leaderboard, several workers per owner.
    async fn increment_worker(self: Arc<Self>, worker: usize, owner: usize) {
        let mut rng = self.rng(worker);
        let s = &self.sessions.owners[owner];
        while !self.stopped() {
            let node = rng.random_range(0..self.bases.len());
            let invoke = self.history.now();
            let url = format!("{}/v2/leaderboard/{BOARD}", self.bases[node]);
            let res = self.api.call(Method::POST, &url, Auth::Bearer(&s.token), Some(&json!({"score": "1"}))).await;
            let (o, d) = classify(&res);
            self.record(worker, node, OpKind::Increment { owner }, invoke, o, d);
            self.pause_after(&mut rng, o).await;
        }
    }

    /// Socket RPCs that each write one storage object from Lua.
    async fn socket_worker(self: Arc<Self>, worker: usize) {
        let mut rng = self.rng(worker);
        let s = &self.sessions.rpc;
        let mut seq = 0u64;
        let mut conn: Option<(usize, Socket)> = None;
        while !self.stopped() {
            if conn.is_none() {
                let node = rng.random_range(0..self.api_ports.len());
                match Socket::connect(self.api_ports[node], &s.token).await {
                    Ok(sock) => conn = Some((node, sock)),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            let (node, sock) = conn.as_mut().expect("connected");
            let node = *node;
            seq += 1;
            let key = format!("s{worker}-{seq}");
            let value = self.history.next_id();
            let payload = json!({"key": key, "w": value.to_string()}).to_string();
            let invoke = self.history.now();
            let (o, d) = match sock.rpc("chaos_write", &payload).await {
                SocketReply::Rpc => (Outcome::Ok, String::new()),
                // A Lua error may wrap a timed-out write: unknown.
                SocketReply::Error(e) => (Outcome::Unknown, format!("error {e}")),
                SocketReply::Lost(e) => {
                    conn = None;
                    (Outcome::Unknown, e)
                }
            };
            self.record(worker, node, OpKind::SocketRpc { key, value }, invoke, o, d);
            self.pause_after(&mut rng, o).await;
        }
    }

    /// Starts every worker.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        let mut w = 0;
        let mut next = || {
            w += 1;
            w - 1
        };
        for _ in 0..self.mix.registers {
            handles.push(tokio::spawn(self.clone().register_worker(next())));
        }
        for _ in 0..self.mix.ledger {
            handles.push(tokio::spawn(self.clone().ledger_worker(next())));
        }
        for _ in 0..self.mix.accounts {
            handles.push(tokio::spawn(self.clone().account_worker(next())));
        }
        for i in 0..self.mix.increments {
            handles.push(tokio::spawn(self.clone().increment_worker(next(), i % self.mix.owners.max(1))));
        }
        for _ in 0..self.mix.sockets {
            handles.push(tokio::spawn(self.clone().socket_worker(next())));
        }
        if self.mix.probe {
            handles.push(tokio::spawn(self.clone().probe_worker(next())));
        }
        handles
    }

    /// After healing: reads every register on every node (each read joins the register's
    /// history, after everything else), retrying reads that fail.
    pub async fn final_register_reads(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let keys: Vec<String> = (0..self.mix.keys).map(register_key).collect();
        for node in 0..self.bases.len() {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let invoke = self.history.now();
                match storage_read(&self.api, &self.bases[node], &self.sessions.storage, REGISTER_COLLECTION, &keys).await {
                    Ok(objs) => {
                        for (k, key) in keys.iter().enumerate() {
                            let observed = objs.iter().find(|o| &o.0 == key).map(|(_, v, _)| value_id(v).unwrap_or(u64::MAX));
                            self.record(FINAL_READER, node, OpKind::Read { key: k, observed }, invoke, Outcome::Ok, String::new());
                        }
                        break;
                    }
                    Err((_, d)) if attempt >= 10 => {
                        problems.push(format!("final register read on n{} failed 10 times: {d}", node + 1));
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
        problems
    }
}
