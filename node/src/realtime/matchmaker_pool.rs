//! The cluster-wide matchmaker pool: which tickets match, pure and synchronous (N
//! `server/matchmaker.go`, `matchmaker_process.go`, `pipeline_matchmaker.go`). The pool's
//! node owns one [`Pool`], adds the tickets every node forwards to it and calls
//! [`Pool::process`] once per `matchmaker.interval_sec`; delivering the results is the
//! caller's business.
//!
//! One pass ([`Pool::process`]) takes the tickets oldest first. Each one not yet matched is
//! an *anchor*: it gathers the other tickets that mutually accept it (each query matches the
//! other's `{"properties": {...}}` document) and tries to fill a group of its `max_count`.
//! Only when it has waited `max_intervals` passes (this pass included) does it settle for the
//! largest group of at least `min_count` it can form. In every group:
//!
//! - every member's query accepts every other member's properties;
//! - the size is within every member's `[min_count, max_count]` and a multiple of every
//!   member's `count_multiple`;
//! - a member below its own `max_count` has waited `max_intervals` passes itself, or the
//!   anchor has and the member wants no more than the anchor does (Nakama searches only for
//!   tickets whose `max_count` does not exceed the searching ticket's);
//! - no two tickets share a session or a (non-empty) party.
//!
//! Candidates are tried best first: the anchor's query score (its should clauses and boosts),
//! then age. Matched tickets leave the pool; the others count one more interval.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shoal_proto::query::Query;
use shoal_proto::{ErrorCode, Status};

/// `matchmaker.max_tickets` default: tickets one session (or party) may hold at once.
pub const DEFAULT_MAX_TICKETS: u32 = 3;

/// Partial groups an anchor keeps open while it looks at candidates; later candidates that
/// fit none of them are passed over.
const COMBOS_MAX: usize = 32;
/// Query results remembered during a pass (a pool of n tickets has n² pairs).
const SCORE_CACHE_MAX: usize = 1 << 20;

/// One matchmaker ticket: a single session looking for a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    /// The node the session is connected to.
    pub node: String,
    /// Empty unless a party leader queued the ticket.
    pub party_id: String,
    pub query: Query,
    pub min_count: i64,
    pub max_count: i64,
    /// 1 when the client did not set one.
    pub count_multiple: i64,
    pub string_properties: BTreeMap<String, String>,
    pub numeric_properties: BTreeMap<String, f64>,
    /// Age order in the pool, lower is older. 0: the pool numbers it on arrival (a caller
    /// handing tickets to a new pool may keep their old numbers instead).
    pub created_seq: u64,
    /// Passes this ticket has been through without matching.
    pub intervals: u32,
}

impl Ticket {
    /// The document other tickets' queries are matched against: `{"properties": {...}}` with
    /// the string and numeric properties merged (a numeric one wins a name clash, as in
    /// Nakama).
    pub fn document(&self) -> Value {
        let mut props = Map::new();
        for (k, v) in &self.string_properties {
            props.insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v) in &self.numeric_properties {
            props.insert(k.clone(), Value::from(*v));
        }
        let mut doc = Map::new();
        doc.insert("properties".to_string(), Value::Object(props));
        Value::Object(doc)
    }

    /// Nakama's `matchmaker_add` checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), PoolError> {
        if self.min_count < 2 {
            return Err(PoolError::MinCount);
        }
        if self.max_count < self.min_count {
            return Err(PoolError::MaxCount);
        }
        if self.count_multiple < 1 {
            return Err(PoolError::CountMultiple);
        }
        if self.min_count % self.count_multiple != 0 {
            return Err(PoolError::CountMultipleMin);
        }
        if self.max_count % self.count_multiple != 0 {
            return Err(PoolError::CountMultipleMax);
        }
        Ok(())
    }

    fn fits(&self, size: usize) -> bool {
        let size = size as i64;
        self.min_count <= size && size <= self.max_count && size % self.count_multiple == 0
    }
}

/// Why a ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("Invalid minimum count, must be >= 2")]
    MinCount,
    #[error("Invalid maximum count, must be >= minimum count")]
    MaxCount,
    #[error("Invalid count multiple, must be >= 1")]
    CountMultiple,
    #[error("Invalid count multiple for minimum count, must divide")]
    CountMultipleMin,
    #[error("Invalid count multiple for maximum count, must divide")]
    CountMultipleMax,
    /// The session or party already holds `matchmaker.max_tickets` tickets.
    #[error("matchmaker too many tickets")]
    TooManyTickets,
    #[error("matchmaker duplicate ticket")]
    DuplicateTicket,
}

impl PoolError {
    /// A count check the client failed (`BAD_INPUT` with the message as is). Nakama reports
    /// the others as `RUNTIME_EXCEPTION` "Error adding to matchmaker" and logs the reason.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, PoolError::TooManyTickets | PoolError::DuplicateTicket)
    }
}

impl From<PoolError> for Status {
    fn from(e: PoolError) -> Status {
        if e.is_bad_input() {
            Status::invalid(e.to_string())
        } else {
            Status::new(ErrorCode::Internal, "Error adding to matchmaker")
        }
    }
}

/// The tickets waiting for a match.
#[derive(Debug)]
pub struct Pool {
    max_tickets: usize,
    tickets: HashMap<String, Ticket>,
    by_session: HashMap<String, BTreeSet<String>>,
    by_party: HashMap<String, BTreeSet<String>>,
    /// The next arrival number.
    next_seq: u64,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new(DEFAULT_MAX_TICKETS)
    }
}

impl Pool {
    /// `max_tickets`: `matchmaker.max_tickets`, per session and per party.
    pub fn new(max_tickets: u32) -> Pool {
        Pool {
            max_tickets: max_tickets as usize,
            tickets: HashMap::new(),
            by_session: HashMap::new(),
            by_party: HashMap::new(),
            next_seq: 1,
        }
    }

    #[allow(dead_code)] // metrics and tests
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    #[allow(dead_code)] // metrics and tests
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    #[allow(dead_code)] // metrics and tests
    pub fn get(&self, ticket: &str) -> Option<&Ticket> {
        self.tickets.get(ticket)
    }

    /// Adds a ticket after Nakama's checks: counts, then the session's and the party's
    /// ticket limit.
    pub fn add(&mut self, mut ticket: Ticket) -> Result<(), PoolError> {
        ticket.validate()?;
        if self.tickets.contains_key(&ticket.ticket) {
            return Err(PoolError::DuplicateTicket);
        }
        let held = |index: &HashMap<String, BTreeSet<String>>, key: &str| {
            index.get(key).map_or(0, BTreeSet::len)
        };
        if held(&self.by_session, &ticket.session_id) >= self.max_tickets {
            return Err(PoolError::TooManyTickets);
        }
        if !ticket.party_id.is_empty() && held(&self.by_party, &ticket.party_id) >= self.max_tickets
        {
            return Err(PoolError::TooManyTickets);
        }
        if ticket.created_seq == 0 {
            ticket.created_seq = self.next_seq;
        }
        self.next_seq = self.next_seq.max(ticket.created_seq.saturating_add(1));
        self.by_session
            .entry(ticket.session_id.clone())
            .or_default()
            .insert(ticket.ticket.clone());
        if !ticket.party_id.is_empty() {
            self.by_party
                .entry(ticket.party_id.clone())
                .or_default()
                .insert(ticket.ticket.clone());
        }
        self.tickets.insert(ticket.ticket.clone(), ticket);
        Ok(())
    }

    /// A session withdraws its own ticket (`matchmaker_remove`). False when there is no such
    /// ticket, it belongs to another session, or it is a party's (withdrawn with
    /// [`Pool::remove_party`]); the client then gets "Matchmaker ticket not found".
    pub fn remove(&mut self, ticket: &str, session_id: &str) -> bool {
        match self.tickets.get(ticket) {
            Some(t) if t.session_id == session_id && t.party_id.is_empty() => {
                self.take(ticket).is_some()
            }
            _ => false,
        }
    }

    /// A party withdraws one of its tickets (`party_matchmaker_remove`).
    #[allow(dead_code)] // for party_matchmaker_*
    pub fn remove_party(&mut self, ticket: &str, party_id: &str) -> bool {
        match self.tickets.get(ticket) {
            Some(t) if !party_id.is_empty() && t.party_id == party_id => {
                self.take(ticket).is_some()
            }
            _ => false,
        }
    }

    /// Every ticket of a session that went away. Returns how many were removed.
    pub fn remove_session(&mut self, session_id: &str) -> usize {
        let ids: Vec<String> = self
            .by_session
            .get(session_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        ids.iter().filter(|id| self.take(id).is_some()).count()
    }

    /// Every ticket of a party that closed.
    #[allow(dead_code)] // for party_matchmaker_*
    pub fn remove_party_all(&mut self, party_id: &str) -> usize {
        let ids: Vec<String> = self
            .by_party
            .get(party_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        ids.iter().filter(|id| self.take(id).is_some()).count()
    }

    /// Every ticket of sessions on a node that left the cluster.
    pub fn remove_node(&mut self, node: &str) -> usize {
        let ids: Vec<String> = self
            .tickets
            .values()
            .filter(|t| t.node == node)
            .map(|t| t.ticket.clone())
            .collect();
        ids.iter().filter(|id| self.take(id).is_some()).count()
    }

    fn take(&mut self, ticket: &str) -> Option<Ticket> {
        let t = self.tickets.remove(ticket)?;
        unindex(&mut self.by_session, &t.session_id, ticket);
        if !t.party_id.is_empty() {
            unindex(&mut self.by_party, &t.party_id, ticket);
        }
        Some(t)
    }

    /// One matchmaker interval. Returns the groups formed, each anchor (the oldest of its
    /// group) first and the rest in the order they were chosen, groups oldest anchor first.
    /// The matched tickets leave the pool; every other ticket's `intervals` goes up by one.
    pub fn process(&mut self, max_intervals: u32) -> Vec<Vec<Ticket>> {
        let mut order: Vec<&Ticket> = self.tickets.values().collect();
        order.sort_by(|a, b| (a.created_seq, &a.ticket).cmp(&(b.created_seq, &b.ticket)));
        let mut round = Round {
            docs: order.iter().map(|t| t.document()).collect(),
            expired: order
                .iter()
                .map(|t| t.intervals.saturating_add(1) >= max_intervals)
                .collect(),
            taken: vec![false; order.len()],
            scores: HashMap::new(),
            tickets: order,
        };
        let mut groups = Vec::new();
        for anchor in 0..round.tickets.len() {
            if round.taken[anchor] {
                continue;
            }
            if let Some(group) = round.group_for(anchor) {
                for &i in &group {
                    round.taken[i] = true;
                }
                groups.push(
                    group
                        .iter()
                        .map(|&i| round.tickets[i].ticket.clone())
                        .collect::<Vec<_>>(),
                );
            }
        }
        drop(round);
        let matched: Vec<Vec<Ticket>> = groups
            .iter()
            .map(|ids| ids.iter().filter_map(|id| self.take(id)).collect())
            .collect();
        for t in self.tickets.values_mut() {
            t.intervals = t.intervals.saturating_add(1);
        }
        matched
    }
}

fn unindex(index: &mut HashMap<String, BTreeSet<String>>, key: &str, ticket: &str) {
    if let Some(set) = index.get_mut(key) {
        set.remove(ticket);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// One pass over a snapshot of the pool, oldest ticket first (indices are age ranks).
struct Round<'a> {
    tickets: Vec<&'a Ticket>,
    docs: Vec<Value>,
    /// Has waited `max_intervals` passes, counting this one: may settle below `max_count`.
    expired: Vec<bool>,
    taken: Vec<bool>,
    /// `scores[(i, j)]`: ticket i's query on ticket j's document, `None` if it rejects it.
    scores: HashMap<(usize, usize), Option<f64>>,
}

impl Round<'_> {
    fn score(&mut self, i: usize, j: usize) -> Option<f64> {
        if let Some(s) = self.scores.get(&(i, j)) {
            return *s;
        }
        let s = self.tickets[i].query.score(&self.docs[j]);
        if self.scores.len() >= SCORE_CACHE_MAX {
            self.scores.clear();
        }
        self.scores.insert((i, j), s);
        s
    }

    /// May share a group: distinct sessions and parties, and each accepts the other.
    fn compatible(&mut self, i: usize, j: usize) -> bool {
        let (a, b) = (self.tickets[i], self.tickets[j]);
        i != j
            && a.session_id != b.session_id
            && (a.party_id.is_empty() || a.party_id != b.party_id)
            && self.score(i, j).is_some()
            && self.score(j, i).is_some()
    }

    fn group_for(&mut self, anchor: usize) -> Option<Vec<usize>> {
        let mut candidates: Vec<(f64, usize)> = Vec::new();
        for j in 0..self.tickets.len() {
            if !self.taken[j] && self.compatible(anchor, j) {
                candidates.push((self.score(anchor, j).unwrap_or(0.0), j));
            }
        }
        // Best score first, then oldest.
        candidates.sort_by(|(sa, a), (sb, b)| sb.total_cmp(sa).then(a.cmp(b)));
        let candidates: Vec<usize> = candidates.into_iter().map(|(_, j)| j).collect();
        self.full_group(anchor, &candidates)
            .or_else(|| self.settled_group(anchor, &candidates))
    }

    /// A group of exactly the anchor's `max_count`, from candidates content with that size.
    fn full_group(&mut self, anchor: usize, candidates: &[usize]) -> Option<Vec<usize>> {
        let a = self.tickets[anchor];
        let size = usize::try_from(a.max_count).ok()?;
        if size > candidates.len() + 1 {
            return None;
        }
        let want = size - 1;
        let mut combos: Vec<Vec<usize>> = Vec::new();
        for &c in candidates {
            let t = self.tickets[c];
            if !t.fits(size) || !(t.max_count == a.max_count || self.expired[c]) {
                continue;
            }
            let Some(slot) = self.place(&mut combos, c, want) else {
                continue;
            };
            if combos[slot].len() == want {
                return Some(
                    std::iter::once(anchor)
                        .chain(combos.swap_remove(slot))
                        .collect(),
                );
            }
        }
        None
    }

    /// After the anchor's wait: the largest group of at least its `min_count`.
    fn settled_group(&mut self, anchor: usize, candidates: &[usize]) -> Option<Vec<usize>> {
        if !self.expired[anchor] {
            return None;
        }
        let a = self.tickets[anchor];
        let cap = usize::try_from(a.max_count).ok()?.saturating_sub(1);
        let mut combos: Vec<Vec<usize>> = Vec::new();
        for &c in candidates {
            // Below its own max only when it waited too, or it wants no more than the anchor.
            if self.tickets[c].max_count <= a.max_count || self.expired[c] {
                let _ = self.place(&mut combos, c, cap);
            }
        }
        let mut best: Option<Vec<usize>> = None;
        for combo in &combos {
            let largest = (combo.len() + 1).min(cap + 1);
            for size in (2..=largest).rev() {
                if best.as_ref().is_some_and(|b| b.len() >= size) {
                    break;
                }
                if !a.fits(size) {
                    continue;
                }
                let members: Vec<usize> = combo
                    .iter()
                    .copied()
                    .filter(|&m| self.tickets[m].fits(size))
                    .take(size - 1)
                    .collect();
                if members.len() == size - 1 {
                    best = Some(std::iter::once(anchor).chain(members).collect());
                    break;
                }
            }
        }
        best
    }

    /// Puts a candidate into the first combo with room whose members all accept it (and it
    /// them), else starts a new combo if there are fewer than [`COMBOS_MAX`]. Returns the
    /// combo's index, `None` when the candidate was passed over.
    fn place(&mut self, combos: &mut Vec<Vec<usize>>, c: usize, room: usize) -> Option<usize> {
        let slot = (0..combos.len())
            .find(|&i| combos[i].len() < room && combos[i].iter().all(|&m| self.compatible(m, c)));
        if slot.is_some() || combos.len() >= COMBOS_MAX {
            if let Some(i) = slot {
                combos[i].push(c);
            }
            return slot;
        }
        combos.push(vec![c]);
        Some(combos.len() - 1)
    }
}

#[cfg(test)]
#[path = "matchmaker_pool_tests.rs"]
mod tests;
