//! Multi-process clusters on loopback: formation in any order, writes through every node
//! visible through every other, leader loss, catch-up, learners joining by snapshot, and
//! peers without the secret kept out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_tests::{Auth, Client, TestCluster, TestNode, token_user_id, wait_until};

/// A start order derived from a seed that the test prints, so a failure can be replayed.
fn order(n: usize) -> Vec<usize> {
    let seed: u64 = std::env::var("SHOAL_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("start-order seed {seed} (reproduce with SHOAL_TEST_SEED={seed})");
    let mut idx: Vec<usize> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        idx.swap(i, (x % (i as u64 + 1)) as usize);
    }
    idx
}

async fn read_key(c: &Client, token: &str, uid: &str, key: &str) -> Option<String> {
    let r = c
        .json("POST", "/v2/storage", Auth::Bearer(token), json!({"object_ids":[{"collection":"c","key":key,"user_id":uid}]}))
        .await;
    (r.status == 200).then(|| r.body["objects"][0]["version"].as_str().map(str::to_string)).flatten()
}

#[tokio::test]
async fn three_nodes_in_any_order_share_writes_sessions_and_logouts() {
    let cluster = TestCluster::start(3, &order(3), &[]).await.unwrap();
    let clients: Vec<Client> = cluster.nodes.iter().map(|n| n.client()).collect();

    // One Raft group: every node names the same leader and the same three voters.
    let s = cluster.nodes[0].cluster_status().await.unwrap();
    assert_eq!(s["nodes"].as_array().unwrap().len(), 3);
    let roles: Vec<&str> = s["nodes"].as_array().unwrap().iter().map(|n| n["raft_role"].as_str().unwrap()).collect();
    assert_eq!(roles.iter().filter(|r| **r == "leader").count(), 1, "{s}");
    assert_eq!(roles.iter().filter(|r| **r == "follower").count(), 2, "{s}");

    // A session from node 1 works everywhere; a write through node i reads back through
    // every node j immediately (read index).
    let (token, _) = clients[0].login_custom("cluster-user-1").await;
    let uid = token_user_id(&token);
    for (i, ci) in clients.iter().enumerate() {
        let key = format!("from-{i}");
        let ack = ci
            .json("PUT", "/v2/storage", Auth::Bearer(&token), json!({"objects":[{"collection":"c","key":key,"value":format!("{{\"i\":{i}}}")}]}))
            .await
            .ok();
        let version = ack["acks"][0]["version"].as_str().unwrap().to_string();
        for cj in &clients {
            assert_eq!(read_key(cj, &token, &uid, &key).await.as_deref(), Some(version.as_str()), "write via {i} not visible");
        }
    }
    // Accounts created on one node authenticate on another.
    let (t3, _) = clients[2].login_custom("cluster-user-3").await;
    let again = clients[1]
        .json("POST", "/v2/account/authenticate/custom?create=false", Auth::Basic("defaultkey"), json!({"id":"cluster-user-3"}))
        .await
        .ok();
    assert_eq!(token_user_id(again["token"].as_str().unwrap()), token_user_id(&t3));

    // A logout on node 2 is honoured by every node within 1 s.
    clients[1].json("POST", "/v2/session/logout", Auth::Bearer(&token), json!({"token": token})).await.ok();
    for c in &clients {
        wait_until(Duration::from_secs(1), "logout honoured", || async {
            c.call("GET", "/v2/account", Auth::Bearer(&token), None).await.status == 401
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn leader_sigkill_under_write_load_loses_no_acknowledged_write() {
    let mut cluster = TestCluster::start(3, &order(3), &[]).await.unwrap();
    let clients: Vec<Client> = cluster.nodes.iter().map(|n| n.client()).collect();
    let (token, _) = clients[0].login_custom("failover-user").await;
    let uid = token_user_id(&token);
    let leader = cluster.leader().await.unwrap();

    // Writers on every node; each records acknowledged keys and the time of each success.
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    // (sent, acknowledged) of every successful write.
    let successes: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, c) in clients.iter().enumerate() {
        for lane in 0..2 {
            let (c, token, acked, successes, stop) = (c.clone(), token.clone(), acked.clone(), successes.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let key = format!("n{w}-l{lane}-{i}");
                    let body = json!({"objects":[{"collection":"c","key":key,"value":"{}"}]});
                    let started = Instant::now();
                    let req = c.http.put(format!("{}/v2/storage", c.base)).bearer_auth(&token).json(&body).send();
                    match tokio::time::timeout(Duration::from_secs(6), req).await {
                        Ok(Ok(resp)) if resp.status().is_success() => {
                            let v: serde_json::Value = resp.json().await.unwrap();
                            acked.lock().unwrap().insert(key, v["acks"][0]["version"].as_str().unwrap().to_string());
                            successes.lock().unwrap().push((started, Instant::now()));
                        }
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }));
        }
    }
    wait_until(Duration::from_secs(30), "100 acknowledged writes", || {
        let n = acked.lock().unwrap().len();
        async move { n >= 100 }
    })
    .await
    .unwrap();
    let killed_at = Instant::now();
    cluster.nodes[leader].kill();
    // Writes resume: a write sent after the kill is acknowledged by a surviving node.
    wait_until(Duration::from_secs(20), "writes to resume after the leader kill", || {
        let resumed = successes.lock().unwrap().iter().any(|(sent, _)| *sent > killed_at);
        async move { resumed }
    })
    .await
    .unwrap();
    let resumed_after = successes
        .lock()
        .unwrap()
        .iter()
        .filter(|(sent, _)| *sent > killed_at)
        .map(|(_, acked)| *acked)
        .min()
        .unwrap()
        .duration_since(killed_at);
    eprintln!("writes resumed {resumed_after:?} after the leader was killed");
    let before = acked.lock().unwrap().len();
    wait_until(Duration::from_secs(20), "more writes after failover", || {
        let n = acked.lock().unwrap().len();
        async move { n >= before + 50 }
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }

    // Every acknowledged write is on every live node.
    let acked = acked.lock().unwrap().clone();
    for (i, c) in clients.iter().enumerate() {
        if i == leader {
            continue;
        }
        let keys: Vec<&String> = acked.keys().collect();
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let ids: Vec<_> = chunk.iter().map(|k| json!({"collection":"c","key":k,"user_id":uid})).collect();
            let r = c.json("POST", "/v2/storage", Auth::Bearer(&token), json!({"object_ids": ids})).await.ok();
            for o in r["objects"].as_array().cloned().unwrap_or_default() {
                found.insert(o["key"].as_str().unwrap().to_string(), o["version"].as_str().unwrap().to_string());
            }
        }
        for (k, v) in &acked {
            assert_eq!(found.get(k), Some(v), "acknowledged write {k} missing on node {i}");
        }
    }
    eprintln!("{} acknowledged writes present on both surviving nodes", acked.len());
}

#[tokio::test]
async fn restarted_node_catches_up_and_a_fourth_node_joins_as_learner_by_snapshot() {
    let snap = ["--cluster.snapshot_logs_since_last", "50", "--cluster.snapshot_logs_to_keep", "5"];
    let mut cluster = TestCluster::start(3, &[0, 1, 2], &snap).await.unwrap();
    let c0 = cluster.nodes[0].client();
    let (token, _) = c0.login_custom("catchup-user").await;
    let uid = token_user_id(&token);
    let leader = cluster.leader().await.unwrap();
    let follower = (leader + 1) % 3;
    let writer = cluster.nodes[(leader + 2) % 3].client();
    cluster.nodes[follower].kill();

    for i in 0..200 {
        writer
            .json("PUT", "/v2/storage", Auth::Bearer(&token), json!({"objects":[{"collection":"c","key":format!("k{i}"),"value":"{}"}]}))
            .await
            .ok();
    }
    // The restarted follower catches up (its own applied index reaches the leader's).
    cluster.nodes[follower].spawn().await.unwrap();
    cluster.wait_ready(3).await.unwrap();
    let target = cluster.nodes[leader].cluster_status().await.unwrap()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["raft_role"] == "leader")
        .unwrap()["applied_index"]
        .as_u64()
        .unwrap();
    let fname = cluster.nodes[follower].name.clone();
    wait_until(Duration::from_secs(30), "restarted follower caught up", || {
        let node = &cluster.nodes[follower];
        let fname = fname.clone();
        async move {
            let Some(s) = node.cluster_status().await else { return false };
            s["nodes"].as_array().unwrap().iter().any(|n| n["name"] == fname.as_str() && n["applied_index"].as_u64().unwrap_or(0) >= target)
        }
    })
    .await
    .unwrap();
    assert!(read_key(&cluster.nodes[follower].client(), &token, &uid, "k199").await.is_some());

    // A fourth node joins: it becomes a learner (three voters already) and, since the
    // leader purged its old log, catches up through a snapshot.
    let mut n4 = cluster.joiner("n4", 3, &snap).unwrap();
    n4.spawn().await.unwrap();
    wait_until(Duration::from_secs(30), "n4 ready as a learner", || async {
        let Some(s) = n4.cluster_status().await else { return false };
        s["nodes"].as_array().unwrap().iter().any(|n| n["name"] == "n4" && n["raft_role"] == "learner" && n["ready"] == true)
    })
    .await
    .unwrap();
    // A read may get a retryable 503 while the new learner's first read barrier waits on a
    // loaded machine; a 200 must carry the early write.
    let n4c = n4.client();
    let mut early = None;
    for _ in 0..60 {
        let r = n4c.json("POST", "/v2/storage", Auth::Bearer(&token), json!({"object_ids":[{"collection":"c","key":"k0","user_id":uid}]})).await;
        if r.status == 503 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        early = r.body["objects"][0]["version"].as_str().map(str::to_string);
        break;
    }
    assert!(early.is_some(), "n4 does not have the early writes");
    assert!(
        n4.data_dir.path().join("data/snapshots/current.snap").exists(),
        "n4 caught up without installing a snapshot"
    );
}

#[tokio::test]
async fn a_peer_without_the_cluster_secret_is_rejected() {
    let good = TestNode::start(&["--cluster.secret", "right-secret"]).await.unwrap();
    let seed = format!("127.0.0.1:{}", good.cluster_port);
    let mut bad = TestNode::new("intruder", &["--cluster.secret", "wrong-secret", "--cluster.seeds", &seed, "--cluster.bootstrap_expect", "2"])
        .unwrap();
    // It never gets a leader, so it never serves clients; its console answers.
    bad.launch().unwrap();
    wait_until(Duration::from_secs(20), "the good node to reject the intruder", || async { good.log().contains("rejected peer") })
        .await
        .unwrap();
    let s = good.cluster_status().await.unwrap();
    let names: Vec<&str> = s["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["test1"], "the intruder got into the cluster: {s}");
    wait_until(Duration::from_secs(20), "the intruder's console", || async { bad.cluster_status().await.is_some() })
        .await
        .unwrap();
    let b = bad.cluster_status().await.unwrap();
    assert_eq!(b["leader"], "", "the intruder found a leader: {b}");
    // The good node still serves writes.
    let (t, _) = good.client().login_custom("still-works").await;
    assert!(!t.is_empty());
}

#[tokio::test]
async fn a_voter_dead_past_the_grace_period_is_replaced_by_a_learner() {
    let grace = ["--cluster.dead_node_grace_sec", "4"];
    let mut cluster = TestCluster::start(3, &[0, 1, 2], &grace).await.unwrap();
    let mut n4 = cluster.joiner("n4", 3, &grace).unwrap();
    n4.spawn().await.unwrap();
    wait_until(Duration::from_secs(30), "n4 a learner", || async {
        let Some(s) = n4.cluster_status().await else { return false };
        s["nodes"].as_array().unwrap().iter().any(|n| n["name"] == "n4" && n["raft_role"] == "learner")
    })
    .await
    .unwrap();
    // Kill a follower voter; after the grace period it leaves the membership and n4 is
    // promoted to keep three voters.
    let leader = cluster.leader().await.unwrap();
    let victim = (leader + 1) % 3;
    let victim_name = cluster.nodes[victim].name.clone();
    cluster.nodes[victim].kill();
    let observer = &cluster.nodes[leader];
    wait_until(Duration::from_secs(30), "n4 promoted and the dead voter removed", || {
        let victim_name = victim_name.clone();
        async move {
            let Some(s) = observer.cluster_status().await else { return false };
            let nodes = s["nodes"].as_array().unwrap();
            let n4_voter = nodes.iter().any(|n| n["name"] == "n4" && n["raft_role"] == "follower");
            let victim_gone = !nodes.iter().any(|n| n["name"] == victim_name.as_str());
            n4_voter && victim_gone
        }
    })
    .await
    .unwrap();
    // The group still commits writes.
    let (t, _) = n4.client().login_custom("after-replacement").await;
    assert!(!t.is_empty());
}

#[tokio::test]
async fn duplicate_names_are_refused_and_status_prints_the_cluster() {
    let first = TestNode::start(&["--cluster.secret", "test-secret"]).await.unwrap();
    let seed = format!("127.0.0.1:{}", first.cluster_port);
    // Same name, another node id: refused at start with a clear error.
    let mut dup = TestNode::new("test1", &["--cluster.secret", "test-secret", "--cluster.seeds", &seed]).unwrap();
    assert!(dup.spawn().await.is_err(), "a second node named test1 started");
    wait_until(Duration::from_secs(10), "the duplicate to exit", || {
        let exited = !dup.is_running();
        async move { exited }
    })
    .await
    .unwrap();
    assert!(dup.log().contains("already uses the name \"test1\""), "log: {}", dup.log());

    // `shoal status` prints the table and the JSON document (once gossip has dropped the
    // dead duplicate and published the survivor's role).
    let res = wait_until(Duration::from_secs(30), "a single leader member", || async {
        let Some(s) = first.cluster_status().await else { return false };
        let nodes = s["nodes"].as_array().unwrap();
        nodes.len() == 1 && nodes[0]["raft_role"] == "leader"
    })
    .await;
    if let Err(e) = res {
        panic!("{e}: {:?}", first.cluster_status().await);
    }
    let console = format!("127.0.0.1:{}", first.console_port);
    let out = std::process::Command::new(shoal_tests::shoal_bin()).args(["status", "--console", &console]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("leader: test1\n"), "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("NAME"), "{table}");
    assert!(table.lines().nth(2).unwrap().contains("leader"), "{table}");
    let out = std::process::Command::new(shoal_tests::shoal_bin())
        .args(["status", "--console", &console, "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["leader"], "test1");
    let node = &doc["nodes"][0];
    for field in ["name", "node_id", "api_address", "console_address", "cluster_address", "raft_role", "ready", "term", "commit_index", "applied_index", "bundle_version"] {
        assert!(node.get(field).is_some(), "status lacks {field}: {doc}");
    }
    // Wrong console credentials are refused.
    let out = std::process::Command::new(shoal_tests::shoal_bin())
        .args(["status", "--console", &console, "--password", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

