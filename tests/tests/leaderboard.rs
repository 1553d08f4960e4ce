//! Leaderboards through the node: REST semantics (ordering, operators, ranks, cursors,
//! errors), ranks across a restart, and identical listings from every node of a cluster
//! after concurrent writes through all of them.

use serde_json::{Value, json};
use shoal_tests::{Auth, Client, TestCluster, TestNode, token_user_id};

fn modules() -> String {
    format!("{}/../modules/test/leaderboards", env!("CARGO_MANIFEST_DIR"))
}

async fn write(c: &Client, token: &str, board: &str, record: Value) -> shoal_tests::Resp {
    c.json("POST", &format!("/v2/leaderboard/{board}"), Auth::Bearer(token), record).await
}

async fn list(c: &Client, token: &str, path: &str) -> Value {
    c.call("GET", path, Auth::Bearer(token), None).await.ok()
}

/// (owner, score, rank) of each record of a listing.
fn rows(v: &Value, key: &str) -> Vec<(String, String, String)> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
                    (s("owner_id"), s("score"), s("rank"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn leaderboards_order_rank_page_and_refuse() {
    let node = TestNode::start(&["--runtime.path", &modules()]).await.unwrap();
    let c = node.client();
    let mut users = Vec::new();
    for i in 0..5 {
        let (t, _) = c.login_custom(&format!("lb-user-{i}")).await;
        users.push((token_user_id(&t), t));
    }
    // best on a desc board: score and subscore are each kept at their best.
    for (i, (_, t)) in users.iter().enumerate() {
        let r = write(&c, t, "scores", json!({"score": (i as i64 + 1) * 10, "subscore": 5, "metadata": "{\"i\":1}"})).await.ok();
        assert_eq!(r["leaderboard_id"], "scores");
        assert_eq!(r["num_score"], 1);
        // User i writes (i+1)*10 after users 0..i wrote less: the best so far.
        assert_eq!(r["rank"], "1");
    }
    let (u0, t0) = &users[0];
    let r = write(&c, t0, "scores", json!({"score": 5, "subscore": 9})).await.ok();
    assert_eq!((r["score"].as_str(), r["subscore"].as_str(), r["num_score"].as_i64()), (Some("10"), Some("9"), Some(2)));
    let r = write(&c, t0, "scores", json!({"score": 1, "subscore": 1})).await.ok();
    assert_eq!(r["num_score"], 2, "no change, no count");

    // Top of the board: default limit 1, then a page of 2 and its cursors.
    let top = list(&c, t0, "/v2/leaderboard/scores").await;
    assert_eq!(rows(&top, "records").len(), 1);
    assert_eq!(top["rank_count"], "5");
    let page1 = list(&c, t0, "/v2/leaderboard/scores?limit=2").await;
    let ids = |v: &Value| rows(v, "records").into_iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();
    assert_eq!(ids(&page1), vec![(users[4].0.clone(), "1".into()), (users[3].0.clone(), "2".into())]);
    let next = page1["next_cursor"].as_str().unwrap().to_owned();
    let page2 = list(&c, t0, &format!("/v2/leaderboard/scores?limit=2&cursor={next}")).await;
    assert_eq!(ids(&page2), vec![(users[2].0.clone(), "3".into()), (users[1].0.clone(), "4".into())]);
    let prev = page2["prev_cursor"].as_str().unwrap().to_owned();
    let back = list(&c, t0, &format!("/v2/leaderboard/scores?limit=2&cursor={prev}")).await;
    assert_eq!(ids(&back), ids(&page1), "the previous page is the first again");
    // Owners' records, and the board's metadata-bearing record fields.
    let own = list(&c, t0, &format!("/v2/leaderboard/scores?owner_ids={u0}")).await;
    assert_eq!(rows(&own, "owner_records"), vec![(u0.clone(), "10".into(), "5".into())]);
    assert!(own.get("records").is_none(), "owners only: no page");
    assert_eq!(own["owner_records"][0]["metadata"], "{\"i\":1}");
    // Around an owner: the owner with neighbours above first.
    let around = list(&c, t0, &format!("/v2/leaderboard/scores/owner/{}?limit=3", users[2].0)).await;
    let around_ranks: Vec<String> = rows(&around, "records").into_iter().map(|r| r.2).collect();
    assert_eq!(around_ranks, vec!["2", "3", "4"]);

    // asc board: lower is better.
    write(&c, &users[0].1, "laps", json!({"score": 70})).await.ok();
    write(&c, &users[1].1, "laps", json!({"score": 50})).await.ok();
    let laps = list(&c, t0, "/v2/leaderboard/laps?limit=10").await;
    assert_eq!(rows(&laps, "records")[0].0, users[1].0);
    // incr adds; decr clamps at 0.
    write(&c, t0, "counter", json!({"score": 3})).await.ok();
    let r = write(&c, t0, "counter", json!({"score": 4})).await.ok();
    assert_eq!((r["score"].as_str(), r["num_score"].as_i64()), (Some("7"), Some(2)));
    let r = write(&c, t0, "decr", json!({"score": 5})).await.ok();
    assert!(r.get("score").is_none(), "decr from nothing is 0: {r}");
    // An operator override on the write (SET = 2).
    let r = write(&c, t0, "scores", json!({"score": 1, "operator": 2})).await.ok();
    assert_eq!(r["score"], "1");

    // Refusals with Nakama's codes and messages.
    write(&c, t0, "official", json!({"score": 1})).await.assert_error(403, 7, "Leaderboard only allows authoritative score submissions.");
    write(&c, t0, "nope", json!({"score": 1})).await.assert_error(404, 5, "Leaderboard not found.");
    write(&c, t0, "scores", json!({"score": -1})).await.assert_error(400, 3, "Invalid score value, must be >= 0.");
    write(&c, t0, "scores", json!({"score": 1, "metadata": "[1]"})).await.assert_error(400, 3, "Metadata value must be JSON, if provided.");
    c.call("GET", &format!("/v2/leaderboard/laps?limit=2&cursor={next}"), Auth::Bearer(t0), None)
        .await
        .assert_error(400, 3, "Cursor is invalid or expired.");
    c.call("GET", "/v2/leaderboard/scores?cursor=%21%21", Auth::Bearer(t0), None)
        .await
        .assert_error(400, 3, "Cursor is invalid or expired.");
    c.call("GET", "/v2/leaderboard/scores?limit=1001", Auth::Bearer(t0), None)
        .await
        .assert_error(400, 3, "Invalid limit - limit must be between 1 and 1000.");
    c.call("GET", "/v2/leaderboard/scores/owner/not-a-uuid", Auth::Bearer(t0), None)
        .await
        .assert_error(400, 3, "Invalid owner ID.");
    // Deleting one's record.
    c.call("DELETE", "/v2/leaderboard/laps", Auth::Bearer(&users[1].1), None).await.ok();
    let laps = list(&c, t0, "/v2/leaderboard/laps?limit=10").await;
    assert_eq!(rows(&laps, "records").len(), 1);
    // The weekly board (1.x argument order) resets: its records carry the next Monday as expiry.
    let r = write(&c, t0, "weekly", json!({"score": 3})).await.ok();
    assert!(r["expiry_time"].as_str().is_some_and(|e| e.ends_with("T00:00:00Z")), "{r}");
    assert!(node.log().lines().all(|l| !l.contains("panicked")));
}

#[tokio::test]
async fn ranks_survive_a_restart() {
    let mut node = TestNode::start(&["--runtime.path", &modules()]).await.unwrap();
    let c = node.client();
    let (t, _) = c.login_custom("restart-user-0").await;
    for i in 0..20 {
        let (tok, _) = c.login_custom(&format!("restart-user-{i}")).await;
        write(&c, &tok, "scores", json!({"score": (i * 7) % 13, "subscore": i})).await.ok();
    }
    let before = list(&c, &t, "/v2/leaderboard/scores?limit=100").await;
    let uid = token_user_id(&t);
    let own_before = list(&c, &t, &format!("/v2/leaderboard/scores?owner_ids={uid}")).await;
    node.kill();
    node.spawn().await.unwrap();
    let c = node.client();
    let (t, _) = c.login_custom("restart-user-0").await;
    assert_eq!(list(&c, &t, "/v2/leaderboard/scores?limit=100").await, before);
    assert_eq!(list(&c, &t, &format!("/v2/leaderboard/scores?owner_ids={uid}")).await["owner_records"], own_before["owner_records"]);
    assert_eq!(before["rank_count"], "20");
}

#[tokio::test]
async fn concurrent_writes_through_every_node_list_identically() {
    let order = [0, 1, 2];
    let args = ["--runtime.path", &modules()];
    let cluster = TestCluster::start(3, &order, &args).await.unwrap();
    let clients: Vec<Client> = cluster.nodes.iter().map(|n| n.client()).collect();
    // 30 users, 10 per node, each writing 5 scores through its node at once.
    let mut tasks = Vec::new();
    for u in 0..30 {
        let c = clients[u % 3].clone();
        tasks.push(tokio::spawn(async move {
            let (t, _) = c.login_custom(&format!("cluster-lb-{u:03}")).await;
            for k in 0..5 {
                let score = (u * 31 + k * 17) % 50;
                write(&c, &t, "scores", json!({"score": score, "subscore": k})).await.ok();
                write(&c, &t, "counter", json!({"score": 1})).await.ok();
            }
            t
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    let owners: Vec<String> = tokens.iter().take(5).map(|t| token_user_id(t)).collect();
    let owner_q = owners.iter().map(|o| format!("owner_ids={o}")).collect::<Vec<_>>().join("&");
    let mut views = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let t = &tokens[i];
        let page = list(c, t, "/v2/leaderboard/scores?limit=100").await;
        let own = list(c, t, &format!("/v2/leaderboard/scores?{owner_q}")).await;
        let around = list(c, t, &format!("/v2/leaderboard/scores/owner/{}?limit=5", owners[0])).await;
        let counter = list(c, t, "/v2/leaderboard/counter?limit=100").await;
        views.push((page, own["owner_records"].clone(), around, counter));
    }
    assert_eq!(views[0].0["rank_count"], "30");
    assert_eq!(rows(&views[0].0, "records").len(), 30);
    for r in rows(&views[0].3, "records") {
        assert_eq!(r.1, "5", "every increment applied once");
    }
    for v in &views[1..] {
        assert_eq!(v, &views[0], "a node lists differently");
    }
    // Ranks are positions in the listing.
    let ranks: Vec<String> = rows(&views[0].0, "records").into_iter().map(|r| r.2).collect();
    assert_eq!(ranks, (1..=30).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn tournaments_join_limits_and_lua() {
    let node = TestNode::start(&["--runtime.path", &modules()]).await.unwrap();
    let c = node.client();
    let mut users = Vec::new();
    for i in 0..3 {
        let (t, _) = c.login_custom(&format!("cup-user-{i}")).await;
        users.push((token_user_id(&t), t));
    }
    let t0 = &users[0].1;
    let put = |t: String, id: &'static str, score: i64| {
        let c = c.clone();
        async move { c.json("PUT", &format!("/v2/tournament/{id}"), Auth::Bearer(&t), json!({"score": score})).await }
    };
    // join_required: no writes before joining; max_size 2; max_num_score 2.
    put(t0.clone(), "cup", 10).await.assert_error(400, 9, "Must join tournament before attempting to write value.");
    for (_, t) in &users[..2] {
        c.call("POST", "/v2/tournament/cup/join", Auth::Bearer(t), None).await.ok();
    }
    c.call("POST", "/v2/tournament/cup/join", Auth::Bearer(&users[2].1), None)
        .await
        .assert_error(400, 3, "Tournament cannot be joined as it has reached its max size.");
    let r = put(t0.clone(), "cup", 10).await.ok();
    assert_eq!((r["score"].as_str(), r["num_score"].as_i64(), r["rank"].as_str()), (Some("10"), Some(1), Some("1")));
    put(t0.clone(), "cup", 20).await.ok();
    // A third attempt is over max_num_score: the record stays as it was.
    let r = put(t0.clone(), "cup", 30).await.ok();
    assert_eq!(r["score"], "20");
    // Listing, and the tournament itself.
    let recs = c.call("GET", "/v2/tournament/cup?limit=10", Auth::Bearer(t0), None).await.ok();
    assert_eq!(recs["records"].as_array().map(Vec::len), Some(2), "both entrants are listed: {recs}");
    let list = c.call("GET", "/v2/tournament?category_start=3&category_end=5", Auth::Bearer(t0), None).await.ok();
    let cup = list["tournaments"].as_array().unwrap().iter().find(|t| t["id"] == "cup").cloned().unwrap();
    assert_eq!((cup["size"].as_i64(), cup["max_size"].as_i64(), cup["category"].as_i64()), (Some(2), Some(2), Some(3)));
    assert_eq!(cup["title"], "The Cup");
    assert!(cup.get("can_enter").is_none(), "a full tournament cannot be entered: {cup}");
    assert!(list["tournaments"].as_array().unwrap().iter().all(|t| t["id"] != "future"), "category 7 is filtered out");
    // No join needed on `open`; a tournament that has not started refuses scores.
    let r = put(users[2].1.clone(), "open", 4).await.ok();
    assert_eq!(r["score"], "4");
    put(t0.clone(), "future", 1).await.assert_error(400, 9, "Tournament is not active and cannot accept new scores.");
    // The leaderboard API does not see tournaments.
    write(&c, t0, "cup", json!({"score": 1})).await.assert_error(404, 5, "Leaderboard not found.");
    // Lua: authoritative writes and listings, and tournament_list.
    let body = serde_json::to_vec(&serde_json::to_string(&json!({"owner": users[1].0, "score": 42})).unwrap()).unwrap();
    let out = c.call("POST", "/v2/rpc/official_write", Auth::Bearer(t0), Some(body)).await.ok();
    let out: Value = serde_json::from_str(out["payload"].as_str().unwrap()).unwrap();
    assert_eq!(out, json!({"score": 42, "rank": 1, "listed": 1, "owned": 1, "rank_count": 1}));
    let ids = c.call("POST", "/v2/rpc/tournament_ids", Auth::Bearer(t0), Some(b"\"\"".to_vec())).await.ok();
    assert_eq!(ids["payload"], "[\"cup\",\"future\",\"open\"]");
    assert!(node.log().lines().all(|l| !l.contains("panicked")));
}

/// A board with a one-second cron: each tick starts a new partition once, and the reset
/// hook runs once per tick; older partitions stay listable by `expiry`.
#[tokio::test]
async fn resets_roll_over_once_per_tick() {
    let dir = format!("{}/../modules/test/resets", env!("CARGO_MANIFEST_DIR"));
    let node = TestNode::start(&["--runtime.path", &dir]).await.unwrap();
    let c = node.client();
    let (t, _) = c.login_custom("reset-user-1").await;
    let r = write(&c, &t, "ticking", json!({"score": 9})).await.ok();
    let expiry = r["expiry_time"].as_str().unwrap().to_owned();
    // Wait for the hook to record the tick that closed this record's partition.
    let resets = || async {
        let v = c.call("GET", "/v2/storage/resets?limit=100", Auth::Bearer(&t), None).await.ok();
        v["objects"].as_array().cloned().unwrap_or_default()
    };
    shoal_tests::wait_until(std::time::Duration::from_secs(15), "two resets recorded", || async { resets().await.len() >= 2 })
        .await
        .unwrap();
    let objects = resets().await;
    let mut ticks: Vec<i64> = objects
        .iter()
        .map(|o| serde_json::from_str::<Value>(o["value"].as_str().unwrap()).unwrap())
        .inspect(|v| assert_eq!((v["board"].as_str(), v["mode"].as_str()), (Some("ticking"), Some("leaderboard_reset"))))
        .map(|v| v["at"].as_i64().unwrap())
        .collect();
    ticks.sort();
    let mut unique = ticks.clone();
    unique.dedup();
    assert_eq!(unique, ticks, "a tick's hook ran more than once");
    // The current partition no longer holds the record; its own partition still does.
    let now = list(&c, &t, "/v2/leaderboard/ticking?limit=10").await;
    assert!(now.get("records").is_none(), "the record outlived its partition: {now}");
    let at: i64 = time_of(&expiry);
    let old = list(&c, &t, &format!("/v2/leaderboard/ticking?limit=10&expiry={at}")).await;
    assert_eq!(rows(&old, "records").len(), 1, "{old}");
}

/// Unix seconds of an RFC 3339 timestamp.
fn time_of(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
}
