//! Nakama v3 `nk.*` functions, hooks and error mapping (modules/test/api).

mod common;

use std::collections::BTreeMap;

use common::{TestHost, fixture_pool, http_server, test_config};
use hmac::Mac;
use serde_json::{Value, json};
use shoal_runtime::{CallContext, Callback, HookId, RuntimeError, VmPool};

async fn api() -> (VmPool, std::sync::Arc<TestHost>) {
    let host = TestHost::new();
    (fixture_pool("api", test_config(), host.clone()).await, host)
}

async fn rpc_json(pool: &VmPool, id: &str, payload: Value) -> Value {
    let out = pool
        .call_rpc(id, CallContext::default(), payload.to_string())
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    out.map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utility_functions() {
    let (pool, _) = api().await;
    let r = rpc_json(&pool, "utils", json!({})).await;
    assert_eq!(r["json_empty"], "{}");
    assert_eq!(r["json_array"], "[1,2,3]");
    assert_eq!(r["json_sorted"], r#"{"a":{"c":true},"b":1,"s":"x"}"#);
    uuid::Uuid::parse_str(r["uuid"].as_str().unwrap()).unwrap();
    assert_eq!(
        (r["uuid_roundtrip"].clone(), r["uuid_bytes_len"].clone()),
        (json!(true), json!(16))
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((r["time_ms"].as_i64().unwrap() - now_ms).abs() < 60_000);
    assert_eq!(
        r["time_tbl"], 1_577_934_245_000i64,
        "2020-01-02T03:04:05Z in ms"
    );
    assert_eq!(
        r["cron_next"], 1_700_438_400,
        "next Monday 00:00 after 2023-11-14T22:13:20Z"
    );
    assert_eq!(r["cron_prev"], 1_699_833_600);
    assert_eq!(
        (
            r["b64"].as_str(),
            r["b64_nopad"].as_str(),
            r["b64_dec"].as_str()
        ),
        (Some("aGVsbG8/"), Some("aGk"), Some("hi"))
    );
    assert_eq!(
        (r["b64url"].as_str(), r["b64url_dec"].as_str()),
        (Some("aGVsbG8_"), Some("hello?"))
    );
    assert_eq!(
        (r["b16"].as_str(), r["b16_dec"].as_str()),
        (Some("6869"), Some("hi"))
    );
    assert_eq!(r["md5"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        r["sha256"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"key").unwrap();
    mac.update(b"hello");
    assert_eq!(r["hmac"], hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        r["aes128_len"],
        16 + 8,
        "iv + input padded to a multiple of 4"
    );
    assert_eq!(r["aes128"], "secret  ");
    assert_eq!(r["aes256"], "abcd");
    assert_eq!(r["aes_bad_key"], true);
    assert_eq!(
        (r["bcrypt_ok"].clone(), r["bcrypt_bad"].clone()),
        (json!(true), json!(false))
    );
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<Value>(
        r["jwt"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(b"secret"),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims, json!({"sub": "u1", "exp": 2_000_000_000}));
    assert_eq!(r["logged"], "hello from lua");
    assert_eq!(
        (
            r["cache"].clone(),
            r["cache_list"].clone(),
            r["cache_default"].clone()
        ),
        (json!(1), json!("y"), json!("dflt"))
    );
    assert_eq!(
        (r["cache_deleted"].clone(), r["cache_cleared"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(r["format_any"], "\"table:");
    assert_eq!(
        r["loads"], 1,
        "lib.util loaded once per VM although required by name order too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nk_errors_are_positioned_lua_strings() {
    let (pool, _) = api().await;
    let r = rpc_json(&pool, "nk_error_is_string", json!({})).await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["kind"], "string");
    let err = r["err"].as_str().unwrap();
    assert!(err.starts_with("utils.lua:"), "{err}");
    assert!(err.contains("not a valid JSON string"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localcache_is_shared_between_vms() {
    let (pool, _) = api().await;
    let calls: Vec<_> = (0..8)
        .map(|_| pool.call_rpc("localcache_shared", CallContext::default(), "first".into()))
        .collect();
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap().unwrap());
    }
    assert!(
        results.iter().all(|r| r == "stored" || r == "first"),
        "{results:?}"
    );
    let again = pool
        .call_rpc("localcache_shared", CallContext::default(), "second".into())
        .await
        .unwrap();
    assert_eq!(again.as_deref(), Some("first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_with_body_headers_and_timeout() {
    let (pool, _) = api().await;
    let base = http_server();
    let r = rpc_json(&pool, "http", json!({"url": format!("{base}/echo"), "method": "post", "body": "hello", "headers": {"X-Req": "1"}})).await;
    assert_eq!(r, json!({"code": 200, "body": "hello", "header": "yes"}));
    let r = rpc_json(&pool, "http", json!({"url": format!("{base}/nothing")})).await;
    assert_eq!(r["code"], 404);
    let started = std::time::Instant::now();
    let err = pool
        .call_rpc(
            "http",
            CallContext::default(),
            json!({"url": format!("{base}/slow"), "timeout": 200}).to_string(),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    assert!(err.to_string().contains("HTTP request error"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_functions_reach_the_host() {
    let (pool, host) = api().await;
    let auth = rpc_json(&pool, "auth", json!({})).await;
    assert_eq!(
        (auth["username"].as_str(), auth["created"].as_bool()),
        (Some("alice"), Some(true))
    );
    assert_eq!(auth["device_created"], true);
    let user_id = auth["user_id"].as_str().unwrap().to_owned();
    assert_eq!(auth["token"], format!("token-for-{user_id}"));
    assert!(auth["exp"].as_i64().unwrap() > 0);
    assert_eq!(
        host.lock().tokens[0].3,
        BTreeMap::from([("k".to_owned(), "v".to_owned())])
    );
    assert!(
        host.lock()
            .users
            .iter()
            .any(|u| u.email == "alice@example.com"),
        "email lower-cased"
    );
    let again = rpc_json(&pool, "auth", json!({})).await;
    assert_eq!(
        (again["user_id"].as_str(), again["created"].as_bool()),
        (Some(user_id.as_str()), Some(false))
    );

    let account = rpc_json(&pool, "account", json!({"user_id": user_id})).await;
    assert_eq!(account["display_name"], "Alice A");
    assert_eq!(
        (account["level"].clone(), account["user_level"].clone()),
        (json!(12), json!(12))
    );
    assert_eq!(account["custom_id"], "custom-id-1");
    assert_eq!(
        (account["accounts"].clone(), account["wallet"].clone()),
        (json!(1), json!({}))
    );
    assert_eq!(
        (account["user_id"].as_str(), account["by_name"].as_str()),
        (Some(user_id.as_str()), Some(user_id.as_str()))
    );

    let storage = rpc_json(&pool, "storage", json!({"user_id": user_id})).await;
    assert_eq!(storage["acks"], 3);
    assert_eq!(
        storage["version"],
        hex::encode(<md5::Md5 as md5::Digest>::digest(br#"{"n":1}"#))
    );
    assert_eq!(
        (storage["n"].clone(), storage["sys"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(storage["sys_owner"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(
        (storage["listed"].clone(), storage["read_perm"].clone()),
        (json!(2), json!(2))
    );
    assert!(storage.get("cursor").is_none());
    assert_eq!(storage["after"], 0);
    assert_eq!(
        host.object("c", "k2", Some(&user_id))
            .unwrap()
            .permission_write,
        0
    );

    let other = host.add_user("bob", "{}");
    let friends = rpc_json(&pool, "friends", json!({"a": user_id, "b": other})).await;
    assert_eq!(
        friends,
        json!({"friends": 1, "friend": other, "note": "hi", "state": 0, "blocked": 1, "none": 0})
    );

    let session = uuid::Uuid::new_v4().to_string();
    rpc_json(
        &pool,
        "sessions",
        json!({"session_id": session, "user_id": user_id}),
    )
    .await;
    let (disconnected, logouts) = {
        let s = host.lock();
        (s.disconnected.clone(), s.logouts.clone())
    };
    assert_eq!(
        (disconnected, logouts),
        (vec![session], vec![user_id.clone()])
    );

    rpc_json(&pool, "leaderboards", json!({})).await;
    let boards = host.lock().leaderboards.clone();
    let b = &boards[0];
    assert_eq!(
        (
            b.id.as_str(),
            b.authoritative,
            b.sort_order.as_str(),
            b.operator.as_str()
        ),
        ("v3_board", true, "asc", "incr")
    );
    assert_eq!(
        (
            b.reset_schedule.as_str(),
            b.metadata.as_str(),
            b.enable_ranks
        ),
        ("0 0 * * *", r#"{"m":1}"#, true)
    );
    let d = &boards[1];
    assert_eq!(
        (
            d.authoritative,
            d.sort_order.as_str(),
            d.operator.as_str(),
            d.metadata.as_str()
        ),
        (false, "desc", "best", "{}")
    );

    rpc_json(&pool, "account_delete", json!({"user_id": user_id})).await;
    assert_eq!(host.lock().deleted, vec![(user_id, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_registrations() {
    let (pool, host) = api().await;
    let reg = pool.registry();
    assert!(reg.has_rpc("echo") && reg.has_rpc("ECHO"));
    assert!(reg.has_before(&HookId::request("authenticatecustom")));
    assert!(reg.has_before(&HookId::request("AuthenticateDevice")));
    assert!(reg.has_after(&HookId::request("AddFriends")));
    assert!(
        reg.has_before(&HookId::realtime("channeljoin"))
            && reg.has_after(&HookId::realtime("ChannelJoin"))
    );
    assert!(!reg.has_before(&HookId::request("ChannelJoin")));
    assert!(reg.has_matchmaker_matched() && reg.has_leaderboard_reset());
    assert!(reg.has_tournament_end() && reg.has_tournament_reset());

    let boot = host.object("boot", "run_once", None).expect("run_once ran");
    assert_eq!(boot.value, r#"{"mode":"run_once"}"#);
    assert_eq!(
        host.lock().storage.keys().filter(|k| k.0 == "boot").count(),
        1
    );

    let ctx = CallContext::default();
    let out = pool
        .call_before(
            &HookId::request("AuthenticateCustom"),
            ctx.clone(),
            json!({"account": {"id": "abcdef"}, "create": true}),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        Some(json!({"account": {"id": "abcdef-rewritten"}, "create": true}))
    );
    let out = pool
        .call_before(
            &HookId::request("AuthenticateDevice"),
            ctx.clone(),
            json!({"account": {"id": "x"}}),
        )
        .await
        .unwrap();
    assert_eq!(out, None, "nil rejects");
    let out = pool
        .call_before(
            &HookId::realtime("ChannelJoin"),
            ctx.clone(),
            json!({"cid": "1", "channel_join": {"target": "t"}}),
        )
        .await
        .unwrap();
    assert_eq!(out.unwrap()["channel_join"]["target"], "rewritten");

    pool.call_after(
        &HookId::request("addfriends"),
        ctx.clone(),
        json!({}),
        json!({"ids": ["a"]}),
    )
    .await
    .unwrap();
    let after = host.object("after", "AddFriends", None).unwrap();
    assert_eq!(
        after.value,
        r#"{"input":{"ids":["a"]},"mode":"after","out":{}}"#
    );

    let missing = pool
        .call_before(&HookId::request("GetAccount"), ctx.clone(), json!({}))
        .await
        .unwrap_err();
    assert!(matches!(missing, RuntimeError::FunctionNotFound(_)));

    let matched = pool
        .call_callback(
            Callback::MatchmakerMatched,
            ctx.clone(),
            vec![json!([{"presence": {"user_id": "u"}}])],
        )
        .await
        .unwrap();
    assert_eq!(matched, Value::Null);
    let board = shoal_proto::Leaderboard { id: "lb".into(), sort_order: 1, operator: 1, ..Default::default() };
    pool.call_board_callback(
        Callback::LeaderboardReset,
        ctx,
        shoal_runtime::CallbackBoard::Leaderboard(board),
        vec![1],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_results_and_errors() {
    let (pool, _) = api().await;
    let call = |id: &'static str| pool.call_rpc(id, CallContext::default(), String::new());
    assert_eq!(call("nil_return").await.unwrap(), None);
    let s = call("err_code").await.unwrap_err().to_status();
    assert_eq!((s.code, s.message.as_str()), (3, "bad input"));
    let s = call("err_bad_code").await.unwrap_err().to_status();
    assert_eq!((s.code, s.message.as_str()), (13, "odd code"));
    let s = call("err_plain").await.unwrap_err().to_status();
    assert_eq!(
        (s.code, s.message.as_str()),
        (13, "plain failure"),
        "position stripped"
    );
    let s = call("bad_return").await.unwrap_err().to_status();
    assert_eq!(
        (s.code, s.message.as_str()),
        (
            13,
            "Runtime function returned invalid data - only allowed one return value of type String/Byte."
        )
    );
    let s = call("register_late").await.unwrap_err().to_status();
    assert!(
        s.message.contains("only be registered while modules load"),
        "{}",
        s.message
    );
    let s = call("no_such_rpc").await.unwrap_err().to_status();
    assert_eq!((s.code, s.message.as_str()), (5, "RPC function not found"));
    assert_eq!(
        pool.call_rpc("echo", CallContext::default(), "hi".into())
            .await
            .unwrap()
            .as_deref(),
        Some("hi")
    );

    let mut config = test_config();
    config.api_stacktrace = true;
    let pool = fixture_pool("api", config, TestHost::new()).await;
    let s = pool
        .call_rpc("err_plain", CallContext::default(), String::new())
        .await
        .unwrap_err()
        .to_status();
    assert!(
        s.message.starts_with("hooks.lua:") && s.message.ends_with("plain failure"),
        "{}",
        s.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_has_v3_and_legacy_keys() {
    let (pool, _) = api().await;
    let ctx = shoal_runtime::CallContext {
        user_id: Some("u1".into()),
        username: Some("alice".into()),
        vars: Some(BTreeMap::from([("a".into(), "b".into())])),
        user_session_exp: Some(100),
        client_ip: Some("127.0.0.1".into()),
        headers: BTreeMap::from([("Accept".into(), vec!["x".into()])]),
        query_params: BTreeMap::from([("q".into(), vec!["1".into(), "2".into()])]),
        ..Default::default()
    };
    let out = pool
        .call_rpc("context", ctx, String::new())
        .await
        .unwrap()
        .unwrap();
    let c: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (c["user_id"].as_str(), c["UserId"].as_str()),
        (Some("u1"), Some("u1"))
    );
    assert_eq!(
        (c["username"].as_str(), c["UserHandle"].as_str()),
        (Some("alice"), Some("alice"))
    );
    assert_eq!(
        (c["user_session_exp"].clone(), c["UserSessionExp"].clone()),
        (json!(100), json!(100_000))
    );
    assert_eq!(
        (c["execution_mode"].as_str(), c["ExecutionMode"].as_str()),
        (Some("rpc"), Some("rpc"))
    );
    assert_eq!(
        (c["node"].as_str(), c["client_ip"].as_str()),
        (Some("shoal"), Some("127.0.0.1"))
    );
    assert_eq!(c["vars"], json!({"a": "b"}));
    assert_eq!(c["headers"], json!({"Accept": ["x"]}));
    assert_eq!(c["query_params"], json!({"q": ["1", "2"]}));
    assert_eq!((c["env"].clone(), c["Env"].clone()), (json!({}), json!({})));
    assert!(c.get("session_id").is_none() && c.get("lang").is_none());
}
