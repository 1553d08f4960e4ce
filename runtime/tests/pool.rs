//! Pool creation, module loading and concurrency, with in-memory bundles.

mod common;

use std::time::{Duration, Instant};

use common::{TestHost, test_config};
use shoal_runtime::{CallContext, ModuleBundle, RuntimeError, VmPool};

async fn pool_of(files: &[(&str, &str)]) -> Result<VmPool, RuntimeError> {
    let bundle =
        ModuleBundle::from_files(files.iter().map(|(p, s)| (p.to_string(), s.to_string())))
            .unwrap();
    VmPool::new(bundle, test_config(), TestHost::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_load_in_name_order_and_require_each_other() {
    let pool = pool_of(&[
        (
            "b.lua",
            r#"local nk = require("nakama"); order = (order or "") .. "b"
                     nk.register_rpc(function() return order end, "order")"#,
        ),
        (
            "a.lua",
            r#"order = (order or "") .. "a"; require("lib.util")"#,
        ),
        (
            "lib/util.lua",
            r#"order = (order or "") .. "u"; return { x = 1 }"#,
        ),
    ])
    .await
    .unwrap();
    // a runs first, requires lib.util (so it is not run again later), then b.
    assert_eq!(
        pool.call_rpc("order", CallContext::default(), String::new())
            .await
            .unwrap()
            .as_deref(),
        Some("aub")
    );
    assert_eq!(pool.live_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_failures_name_the_file_and_line() {
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a str,
        Option<u32>,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            &[
                ("ok.lua", "local x = 1"),
                ("bad/syntax.lua", "local x = = 2"),
            ],
            "bad.syntax",
            "bad/syntax.lua",
            Some(1),
            "unexpected symbol near '='",
        ),
        (
            &[("boom.lua", "\n\nerror('boom at load')")],
            "boom",
            "boom.lua",
            Some(3),
            "boom at load",
        ),
        (
            &[
                ("a.lua", "require('b')"),
                ("b.lua", "local t = nil\nreturn t.x"),
            ],
            "a",
            "b.lua",
            Some(2),
            "attempt to index local 't' (a nil value)",
        ),
        (
            &[("missing.lua", "require('nope')")],
            "missing",
            "missing.lua",
            Some(1),
            "module 'nope' not found",
        ),
        (
            &[("loop.lua", "while true do end")],
            "loop",
            "loop.lua",
            None,
            "runtime function exceeded its instruction budget",
        ),
    ];
    for (files, module, file, line, message) in cases {
        match pool_of(files).await {
            Err(RuntimeError::ModuleLoad {
                module: m,
                file: f,
                line: l,
                message: msg,
            }) => {
                assert_eq!(
                    (m.as_str(), f.as_str(), l, msg.as_str()),
                    (*module, *file, *line, *message)
                );
            }
            Err(e) => panic!("{module}: unexpected error {e:?}"),
            Ok(_) => panic!("{module}: loaded"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_bundle_and_version() {
    let pool = pool_of(&[]).await.unwrap();
    assert_eq!(pool.registry().rpc_ids().count(), 0);
    assert_eq!(pool.version().len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_bounded_by_max_count() {
    let pool = pool_of(&[(
        "slow.lua",
        r#"local nk = require("nakama")
           nk.register_rpc(function(ctx, payload)
             local t = os.clock() + 0.05
             while os.clock() < t do end
             return payload
           end, "slow")"#,
    )])
    .await
    .unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.call_rpc("slow", CallContext::default(), i.to_string())
                    .await
            })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(c.await.unwrap().unwrap(), Some(i.to_string()));
    }
    assert!(pool.live_count() <= pool.config().max_count);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_pool_answers_unavailable_after_the_timeout() {
    let host = TestHost::new();
    host.delay_ms
        .store(1500, std::sync::atomic::Ordering::Relaxed);
    let mut config = test_config();
    config.min_count = 1;
    config.max_count = 1;
    config.call_timeout = Duration::from_millis(300);
    let bundle = ModuleBundle::from_files([(
        "busy.lua",
        r#"local nk = require("nakama")
           nk.register_rpc(function() nk.users_get_username({"x"}) return "done" end, "block")
           nk.register_rpc(function() return "pong" end, "ping")"#,
    )])
    .unwrap();
    let pool = VmPool::new(bundle, config, host).await.unwrap();
    let busy = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.call_rpc("block", CallContext::default(), String::new())
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = pool
        .call_rpc("ping", CallContext::default(), String::new())
        .await
        .unwrap_err();
    assert!(matches!(e, RuntimeError::PoolBusy(300)), "{e:?}");
    assert_eq!(e.to_status().code, 14);
    // The blocked call finishes (its budget is only checked while Lua runs), then the pool serves again.
    let _ = busy.await.unwrap();
    assert_eq!(
        pool.call_rpc("ping", CallContext::default(), String::new())
            .await
            .unwrap()
            .as_deref(),
        Some("pong")
    );
}
