//! Unit tests of `matchmaker_pool`.
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
