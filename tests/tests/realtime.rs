//! The realtime socket against real `shoal` processes: envelope rules and errors on one
//! node, then chat, status, notifications, streams, the matchmaker and an authoritative
//! match with players on different nodes of a three-node cluster, and the owner's death.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use shoal_tests::ws::Socket;
use shoal_tests::{Auth, TestCluster, TestNode, token_user_id};

fn modules() -> String {
    format!("{}/../modules/test/realtime", env!("CARGO_MANIFEST_DIR"))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap()).unwrap()
}

async fn rpc(sock: &mut Socket, id: &str, payload: Value) -> Value {
    let r = sock.request("rpc", json!({"id": id, "payload": payload.to_string()})).await.unwrap();
    assert!(r.get("error").is_none(), "rpc {id} failed: {r}");
    r["rpc"].clone()
}

#[tokio::test]
async fn socket_envelopes_errors_and_limits() {
    let node = TestNode::start(&["--runtime.path", &modules()]).await.unwrap();
    let client = node.client();
    let (token, _) = client.login_custom("rt-basics-1").await;

    // A bad token is refused before the upgrade.
    assert!(Socket::connect(node.port, "not-a-token", false).await.is_err());
    let r = client.call("GET", "/ws?format=protobuf&token=x", Auth::None, None).await;
    assert_eq!(r.status, 400);

    let mut s = Socket::connect(node.port, &token, false).await.unwrap();
    let pong = s.request("ping", json!({})).await.unwrap();
    assert!(pong.get("pong").is_some(), "{pong}");

    // RPC over the socket: the payload is a plain string; the id is matched case-insensitively and answered as sent.
    let r = s.request("rpc", json!({"id": "ECHO", "payload": "hello there"})).await.unwrap();
    assert_eq!(r["rpc"], json!({"id": "ECHO", "payload": "hello there"}));
    let r = s.request("rpc", json!({"id": "bad_event"})).await.unwrap();
    assert!(r["rpc"]["payload"].as_str().unwrap().starts_with("false") && r["rpc"]["payload"].as_str().unwrap().contains("expects name string"), "{r}");
    let r = s.request("rpc", json!({"id": "nope"})).await.unwrap();
    assert_eq!(r["error"]["code"], 6, "{r}");
    assert_eq!(r["error"]["message"], "RPC function not found");
    let r = s.request("rpc", json!({"payload": "x"})).await.unwrap();
    assert_eq!(r["error"]["code"], 3, "{r}");
    assert_eq!(r["error"]["message"], "RPC ID must be set");

    // Leave-style requests are answered with the bare cid.
    let r = s.request("status_update", json!({"status": "playing"})).await.unwrap();
    assert_eq!(r.as_object().unwrap().len(), 1, "{r}");
    let r = s.request("match_leave", json!({"match_id": "bogus"})).await.unwrap();
    assert_eq!(r.as_object().unwrap().len(), 1, "{r}");

    // An unknown message is an unknown field: the server closes the socket, silently.
    s.send("no_such_message", json!({})).await.unwrap();
    assert!(s.closes_within(Duration::from_secs(5)).await, "socket stays open after an unknown message");

    // An unknown field closes the socket; so does malformed JSON and an oversize frame.
    let mut s = Socket::connect(node.port, &token, false).await.unwrap();
    s.send("ping", json!({"surprise": 1})).await.unwrap();
    assert!(s.closes_within(Duration::from_secs(5)).await, "unknown field did not disconnect");
    let mut s = Socket::connect(node.port, &token, false).await.unwrap();
    s.send_text("{not json").await.unwrap();
    assert!(s.closes_within(Duration::from_secs(5)).await, "malformed frame did not disconnect");
    let mut s = Socket::connect(node.port, &token, false).await.unwrap();
    let big = "x".repeat(5000);
    let _ = s.send("rpc", json!({"id": "echo", "payload": big})).await;
    assert!(s.closes_within(Duration::from_secs(5)).await, "oversize frame did not disconnect");

    // Relayed matches on one node: create, join, data with a presence filter, leave.
    let (t2, _) = client.login_custom("rt-basics-2").await;
    let (t3, _) = client.login_custom("rt-basics-3").await;
    let mut a = Socket::connect(node.port, &token, false).await.unwrap();
    let mut b = Socket::connect(node.port, &t2, false).await.unwrap();
    let mut c = Socket::connect(node.port, &t3, false).await.unwrap();
    let m = a.request("match_create", json!({})).await.unwrap();
    let match_id = m["match"]["match_id"].as_str().unwrap().to_string();
    assert!(match_id.ends_with('.'), "relayed match id {match_id}");
    assert_eq!(m["match"]["size"], 1);
    let joined = b.request("match_join", json!({"match_id": match_id})).await.unwrap();
    assert_eq!(joined["match"]["size"], 2, "{joined}");
    assert_eq!(joined["match"]["presences"].as_array().unwrap().len(), 1);
    let ev = a.wait_push("match_presence_event", |e| e["joins"].is_array()).await.unwrap();
    assert_eq!(ev["joins"][0]["user_id"], token_user_id(&t2));
    c.request("match_join", json!({"match_id": match_id})).await.unwrap();
    let c_session = c.request("match_join", json!({"match_id": match_id})).await.unwrap()["match"]["self"]["session_id"].clone();
    // A sends only to C: B must not see it; then to everyone (not echoed to A).
    a.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code": "5", "data": b64("for c"), "presences": [{"user_id": token_user_id(&t3), "session_id": c_session}]})).await.unwrap();
    a.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code": "6", "data": b64("for all")})).await.unwrap();
    let d = c.wait_push("match_data", |d| d["op_code"] == "5").await.unwrap();
    assert_eq!(unb64(&d["data"]), "for c");
    assert_eq!(d["presence"]["user_id"], token_user_id(&token));
    let d = b.wait_push("match_data", |_| true).await.unwrap();
    assert_eq!(d["op_code"], "6", "B got the filtered message: {d}");
    let list = client.call("GET", "/v2/match?limit=10", Auth::Bearer(&token), None).await.ok();
    assert!(list["matches"].as_array().unwrap().iter().any(|m| m["match_id"] == match_id.as_str() && m["size"] == 3), "{list}");
    let r = b.request("match_join", json!({"match_id": format!("{}.", uuid::Uuid::new_v4())})).await.unwrap();
    assert_eq!(r["error"]["code"], 4, "{r}");
    b.request("match_leave", json!({"match_id": match_id})).await.unwrap();
    let ev = a.wait_push("match_presence_event", |e| e["leaves"].is_array()).await.unwrap();
    assert_eq!(ev["leaves"][0]["user_id"], token_user_id(&t2));
}

#[tokio::test]
async fn players_on_different_nodes() {
    let args = ["--runtime.path", &modules(), "--matchmaker.interval_sec", "1"];
    let mut cluster = TestCluster::start(3, &[0, 1, 2], &args).await.unwrap();
    let (n1, n2, n3) = (cluster.nodes[0].client(), cluster.nodes[1].client(), cluster.nodes[2].client());
    let (ta, _) = n1.login_custom("rt-cluster-a").await;
    let (tb, _) = n2.login_custom("rt-cluster-b").await;
    let (tc, _) = n3.login_custom("rt-cluster-c").await;
    let (ua, ub) = (token_user_id(&ta), token_user_id(&tb));
    let mut a = Socket::connect(cluster.nodes[0].port, &ta, true).await.unwrap();
    let mut b = Socket::connect(cluster.nodes[1].port, &tb, true).await.unwrap();
    let mut c = Socket::connect(cluster.nodes[2].port, &tc, false).await.unwrap();

    // Chat: both join a room from different nodes; B's message reaches A and is in history.
    let ja = a.request("channel_join", json!({"target": "lobby", "type": 1, "persistence": true, "hidden": false})).await.unwrap();
    let channel_id = ja["channel"]["id"].as_str().unwrap().to_string();
    assert_eq!(ja["channel"]["room_name"], "lobby");
    let jb = b.request("channel_join", json!({"target": "lobby", "type": 1, "persistence": true, "hidden": false})).await.unwrap();
    assert_eq!(jb["channel"]["id"], channel_id.as_str());
    let ev = a.wait_push("channel_presence_event", |e| e["joins"].is_array()).await.unwrap();
    assert_eq!(ev["joins"][0]["user_id"], ub.as_str());
    let ack = b.request("channel_message_send", json!({"channel_id": channel_id, "content": "{\"text\":\"hi from n2\"}"})).await.unwrap();
    let message_id = ack["channel_message_ack"]["message_id"].as_str().unwrap().to_string();
    let msg = a.wait_push("channel_message", |m| m["message_id"] == message_id.as_str()).await.unwrap();
    assert_eq!(msg["content"], "{\"text\":\"hi from n2\"}");
    assert_eq!(msg["sender_id"], ub.as_str());
    let path = format!("/v2/channel/{}?limit=10", channel_id.replace('.', "%2E"));
    let history = n3.call("GET", &path, Auth::Bearer(&tc), None).await.ok();
    assert!(history["messages"].as_array().unwrap().iter().any(|m| m["message_id"] == message_id.as_str()), "{history}");

    // Status: A follows B (online on n2, status stream), then sees B's status change.
    let st = a.request("status_follow", json!({"user_ids": [ub]})).await.unwrap();
    assert!(st["status"]["presences"].as_array().is_some_and(|p| p.iter().any(|p| p["user_id"] == ub.as_str())), "{st}");
    b.request("status_update", json!({"status": "in a match"})).await.unwrap();
    let ev = a.wait_push("status_presence_event", |e| e["joins"][0]["status"] == "in a match").await.unwrap();
    assert_eq!(ev["joins"][0]["user_id"], ub.as_str());

    // Notifications: a module on n3 notifies B (on n2); the persistent one is listed on n1.
    rpc(&mut c, "notify", json!({"user_id": ub, "persistent": true})).await;
    let n = b.wait_push("notifications", |_| true).await.unwrap();
    assert_eq!(n["notifications"][0]["subject"], "greeting");
    assert_eq!(n["notifications"][0]["code"], 7);
    let listed = n1.call("GET", "/v2/notification?limit=10", Auth::Bearer(&tb), None).await.ok();
    assert_eq!(listed["notifications"].as_array().map(Vec::len), Some(1), "{listed}");

    // Streams: A and B join a module stream from their nodes; B's send reaches A.
    rpc(&mut a, "stream_join_send", json!({"from": "a"})).await;
    // A's presence reaches n2 asynchronously: B (re)sends until n2 counts both.
    let mut count = Value::Null;
    for _ in 0..50 {
        count = rpc(&mut b, "stream_join_send", json!({"from": "b"})).await;
        if count["payload"] == "2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count["payload"], "2");
    let d = a.wait_push("stream_data", |d| d["data"] == "{\"from\":\"b\"}").await.unwrap();
    assert_eq!(d["stream"]["mode"], 20);

    // Matchmaker, token path: matched across nodes, then a relayed match by token.
    let ticket_a = a.request("matchmaker_add", json!({"min_count": 2, "max_count": 2, "query": "+properties.region:eu", "string_properties": {"region": "eu"}})).await.unwrap();
    let ticket_a = ticket_a["matchmaker_ticket"]["ticket"].as_str().unwrap_or_else(|| panic!("{ticket_a}")).to_string();
    b.request("matchmaker_add", json!({"min_count": 2, "max_count": 2, "query": "+properties.region:eu", "string_properties": {"region": "eu"}})).await.unwrap();
    let ma = a.wait_push("matchmaker_matched", |m| m["ticket"] == ticket_a.as_str()).await.unwrap();
    let mb = b.wait_push("matchmaker_matched", |_| true).await.unwrap();
    let token = ma["token"].as_str().expect("token").to_string();
    assert_eq!(mb["token"], token.as_str());
    assert_eq!(ma["users"].as_array().unwrap().len(), 2);
    assert_eq!(ma["self"]["presence"]["user_id"], ua.as_str());
    let ra = a.request("match_join", json!({"token": token})).await.unwrap();
    let relayed = ra["match"]["match_id"].as_str().unwrap().to_string();
    b.request("match_join", json!({"token": token})).await.unwrap();
    // Presences replicate between nodes: A sends once its node has seen B join.
    a.wait_push("match_presence_event", |e| e["match_id"] == relayed.as_str() && e["joins"].as_array().is_some_and(|j| j.iter().any(|p| p["user_id"] == ub.as_str()))).await.unwrap();
    a.send_no_cid("match_data_send", json!({"match_id": relayed, "op_code": "3", "data": b64("relayed across nodes")})).await.unwrap();
    let d = b.wait_push("match_data", |d| d["match_id"] == relayed.as_str()).await.unwrap();
    assert_eq!(unb64(&d["data"]), "relayed across nodes");
    a.request("match_leave", json!({"match_id": relayed})).await.unwrap();
    b.request("match_leave", json!({"match_id": relayed})).await.unwrap();

    // Matchmaker, hook path: register_matchmaker_matched creates an authoritative match.
    a.request("matchmaker_add", json!({"min_count": 2, "max_count": 2, "query": "+properties.mode:authoritative", "string_properties": {"mode": "authoritative"}})).await.unwrap();
    b.request("matchmaker_add", json!({"min_count": 2, "max_count": 2, "query": "+properties.mode:authoritative", "string_properties": {"mode": "authoritative"}})).await.unwrap();
    let ma = a.wait_push("matchmaker_matched", |m| m.get("match_id").is_some()).await.unwrap();
    let mb = b.wait_push("matchmaker_matched", |m| m.get("match_id").is_some()).await.unwrap();
    assert_eq!(ma["match_id"], mb["match_id"]);

    // An authoritative match created through n3, played by A (n1) and B (n2).
    let created = rpc(&mut c, "create_match", json!({"mode": "arena"})).await;
    let match_id = created["payload"].as_str().unwrap().to_string();
    assert!(match_id.ends_with(".n3"), "{match_id}");
    let rejected = c.request("match_join", json!({"match_id": match_id, "metadata": {"deny": "yes"}})).await.unwrap();
    assert_eq!(rejected["error"]["code"], 5, "{rejected}");
    assert_eq!(rejected["error"]["message"], "denied by the test module");
    let ja = a.request("match_join", json!({"match_id": match_id})).await.unwrap();
    assert_eq!(ja["match"]["authoritative"], true, "{ja}");
    assert_eq!(ja["match"]["label"], "{\"mode\":\"arena\",\"open\":true}");
    b.request("match_join", json!({"match_id": match_id})).await.unwrap();
    a.wait_push("match_presence_event", |e| e["match_id"] == match_id.as_str() && e["joins"][0]["user_id"] == ub.as_str()).await.unwrap();
    a.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code": "1", "data": b64("from a")})).await.unwrap();
    let d = b.wait_push("match_data", |d| d["match_id"] == match_id.as_str() && d["op_code"] == "101").await.unwrap();
    assert_eq!(unb64(&d["data"]), "from a");
    assert_eq!(d["presence"]["user_id"], ua.as_str());
    b.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code": "2", "data": b64("from b")})).await.unwrap();
    let d = a.wait_push("match_data", |d| d["match_id"] == match_id.as_str() && d["op_code"] == "102").await.unwrap();
    assert_eq!(unb64(&d["data"]), "from b");
    // Listing and signals reach the owner from other nodes.
    let q = "+label.mode:arena";
    let listed = n1.call("GET", &format!("/v2/match?limit=10&authoritative=true&query={}", q.replace('+', "%2B").replace(':', "%3A")), Auth::Bearer(&ta), None).await.ok();
    let found = listed["matches"].as_array().unwrap().iter().find(|m| m["match_id"] == match_id.as_str()).cloned().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(found["size"], 2);
    assert_eq!(found["tick_rate"], 10);
    assert_eq!(found["handler_name"], "rt_match");
    let sig = rpc(&mut a, "signal_match", json!({"match_id": match_id, "data": "count"})).await;
    assert_eq!(sig["payload"], "count:2");

    // The owner dies: members on the other nodes are told within 5 s.
    cluster.nodes[2].kill();
    let killed = Instant::now();
    let leaves = |e: &Value, user: &str| e["leaves"].as_array().is_some_and(|l| l.iter().any(|p| p["user_id"] == user));
    a.wait_push_within("match_presence_event", Duration::from_secs(8), |e| e["match_id"] == match_id.as_str() && leaves(e, &ua))
        .await
        .unwrap();
    let told_a = killed.elapsed();
    b.wait_push_within("match_presence_event", Duration::from_secs(8), |e| e["match_id"] == match_id.as_str() && leaves(e, &ub)).await.unwrap();
    let told_b = killed.elapsed();
    println!("owner death: members told after {told_a:?} (n1) and {told_b:?} (n2)");
    assert!(told_a < Duration::from_secs(5) && told_b < Duration::from_secs(5), "members told after {told_a:?} / {told_b:?}");
    let gone = n1.call("GET", "/v2/match?limit=10&authoritative=true", Auth::Bearer(&ta), None).await.ok();
    assert!(!gone["matches"].as_array().is_some_and(|l| l.iter().any(|m| m["match_id"] == match_id.as_str())), "{gone}");
}
