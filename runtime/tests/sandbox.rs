//! Sandbox escapes and resource limits (modules/test/sandbox): each attempt fails cleanly,
//! a VM that broke a limit is replaced, and the pool keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::{TestHost, fixture_pool, test_config};
use serde_json::Value;
use shoal_runtime::{BudgetKind, CallContext, RuntimeError, VmPool};

async fn call(pool: &VmPool, id: &str) -> Result<Option<String>, RuntimeError> {
    pool.call_rpc(id, CallContext::default(), String::new())
        .await
}

/// `ping` still answers on every VM, and the pool is back to its size.
async fn assert_healthy(pool: &VmPool) {
    for _ in 0..8 {
        assert_eq!(call(pool, "ping").await.unwrap().as_deref(), Some("pong"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.live_count() < pool.config().min_count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        pool.live_count() >= pool.config().min_count,
        "broken VMs are replaced"
    );
}

fn message(e: RuntimeError) -> String {
    e.to_status().message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_sandboxed_libraries_exist() {
    let pool = fixture_pool("sandbox", test_config(), TestHost::new()).await;
    let g: Value = serde_json::from_str(&call(&pool, "globals").await.unwrap().unwrap()).unwrap();
    for name in ["io", "debug", "coroutine", "dofile", "loadfile", "module"] {
        assert_eq!(g[name], "nil", "{name}");
    }
    assert_eq!(
        (
            g["require"].as_str(),
            g["load"].as_str(),
            g["loadstring"].as_str()
        ),
        (Some("function"), Some("function"), Some("function"))
    );
    assert_eq!(g["os"], "clock,date,difftime,time");
    assert_eq!(g["string_dump"], "nil");
    assert_eq!(g["bit32"], 15);
    assert!(
        g["loadlib"]
            .as_str()
            .unwrap()
            .ends_with("loadlib is not supported"),
        "{g}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_fail_cleanly() {
    let pool = fixture_pool("sandbox", test_config(), TestHost::new()).await;
    let cases = [
        ("io_open", "attempt to index global 'io' (a nil value)"),
        (
            "os_execute",
            "attempt to call field 'execute' (a nil value)",
        ),
        ("dofile", "attempt to call global 'dofile' (a nil value)"),
        ("require_io", "module 'io' not found"),
        ("string_dump", "attempt to call field 'dump' (a nil value)"),
        ("bytecode", "attempt to load a binary chunk"),
        ("bytecode_reader", "attempt to load a binary chunk"),
    ];
    for (id, expected) in cases {
        let e = call(&pool, id).await.unwrap_err();
        assert_eq!(e.to_status().code, 13, "{id}");
        assert_eq!(message(e), expected, "{id}");
    }
    assert_eq!(
        call(&pool, "text_chunk").await.unwrap().as_deref(),
        Some("text chunk")
    );
    assert_healthy(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_discards_the_vm() {
    let pool = fixture_pool("sandbox", test_config(), TestHost::new()).await;
    for id in ["memory_bomb", "memory_growth"] {
        let e = call(&pool, id).await.unwrap_err();
        assert!(matches!(e, RuntimeError::MemoryLimit), "{id}: {e:?}");
        assert_eq!(e.to_status().code, 8);
        assert_healthy(&pool).await;
    }
    // A memory error the script catches itself leaves a consistent VM.
    assert_eq!(
        call(&pool, "memory_caught").await.unwrap().as_deref(),
        Some("false:not enough memory")
    );
    assert_healthy(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instruction_budget_stops_endless_loops() {
    let pool = fixture_pool("sandbox", test_config(), TestHost::new()).await;
    for id in ["infinite_loop", "pcall_loop"] {
        let started = Instant::now();
        let e = call(&pool, id).await.unwrap_err();
        assert!(
            matches!(e, RuntimeError::BudgetExceeded(BudgetKind::Instructions)),
            "{id}: {e:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{id} took {:?}",
            started.elapsed()
        );
        assert_healthy(&pool).await;
    }
    let e = call(&pool, "stack_overflow").await.unwrap_err();
    assert!(message(e).contains("stack overflow"));
    assert_healthy(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_budget_stops_endless_loops() {
    let mut config = test_config();
    config.instruction_limit = u64::MAX;
    config.call_timeout = Duration::from_millis(300);
    let pool = fixture_pool("sandbox", config, TestHost::new()).await;
    let started = Instant::now();
    let e = call(&pool, "infinite_loop").await.unwrap_err();
    assert!(
        matches!(e, RuntimeError::BudgetExceeded(BudgetKind::Time)),
        "{e:?}"
    );
    assert_eq!(e.to_status().code, 4);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_healthy(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_are_read_only_after_load() {
    let pool = fixture_pool("globals", test_config(), TestHost::new()).await;
    assert_eq!(call(&pool, "read_global").await.unwrap().as_deref(), Some("hello"));
    for id in ["write_global", "new_global"] {
        let e = message(call(&pool, id).await.unwrap_err());
        assert!(e.ends_with("attempt to modify read only table"), "{id}: {e}");
    }
    let e = message(call(&pool, "unfreeze").await.unwrap_err());
    assert!(e.contains("protected metatable"), "{e}");
    assert_eq!(call(&pool, "read_global").await.unwrap().as_deref(), Some("hello"));
    assert_eq!(call(&pool, "upvalue").await.unwrap().as_deref(), Some("true"));
    assert_healthy_globals(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_stay_writable_when_configured() {
    let config = shoal_runtime::PoolConfig { read_only_globals: false, ..test_config() };
    let pool = fixture_pool("globals", config, TestHost::new()).await;
    assert_eq!(call(&pool, "new_global").await.unwrap().as_deref(), Some("set"));
    let out = pool
        .call_rpc("write_global", CallContext::default(), "bye".into())
        .await
        .unwrap();
    assert_eq!(out.as_deref(), Some("bye"));
}

/// Every VM of the pool still reads the load-time global.
async fn assert_healthy_globals(pool: &VmPool) {
    for _ in 0..8 {
        assert_eq!(call(pool, "read_global").await.unwrap().as_deref(), Some("hello"));
    }
}
