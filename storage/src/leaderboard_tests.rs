//! Leaderboard and tournament tests through the state machine and the reader.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder};
use uuid::Uuid;

use super::*;

struct Db {
    _dir: tempfile::TempDir,
    sm: StateMachine,
    reader: Reader,
    next: u64,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let (_log, sm, reader) = open(dir.path()).unwrap();
        Db { _dir: dir, sm, reader, next: 1 }
    }

    async fn run_all(&mut self, cmds: Vec<LeaderboardCommand>) -> Vec<Response> {
        let entries: Vec<_> = cmds
            .into_iter()
            .map(|c| {
                let index = self.next;
                self.next += 1;
                Entry {
                    log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
                    payload: EntryPayload::Normal(Command::Leaderboard(c)),
                }
            })
            .collect();
        self.sm.apply(entries).await.unwrap()
    }

    async fn run(&mut self, cmd: LeaderboardCommand) -> Response {
        self.run_all(vec![cmd]).await.remove(0)
    }

    async fn create(&mut self, board: Leaderboard) {
        let r = self.run(LeaderboardCommand::Create { board }).await;
        assert!(matches!(r, Ok(Reply::LeaderboardCreated { created: true, .. })), "{r:?}");
    }

    fn board(&self, id: &str) -> Leaderboard {
        self.reader.leaderboard(id).unwrap().unwrap()
    }

    /// (owner, score, subscore, rank) of a whole partition listed from the top.
    fn listing(&self, id: &str, expiry: i64) -> Vec<(u128, i64, i64, i64)> {
        let page = self.reader.leaderboard_records_page(&self.board(id), expiry, None, 10_000).unwrap();
        page.records.iter().map(|r| (r.record.owner_id.as_u128(), r.record.score, r.record.subscore, r.rank)).collect()
    }
}

fn board(id: &str, sort: SortOrder, op: Operator) -> Leaderboard {
    Leaderboard {
        id: id.into(),
        authoritative: false,
        sort_order: sort,
        operator: op,
        reset_schedule: String::new(),
        metadata: "{}".into(),
        create_time: 1,
        enable_ranks: true,
        tournament: None,
    }
}

fn tournament(id: &str, t: TournamentFields) -> Leaderboard {
    Leaderboard { tournament: Some(t), ..board(id, SortOrder::Desc, Operator::Best) }
}

fn w(id: &str, owner: u128, score: i64, subscore: i64) -> RecordWrite {
    RecordWrite {
        board: id.into(),
        owner: Uuid::from_u128(owner),
        username: None,
        score,
        subscore,
        metadata: None,
        operator: None,
        caller: None,
        tournament: false,
        window: Window::default(),
        now: 100,
    }
}

fn write(x: RecordWrite) -> LeaderboardCommand {
    LeaderboardCommand::RecordWrite(x)
}

fn rec(r: &Response) -> &RankedRecord {
    match r {
        Ok(Reply::LeaderboardRecord(rr)) => rr,
        other => panic!("expected a record, got {other:?}"),
    }
}

#[tokio::test]
async fn operators_on_both_sort_orders() {
    use Operator::*;
    use SortOrder::*;
    // (sort, op, writes, final (score, subscore), final num_score)
    let cases: Vec<(SortOrder, Operator, Vec<(i64, i64)>, (i64, i64), i32)> = vec![
        (Desc, Best, vec![(10, 1), (5, 9), (5, 2), (12, 0)], (12, 9), 3),
        (Asc, Best, vec![(10, 1), (5, 9), (11, 0), (11, 5)], (5, 0), 3),
        (Desc, Set, vec![(10, 1), (10, 1), (3, 3)], (3, 3), 2),
        (Asc, Set, vec![(10, 1), (2, 1), (2, 1)], (2, 1), 2),
        (Desc, Incr, vec![(10, 1), (0, 0), (5, -1)], (15, 0), 2),
        (Asc, Incr, vec![(-3, 0), (-3, 2)], (-6, 2), 2),
        // decr: the first write inserts 0/0; later ones subtract, clamped at 0 each.
        (Desc, Decr, vec![(10, 10), (0, 0), (-7, -2), (3, 5)], (4, 0), 3),
        (Asc, Decr, vec![(1, 1), (-5, 0), (2, 0)], (3, 0), 3),
    ];
    for (i, (sort, op, writes, want, num)) in cases.into_iter().enumerate() {
        let mut db = Db::new();
        let id = format!("b{i}");
        db.create(board(&id, sort, op)).await;
        let mut last = None;
        for (s, ss) in writes {
            last = Some(db.run(write(w(&id, 1, s, ss))).await);
        }
        let r = rec(last.as_ref().unwrap());
        assert_eq!((r.record.score, r.record.subscore), want, "{sort:?} {op:?}");
        assert_eq!(r.record.num_score, num, "{sort:?} {op:?}");
        assert_eq!(r.rank, 1);
    }
}

#[tokio::test]
async fn override_metadata_username_and_unchanged_writes() {
    let mut db = Db::new();
    db.create(board("b", SortOrder::Desc, Operator::Best)).await;
    let first = db
        .run(write(RecordWrite { username: Some("ann".into()), metadata: Some("{\"a\":1}".into()), ..w("b", 1, 10, 0) }))
        .await;
    let r = rec(&first).record.clone();
    assert_eq!((r.username.as_deref(), r.metadata.as_str(), r.num_score, r.create_time), (Some("ann"), "{\"a\":1}", 1, 100));
    // Not better: nothing changes, not even metadata or update time.
    let same = db.run(write(RecordWrite { metadata: Some("{\"b\":2}".into()), now: 200, ..w("b", 1, 9, 0) })).await;
    assert_eq!(rec(&same).record, r);
    // Operator override: set overwrites; metadata kept when not given; username replaced.
    let set = db
        .run(write(RecordWrite { operator: Some(Operator::Set), username: Some("bob".into()), now: 300, ..w("b", 1, 3, 4) }))
        .await;
    let s = &rec(&set).record;
    assert_eq!((s.score, s.subscore, s.num_score, s.update_time, s.create_time), (3, 4, 2, 300, 100));
    assert_eq!((s.username.as_deref(), s.metadata.as_str()), (Some("bob"), "{\"a\":1}"));
}

#[tokio::test]
async fn ordering_and_tie_breaks() {
    let mut db = Db::new();
    db.create(board("d", SortOrder::Desc, Operator::Set)).await;
    db.create(board("a", SortOrder::Asc, Operator::Set)).await;
    let scores = [(1, 10, 0), (2, 10, 5), (3, 10, 5), (4, -1, 0), (5, 20, -3)];
    for (o, s, ss) in scores {
        db.run_all(vec![write(w("d", o, s, ss)), write(w("a", o, s, ss))]).await;
    }
    // desc: score DESC, subscore DESC, owner DESC.
    assert_eq!(db.listing("d", 0), vec![(5, 20, -3, 1), (3, 10, 5, 2), (2, 10, 5, 3), (1, 10, 0, 4), (4, -1, 0, 5)]);
    // asc: all ascending.
    assert_eq!(db.listing("a", 0), vec![(4, -1, 0, 1), (1, 10, 0, 2), (2, 10, 5, 3), (3, 10, 5, 4), (5, 20, -3, 5)]);
    // Cache ranks agree with positions.
    for (o, _, _, rank) in db.listing("d", 0) {
        assert_eq!(db.reader.leaderboard_rank(&db.board("d"), 0, &Uuid::from_u128(o)).unwrap(), rank);
    }
    assert_eq!(db.reader.leaderboard_rank_count("d", 0), 5);
}

#[tokio::test]
async fn paging_forward_and_back_keeps_ranks() {
    let mut db = Db::new();
    db.create(board("b", SortOrder::Desc, Operator::Set)).await;
    db.run_all((1..=7).map(|o| write(w("b", o, o as i64 * 10, 0))).collect()).await;
    let b = db.board("b");
    let r = &db.reader;
    let p1 = r.leaderboard_records_page(&b, 0, None, 3).unwrap();
    let ranks = |p: &RecordPage| p.records.iter().map(|x| (x.record.owner_id.as_u128(), x.rank)).collect::<Vec<_>>();
    assert_eq!(ranks(&p1), vec![(7, 1), (6, 2), (5, 3)]);
    assert!(p1.prev.is_none());
    let p2 = r.leaderboard_records_page(&b, 0, p1.next.as_ref(), 3).unwrap();
    assert_eq!(ranks(&p2), vec![(4, 4), (3, 5), (2, 6)]);
    let p3 = r.leaderboard_records_page(&b, 0, p2.next.as_ref(), 3).unwrap();
    assert_eq!(ranks(&p3), vec![(1, 7)]);
    assert!(p3.next.is_none());
    // Back from page 3 gives page 2 again, then page 1.
    let b2 = r.leaderboard_records_page(&b, 0, p3.prev.as_ref(), 3).unwrap();
    assert_eq!(ranks(&b2), vec![(4, 4), (3, 5), (2, 6)]);
    assert!(b2.next.is_some());
    let b1 = r.leaderboard_records_page(&b, 0, b2.prev.as_ref(), 3).unwrap();
    assert_eq!(ranks(&b1), vec![(7, 1), (6, 2), (5, 3)]);
    assert!(b1.prev.is_none());
    assert_eq!(b1.next, p1.next);
    // A foreign cursor is refused.
    let mut foreign = p1.next.clone().unwrap();
    foreign.leaderboard_id = "other".into();
    assert!(matches!(r.leaderboard_records_page(&b, 0, Some(&foreign), 3), Err(ReadError::InvalidCursor)));
    let mut expired = p1.next.clone().unwrap();
    expired.expiry_time = 5;
    assert!(matches!(r.leaderboard_records_page(&b, 0, Some(&expired), 3), Err(ReadError::InvalidCursor)));
    // Cursor from rank: the page starting at rank 5.
    let c = r.leaderboard_cursor_from_rank("b", 0, 5).unwrap();
    let p = r.leaderboard_records_page(&b, 0, Some(&c), 2).unwrap();
    assert_eq!(ranks(&p), vec![(3, 5), (2, 6)]);
    assert!(r.leaderboard_cursor_from_rank("b", 0, 1).is_none());
}

#[tokio::test]
async fn haystack_around_owner() {
    let mut db = Db::new();
    db.create(board("b", SortOrder::Desc, Operator::Set)).await;
    // owners 1..=10 with score = owner: rank of owner o is 11 - o.
    db.run_all((1..=10).map(|o| write(w("b", o, o as i64, 0))).collect()).await;
    let b = db.board("b");
    let hay = |owner: u128, limit: usize| {
        let p = db.reader.leaderboard_haystack(&b, 0, &Uuid::from_u128(owner), limit).unwrap();
        let v: Vec<_> = p.records.iter().map(|r| (r.record.owner_id.as_u128(), r.rank)).collect();
        (v, p.prev.is_some(), p.next.is_some())
    };
    // Middle: neighbours above fill first, limit/2 below.
    assert_eq!(hay(5, 5), (vec![(7, 4), (6, 5), (5, 6), (4, 7), (3, 8)], true, true));
    // Limit 1: only the owner.
    assert_eq!(hay(5, 1), (vec![(5, 6)], true, true));
    // At the top: fewer above, more below.
    assert_eq!(hay(10, 4), (vec![(10, 1), (9, 2), (8, 3), (7, 4)], false, true));
    // At the bottom.
    assert_eq!(hay(1, 3), (vec![(3, 8), (2, 9), (1, 10)], true, false));
    // No record: empty.
    assert_eq!(hay(99, 3), (vec![], false, false));
}

#[tokio::test]
async fn ranks_only_with_enable_ranks() {
    let mut db = Db::new();
    db.create(Leaderboard { enable_ranks: false, ..board("b", SortOrder::Desc, Operator::Best) }).await;
    let r = db.run(write(w("b", 1, 5, 0))).await;
    assert_eq!(rec(&r).rank, 0);
    assert_eq!(db.reader.leaderboard_rank_count("b", 0), 0);
    assert_eq!(db.reader.leaderboard_rank(&db.board("b"), 0, &Uuid::from_u128(1)).unwrap(), 0);
    // Plain listings still rank positionally.
    assert_eq!(db.listing("b", 0), vec![(1, 5, 0, 1)]);
}

#[tokio::test]
async fn authoritative_and_missing_boards() {
    let mut db = Db::new();
    db.create(Leaderboard { authoritative: true, ..board("auth", SortOrder::Desc, Operator::Best) }).await;
    let client = Some(Uuid::from_u128(1));
    assert_eq!(db.run(write(RecordWrite { caller: client, ..w("auth", 1, 5, 0) })).await, Err(Rejection::LeaderboardAuthoritative));
    assert!(db.run(write(w("auth", 1, 5, 0))).await.is_ok(), "the runtime may write");
    let del = |caller| LeaderboardCommand::RecordDelete {
        board: "auth".into(),
        owner: Uuid::from_u128(1),
        caller,
        tournament: false,
        window: Window::default(),
    };
    assert_eq!(db.run(del(client)).await, Err(Rejection::LeaderboardAuthoritativeDelete));
    assert_eq!(db.run(write(w("missing", 1, 5, 0))).await, Err(Rejection::LeaderboardNotFound));
    assert_eq!(Rejection::LeaderboardAuthoritative.to_status().http_status(), 403);
    assert_eq!(Rejection::LeaderboardNotFound.to_status().http_status(), 404);
    // Idempotent create.
    let again = db.run(LeaderboardCommand::Create { board: board("auth", SortOrder::Asc, Operator::Set) }).await;
    match again {
        Ok(Reply::LeaderboardCreated { board, created: false }) => assert!(board.authoritative),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.run(del(None)).await, Ok(Reply::Done));
    assert!(db.listing("auth", 0).is_empty());
    assert_eq!(db.reader.leaderboard_rank_count("auth", 0), 0);
}

#[tokio::test]
async fn rejected_commands_leave_the_rank_cache_alone() {
    let mut db = Db::new();
    db.create(tournament("t", TournamentFields { duration: 100, max_size: 1, ..Default::default() })).await;
    let win = Window { start_active: 0, end_active: 1000, expiry: 0 };
    let tw = |o| write(RecordWrite { tournament: true, window: win, ..w("t", o, 5, 0) });
    // In one apply call: the first fills the tournament, the second is refused.
    let r = db.run_all(vec![tw(1), tw(2)]).await;
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(Rejection::TournamentMaxSize));
    assert_eq!(db.reader.rank_cache().keys("t", 0).len(), 1);
    assert_eq!(db.reader.leaderboard_rank_count("t", 0), 1);
    assert_eq!(db.reader.tournament_size("t", 0).unwrap(), 1);
}

#[tokio::test]
async fn tournament_window_attempts_and_joins() {
    let mut db = Db::new();
    let fields = TournamentFields { duration: 100, max_num_score: 2, max_size: 2, start_time: 50, end_time: 1000, ..Default::default() };
    db.create(tournament("t", fields.clone())).await;
    db.create(tournament("j", TournamentFields { join_required: true, ..fields })).await;
    let tw = |id: &str, o, score, now| {
        let b = Leaderboard { id: id.into(), ..tournament(id, TournamentFields { duration: 100, start_time: 50, end_time: 1000, ..Default::default() }) };
        let window = schedule::window(&b, now).unwrap();
        write(RecordWrite { tournament: true, window, now, ..w(id, o, score, 0) })
    };
    assert_eq!(schedule::window(&db.board("t"), 60).unwrap(), Window { start_active: 50, end_active: 150, expiry: 1000 });
    // Not active yet / any more.
    assert_eq!(db.run(tw("t", 1, 5, 10)).await, Err(Rejection::TournamentOutsideDuration));
    assert_eq!(db.run(tw("t", 1, 5, 150)).await, Err(Rejection::TournamentOutsideDuration));
    // A client after the end time: "not found or has ended".
    let ended = LeaderboardCommand::RecordWrite(RecordWrite {
        caller: Some(Uuid::from_u128(1)),
        tournament: true,
        window: Window { start_active: 50, end_active: 150, expiry: 1000 },
        now: 1000,
        ..w("t", 1, 5, 0)
    });
    assert_eq!(db.run(ended).await, Err(Rejection::TournamentEnded));
    // Attempts: every write counts, changed or not; the third is refused.
    let a = db.run(tw("t", 1, 5, 60)).await;
    assert_eq!((rec(&a).record.num_score, rec(&a).record.max_num_score), (1, 2));
    let b = db.run(tw("t", 1, 4, 61)).await;
    assert_eq!((rec(&b).record.score, rec(&b).record.num_score), (5, 2));
    assert_eq!(db.run(tw("t", 1, 9, 62)).await, Err(Rejection::TournamentMaxNumScore));
    // add_attempt raises the cap.
    let add = LeaderboardCommand::TournamentAddAttempt {
        board: "t".into(),
        owner: Uuid::from_u128(1),
        count: 1,
        window: schedule::window(&db.board("t"), 63).unwrap(),
        now: 63,
    };
    assert_eq!(db.run(add).await, Ok(Reply::Done));
    let c = db.run(tw("t", 1, 9, 64)).await;
    assert_eq!((rec(&c).record.score, rec(&c).record.num_score, rec(&c).record.max_num_score), (9, 3, 3));
    // Size: two entrants, the third is refused.
    assert!(db.run(tw("t", 2, 1, 65)).await.is_ok());
    assert_eq!(db.run(tw("t", 3, 1, 66)).await, Err(Rejection::TournamentMaxSize));
    assert_eq!(db.reader.tournament_size("t", 1000).unwrap(), 2);
    // The leaderboard API does not reach tournaments.
    assert_eq!(db.run(write(w("t", 1, 5, 0))).await, Err(Rejection::LeaderboardNotFound));

    // join_required: write before joining is refused; join inserts num_score 0.
    assert_eq!(db.run(tw("j", 1, 5, 60)).await, Err(Rejection::TournamentJoinRequired));
    let join = |o, now| LeaderboardCommand::TournamentJoin {
        board: "j".into(),
        owner: Uuid::from_u128(o),
        username: format!("u{o}"),
        window: Window { start_active: 50, end_active: 150, expiry: 1000 },
        now,
    };
    assert_eq!(db.run(join(1, 60)).await, Ok(Reply::TournamentJoined { joined: true }));
    assert_eq!(db.run(join(1, 61)).await, Ok(Reply::TournamentJoined { joined: false }));
    let joined = db.reader.leaderboard_record(&db.board("j"), 1000, &Uuid::from_u128(1)).unwrap().unwrap();
    assert_eq!((joined.record.num_score, joined.record.score, joined.record.username.as_deref()), (0, 0, Some("u1")));
    assert_eq!(joined.rank, 1);
    assert_eq!(db.run(join(2, 62)).await, Ok(Reply::TournamentJoined { joined: true }));
    assert_eq!(db.run(join(3, 63)).await, Err(Rejection::TournamentJoinFull));
    assert_eq!(db.run(join(4, 150)).await, Err(Rejection::TournamentJoinOutsideDuration));
    // Joined entrants write; past max_num_score the write is ignored (Nakama's UPDATE … WHERE).
    for (now, score) in [(64, 3), (65, 7)] {
        assert!(db.run(tw("j", 1, score, now)).await.is_ok());
    }
    let ignored = db.run(tw("j", 1, 100, 66)).await;
    assert_eq!((rec(&ignored).record.score, rec(&ignored).record.num_score), (7, 2));
    // Joining a tournament that needs no join is a no-op.
    let free = LeaderboardCommand::TournamentJoin {
        board: "t".into(),
        owner: Uuid::from_u128(9),
        username: String::new(),
        window: Window::default(),
        now: 60,
    };
    assert_eq!(db.run(free).await, Ok(Reply::TournamentJoined { joined: false }));
}

#[tokio::test]
async fn reset_marker_is_recorded_once() {
    let mut db = Db::new();
    db.create(Leaderboard { reset_schedule: "0 0 * * *".into(), ..board("b", SortOrder::Desc, Operator::Best) }).await;
    let reset = |t| LeaderboardCommand::Reset { board: "b".into(), reset_time: t };
    assert_eq!(db.run(reset(86_400)).await, Ok(Reply::LeaderboardReset { new: true }));
    assert_eq!(db.run(reset(86_400)).await, Ok(Reply::LeaderboardReset { new: false }));
    assert_eq!(db.run(reset(2 * 86_400)).await, Ok(Reply::LeaderboardReset { new: true }));
    assert!(db.reader.leaderboard_reset_recorded("b", 86_400).unwrap());
    let none = LeaderboardCommand::Reset { board: "missing".into(), reset_time: 1 };
    assert_eq!(db.run(none).await, Ok(Reply::LeaderboardReset { new: false }));
    // Partitions by expiry: writes in two periods land in two partitions.
    let e1 = schedule::window(&db.board("b"), 100).unwrap().expiry;
    let e2 = schedule::window(&db.board("b"), 86_400 + 100).unwrap().expiry;
    assert_eq!((e1, e2), (86_400, 2 * 86_400));
    db.run_all(vec![
        write(RecordWrite { window: Window { expiry: e1, ..Window::default() }, ..w("b", 1, 5, 0) }),
        write(RecordWrite { window: Window { expiry: e2, ..Window::default() }, ..w("b", 1, 7, 0) }),
    ])
    .await;
    assert_eq!(db.listing("b", e1), vec![(1, 5, 0, 1)]);
    assert_eq!(db.listing("b", e2), vec![(1, 7, 0, 1)]);
}

#[tokio::test]
async fn deleting_a_board_or_a_user_removes_records() {
    let mut db = Db::new();
    db.create(board("b", SortOrder::Desc, Operator::Best)).await;
    db.create(board("c", SortOrder::Asc, Operator::Best)).await;
    db.run_all(vec![write(w("b", 1, 5, 0)), write(w("b", 2, 6, 0)), write(w("c", 1, 1, 0))]).await;
    assert_eq!(db.reader.leaderboard_records_of_owner(&Uuid::from_u128(1)).unwrap().len(), 2);
    db.run(LeaderboardCommand::Delete { id: "b".into() }).await.unwrap();
    assert!(db.reader.leaderboard("b").unwrap().is_none());
    assert_eq!(db.reader.rank_cache().partitions(), vec![("c".to_string(), 0, 1)]);
    let left = db.reader.leaderboard_records_of_owner(&Uuid::from_u128(1)).unwrap();
    assert_eq!(left.iter().map(|r| r.leaderboard_id.as_str()).collect::<Vec<_>>(), vec!["c"]);
    // Re-created, the board starts empty.
    db.create(board("b", SortOrder::Desc, Operator::Best)).await;
    assert!(db.listing("b", 0).is_empty());
    // Deleting the user removes the rest.
    let user = UserRecord { id: Uuid::from_u128(1), username: "one".into(), custom_id: "custom-one".into(), ..Default::default() };
    let entries = [Command::CreateUser { user }, Command::DeleteUser { user_id: Uuid::from_u128(1), now: 5 }]
        .into_iter()
        .enumerate()
        .map(|(i, c)| Entry { log_id: LogId::new(CommittedLeaderId::new(1, 1), 100 + i as u64), payload: EntryPayload::Normal(c) })
        .collect::<Vec<_>>();
    db.sm.apply(entries).await.unwrap();
    assert!(db.reader.leaderboard_records_of_owner(&Uuid::from_u128(1)).unwrap().is_empty());
    assert!(db.listing("c", 0).is_empty());
    assert!(db.reader.rank_cache().partitions().is_empty());
}

/// A small deterministic generator; tests print its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("SHOAL_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    })
}

/// Random writes and deletes on an asc and a desc board; the cache must rank every record
/// like a sort of the records by Nakama's ORDER BY, the listing must match, and so must a
/// reopened database and a node that installed a snapshot.
#[tokio::test]
async fn rank_cache_matches_brute_force_and_survives_reopen_and_snapshot() {
    let seed = seed();
    println!("seed {seed}; reproduce: SHOAL_TEST_SEED={seed} cargo test -p shoal-storage rank_cache_matches");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm, reader) = open(dir.path()).unwrap();
    let mut index = 1;
    let boards = [board("d", SortOrder::Desc, Operator::Best), board("a", SortOrder::Asc, Operator::Set)];
    let mut cmds: Vec<Command> = boards.iter().map(|b| Command::Leaderboard(LeaderboardCommand::Create { board: b.clone() })).collect();
    for _ in 0..1500 {
        let b = &boards[rng.below(2) as usize];
        let owner = Uuid::from_u128(u128::from(rng.below(200)) << 64 | u128::from(rng.below(3)));
        let expiry = rng.below(2) as i64 * 1000;
        let window = Window { expiry, ..Window::default() };
        let cmd = if rng.below(10) == 0 {
            LeaderboardCommand::RecordDelete { board: b.id.clone(), owner, caller: None, tournament: false, window }
        } else {
            let (s, ss) = (rng.below(20) as i64 - 10, rng.below(3) as i64);
            LeaderboardCommand::RecordWrite(RecordWrite { owner, window, ..w(&b.id, 0, s, ss) })
        };
        cmds.push(Command::Leaderboard(cmd));
    }
    // Apply in randomly sized batches, some as `Command::Batch` entries.
    while !cmds.is_empty() {
        let n = (rng.below(40) as usize + 1).min(cmds.len());
        let chunk: Vec<Command> = cmds.drain(..n).collect();
        let entries: Vec<_> = if rng.below(2) == 0 {
            vec![Command::Batch(chunk)]
        } else {
            chunk
        }
        .into_iter()
        .map(|c| {
            index += 1;
            Entry { log_id: LogId::new(CommittedLeaderId::new(1, 1), index), payload: EntryPayload::Normal(c) }
        })
        .collect();
        sm.apply(entries).await.unwrap();
    }
    let check = |reader: &Reader| -> Vec<(String, i64, u128, i64)> {
        let mut all = Vec::new();
        for b in &boards {
            for expiry in [0, 1000] {
                let page = reader.leaderboard_records_page(b, expiry, None, 100_000).unwrap();
                let mut sorted: Vec<_> = page.records.iter().map(|r| r.record.clone()).collect();
                sorted.sort_by(|x, y| {
                    let k = (x.score, x.subscore, x.owner_id).cmp(&(y.score, y.subscore, y.owner_id));
                    if b.sort_order == SortOrder::Desc { k.reverse() } else { k }
                });
                assert_eq!(page.records.iter().map(|r| r.record.clone()).collect::<Vec<_>>(), sorted, "seed {seed}");
                assert_eq!(reader.leaderboard_rank_count(&b.id, expiry), sorted.len() as i64, "seed {seed}");
                for (i, r) in sorted.iter().enumerate() {
                    let rank = reader.leaderboard_rank(b, expiry, &r.owner_id).unwrap();
                    assert_eq!(rank, i as i64 + 1, "seed {seed}");
                    all.push((b.id.clone(), expiry, r.owner_id.as_u128(), rank));
                }
            }
        }
        all
    };
    let before = check(&reader);
    assert!(before.len() > 100);
    let snap = sm.build_snapshot().await.unwrap();
    drop((_log, sm, reader));
    let (_log, _sm, reader) = open(dir.path()).unwrap();
    assert_eq!(check(&reader), before, "ranks after reopen, seed {seed}");

    let other = tempfile::tempdir().unwrap();
    let (_l2, mut dst, dst_reader) = open(other.path()).unwrap();
    // Something the snapshot lacks must vanish from the cache too.
    dst.apply(vec![Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 1),
        payload: EntryPayload::Normal(Command::Leaderboard(LeaderboardCommand::Create { board: board("z", SortOrder::Desc, Operator::Best) })),
    }])
    .await
    .unwrap();
    dst.apply(vec![Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 2),
        payload: EntryPayload::Normal(Command::Leaderboard(LeaderboardCommand::RecordWrite(w("z", 1, 1, 1)))),
    }])
    .await
    .unwrap();
    dst.install_snapshot(&snap.meta, snap.snapshot).await.unwrap();
    assert_eq!(check(&dst_reader), before, "ranks after install_snapshot, seed {seed}");
    assert!(dst_reader.rank_cache().partitions().iter().all(|(b, _, _)| b != "z"));
}
