//! The history: every operation the workload invoked, with its invocation and completion
//! times (µs since the run started) and its outcome. Checkers judge only this record.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

/// Microseconds since the run started.
pub type Micros = u64;

/// How an operation ended, as far as the client can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Acknowledged: it took effect.
    Ok,
    /// Answered "precondition not met" (storage version check): certainly not applied,
    /// and an observation of the state (it did not match).
    Rejected,
    /// Certainly not applied (the connection was refused, or a 4xx validation error).
    Failed,
    /// May or may not have taken effect: timed out, connection lost after sending, 5xx.
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Rejected, Outcome::Failed, Outcome::Unknown];
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }
}

/// What an operation did. Register values are unique write ids (`{"w":"<id>"}`), so a
/// read names the one write it observed.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpKind {
    /// Read of register `key`; `observed` is the value (None: absent), meaningful when Ok.
    Read { key: usize, observed: Option<u64> },
    /// Blind write (no version).
    Write { key: usize, value: u64 },
    /// Compare-and-set by version: `expected` is the write whose version was sent, None
    /// for create-if-absent (`version: "*"`).
    Cas { key: usize, expected: Option<u64>, value: u64 },
    /// Write-once object (a fresh key per write) for the lost-write check; keys starting
    /// with `p` come from the open-loop probe.
    Ledger { key: String, value: u64 },
    /// Account creation by custom id; `user_id` from the returned token.
    Account { custom_id: String, user_id: Option<String> },
    /// Leaderboard increment by 1 for owner number `owner`.
    Increment { owner: usize },
    /// Socket RPC that writes one storage object (`chaos_rpc`/`key` = `{"w": value}`).
    SocketRpc { key: String, value: u64 },
}

impl OpKind {
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Read { .. } => "register read",
            OpKind::Write { .. } => "register write",
            OpKind::Cas { expected: Some(_), .. } => "register cas",
            OpKind::Cas { expected: None, .. } => "register create",
            OpKind::Ledger { key, .. } if key.starts_with('p') => "write probe",
            OpKind::Ledger { .. } => "write-once object",
            OpKind::Account { .. } => "account create",
            OpKind::Increment { .. } => "leaderboard incr",
            OpKind::SocketRpc { .. } => "socket rpc write",
        }
    }

    /// True for operations that change state (used for failover times).
    pub fn is_write(&self) -> bool {
        !matches!(self, OpKind::Read { .. })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Op {
    pub id: u64,
    /// Worker index, or `usize::MAX` for the final reads.
    pub worker: usize,
    /// Index of the node the request went to.
    pub node: usize,
    #[serde(flatten)]
    pub kind: OpKind,
    pub invoke: Micros,
    /// When the client stopped waiting (for Unknown, not when it took effect).
    pub complete: Micros,
    pub outcome: Outcome,
    /// Error text for anything but Ok.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

pub const FINAL_READER: usize = usize::MAX;

pub struct History {
    start: Instant,
    ops: Mutex<Vec<Op>>,
    next_id: AtomicU64,
}

impl History {
    pub fn new() -> History {
        History { start: Instant::now(), ops: Mutex::new(Vec::new()), next_id: AtomicU64::new(1) }
    }

    pub fn now(&self) -> Micros {
        self.start.elapsed().as_micros() as Micros
    }

    /// A fresh id, used for operations and unique register values alike.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn record(&self, op: Op) {
        self.ops.lock().expect("history lock").push(op);
    }

    pub fn snapshot(&self) -> Vec<Op> {
        let mut v = self.ops.lock().expect("history lock").clone();
        v.sort_by_key(|o| (o.invoke, o.id));
        v
    }
}

/// "12.345s" for a time in µs.
pub fn secs(us: Micros) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}
