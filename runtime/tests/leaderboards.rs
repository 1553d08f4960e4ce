//! `nk.leaderboard_*` / `nk.tournament_*` (modules/test/api/leaderboards.lua): the
//! arguments the host receives (defaults applied, names normalised) and the tables Lua
//! sees (Nakama's field names and value shapes).

mod common;

use common::{BoardCall, TestHost, fixture_pool, test_config};
use serde_json::{Value, json};
use shoal_runtime::{
    CallContext, RecordsQuery, ScoreWrite, TournamentCreate, TournamentQuery, VmPool,
};

const OWNER: &str = "5f0c0a3e-7d5b-4c0e-9a53-1a2b3c4d5e6f";
const OTHER: &str = "0b5e8f0e-1111-4222-8333-444455556666";

async fn pool() -> (VmPool, std::sync::Arc<TestHost>) {
    let host = TestHost::new();
    (fixture_pool("api", test_config(), host.clone()).await, host)
}

async fn rpc(pool: &VmPool, id: &str) -> Value {
    let payload = json!({"owner": OWNER, "other": OTHER}).to_string();
    let out = pool
        .call_rpc(id, CallContext::default(), payload)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .expect("a reply");
    serde_json::from_str(&out).unwrap()
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn write(id: &str, username: Option<&str>, score: i64, subscore: i64) -> ScoreWrite {
    ScoreWrite {
        id: s(id),
        owner_id: s(OWNER),
        username: username.map(s),
        score,
        subscore,
        metadata: None,
        operator: None,
    }
}

fn query(
    id: &str,
    owners: &[&str],
    limit: Option<i64>,
    cursor: Option<&str>,
    expiry: Option<i64>,
) -> RecordsQuery {
    RecordsQuery {
        id: s(id),
        owner_ids: owners.iter().copied().map(s).collect(),
        limit,
        cursor: cursor.map(s),
        expiry,
    }
}

/// The canned full record (`common::canned_record`) as Lua shows it.
fn full_record(board: &str, owner: &str, rank: i64) -> Value {
    json!({
        "leaderboard_id": board, "owner_id": owner, "username": format!("name-{rank}"),
        "score": 100 - rank, "subscore": 7, "num_score": 3, "max_num_score": 5,
        "metadata": {"lap": 12}, "create_time": 1_700_000_000, "update_time": 1_700_000_100,
        "expiry_time": 1_800_000_000, "rank": rank,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderboard_functions() {
    let (pool, host) = pool().await;
    let r = rpc(&pool, "lb_all").await;

    let incr = ScoreWrite {
        metadata: Some(s(r#"{"lap":9}"#)),
        operator: Some(s("incr")),
        ..write("weekly", Some("alice"), 42, 3)
    };
    let decr = ScoreWrite {
        operator: Some(s("decr")),
        ..write("weekly", None, 1, 0)
    };
    let expected = vec![
        BoardCall::LeaderboardDelete(s("old")),
        BoardCall::LeaderboardList(10, None),
        BoardCall::LeaderboardList(5, Some(s("lb-cursor"))),
        BoardCall::LeaderboardsGetId(vec![s("weekly"), s("missing")]),
        BoardCall::RecordWrite(false, incr),
        BoardCall::RecordWrite(false, write("weekly", None, 0, 0)),
        BoardCall::RecordWrite(false, decr),
        BoardCall::RecordDelete(false, s("weekly"), s(OWNER)),
        BoardCall::RecordsList(
            false,
            query(
                "weekly",
                &[OWNER, OTHER],
                Some(50),
                Some("c1"),
                Some(1_800_000_000),
            ),
        ),
        BoardCall::RecordsList(false, query("weekly", &[], None, None, None)),
        BoardCall::RecordsHaystack(
            false,
            query("weekly", &[OWNER], Some(3), Some("h1"), Some(1_800_000_000)),
        ),
        BoardCall::RecordsHaystack(false, query("weekly", &[OWNER], Some(10), None, None)),
        BoardCall::CursorFromRank(s("weekly"), 11, 1_800_000_000),
        BoardCall::CursorFromRank(s("weekly"), 1, 0),
    ];
    assert_eq!(host.take_board_calls(), expected);

    assert_eq!(
        r["list"],
        json!({
            "boards": [
                {"id": "weekly", "authoritative": true, "operator": "increment", "sort_order": "1",
                 "metadata": {"m": 1}, "create_time": 1_600_000_000, "next_reset": 1_700_086_400,
                 "prev_reset": 1_699_999_000},
                {"id": "plain", "authoritative": false, "operator": "best", "sort_order": "0",
                 "metadata": {}, "create_time": 1_600_000_000},
            ],
            "cursor": "lb-cursor",
        })
    );
    assert_eq!(
        r["got"].as_array().unwrap().len(),
        1,
        "missing ids are left out"
    );
    assert_eq!(r["got"][0]["id"], "weekly");
    assert_eq!(r["got_empty"], json!({}), "no host call for an empty list");

    let mut written = full_record("weekly", OWNER, 4);
    written["username"] = json!("alice");
    written["score"] = json!(42);
    written["subscore"] = json!(3);
    written["metadata"] = json!({"lap": 9});
    assert_eq!(r["written"], written);
    let d = &r["written_defaults"];
    assert_eq!(
        (d.get("username"), &d["score"], &d["metadata"]),
        (None, &json!(0), &json!({}))
    );

    assert_eq!(
        r["records"],
        json!({
            "records": [
                full_record("weekly", "a0a0a0a0-0000-4000-8000-000000000001", 1),
                {"leaderboard_id": "weekly", "owner_id": "a0a0a0a0-0000-4000-8000-000000000002",
                 "score": 0, "subscore": 0, "num_score": 0, "max_num_score": 0, "metadata": {},
                 "create_time": 1_700_000_000, "update_time": 1_700_000_000, "rank": 0},
            ],
            "owner_records": [full_record("weekly", OWNER, 9), full_record("weekly", OTHER, 9)],
            "next_cursor": "next-page",
            "rank_count": 2,
        }),
        "an empty prev_cursor is nil"
    );
    assert_eq!(
        r["records_n"], 5,
        "records, owner_records, next, prev, rank_count"
    );
    assert_eq!(
        r["empty_owners_n"], 1,
        "an empty owner list gives one empty table"
    );
    assert_eq!(
        r["haystack"],
        json!({
            "records": (10..13).map(|rank| full_record("weekly", OWNER, rank)).collect::<Vec<_>>(),
            "next_cursor": "after", "prev_cursor": "before", "rank_count": 40,
        })
    );
    assert_eq!(r["haystack_n"], 4, "a haystack has no owner_records");
    assert_eq!(r["from_rank"], "cursor-weekly-11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tournament_functions() {
    let (pool, host) = pool().await;
    let r = rpc(&pool, "tournament_all").await;

    let cup = TournamentCreate {
        id: s("cup"),
        authoritative: false,
        sort_order: s("asc"),
        operator: s("set"),
        duration: 3600,
        reset_schedule: s("0 12 * * 1"),
        metadata: s(r#"{"prize":"gold"}"#),
        title: s("Cup"),
        description: s("A cup"),
        category: 12,
        start_time: 1_700_000_000,
        end_time: 1_800_000_000,
        max_size: 100,
        max_num_score: 5,
        join_required: true,
        enable_ranks: true,
    };
    let defaults = TournamentCreate {
        id: s("cup_defaults"),
        authoritative: true,
        sort_order: s("desc"),
        operator: s("best"),
        duration: 60,
        reset_schedule: s(""),
        metadata: s("{}"),
        title: s(""),
        description: s(""),
        category: 0,
        start_time: 0,
        end_time: 0,
        max_size: 0,
        max_num_score: 0,
        join_required: false,
        enable_ranks: false,
    };
    let best = ScoreWrite {
        metadata: Some(s(r#"{"try":1}"#)),
        operator: Some(s("best")),
        ..write("cup", Some("alice"), -5, 2)
    };
    let expected = vec![
        BoardCall::TournamentCreate(cup),
        BoardCall::TournamentCreate(defaults),
        BoardCall::TournamentDelete(s("old")),
        BoardCall::TournamentAddAttempt(s("cup"), s(OWNER), -2),
        BoardCall::TournamentJoin(s("cup"), s(OWNER), s("alice")),
        BoardCall::TournamentList(TournamentQuery {
            category_start: 0,
            category_end: 0,
            start_time: -1,
            end_time: -1,
            limit: 10,
            cursor: None,
        }),
        BoardCall::TournamentList(TournamentQuery {
            category_start: 1,
            category_end: 20,
            start_time: 1_700_000_000,
            end_time: 1_800_000_000,
            limit: 50,
            cursor: Some(s("t-cursor")),
        }),
        BoardCall::TournamentsGetId(vec![s("weekly")]),
        BoardCall::RecordWrite(true, best),
        BoardCall::RecordWrite(true, write("cup", None, 0, 0)),
        BoardCall::RecordDelete(true, s("cup"), s(OWNER)),
        BoardCall::RecordsList(
            true,
            query("cup", &[OWNER], Some(10), None, Some(1_800_000_000)),
        ),
        BoardCall::RecordsHaystack(true, query("cup", &[OWNER], Some(100), None, None)),
    ];
    assert_eq!(host.take_board_calls(), expected);

    let weekly = json!({
        "id": "weekly", "title": "Weekly", "description": "desc", "category": 4,
        "sort_order": "0", "size": 12, "max_size": 50, "max_num_score": 3, "duration": 3600,
        "start_active": 1_700_000_000, "end_active": 1_700_003_600, "can_enter": true,
        "next_reset": 1_700_604_800, "metadata": {"prize": "gold"}, "create_time": 1_600_000_000,
        "start_time": 1_690_000_000, "end_time": 1_900_000_000, "operator": "set",
        "join_required": true,
    });
    assert_eq!(r["list"]["tournaments"][0], weekly, "prev_reset 0 is nil");
    let open = &r["list"]["tournaments"][1];
    assert_eq!(
        (
            open.get("end_time"),
            open.get("next_reset"),
            &open["prev_reset"]
        ),
        (None, None, &json!(1_699_000_000))
    );
    assert_eq!(r["list"].get("cursor"), None, "an empty cursor is nil");
    assert_eq!(r["list_n"], 2);
    assert_eq!(r["got"], json!([weekly]));
    assert_eq!(r["got_empty"], json!({}));
    assert_eq!(
        (
            &r["written"]["score"],
            &r["written"]["username"],
            &r["written"]["leaderboard_id"]
        ),
        (&json!(-5), &json!("alice"), &json!("cup"))
    );
    assert_eq!(r["records"]["owner_records"][0]["owner_id"], OWNER);
    assert_eq!(r["records"]["rank_count"], 2);
    assert_eq!(
        r["haystack"],
        json!({"n": 3, "next_cursor": "after", "prev_cursor": "before", "rank_count": 40})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argument_errors_use_nakamas_messages() {
    let (pool, host) = pool().await;
    let r = rpc(&pool, "lb_errors").await;
    let cases = [
        (
            "create_sort",
            "#3 to leaderboard_create (expects sort order to be 'asc' or 'desc')",
        ),
        (
            "create_operator",
            "#4 to leaderboard_create (expects operator to be 'best', 'set', 'decr' or 'incr')",
        ),
        (
            "create_cron",
            "#5 to leaderboard_create (expects reset schedule to be a valid CRON expression)",
        ),
        (
            "delete_id",
            "#1 to leaderboard_delete (expects a leaderboard ID string)",
        ),
        ("list_limit", "#1 to leaderboard_list (limit must be 1-100)"),
        (
            "get_id_list",
            "#1 to leaderboards_get_id (invalid tournament id list)",
        ),
        (
            "get_id_item",
            "#1 to leaderboards_get_id (each tournament id must be a string)",
        ),
        (
            "write_id",
            "#1 to leaderboard_record_write (expects a leaderboard ID string)",
        ),
        (
            "write_owner",
            "#2 to leaderboard_record_write (expects owner ID to be a valid identifier)",
        ),
        (
            "write_score",
            "#4 to leaderboard_record_write (expects score to be >= 0)",
        ),
        (
            "write_subscore",
            "#5 to leaderboard_record_write (expects subscore to be >= 0)",
        ),
        (
            "write_operator",
            "#7 to leaderboard_record_write (invalid operator)",
        ),
        (
            "delete_owner",
            "#2 to leaderboard_record_delete (expects owner ID to be a valid identifier)",
        ),
        (
            "list_owner_type",
            "#2 to leaderboard_records_list (expects each owner ID to be string)",
        ),
        (
            "list_owner_uuid",
            "#2 to leaderboard_records_list (expects each owner ID to be a valid identifier)",
        ),
        (
            "list_limit_high",
            "#3 to leaderboard_records_list (expects limit to be 0-10000)",
        ),
        (
            "haystack_owner",
            "#2 to leaderboard_records_haystack (expects user ID to be a valid identifier)",
        ),
        (
            "haystack_limit",
            "#3 to leaderboard_records_haystack (limit must be 1-100)",
        ),
        (
            "haystack_expiry",
            "#5 to leaderboard_records_haystack (expiry should be time since epoch in seconds and has to be a positive integer)",
        ),
        (
            "rank",
            "#2 to leaderboard_records_list_cursor_from_rank (invalid rank - must be > 1)",
        ),
        (
            "t_id",
            "#1 to tournament_create (expects a tournament ID string)",
        ),
        (
            "t_duration",
            "#5 to tournament_create (duration must be > 0)",
        ),
        (
            "t_cron",
            "#6 to tournament_create (expects reset schedule to be a valid CRON expression)",
        ),
        (
            "t_category",
            "#10 to tournament_create (category must be 0-127)",
        ),
        (
            "t_start",
            "#11 to tournament_create (startTime must be >= 0.)",
        ),
        (
            "t_end",
            "#12 to tournament_create (endTime must be > startTime. Use 0 to indicate a tournament that never ends.)",
        ),
        (
            "t_max_size",
            "#13 to tournament_create (maxSize must be >= 0)",
        ),
        (
            "t_max_num_score",
            "#14 to tournament_create (maxNumScore must be >= 0)",
        ),
        (
            "t_attempt_owner",
            "#2 to tournament_add_attempt (expects an owner ID string)",
        ),
        (
            "t_attempt_count",
            "#3 to tournament_add_attempt (expects an attempt count number != 0)",
        ),
        (
            "t_join_user",
            "#2 to tournament_join (expects user ID to be a valid identifier)",
        ),
        (
            "t_join_username",
            "#3 to tournament_join (expects a username string)",
        ),
        (
            "t_list_category",
            "#2 to tournament_list (categoryEnd must be >= categoryStart)",
        ),
        (
            "t_list_start",
            "#3 to tournament_list (startTime must be >= -1)",
        ),
        (
            "t_list_end",
            "#4 to tournament_list (endTime must be >= startTime)",
        ),
        (
            "t_list_limit",
            "#5 to tournament_list (limit must be 1-100)",
        ),
        (
            "t_write_owner",
            "#2 to tournament_record_write (expects user ID to be a valid identifier)",
        ),
        (
            "t_write_operator",
            "#7 to tournament_record_write (invalid operator)",
        ),
    ];
    for (name, message) in cases {
        let err = r[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {}", r[name]));
        assert!(err.starts_with("leaderboards.lua:"), "{name}: {err}");
        assert!(
            err.ends_with(&format!("bad argument {message}")),
            "{name}: {err}"
        );
    }
    assert_eq!(
        r.as_object().unwrap().len(),
        cases.len(),
        "every case is checked"
    );
    assert_eq!(
        host.take_board_calls(),
        vec![],
        "no bad call reaches the host"
    );
    assert!(host.lock().leaderboards.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_errors_are_raised_with_nakamas_context() {
    let (pool, host) = pool().await;
    let r = rpc(&pool, "lb_host_errors").await;
    let not_found = "Leaderboard not found.";
    for (name, context) in [
        ("write", "error writing leaderboard record"),
        ("t_write", "error writing tournament record"),
        ("list", "error listing leaderboard records"),
        ("t_haystack", "error listing tournament records haystack"),
        ("delete", "error deleting leaderboard"),
        ("t_join", "error joining tournament"),
        ("rank", "failed to get cursor from rank"),
    ] {
        assert_eq!(r[name], format!("{context}: {not_found}"), "{name}");
    }
    assert_eq!(host.take_board_calls().len(), 7);
}
