//! Realtime hooks, session controls and back-pressure on one node: `register_rt_before`
//! rewriting and rejecting messages, `register_rt_after`, `nk.session_disconnect`,
//! `session.single_socket`, stream presence events, and a slow consumer being cut off.

use std::time::Duration;

use serde_json::json;
use shoal_tests::ws::Socket;
use shoal_tests::{Auth, TestNode, token_user_id};

fn modules() -> String {
    format!("{}/../modules/test/realtime_hooks", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn hooks_disconnects_and_back_pressure() {
    let node = TestNode::start(&["--runtime.path", &modules(), "--session.single_socket", "true"]).await.unwrap();
    let client = node.client();
    let (ta, _) = client.login_custom("rt-hooks-a").await;
    let (tb, _) = client.login_custom("rt-hooks-b").await;

    // A before hook rewrites the join; another rejects match creation (error 1, then closed).
    let mut a = Socket::connect(node.port, &ta, false).await.unwrap();
    let j = a.request("channel_join", json!({"target": "asked-for", "type": 1})).await.unwrap();
    assert_eq!(j["channel"]["room_name"], "rewritten", "{j}");
    let r = a.request("match_create", json!({})).await.unwrap();
    assert_eq!(r["error"]["code"], 1, "{r}");
    assert_eq!(r["error"]["message"], "Requested resource was not found.");
    assert!(a.closes_within(Duration::from_secs(5)).await);

    // An after hook sees the status update.
    let mut a = Socket::connect(node.port, &ta, false).await.unwrap();
    a.request("status_update", json!({"status": "afk"})).await.unwrap();
    let ua = token_user_id(&ta);
    shoal_tests::wait_until(Duration::from_secs(10), "the after hook's write", || {
        let client = client.clone();
        let (ta, ua) = (ta.clone(), ua.clone());
        async move {
            let r = client.call("GET", &format!("/v2/storage/status_log?user_id={ua}&limit=10"), Auth::Bearer(&ta), None).await;
            r.body["objects"].as_array().is_some_and(|o| o.iter().any(|x| x["value"].as_str().is_some_and(|v| v.contains("afk"))))
        }
    })
    .await
    .unwrap();

    // single_socket: a second socket of the same user closes the first.
    let mut a2 = Socket::connect(node.port, &ta, false).await.unwrap();
    assert!(a.closes_within(Duration::from_secs(5)).await, "single_socket did not close the older socket");
    let pong = a2.request("ping", json!({})).await.unwrap();
    assert!(pong.get("pong").is_some());

    // nk.session_disconnect closes another user's socket by session id.
    let mut b = Socket::connect(node.port, &tb, false).await.unwrap();
    let w = b.request("rpc", json!({"id": "watch_join", "payload": "watching"})).await.unwrap();
    assert_eq!(w["rpc"]["payload"], "{\"count\":1,\"first_status\":\"watching\"}", "{w}");
    let w = a2.request("rpc", json!({"id": "watch_join", "payload": "also"})).await.unwrap();
    assert!(w["rpc"]["payload"].as_str().unwrap().contains("\"count\":2"), "{w}");
    let ev = b.wait_push("stream_presence_event", |e| e["joins"].is_array()).await.unwrap();
    assert_eq!(ev["stream"]["mode"], 22);
    assert_eq!(ev["joins"][0]["user_id"], ua.as_str());
    let session_b = b.request("match_join", json!({"match_id": "x"})).await.unwrap();
    assert_eq!(session_b["error"]["code"], 3, "{session_b}");
    let joined = b.request("channel_join", json!({"target": "room", "type": 1})).await.unwrap();
    let sid_b = joined["channel"]["self"]["session_id"].as_str().unwrap().to_string();
    a2.request("rpc", json!({"id": "kick_session", "payload": sid_b})).await.unwrap();
    assert!(b.closes_within(Duration::from_secs(5)).await, "nk.session_disconnect did not close the socket");

    // A consumer that stops reading is disconnected; the server keeps serving others.
    let mut slow = Socket::connect(node.port, &tb, false).await.unwrap();
    slow.request("rpc", json!({"id": "flood_join"})).await.unwrap();
    // 5,000 messages of 1 KB per call, until the server cuts the slow socket off (its
    // stream presence goes when it does).
    let mut cut_off = false;
    for _ in 0..40 {
        let r = a2.request("rpc", json!({"id": "flood_send", "payload": "5000"})).await.unwrap();
        assert!(r.get("rpc").is_some(), "{r}");
        if r["rpc"]["payload"] == "0" {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "slow consumer was not disconnected");
    // What it has buffered, then the server's close.
    assert!(slow.closes_within(Duration::from_secs(30)).await, "slow consumer's socket did not close");
    let pong = a2.request("ping", json!({})).await.unwrap();
    assert!(pong.get("pong").is_some());
    let log = node.log();
    assert!(log.contains("outgoing queue full"), "no slow-consumer disconnect in the log");
}
