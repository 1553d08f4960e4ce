//! RPCs through a real node: the seed documents' examples, Nakama's RPC conventions, and
//! sandbox escapes answered with clean errors while the node keeps serving.

use std::io::{Read, Write};

use serde_json::json;
use shoal_tests::{Auth, TestNode};

fn modules(dir: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/test").join(dir).display().to_string()
}

/// A one-thread HTTP server standing in for the Pokéapi: answers every request with the
/// JSON the seed's `pokeapi.lua` reads.
fn fake_pokeapi() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let name = req.split_whitespace().nth(1).unwrap_or("/").rsplit('/').next().unwrap_or("").to_string();
            let body = json!({"name": name, "height": 22, "weight": 2100, "sprites": {"front_default": "https://img/149.png"}}).to_string();
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn seed_rpcs_run_through_the_node() {
    let api = fake_pokeapi();
    let env = format!("POKEAPI_BASE_URL={api}");
    let node = TestNode::start(&["--runtime.path", &modules("seeds"), "--runtime.env", &env]).await.unwrap();
    let c = node.client();

    // custom_rpc_func: echoes the JSON; via http_key and via a session; ids case-insensitive.
    let r = c.call("POST", "/v2/rpc/custom_rpc_func_id?http_key=defaulthttpkey", Auth::None, Some(br#""{\"a\":1}""#.to_vec())).await;
    assert_eq!(r.ok(), json!({"payload": "{\"a\":1}"}));
    let (token, _) = c.login_custom("rpc-user-1").await;
    let r = c.call("POST", "/v2/rpc/Custom_Rpc_Func_Id", Auth::Bearer(&token), Some(br#""{\"b\":[1,2]}""#.to_vec())).await;
    assert_eq!(r.ok()["payload"], "{\"b\":[1,2]}");
    // Basic auth carries the http key; GET has an empty payload, which this function's
    // json_decode rejects: a Lua error is code 13 / HTTP 500 with the message.
    let r = c.call("GET", "/v2/rpc/custom_rpc_func_id?payload=ignored", Auth::Basic("defaulthttpkey"), None).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (500, Some(13)), "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("json_decode"), "{}", r.body);

    // get_pokemon: require() of another module, nk.http_request to a local server, and a
    // returned table answered JSON-encoded.
    let r = c.call("POST", "/v2/rpc/get_pokemon?http_key=defaulthttpkey", Auth::None, Some(br#""{\"PokemonName\":\"dragonite\"}""#.to_vec())).await;
    let payload: serde_json::Value = serde_json::from_str(r.ok()["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, json!({"name":"dragonite","height":22,"weight":2100,"image":"https://img/149.png"}));

    // register_http (1.x): /runtime/{path} with the http key; the returned table as JSON.
    let r = c.call("POST", "/runtime/http_handler_path?key=defaulthttpkey", Auth::None, Some(br#"{"some":"data"}"#.to_vec())).await;
    let body = r.ok();
    assert_eq!(body["context"]["ExecutionMode"], "http", "{body}");
    assert_eq!(body["context"]["execution_mode"], "http", "{body}");
    c.call("POST", "/runtime/http_handler_path", Auth::None, Some(b"{}".to_vec())).await.assert_error(401, 16, "HTTP key required");
    let r = c.call("POST", "/runtime/http_handler_path", Auth::Basic("defaulthttpkey"), Some(b"{}".to_vec())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    c.call("POST", "/runtime/nope?http_key=defaulthttpkey", Auth::None, None).await.assert_error(404, 5, "HTTP handler not found");

    // Nakama's RPC errors.
    c.call("POST", "/v2/rpc/nope?http_key=defaulthttpkey", Auth::None, Some(b"\"\"".to_vec()))
        .await
        .assert_error(404, 5, "RPC function not found");
    c.call("POST", "/v2/rpc/custom_rpc_func_id", Auth::None, None).await.assert_error(401, 16, "Auth token or HTTP key required");
    c.call("POST", "/v2/rpc/custom_rpc_func_id?http_key=wrong", Auth::None, None).await.assert_error(401, 16, "HTTP key invalid");
    let r = c.call("POST", "/v2/rpc/custom_rpc_func_id?http_key=defaulthttpkey", Auth::None, Some(b"{\"not\":\"a string\"}".to_vec())).await;
    r.assert_error(400, 3, "json: cannot unmarshal object into Go value of type string");
    assert_eq!(r.body["error"], json!({}));
    // ?unwrap: the raw body in, the raw result out.
    let r = c.call("POST", "/v2/rpc/custom_rpc_func_id?http_key=defaulthttpkey&unwrap", Auth::None, Some(b"{\"raw\":1}".to_vec())).await;
    assert_eq!(r.body, json!({"raw": 1}));
}

#[tokio::test]
async fn sandbox_escapes_fail_cleanly_and_the_node_keeps_serving() {
    let node = TestNode::start(&["--runtime.path", &modules("sandbox"), "--runtime.lua_call_timeout_ms", "2000"]).await.unwrap();
    let c = node.client();
    let call = |id: &'static str| {
        let c = c.clone();
        async move { c.call("POST", &format!("/v2/rpc/{id}?http_key=defaulthttpkey"), Auth::None, Some(b"\"\"".to_vec())).await }
    };
    for id in ["io_open", "os_execute", "dofile", "require_io", "memory_bomb", "infinite_loop", "pcall_loop", "stack_overflow"] {
        let r = call(id).await;
        assert!(r.status >= 400 && r.status < 600, "{id} did not fail: {}", r.body);
        assert!(r.body["code"].as_i64().is_some_and(|c| c != 0), "{id}: {}", r.body);
        assert_eq!(call("ping").await.ok()["payload"], "pong", "the pool stopped serving after {id}");
    }
    assert!(node.log().lines().all(|l| !l.contains("panicked")), "a panic in the node log");
}

/// The seed's `limit_friends` (before AddFriends, 1.x `tfriendsadd`) and `add_reward`
/// (after) around the REST route, with a helper RPC to set the caller's level.
#[tokio::test]
async fn seed_hooks_guard_and_follow_add_friends() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["limit_friends.lua", "add_reward.lua"] {
        std::fs::copy(std::path::Path::new(&modules("seeds")).join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("set_level.lua"),
        "local nk = require('nakama')\nnk.register_rpc(function(context, payload)\n  nk.account_update_id(context.user_id, {level = tonumber(payload)})\n  return ''\nend, 'set_level')\n",
    )
    .unwrap();
    let node = TestNode::start(&["--runtime.path", &dir.path().display().to_string()]).await.unwrap();
    let c = node.client();
    let (a, _) = c.login_custom("hook-user-a").await;
    let (b, _) = c.login_custom("hook-user-b").await;
    let (a_id, b_id) = (shoal_tests::token_user_id(&a), shoal_tests::token_user_id(&b));

    c.call("POST", "/v2/rpc/set_level", Auth::Bearer(&a), Some(b"\"5\"".to_vec())).await.ok();
    c.call("POST", &format!("/v2/friend?ids={b_id}"), Auth::Bearer(&a), None)
        .await
        .assert_error(500, 13, "Must reach level 10 before you can add friends.");
    let fl = c.call("GET", "/v2/friend", Auth::Bearer(&b), None).await.ok();
    assert!(fl.get("friends").is_none(), "the rejected add went through: {fl}");

    c.call("POST", "/v2/rpc/set_level", Auth::Bearer(&a), Some(b"\"12\"".to_vec())).await.ok();
    c.call("POST", &format!("/v2/friend?ids={b_id}"), Auth::Bearer(&a), None).await.ok();
    let fl = c.call("GET", "/v2/friend", Auth::Bearer(&b), None).await.ok();
    assert_eq!(fl["friends"][0]["user"]["id"], a_id.as_str());
    // The after hook wrote the reward record for A (asynchronously, after the response).
    shoal_tests::wait_until(std::time::Duration::from_secs(10), "the after hook's reward", || async {
        let r = c
            .json("POST", "/v2/storage", Auth::Bearer(&a), json!({"object_ids":[{"collection":"rewards","key":"reward","user_id":a_id}]}))
            .await;
        r.status == 200 && r.body["objects"][0]["key"] == "reward"
    })
    .await
    .unwrap();
    // The 1.x after hook read the added friend as `payload.UserId`.
    let r = c
        .json("POST", "/v2/storage", Auth::Bearer(&a), json!({"object_ids":[{"collection":"rewards","key":"reward","user_id":a_id}]}))
        .await;
    let value: serde_json::Value = serde_json::from_str(r.body["objects"][0]["value"].as_str().unwrap()).unwrap();
    assert_eq!(value, json!({"user_ids": [b_id]}));
}
