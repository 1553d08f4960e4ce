//! Module bundles on a running three-node cluster: `shoal deploy` under continuous RPC and
//! socket load from clients on every node (no request fails, each node switches from the
//! old answer to the new one once), a broken bundle rejected with its file and line, an
//! upgrade that fails on one node rolled back everywhere, a node that was down during a
//! deploy coming back on the new version, and a match keeping the code it started with.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use shoal_tests::ws::Socket;
use shoal_tests::{Auth, Client, TestCluster, shoal_bin, wait_until};

/// A bundle answering `version` with `tag`, with a match module whose signal reports the
/// tag it was loaded with, and `extra` files.
fn write_bundle(dir: &Path, tag: &str, extra: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/tag.lua"), format!("return {{ tag = \"{tag}\" }}\n")).unwrap();
    std::fs::write(
        dir.join("main.lua"),
        r#"local nk = require("nakama")
local tag = require("lib.tag").tag
nk.register_rpc(function(context, payload) return tag end, "version")
nk.register_rpc(function(context, payload) return nk.match_create("vmatch", {}) end, "start_match")
nk.register_rpc(function(context, payload) return nk.match_signal(payload, "which") end, "signal_match")
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("vmatch.lua"),
        r#"local tag = require("lib.tag").tag
local M = {}
function M.match_init(context, params) return {}, 1, "" end
function M.match_join_attempt(context, dispatcher, tick, state, presence, metadata) return state, true end
function M.match_join(context, dispatcher, tick, state, presences) return state end
function M.match_leave(context, dispatcher, tick, state, presences) return state end
function M.match_loop(context, dispatcher, tick, state, messages) return state end
function M.match_terminate(context, dispatcher, tick, state, grace) return state end
function M.match_signal(context, dispatcher, tick, state, data) return state, data .. ":" .. tag end
return M
"#,
    )
    .unwrap();
    for (name, source) in extra {
        std::fs::write(dir.join(name), source).unwrap();
    }
}

/// Runs `shoal deploy DIR` against a console; returns (success, stdout + stderr).
fn deploy(console_port: u16, dir: &Path) -> (bool, String) {
    let out = Command::new(shoal_bin())
        .args(["deploy", &dir.display().to_string(), "--console", &format!("127.0.0.1:{console_port}")])
        .output()
        .expect("running shoal deploy");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn version_of(c: &Client) -> String {
    let r = c.call("POST", "/v2/rpc/version?http_key=defaulthttpkey", Auth::None, Some(b"\"\"".to_vec())).await;
    r.body["payload"].as_str().unwrap_or_default().to_string()
}

/// Answers seen on one node, in order, collapsed to the changes.
#[derive(Default)]
struct Seen {
    changes: std::sync::Mutex<Vec<String>>,
}

impl Seen {
    fn push(&self, v: &str) {
        let mut c = self.changes.lock().unwrap();
        if c.last().map(String::as_str) != Some(v) {
            c.push(v.to_string());
        }
    }
    fn get(&self) -> Vec<String> {
        self.changes.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn rolling_upgrades_on_a_running_cluster() {
    let dirs = tempfile::tempdir().unwrap();
    let v1 = dirs.path().join("v1");
    write_bundle(&v1, "v1", &[]);
    let args = ["--runtime.path", &v1.display().to_string(), "--runtime.lua_min_count", "2"];
    let mut cluster = TestCluster::start(3, &[0, 1, 2], &args).await.unwrap();
    // n3 allows less memory per VM than the others (for the failing upgrade below).
    cluster.nodes[2].kill();
    cluster.nodes[2].extra_args.extend(["--runtime.lua_memory_limit_bytes".into(), "16777216".into()]);
    cluster.nodes[2].spawn().await.unwrap();
    cluster.wait_ready(3).await.unwrap();
    let clients: Vec<Client> = cluster.nodes.iter().map(|n| n.client()).collect();
    for c in &clients {
        assert_eq!(version_of(c).await, "v1");
    }

    // A match started on the v1 code.
    let (token, _) = clients[0].login_custom("bundle-user").await;
    let mut sock = Socket::connect(cluster.nodes[0].port, &token, false).await.unwrap();
    let r = sock.request("rpc", json!({"id": "start_match"})).await.unwrap();
    let match_id = r["rpc"]["payload"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();

    // Continuous load: HTTP and socket RPCs on every node, every answer recorded.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let mut seen = Vec::new();
    let mut load = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        // One record per (sequential) client: concurrent clients may finish an old-pool call
        // after another client's new-pool call.
        let s = Arc::new(Seen::default());
        seen.push(s.clone());
        let s_http = Arc::new(Seen::default());
        seen.push(s_http.clone());
        let (c, stop1, failures1, requests1) = (c.clone(), stop.clone(), failures.clone(), requests.clone());
        let s2 = s_http;
        load.push(tokio::spawn(async move {
            while !stop1.load(Ordering::Relaxed) {
                let v = version_of(&c).await;
                requests1.fetch_add(1, Ordering::Relaxed);
                if v.is_empty() {
                    failures1.fetch_add(1, Ordering::Relaxed);
                } else {
                    s2.push(&v);
                }
            }
        }));
        let port = cluster.nodes[i].port;
        let (tok, _) = clients[i].login_custom(&format!("bundle-load-{i}")).await;
        let (stop, failures, requests) = (stop.clone(), failures.clone(), requests.clone());
        load.push(tokio::spawn(async move {
            let mut ws = Socket::connect(port, &tok, false).await.unwrap();
            while !stop.load(Ordering::Relaxed) {
                let r = ws.request("rpc", json!({"id": "version"})).await;
                requests.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(r) if r["rpc"]["payload"].is_string() => s.push(r["rpc"]["payload"].as_str().unwrap()),
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let v2 = dirs.path().join("v2");
    write_bundle(&v2, "v2", &[]);
    let (ok, out) = tokio::task::spawn_blocking({
        let (port, v2) = (cluster.nodes[1].console_port, v2.clone());
        move || deploy(port, &v2)
    })
    .await
    .unwrap();
    assert!(ok, "deploy failed:\n{out}");
    assert!(out.contains("every live node (3) runs"), "{out}");
    for n in ["n1", "n2", "n3"] {
        assert!(out.contains(&format!("{n:<12} upgraded in")), "{out}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    let total = requests.load(Ordering::Relaxed);
    println!("requests during the rollout: {total}, failed: {}", failures.load(Ordering::Relaxed));
    assert_eq!(failures.load(Ordering::Relaxed), 0, "requests failed during the rollout");
    assert!(total > 100, "too little load: {total}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.get(), ["v1", "v2"], "client {i} (node {}) answers changed {:?}", i / 2 + 1, s.get());
    }

    // The match keeps the code it started with.
    let r = sock.request("rpc", json!({"id": "signal_match", "payload": match_id})).await.unwrap();
    assert_eq!(r["rpc"]["payload"], "which:v1", "{r}");

    // A broken bundle is rejected with its file and line; nothing changes.
    let broken = dirs.path().join("broken");
    write_bundle(&broken, "broken", &[("oops.lua", "local x = 1\n\nlocal function (\n")]);
    let (ok, out) = deploy(cluster.nodes[0].console_port, &broken);
    assert!(!ok, "a broken bundle deployed:\n{out}");
    assert!(out.contains("oops.lua:3"), "{out}");
    for c in &clients {
        assert_eq!(version_of(c).await, "v2");
    }

    // A bundle that loads on n1 (where it is checked) but not on n3 rolls back everywhere.
    let heavy = dirs.path().join("heavy");
    let big = "local t = {}\nfor i = 1, 24 do t[i] = string.rep(\"x\", 1048576) .. i end\nreturn t\n";
    write_bundle(&heavy, "heavy", &[("big.lua", big)]);
    let (ok, out) = deploy(cluster.nodes[0].console_port, &heavy);
    assert!(!ok, "the heavy bundle deployed:\n{out}");
    assert!(out.contains("n3") && out.contains("back on"), "{out}");
    for c in &clients {
        assert_eq!(version_of(c).await, "v2");
    }

    // A node down during a deploy comes back on the new version.
    cluster.nodes[1].kill();
    let console = cluster.nodes[0].console_port;
    let n1 = &cluster.nodes[0];
    wait_until(Duration::from_secs(60), "gossip to report n2 down", || async move {
        n1.cluster_status().await.is_some_and(|s| {
            s["nodes"].as_array().is_some_and(|l| l.iter().any(|n| n["name"] == "n2" && n["raft_role"] == "down"))
        })
    })
    .await
    .unwrap();
    let v3 = dirs.path().join("v3");
    write_bundle(&v3, "v3", &[]);
    let (ok, out) = deploy(console, &v3);
    assert!(ok, "deploy with a node down failed:\n{out}");
    cluster.nodes[1].spawn().await.unwrap();
    cluster.wait_ready(3).await.unwrap();
    assert_eq!(version_of(&clients[1]).await, "v3");
    assert_eq!(version_of(&clients[2]).await, "v3");

    // Rollback returns to v2 the same way.
    let out = Command::new(shoal_bin()).args(["rollback", "--console", &format!("127.0.0.1:{console}")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for c in &clients {
        assert_eq!(version_of(c).await, "v2");
    }
}
