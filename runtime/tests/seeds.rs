//! The seed documents' examples (modules/test/seeds) run as the seeds describe.

mod common;

use std::collections::BTreeMap;

use common::{TestHost, fixture_pool, http_server, test_config};
use serde_json::{Value, json};
use shoal_runtime::{CallContext, HookId};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn some_example_creates_a_leaderboard_with_the_payload_as_metadata() {
    let host = TestHost::new();
    let pool = fixture_pool("seeds", test_config(), host.clone()).await;
    let out = pool
        .call_rpc(
            "my_unique_id",
            CallContext::default(),
            r#"{"season":3}"#.into(),
        )
        .await
        .unwrap()
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    let id = out["id"].as_str().unwrap();
    uuid::Uuid::parse_str(id).unwrap();
    let boards = host.lock().leaderboards.clone();
    assert_eq!(boards.len(), 1);
    let b = &boards[0];
    assert_eq!(
        (
            b.id.as_str(),
            b.sort_order.as_str(),
            b.reset_schedule.as_str()
        ),
        (id, "desc", "0 0 * * 1")
    );
    assert_eq!(
        (b.authoritative, b.operator.as_str(), b.metadata.as_str()),
        (false, "best", r#"{"season":3}"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_friends_before_hook_accepts_or_rejects_by_level() {
    let host = TestHost::new();
    let pool = fixture_pool("seeds", test_config(), host.clone()).await;
    let hook = HookId::request("AddFriends");
    assert!(
        pool.registry().has_before(&hook),
        "tfriendsadd maps to AddFriends"
    );

    let high = host.add_user("high", r#"{"level":12}"#);
    let input = json!({"ids": ["00000000-0000-0000-0000-000000000001"]});
    let out = pool
        .call_before(&hook, CallContext::for_user(&high, "high"), input.clone())
        .await
        .unwrap();
    assert_eq!(out, Some(input.clone()), "payload passed through unchanged");

    let low = host.add_user("low", r#"{"level":5}"#);
    let err = pool
        .call_before(&hook, CallContext::for_user(&low, "low"), input)
        .await
        .unwrap_err();
    let status = err.to_status();
    assert_eq!(
        (status.code, status.message.as_str()),
        (13, "Must reach level 10 before you can add friends.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_reward_after_hook_writes_a_legacy_storage_record() {
    let host = TestHost::new();
    let pool = fixture_pool("seeds", test_config(), host.clone()).await;
    let user = host.add_user("alice", "{}");
    let hook = HookId::request("AddFriends");
    pool.call_after(
        &hook,
        CallContext::for_user(&user, "alice"),
        json!({}),
        json!({"ids": ["x"]}),
    )
    .await
    .unwrap();
    let o = host
        .object("rewards", "reward", Some(&user))
        .expect("reward written");
    assert_eq!(o.user_id, user);
    // The 1.x payload names the friend as `UserId` (the v3 request has `ids`).
    assert_eq!(o.value, r#"{"user_ids":["x"]}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_handler_returns_its_context() {
    let host = TestHost::new();
    let mut config = test_config();
    config.env = BTreeMap::from([("KEY".to_owned(), "value".to_owned())]);
    let pool = fixture_pool("seeds", config, host).await;
    assert!(pool.registry().has_http("http_handler_path"));
    assert!(pool.registry().has_http("/http_handler_path"));
    let out = pool
        .call_http(
            "http_handler_path",
            CallContext::default(),
            json!({"some": "data"}),
        )
        .await
        .unwrap();
    assert_eq!(out["context"]["ExecutionMode"], "http");
    assert_eq!(out["context"]["execution_mode"], "http");
    assert_eq!(out["context"]["Env"]["KEY"], "value");
    assert_eq!(out["context"]["env"]["KEY"], "value");
    assert!(
        out["context"].get("UserId").is_none(),
        "no user on register_http"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_rpc_func_echoes_json() {
    let pool = fixture_pool("seeds", test_config(), TestHost::new()).await;
    let out = pool
        .call_rpc(
            "custom_rpc_func_id",
            CallContext::default(),
            r#"{"b":[1,2],"a":"x"}"#.into(),
        )
        .await
        .unwrap();
    assert_eq!(out.as_deref(), Some(r#"{"a":"x","b":[1,2]}"#));
    // RPC ids are case-insensitive.
    assert!(
        pool.call_rpc("CUSTOM_RPC_FUNC_ID", CallContext::default(), "{}".into())
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcall_pattern_lists_users_by_handle() {
    let host = TestHost::new();
    let pool = fixture_pool("seeds", test_config(), host.clone()).await;
    let id = host.add_user("22e9ed62", "{}");
    host.lock().users[0].user.display_name = "Full Name".into();
    let out = pool
        .call_rpc(
            "pcall_pattern",
            CallContext::default(),
            r#"["22e9ed62"]"#.into(),
        )
        .await
        .unwrap()
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["will_error"], false);
    assert_eq!(out["status"], true);
    assert_eq!(
        out["messages"][0],
        format!("id: \"{id}\", fullname: \"Full Name\"")
    );
    // A failing nk call is caught by pcall and logged.
    let out = pool
        .call_rpc(
            "pcall_pattern",
            CallContext::default(),
            r#"[{"not":"a string"}]"#.into(),
        )
        .await
        .unwrap()
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["status"], false);
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("Error occurred: \""),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pokemon_rpc_calls_the_api_and_returns_a_table_as_json() {
    let base = http_server();
    let mut config = test_config();
    config.env = BTreeMap::from([("POKEAPI_BASE_URL".to_owned(), base)]);
    let pool = fixture_pool("seeds", config, TestHost::new()).await;
    let out = pool
        .call_rpc(
            "get_pokemon",
            CallContext::default(),
            r#"{"PokemonName": "dragonite"}"#.into(),
        )
        .await
        .unwrap()
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        json!({"name": "dragonite", "height": 22, "weight": 2100, "image": "https://img/149.png"})
    );

    // A 404 is logged by pokeapi.lua, which then returns nil; get_pokemon fails on it.
    let err = pool
        .call_rpc(
            "get_pokemon",
            CallContext::default(),
            r#"{"PokemonName": "missingno"}"#.into(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_status().code, 13);
}
