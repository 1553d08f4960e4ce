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
mod tests {
    use super::*;

    struct T {
        t: Ticket,
    }

    /// A ticket with session `s<id>`, user `u<id>`, node `n1`, 2..2 players and `*`.
    fn t(id: u64) -> T {
        T {
            t: Ticket {
                ticket: format!("t{id}"),
                session_id: format!("s{id}"),
                user_id: format!("u{id}"),
                username: format!("user{id}"),
                node: "n1".to_string(),
                party_id: String::new(),
                query: Query::match_all(),
                min_count: 2,
                max_count: 2,
                count_multiple: 1,
                string_properties: BTreeMap::new(),
                numeric_properties: BTreeMap::new(),
                created_seq: id,
                intervals: 0,
            },
        }
    }

    impl T {
        fn query(mut self, q: &str) -> T {
            self.t.query = Query::parse(q).unwrap();
            self
        }
        fn counts(mut self, min: i64, max: i64, multiple: i64) -> T {
            (self.t.min_count, self.t.max_count, self.t.count_multiple) = (min, max, multiple);
            self
        }
        fn s(mut self, k: &str, v: &str) -> T {
            self.t
                .string_properties
                .insert(k.to_string(), v.to_string());
            self
        }
        fn n(mut self, k: &str, v: f64) -> T {
            self.t.numeric_properties.insert(k.to_string(), v);
            self
        }
        fn session(mut self, s: &str) -> T {
            self.t.session_id = s.to_string();
            self
        }
        fn party(mut self, p: &str) -> T {
            self.t.party_id = p.to_string();
            self
        }
        fn node(mut self, n: &str) -> T {
            self.t.node = n.to_string();
            self
        }
    }

    fn pool(tickets: Vec<T>) -> Pool {
        let mut p = Pool::default();
        for x in tickets {
            p.add(x.t).unwrap();
        }
        p
    }

    fn ids(groups: &[Vec<Ticket>]) -> Vec<Vec<&str>> {
        groups
            .iter()
            .map(|g| g.iter().map(|t| t.ticket.as_str()).collect())
            .collect()
    }

    // ------------------------------------------------------------ add / remove

    #[test]
    fn add_checks_counts_like_nakama() {
        let mut p = Pool::default();
        let cases = [
            ((1, 2, 1), PoolError::MinCount),
            ((1, 1, 0), PoolError::MinCount),
            ((3, 2, 1), PoolError::MaxCount),
            ((2, 2, 0), PoolError::CountMultiple),
            ((2, 4, -1), PoolError::CountMultiple),
            ((3, 6, 2), PoolError::CountMultipleMin),
            ((4, 6, 3), PoolError::CountMultipleMin),
            ((2, 5, 2), PoolError::CountMultipleMax),
        ];
        for ((min, max, m), e) in cases {
            assert_eq!(
                p.add(t(1).counts(min, max, m).t),
                Err(e.clone()),
                "{min} {max} {m}"
            );
        }
        assert_eq!(
            PoolError::MinCount.to_string(),
            "Invalid minimum count, must be >= 2"
        );
        assert_eq!(
            PoolError::MaxCount.to_string(),
            "Invalid maximum count, must be >= minimum count"
        );
        assert_eq!(
            PoolError::CountMultiple.to_string(),
            "Invalid count multiple, must be >= 1"
        );
        assert_eq!(
            PoolError::CountMultipleMin.to_string(),
            "Invalid count multiple for minimum count, must divide"
        );
        assert_eq!(
            PoolError::CountMultipleMax.to_string(),
            "Invalid count multiple for maximum count, must divide"
        );
        let s: Status = PoolError::CountMultipleMax.into();
        assert_eq!(
            (s.code(), s.message.as_str()),
            (
                ErrorCode::InvalidArgument,
                "Invalid count multiple for maximum count, must divide"
            )
        );
        let s: Status = PoolError::TooManyTickets.into();
        assert_eq!(s.message, "Error adding to matchmaker");
        assert!(p.is_empty());
        assert_eq!(p.add(t(1).counts(4, 8, 4).t), Ok(()));
        assert_eq!(
            p.add(t(1).session("other").t),
            Err(PoolError::DuplicateTicket)
        );
    }

    #[test]
    fn a_session_holds_at_most_max_tickets() {
        let mut p = Pool::default();
        for i in 0..3 {
            p.add(t(i).session("s").t).unwrap();
        }
        assert_eq!(p.add(t(3).session("s").t), Err(PoolError::TooManyTickets));
        p.add(t(4).t).unwrap();
        assert!(p.remove("t1", "s"));
        p.add(t(3).session("s").t).unwrap();
        let mut one = Pool::new(1);
        one.add(t(1).t).unwrap();
        assert_eq!(
            one.add(t(2).session("s1").t),
            Err(PoolError::TooManyTickets)
        );
        // Per party too.
        let mut p = Pool::default();
        for i in 0..3 {
            p.add(t(i).party("p").t).unwrap();
        }
        assert_eq!(p.add(t(9).party("p").t), Err(PoolError::TooManyTickets));
        assert_eq!(p.remove_party_all("p"), 3);
        p.add(t(9).party("p").t).unwrap();
    }

    #[test]
    fn the_pool_numbers_arrivals() {
        let mut p = Pool::default();
        for id in ["zz", "aa", "mm"] {
            let mut x = t(0).t;
            (x.ticket, x.session_id) = (id.to_string(), format!("s-{id}"));
            p.add(x).unwrap();
        }
        assert_eq!(
            [p.get("zz"), p.get("aa"), p.get("mm")].map(|t| t.unwrap().created_seq),
            [1, 2, 3]
        );
        // Kept numbers stay, and later arrivals come after them.
        p.add(t(10).t).unwrap();
        let mut late = t(0).session("late").t;
        late.ticket = "late".to_string();
        p.add(late).unwrap();
        assert_eq!(p.get("late").unwrap().created_seq, 11);
        assert_eq!(
            ids(&p.process(2)),
            vec![vec!["zz", "aa"], vec!["mm", "t10"]]
        );
    }

    #[test]
    fn removal() {
        let mut p = pool(vec![
            t(1),
            t(2).session("s1"),
            t(3).node("n2"),
            t(4).party("p"),
            t(5).node("n2"),
        ]);
        assert!(!p.remove("t1", "s2"), "not the owner");
        assert!(!p.remove("nope", "s1"));
        assert!(
            !p.remove("t4", "s4"),
            "a party ticket leaves through its party"
        );
        assert!(!p.remove_party("t4", "q") && !p.remove_party("t1", ""));
        assert!(p.remove("t1", "s1"));
        assert!(!p.remove("t1", "s1"), "already gone");
        assert!(p.get("t2").is_some());
        assert_eq!(p.remove_session("s1"), 1);
        assert_eq!(p.remove_session("s1"), 0);
        assert_eq!(p.remove_node("n2"), 2);
        assert!(p.remove_party("t4", "p"));
        assert!(p.is_empty());
        // The session's limit frees up with its tickets.
        for i in 0..3 {
            p.add(t(10 + i).session("s").t).unwrap();
        }
        assert_eq!(p.remove_session("s"), 3);
        p.add(t(20).session("s").t).unwrap();
    }

    // ------------------------------------------------------------ matching

    #[test]
    fn nakama_js_basic_match() {
        let mut p = pool(vec![
            t(1).query("properties.a3:bar").s("a3", "baz"),
            t(2).query("properties.a3:baz").s("a3", "bar"),
        ]);
        let groups = p.process(2);
        assert_eq!(ids(&groups), vec![vec!["t1", "t2"]]);
        assert!(p.is_empty());
        assert_eq!(groups[0][1].string_properties["a3"], "bar");
    }

    #[test]
    fn nakama_js_range_matches() {
        let q = "+properties.b1:>=10 +properties.b1:<=20";
        let mut p = pool(vec![
            t(1).query(q).n("b1", 15.0),
            t(2).query(q).n("b1", 15.0),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
        let q = "+properties.c1:>=10 +properties.c1:<=20 +properties.c2:foo";
        let mut p = pool(vec![
            t(1).query(q).s("c2", "foo").n("c1", 15.0),
            t(2).query(q).s("c2", "foo").n("c1", 15.0),
        ]);
        assert_eq!(p.process(2).len(), 1);
    }

    #[test]
    fn acceptance_must_be_mutual() {
        // nakama-js "should add to matchmaker but not match on range": t1's query accepts t2
        // (b2 = 15) but t2's rejects t1 (b2 = 25).
        let q = "+properties.b2:>=10 +properties.b2:<=20 +properties.id:x1";
        let mut p = pool(vec![
            t(1).query(q).s("id", "x1").n("b2", 25.0),
            t(2).query(q).s("id", "x1").n("b2", 15.0),
        ]);
        for _ in 0..5 {
            assert!(p.process(2).is_empty());
        }
        assert_eq!(p.len(), 2);
        assert_eq!(p.get("t1").unwrap().intervals, 5);
        // "should add to matchmaker but not match": neither accepts the other.
        let mut p = pool(vec![
            t(1).query("properties.a5:bar").s("a5", "baz"),
            t(2).query("properties.a5:bar").s("a5", "baz"),
        ]);
        assert!(p.process(2).is_empty());
    }

    #[test]
    fn oldest_first_and_each_ticket_once() {
        // nakama-js "should add multiple to matchmaker and not match": three 2-player tickets,
        // the third is left over.
        let q = "properties.a6:bar +properties.id:x2";
        let mut p = pool(vec![
            t(3).query(q).s("a6", "bar").s("id", "x2"),
            t(1).query(q).s("a6", "bar").s("id", "x2"),
            t(2).query(q).s("a6", "bar").s("id", "x2"),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
        assert_eq!(p.len(), 1);
        assert_eq!(p.get("t3").unwrap().intervals, 1);
        // Five tickets: two groups and a leftover.
        let mut p = pool((1..=5).map(t).collect());
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"], vec!["t3", "t4"]]);
        assert_eq!(p.len(), 1);
        // The leftover matches whoever comes next.
        p.add(t(6).t).unwrap();
        assert_eq!(ids(&p.process(2)), vec![vec!["t5", "t6"]]);
    }

    #[test]
    fn a_session_is_never_matched_with_itself() {
        let mut p = pool(vec![
            t(1).session("s"),
            t(2).session("s"),
            t(3).session("s"),
        ]);
        assert!(p.process(2).is_empty());
        p.add(t(4).t).unwrap();
        let groups = p.process(2);
        assert_eq!(ids(&groups), vec![vec!["t1", "t4"]]);
        // Same user, other session: allowed, as in Nakama.
        let mut p = pool(vec![t(1), t(2)]);
        p.tickets.get_mut("t2").unwrap().user_id = "u1".to_string();
        assert_eq!(p.process(2).len(), 1);
    }

    #[test]
    fn a_party_is_never_matched_with_itself() {
        let mut p = pool(vec![t(1).party("p"), t(2).party("p"), t(3).party("q")]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t3"]]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn waits_for_max_count_then_settles() {
        let mut p = pool((1..=3).map(|i| t(i).counts(2, 4, 1)).collect());
        assert!(
            p.process(2).is_empty(),
            "first interval: only a full group of 4"
        );
        assert!(p.tickets.values().all(|t| t.intervals == 1));
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2", "t3"]]);
        assert!(p.is_empty());
        // A full group forms at once.
        let mut p = pool((1..=5).map(|i| t(i).counts(2, 4, 1)).collect());
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2", "t3", "t4"]]);
        assert_eq!(p.len(), 1);
        // max_intervals 1 (or 0): settle on the first pass.
        for mi in [0, 1] {
            let mut p = pool((1..=3).map(|i| t(i).counts(2, 4, 1)).collect());
            assert_eq!(p.process(mi).len(), 1);
        }
        // A longer wait.
        let mut p = pool((1..=2).map(|i| t(i).counts(2, 3, 1)).collect());
        assert!(p.process(4).is_empty() && p.process(4).is_empty() && p.process(4).is_empty());
        assert_eq!(p.process(4).len(), 1);
    }

    #[test]
    fn a_ticket_added_later_rides_on_an_expired_anchor() {
        // t1 has waited; t2 is new but wants no more than t1: they settle together, as Nakama
        // does when t1 searches.
        let mut p = pool(vec![t(1).counts(2, 4, 1)]);
        assert!(p.process(2).is_empty());
        p.add(t(2).counts(2, 4, 1).t).unwrap();
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
        // A newcomer that wants more waits until it has waited itself.
        let mut p = pool(vec![t(1).counts(2, 4, 1)]);
        assert!(p.process(2).is_empty());
        p.add(t(2).counts(2, 8, 1).t).unwrap();
        assert!(p.process(2).is_empty());
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
    }

    #[test]
    fn size_fits_every_member() {
        // t1 wants exactly 2, the others exactly 3.
        let mut p = pool(vec![
            t(1),
            t(2).counts(3, 3, 1),
            t(3).counts(3, 3, 1),
            t(4).counts(3, 3, 1),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t2", "t3", "t4"]]);
        assert_eq!(p.len(), 1);
        // A member whose max is below the group size is left out.
        let mut p = pool(vec![
            t(1).counts(2, 3, 1),
            t(2).counts(2, 2, 1),
            t(3).counts(2, 3, 1),
            t(4).counts(2, 3, 1),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t3", "t4"]]);
        // And a member whose min is above it, until a third ticket arrives.
        let mut p = pool(vec![t(1).counts(2, 3, 1), t(2).counts(3, 3, 1)]);
        assert!(p.process(2).is_empty());
        assert!(p.process(2).is_empty(), "t1 settles for 2 but t2 needs 3");
        p.add(t(3).counts(2, 3, 1).t).unwrap();
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2", "t3"]]);
    }

    #[test]
    fn count_multiple() {
        // Three 2..4 tickets in multiples of 2: after the wait, a pair; the third stays.
        let mut p = pool((1..=3).map(|i| t(i).counts(2, 4, 2)).collect());
        assert!(p.process(2).is_empty());
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
        assert_eq!(p.len(), 1);
        // Mixed multiples: the group must be a multiple of each member's.
        let mut p = pool(vec![
            t(1).counts(2, 6, 2),
            t(2).counts(3, 6, 3),
            t(3).counts(2, 6, 1),
            t(4).counts(2, 6, 1),
            t(5).counts(2, 6, 1),
        ]);
        let groups = p.process(1);
        assert!(!groups.is_empty());
        for g in &groups {
            let n = g.len() as i64;
            assert!(
                g.iter()
                    .all(|t| n % t.count_multiple == 0 && t.min_count <= n && n <= t.max_count)
            );
        }
        // t1 (2..6 by 2) anchors: 4 is the largest size for t1, t3, t4, t5.
        assert_eq!(ids(&groups), vec![vec!["t1", "t3", "t4", "t5"]]);
        let mut p = pool((1..=7).map(|i| t(i).counts(3, 6, 3)).collect());
        assert_eq!(
            ids(&p.process(2)),
            vec![vec!["t1", "t2", "t3", "t4", "t5", "t6"]]
        );
        let mut p = pool((1..=5).map(|i| t(i).counts(3, 6, 3)).collect());
        assert_eq!(
            p.process(1).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn every_pair_must_accept_each_other() {
        // t1 and t2 accept everyone; t3 rejects t2. A group of 3 is impossible.
        let mut p = pool(vec![
            t(1).counts(2, 3, 1).s("name", "a"),
            t(2).counts(2, 3, 1).s("name", "b"),
            t(3).counts(2, 3, 1)
                .s("name", "c")
                .query("-properties.name:b"),
        ]);
        assert!(p.process(2).is_empty());
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t2"]]);
        // With combos the anchor finds the compatible pair behind an incompatible candidate.
        let mut p = pool(vec![
            t(1).counts(3, 3, 1).s("k", "a"),
            t(2).counts(3, 3, 1).s("k", "loner").query("properties.k:a"),
            t(3).counts(3, 3, 1)
                .s("k", "b")
                .query("-properties.k:loner"),
            t(4).counts(3, 3, 1)
                .s("k", "c")
                .query("-properties.k:loner"),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t3", "t4"]]);
    }

    #[test]
    fn better_scores_are_preferred() {
        // t1 prefers region eu; the older t2 is us, the newer t3 eu.
        let mut p = pool(vec![
            t(1).query("properties.region:eu +properties.mode:x")
                .s("mode", "x"),
            t(2).s("region", "us").s("mode", "x"),
            t(3).s("region", "eu").s("mode", "x"),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t3"]]);
        // Boosts order candidates too.
        let mut p = pool(vec![
            t(1).query("properties.r:a properties.r:b^5").s("r", "z"),
            t(2).s("r", "a"),
            t(3).s("r", "b"),
        ]);
        assert_eq!(ids(&p.process(2)), vec![vec!["t1", "t3"]]);
    }

    #[test]
    fn queries_read_string_and_numeric_properties() {
        let t1 = t(1).s("rank", "text").n("rank", 7.0).t;
        assert_eq!(
            t1.document(),
            serde_json::json!({"properties": {"rank": 7.0}})
        );
        let mut p = pool(vec![
            t(1).query("+properties.level:>=5 +properties.region:europe")
                .s("region", "europe")
                .n("level", 9.0),
            t(2).query("+properties.level:>=5")
                .s("region", "europe")
                .n("level", 5.0),
        ]);
        assert_eq!(p.process(2).len(), 1);
        let mut p = pool(vec![
            t(1).query("+properties.level:>=5").n("level", 9.0),
            t(2).query("").n("level", 9.0),
        ]);
        assert!(p.process(1).is_empty(), "an empty query matches nothing");
    }

    #[test]
    fn matched_tickets_leave_and_others_age() {
        let mut p = pool(vec![
            t(1),
            t(2),
            t(3).counts(3, 3, 1),
            t(4).query("properties.x:never"),
        ]);
        let groups = p.process(2);
        assert_eq!(ids(&groups), vec![vec!["t1", "t2"]]);
        assert!(groups.iter().flatten().all(|t| t.intervals == 0));
        assert!(p.get("t1").is_none() && p.get("t2").is_none());
        assert_eq!(p.get("t3").unwrap().intervals, 1);
        assert_eq!(p.get("t4").unwrap().intervals, 1);
        assert!(p.process(2).is_empty());
        assert_eq!(p.get("t4").unwrap().intervals, 2);
        // The session limit frees up once matched.
        let mut p = pool(vec![
            t(1).session("s"),
            t(2),
            t(3).session("s"),
            t(4),
            t(5).session("s"),
        ]);
        p.process(2);
        p.add(t(6).session("s").t).unwrap();
        assert!(Pool::default().process(2).is_empty());
    }

    #[test]
    fn a_crowd_that_rejects_itself_matches_nothing() {
        // Each ticket only accepts itself: every pair is checked and none matches.
        let mut p = pool(
            (1..=300)
                .map(|i| {
                    t(i).counts(2, 8, 1)
                        .s("k", &format!("k{i}"))
                        .query(&format!("+properties.k:k{i}"))
                })
                .collect(),
        );
        assert!(p.process(1).is_empty());
        assert_eq!(p.len(), 300);
    }

    #[test]
    fn large_pool_is_deterministic() {
        let make = || {
            pool(
                (1..=60)
                    .map(|i| {
                        t(i).counts(2, 4, 2)
                            .n("skill", (i % 7) as f64)
                            .query(&format!(
                                "+properties.skill:>={} +properties.skill:<={}",
                                (i % 7) as i64 - 2,
                                (i % 7) + 2
                            ))
                    })
                    .collect(),
            )
        };
        let (mut a, mut b) = (make(), make());
        let (ga, gb) = (a.process(1), b.process(1));
        assert_eq!(ids(&ga), ids(&gb));
        let mut seen = BTreeSet::new();
        for g in &ga {
            assert!(g.len() == 2 || g.len() == 4);
            for x in g {
                assert!(seen.insert(x.ticket.clone()), "{} twice", x.ticket);
                for y in g {
                    if x.ticket != y.ticket {
                        assert!(x.query.matches(&y.document()));
                    }
                }
            }
        }
        assert_eq!(seen.len() + a.len(), 60);
    }
}
