//! Authoritative matches (modules/test/matches): the match handler contract (§7) — a fresh
//! VM per match, the seven callbacks, return-value rules, context keys, budgets, the
//! dispatcher — and the realtime `nk.*` functions' argument checks and pass-through to the
//! host.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{
    BAD_CHANNEL, CHANNEL_DOWN, RealtimeCall, TestHost, UNREACHABLE_USER, fixture_pool, test_config,
};
use serde_json::{Value, json};
use shoal_proto::{ErrorCode, MatchListQuery, NotificationSend, Stream, StreamPresence};
use shoal_runtime::{
    BudgetKind, CallContext, DispatchAction, JoinDecision, MatchHandler, MatchInit, MatchMessage,
    MatchPresence, MatchSetup, PoolConfig, RuntimeError, VmPool,
};

const UID: &str = "5f0c0a3e-7d5b-4c0e-9a53-1a2b3c4d5e6f";
const OTHER: &str = "0b5e8f0e-1111-4222-8333-444455556666";

async fn pool_with(config: PoolConfig) -> (VmPool, Arc<TestHost>) {
    let host = TestHost::new();
    (fixture_pool("matches", config, host.clone()).await, host)
}

async fn pool() -> (VmPool, Arc<TestHost>) {
    pool_with(test_config()).await
}

fn setup(module: &str) -> MatchSetup {
    MatchSetup {
        match_id: format!("{}.shoal", uuid::Uuid::new_v4()),
        node: "shoal".into(),
        module: module.into(),
    }
}

fn create(
    pool: &VmPool,
    module: &str,
    params: Option<Value>,
) -> Result<(MatchHandler, MatchInit), RuntimeError> {
    pool.create_match(setup(module), params)
}

fn start(pool: &VmPool, module: &str, params: Option<Value>) -> MatchHandler {
    create(pool, module, params)
        .unwrap_or_else(|e| panic!("{module}: {e}"))
        .0
}

/// A presence with canonical ids (as the node gives them).
fn presence(n: u8) -> MatchPresence {
    MatchPresence {
        user_id: format!("a0a0a0a0-0000-4000-8000-00000000000{n}"),
        session_id: format!("b0b0b0b0-0000-4000-8000-00000000000{n}"),
        username: format!("user{n}"),
        node: "shoal".into(),
        reason: 0,
    }
}

fn message(sender: &MatchPresence, op_code: i64, data: Option<&[u8]>) -> MatchMessage {
    MatchMessage {
        sender: sender.clone(),
        op_code,
        data: data.map(<[u8]>::to_vec),
        reliable: true,
        receive_time_ms: 1_700_000_000_000,
    }
}

/// The Lua error of a result, as `(code, message)`.
fn lua_error<T: std::fmt::Debug>(r: Result<T, RuntimeError>) -> (ErrorCode, String) {
    match r {
        Err(RuntimeError::Lua { code, message }) => (code, message),
        other => panic!("expected a Lua error, got {other:?}"),
    }
}

fn internal(message: &str) -> (ErrorCode, String) {
    (ErrorCode::Internal, message.to_owned())
}

/// Sets the next behaviour of a `returns.lua` callback.
fn set(h: &mut MatchHandler, callback: &str, mode: &str) {
    let r = h.signal(0, &format!("set:{callback}:{mode}")).unwrap();
    assert_eq!(r, (true, Some("ok".into())));
}

fn signal_json(h: &mut MatchHandler, data: &str) -> Value {
    let (_, result) = h.signal(0, data).unwrap();
    serde_json::from_str(&result.expect("a result")).unwrap()
}

async fn rpc(pool: &VmPool, id: &str, payload: Value) -> Value {
    let out = pool
        .call_rpc(id, CallContext::default(), payload.to_string())
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .expect("a reply");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nakama_shaped_match_runs_until_its_loop_returns_nil() {
    let (pool, _) = pool().await;
    let (mut h, init) = create(&pool, "match", Some(json!({"debug": true}))).unwrap();
    assert_eq!(
        init,
        MatchInit {
            tick_rate: 1,
            label: "skill=100-150".into()
        }
    );
    assert_eq!(h.label(), "skill=100-150");

    let (p1, p2) = (presence(1), presence(2));
    let ctx = CallContext::for_user(&p1.user_id, &p1.username);
    let meta = BTreeMap::from([("skill".to_owned(), "120".to_owned())]);
    assert_eq!(
        h.join_attempt(0, &ctx, &p1, &meta).unwrap(),
        JoinDecision {
            allow: true,
            reason: None,
            ended: false
        }
    );
    assert!(h.join(0, &[p1.clone(), p2.clone()]).unwrap());
    let left = MatchPresence {
        reason: 3,
        ..p2.clone()
    };
    assert!(h.leave(0, &[left]).unwrap());

    for tick in 0..10 {
        assert!(
            h.tick(tick, &[message(&p1, 1, Some(b"x".as_slice()))])
                .unwrap(),
            "tick {tick}"
        );
    }
    // The function kept in the state survived every call.
    let log: Vec<String> = (0..10).map(|t| format!("tick {t}")).collect();
    assert_eq!(
        h.signal(10, "probe").unwrap(),
        (true, Some(format!("probe|1|{}", log.join(","))))
    );
    assert!(
        !h.tick(10, &[]).unwrap(),
        "tick 10 returns nil: the match ends"
    );
    h.terminate(11, 5).unwrap();
    assert!(h.take_actions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_callback_is_required() {
    let (pool, host) = pool().await;
    assert_eq!(
        lua_error(create(&pool, "incomplete", None)),
        internal("match_signal not found or not a function")
    );
    assert_eq!(
        lua_error(create(&pool, "not_a_function", None)),
        internal("match_loop not found or not a function")
    );
    assert_eq!(
        lua_error(create(&pool, "no_table", None)),
        internal("match module must return a table containing the match callback functions")
    );
    match create(&pool, "nowhere", None) {
        Err(RuntimeError::FunctionNotFound(m)) => assert_eq!(m, "nowhere"),
        other => panic!("{other:?}"),
    }

    // A module that fails while the match VM loads it: the pool's VMs loaded it fine.
    start(&pool, "load_fails", None);
    rpc(&pool, "rt_flag", json!({"key": "explode_match_load"})).await;
    let (code, message) = lua_error(create(&pool, "load_fails", None));
    assert_eq!(code, ErrorCode::Internal);
    assert!(
        message.starts_with("error loading match module: ")
            && message.ends_with("exploded while loading"),
        "{message}"
    );
    assert!(host.take_realtime().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_init_return_rules() {
    let (pool, _) = pool().await;
    let init = |mode: &str| create(&pool, "returns", Some(json!({ "init": mode })));
    let ok = |mode: &str| init(mode).map(|(_, i)| i).unwrap();
    let err = |mode: &str| lua_error(init(mode).map(|(_, i)| i));

    assert_eq!(
        ok("default"),
        MatchInit {
            tick_rate: 5,
            label: "ready".into()
        }
    );
    assert_eq!(create(&pool, "returns", None).unwrap().1.tick_rate, 5);
    assert_eq!(ok("tick60").tick_rate, 60);
    assert_eq!(ok("tick_fraction").tick_rate, 2);
    assert_eq!(ok("label_max").label.len(), 2048);

    assert_eq!(
        err("nil_state"),
        internal("Match initial state must not be nil")
    );
    let no_label = internal("match_init returned unexpected third value, must be a label string");
    for mode in ["no_values", "no_label", "label_number"] {
        assert_eq!(err(mode), no_label, "{mode}");
    }
    assert_eq!(
        err("label_long"),
        internal("match_init returned invalid label, must be 2048 bytes or less")
    );
    assert_eq!(
        err("tick_string"),
        internal("match_init returned unexpected second value, must be a tick rate number")
    );
    for mode in ["tick0", "tick61"] {
        assert_eq!(
            err(mode),
            internal("match_init returned invalid tick rate, must be between 1 and 60")
        );
    }
    assert_eq!(
        err("too_many"),
        internal(
            "match_init returned too many arguments, must be: state, tick rate number, label string"
        )
    );
    // Errors map as for RPCs: positions stripped, `{msg, code}` tables keep their code.
    assert_eq!(err("error"), internal("init exploded"));
    assert_eq!(
        err("error_table"),
        (ErrorCode::InvalidArgument, "bad params".into())
    );
    assert!(matches!(
        init("forever"),
        Err(RuntimeError::BudgetExceeded(BudgetKind::Instructions))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_see_nakamas_context_and_arguments() {
    let config = PoolConfig {
        env: BTreeMap::from([("REGION".to_owned(), "eu".to_owned())]),
        ..test_config()
    };
    let (pool, _) = pool_with(config).await;
    let s = setup("returns");
    let match_id = s.match_id.clone();
    let (mut h, _) = pool.create_match(s, None).unwrap();

    let p1 = presence(1);
    let ctx = CallContext {
        user_id: Some(p1.user_id.clone()),
        username: Some(p1.username.clone()),
        vars: Some(BTreeMap::from([("tier".to_owned(), "gold".to_owned())])),
        user_session_exp: Some(1_800_000_000),
        session_id: Some(p1.session_id.clone()),
        client_ip: Some("10.0.0.7".into()),
        client_port: Some("5555".into()),
        ..Default::default()
    };
    let meta = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    h.join_attempt(3, &ctx, &p1, &meta).unwrap();
    h.join(3, &[p1.clone()]).unwrap();
    let left = MatchPresence {
        reason: 4,
        ..p1.clone()
    };
    h.leave(3, &[left]).unwrap();
    let unreliable = MatchMessage {
        reliable: false,
        receive_time_ms: 1234,
        ..message(&p1, 7, Some([0u8, 255, 10].as_slice()))
    };
    h.tick(4, &[unreliable, message(&p1, 8, None)]).unwrap();
    h.terminate(5, 30).unwrap();
    let seen = signal_json(&mut h, "seen");

    let base = json!({
        "execution_mode": "match", "node": "shoal", "env": {"REGION": "eu"},
        "match_id": match_id, "match_node": "shoal",
    });
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    // match_label and match_tick_rate only exist once match_init returned.
    assert_eq!(seen["init"], base);
    let after_init = json!({"match_label": "ready", "match_tick_rate": 5});
    assert_eq!(
        seen["join_attempt"],
        with(json!({
            "match_label": "ready", "match_tick_rate": 5,
            "user_id": p1.user_id, "username": "user1", "vars": {"tier": "gold"},
            "user_session_exp": 1_800_000_000, "session_id": p1.session_id,
            "client_ip": "10.0.0.7", "client_port": "5555",
        }))
    );
    for callback in ["match_join", "match_leave", "match_loop", "match_terminate"] {
        assert_eq!(
            seen[format!("{callback}_ctx")],
            with(after_init.clone()),
            "{callback}"
        );
    }
    assert_eq!(seen["join_attempt_tick"], 3);
    let p = json!({"user_id": p1.user_id, "session_id": p1.session_id, "username": "user1", "node": "shoal"});
    assert_eq!(seen["presence"], p);
    assert_eq!(seen["metadata"], json!({"k": "v"}));
    let with_reason = |r: i64| {
        let mut v = p.clone();
        v["reason"] = json!(r);
        json!([v])
    };
    assert_eq!(seen["match_join"], with_reason(0));
    assert_eq!(seen["match_leave"], with_reason(4));
    assert_eq!(
        seen["match_loop"],
        json!([
            {"sender": p, "op_code": 7, "has_data": true, "data_bytes": [0, 255, 10],
             "reliable": false, "receive_time_ms": 1234},
            {"sender": p, "op_code": 8, "has_data": false, "data_bytes": {},
             "reliable": true, "receive_time_ms": 1_700_000_000_000i64},
        ])
    );
    assert_eq!(seen["match_terminate"], 30);
    let (_, calls) = h.signal(6, "calls").unwrap();
    assert_eq!(
        calls.as_deref(),
        Some(
            "match_join@3,match_leave@3,match_loop@4,match_terminate@5,match_signal@0,match_signal@6"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_attempt_return_rules() {
    let (pool, _) = pool().await;
    let mut h = start(&pool, "returns", None);
    let p1 = presence(1);
    let ctx = CallContext::for_user(&p1.user_id, &p1.username);
    let meta = BTreeMap::new();
    let attempt = |h: &mut MatchHandler, mode: &str| {
        set(h, "match_join_attempt", mode);
        h.join_attempt(1, &ctx, &p1, &meta)
    };
    let decision = |allow, reason: Option<&str>, ended| JoinDecision {
        allow,
        reason: reason.map(str::to_owned),
        ended,
    };
    assert_eq!(
        attempt(&mut h, "deny").unwrap(),
        decision(false, Some("match is full"), false)
    );
    assert_eq!(
        attempt(&mut h, "allow_reason").unwrap(),
        decision(true, Some("welcome"), false)
    );
    assert_eq!(
        attempt(&mut h, "default").unwrap(),
        decision(true, None, false)
    );
    assert_eq!(
        attempt(&mut h, "nil_state").unwrap(),
        decision(false, None, true)
    );

    let too_few = "Match join attempt returned too few values, stopping match - expected: state, join result boolean, optional reject reason string";
    for (mode, message) in [
        ("no_values", too_few),
        ("state_only", too_few),
        (
            "reason_no_bool",
            "Match join attempt returned incorrect or too few values, stopping match - expected: state, join result boolean, optional reject reason string",
        ),
        (
            "number",
            "Match join attempt returned non-boolean join result, stopping match",
        ),
        (
            "reason_number",
            "Match join attempt returned non-boolean join result or non-string reject reason, stopping match",
        ),
        (
            "too_many",
            "Match join attempt returned too many values, stopping match",
        ),
        ("error", "join attempt exploded"),
    ] {
        assert_eq!(
            lua_error(attempt(&mut h, mode)),
            internal(message),
            "{mode}"
        );
    }
    // Lua errors do not break the VM: the match goes on.
    assert_eq!(
        attempt(&mut h, "default").unwrap(),
        decision(true, None, false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nil_state_ends_the_match_and_extra_values_are_errors() {
    let (pool, _) = pool().await;
    let mut h = start(&pool, "returns", None);
    let ps = [presence(1)];
    let names = [
        ("match_join", "join"),
        ("match_leave", "leave"),
        ("match_loop", "loop"),
        ("match_terminate", "terminate"),
    ];
    let run = |h: &mut MatchHandler, callback: &str| -> Result<bool, RuntimeError> {
        match callback {
            "match_join" => h.join(1, &ps),
            "match_leave" => h.leave(1, &ps),
            "match_loop" => h.tick(1, &[]),
            _ => h.terminate(1, 0).map(|_| true),
        }
    };
    for (callback, word) in names {
        assert!(run(&mut h, callback).unwrap(), "{callback} keeps the state");
        for mode in ["nil", "none"] {
            set(&mut h, callback, mode);
            let r = run(&mut h, callback).unwrap();
            assert_eq!(r, callback == "match_terminate", "{callback} {mode}");
        }
        set(&mut h, callback, "too_many");
        let message = format!("Match {word} returned too many values, stopping match");
        assert_eq!(lua_error(run(&mut h, callback)), internal(&message));
        set(&mut h, callback, "error");
        assert_eq!(
            lua_error(run(&mut h, callback)),
            internal(&format!("{callback} exploded"))
        );
        set(&mut h, callback, "error_table");
        assert_eq!(
            lua_error(run(&mut h, callback)),
            (ErrorCode::PermissionDenied, format!("{callback} refused"))
        );
    }
    // A returned state replaces the old one.
    assert_eq!(h.signal(2, "replaced").unwrap(), (true, Some("nil".into())));
    set(&mut h, "match_loop", "replace");
    assert!(h.tick(2, &[]).unwrap());
    assert_eq!(
        h.signal(2, "replaced").unwrap(),
        (true, Some("true".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_return_rules() {
    let (pool, _) = pool().await;
    let mut h = start(&pool, "returns", None);
    assert_eq!(
        h.signal(0, "hello there").unwrap(),
        (true, Some("echo:hello there".into()))
    );
    assert_eq!(h.signal(0, "nilresult").unwrap(), (true, None));
    assert_eq!(h.signal(0, "stateonly").unwrap(), (true, None));
    assert_eq!(
        lua_error(h.signal(0, "number")),
        internal("Match signal returned non-string result, stopping match")
    );
    assert_eq!(
        lua_error(h.signal(0, "toomany")),
        internal("Match signal returned too many values, stopping match")
    );
    assert_eq!(h.signal(0, "finish").unwrap(), (false, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_run_under_the_call_budget() {
    let (pool, _) = pool().await;
    let discarded = |r: Result<bool, RuntimeError>| matches!(r, Err(RuntimeError::Internal(m)) if m.contains("discarded"));

    let mut h = start(&pool, "returns", None);
    set(&mut h, "match_loop", "forever");
    assert!(matches!(
        h.tick(1, &[]),
        Err(RuntimeError::BudgetExceeded(BudgetKind::Instructions))
    ));
    assert!(
        discarded(h.tick(2, &[])),
        "a VM over budget runs no more Lua"
    );

    let mut h = start(&pool, "returns", None);
    set(&mut h, "match_leave", "memory");
    let r = h.leave(1, &[presence(1)]);
    assert!(matches!(r, Err(RuntimeError::MemoryLimit)), "{r:?}");
    assert!(discarded(h.join(2, &[presence(1)])));

    // Globals stay read-only in a match VM; that error does not discard it.
    let mut h = start(&pool, "returns", None);
    set(&mut h, "match_loop", "global");
    let (_, message) = lua_error(h.tick(1, &[]));
    assert!(
        message.contains("attempt to modify read only table"),
        "{message}"
    );
    assert!(h.tick(2, &[]).unwrap());

    let config = PoolConfig {
        instruction_limit: u64::MAX,
        call_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let (pool, _) = pool_with(config).await;
    let mut h = start(&pool, "returns", None);
    set(&mut h, "match_join", "forever");
    assert!(matches!(
        h.join(1, &[presence(1)]),
        Err(RuntimeError::BudgetExceeded(BudgetKind::Time))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_match_has_its_own_vm() {
    let (pool, host) = pool().await;
    // The match module registered an RPC at load: fine in the pool and in match VMs.
    assert!(pool.registry().has_rpc("dispatch_rpc"));
    let mut a = start(&pool, "dispatch", None);
    let mut b = start(&pool, "dispatch", None);
    assert_eq!(a.signal(0, "created").unwrap().1.as_deref(), Some("1"));
    assert_eq!(b.signal(0, "created").unwrap().1.as_deref(), Some("1"));
    a.take_actions();
    b.take_actions();

    // The match VM's nk reaches the pool's host.
    let s = setup("dispatch");
    let uuid = s.match_id[..36].to_owned();
    let (mut h, _) = pool.create_match(s, None).unwrap();
    assert_eq!(h.signal(0, "count").unwrap().1.as_deref(), Some("0"));
    assert_eq!(
        host.take_realtime(),
        vec![RealtimeCall::StreamCount(Stream {
            mode: 6,
            subject: uuid,
            subcontext: String::new(),
            label: "shoal".into(),
        })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_records_broadcasts_kicks_and_label_updates_in_order() {
    let (pool, _) = pool().await;
    let (mut h, init) = create(&pool, "dispatch", None).unwrap();
    assert_eq!((init.tick_rate, init.label.as_str()), (10, "initial"));
    let (p1, p2) = (presence(1), presence(2));

    h.join(0, &[p1.clone(), p2.clone()]).unwrap();
    assert_eq!(
        h.take_actions(),
        vec![DispatchAction::Broadcast {
            op_code: 1,
            data: Some(b"welcome".to_vec()),
            presences: Some(vec![p1.clone(), p2.clone()]),
            sender: None,
            reliable: true,
            deferred: false,
        }]
    );
    assert!(h.take_actions().is_empty(), "taken once");

    let label = r#"{"mode":"ffa"}"#;
    h.tick(
        1,
        &[
            message(&p1, 1, Some(b"hi".as_slice())),
            message(&p2, 2, Some(b"psst".as_slice())),
            message(&p1, 3, None),
            message(&p1, 4, Some(label.as_bytes())),
        ],
    )
    .unwrap();
    let sender = MatchPresence {
        node: String::new(),
        ..p1.clone()
    };
    assert_eq!(
        h.take_actions(),
        vec![
            DispatchAction::Broadcast {
                op_code: 2,
                data: Some(b"hi".to_vec()),
                presences: None,
                sender: Some(sender),
                reliable: true,
                deferred: false,
            },
            DispatchAction::Broadcast {
                op_code: 3,
                data: Some(b"psst".to_vec()),
                presences: Some(vec![p2.clone()]),
                sender: None,
                reliable: false,
                deferred: true,
            },
            DispatchAction::Kick(vec![p1.clone()]),
            DispatchAction::LabelUpdate(label.into()),
        ]
    );
    assert_eq!(h.label(), label);
    // The context's match_label changed at once, inside the same callback.
    assert_eq!(
        signal_json(&mut h, "labels"),
        json!({"before": "initial", "after": label})
    );

    h.tick(2, &[message(&p1, 5, None)]).unwrap();
    assert_eq!(
        h.take_actions(),
        vec![
            DispatchAction::Broadcast {
                op_code: 5,
                data: None,
                presences: None,
                sender: None,
                reliable: true,
                deferred: false,
            },
            DispatchAction::LabelUpdate(String::new()),
        ],
        "empty target lists and kicks do nothing"
    );
    assert_eq!(h.label(), "");

    h.leave(3, &[p2.clone()]).unwrap();
    assert_eq!(h.take_actions(), vec![DispatchAction::Kick(vec![p2])]);
    assert_eq!(h.signal(3, "ping").unwrap(), (true, Some("ping".into())));
    h.terminate(4, 30).unwrap();
    let broadcast = |op_code, data: &str| DispatchAction::Broadcast {
        op_code,
        data: Some(data.as_bytes().to_vec()),
        presences: None,
        sender: None,
        reliable: true,
        deferred: false,
    };
    assert_eq!(
        h.take_actions(),
        vec![broadcast(7, "ping"), broadcast(9, "bye in 30")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_arguments_are_checked_like_nakamas() {
    let (pool, _) = pool().await;
    let mut h = start(&pool, "dispatch", None);
    h.tick(1, &[message(&presence(1), 99, None)]).unwrap();
    assert!(h.take_actions().is_empty(), "failed calls record nothing");
    let errors = signal_json(&mut h, "errors");
    let bm = "bad argument #{} to broadcast_message";
    let cases = [
        ("op_code", 1, "number expected, got string"),
        ("data_type", 2, "expects data to be a string or nil"),
        ("presences_type", 3, "table expected, got string"),
        ("presence_not_table", 3, "expects a valid set of presences"),
        (
            "presence_bad_session",
            3,
            "expects each presence to have a valid session_id",
        ),
        ("presence_node_type", 3, "expects node to be string"),
        (
            "presence_missing_node",
            3,
            "expects each presence to have a valid session_id and node",
        ),
        (
            "presence_single_user",
            3,
            "expects each presence to have a valid user_id",
        ),
        ("sender_type", 4, "table expected, got string"),
        (
            "sender_bad_user",
            4,
            "expects presence to have a valid user_id",
        ),
        (
            "sender_bad_session",
            4,
            "expects presence to have a valid session_id",
        ),
        ("sender_username_type", 4, "expects username to be string"),
        (
            "sender_incomplete",
            4,
            "expects presence to have a valid user_id, session_id, and username",
        ),
        ("reliable_type", 5, "boolean expected, got string"),
        // Called with `:`, the dispatcher itself is the op code.
        ("colon_call", 1, "number expected, got table"),
    ];
    for (case, arg, text) in cases {
        let expected = format!("{} ({text})", bm.replace("{}", &arg.to_string()));
        let got = errors[case].as_str().unwrap();
        assert!(got.ends_with(&expected), "{case}: {got}");
        assert!(got.starts_with("dispatch.lua:"), "{case}: {got}");
    }
    let ends = |case: &str, expected: &str| {
        let got = errors[case].as_str().unwrap();
        assert!(got.ends_with(expected), "{case}: {got}");
    };
    ends(
        "deferred_data_type",
        "bad argument #2 to broadcast_message_deferred (expects data to be a string or nil)",
    );
    ends(
        "kick_type",
        "bad argument #1 to match_kick (table expected, got string)",
    );
    ends(
        "kick_not_table",
        "bad argument #1 to match_kick (expects a valid set of presences)",
    );
    ends(
        "kick_bad_user",
        "bad argument #1 to match_kick (expects each presence to have a valid user_id)",
    );
    ends(
        "kick_bad_session",
        "bad argument #1 to match_kick (expects each presence to have a valid session_id)",
    );
    ends(
        "kick_node_type",
        "bad argument #1 to match_kick (expects node to be string)",
    );
    ends(
        "kick_incomplete",
        "bad argument #1 to match_kick (expects each presence to have a valid user_id, session_id, and node)",
    );
    ends(
        "label_long",
        "error updating match label: match label too long, must be 0-2048 bytes",
    );
    ends(
        "label_type",
        "bad argument #1 to match_label_update (string expected, got table)",
    );
    assert_eq!(errors.as_object().unwrap().len(), 24, "every case failed");
    assert_eq!(h.label(), "initial");

    // Deferred broadcasts are bounded per tick.
    let (_, message) = lua_error(h.tick(2, &[message(&presence(1), 100, None)]));
    assert!(
        message.ends_with(
            "error deferring message broadcast: too many deferred message broadcasts per tick"
        ),
        "{message}"
    );
    let actions = h.take_actions();
    assert_eq!(actions.len(), 128);
    assert!(actions.iter().all(|a| matches!(
        a,
        DispatchAction::Broadcast {
            deferred: true,
            op_code: 1,
            ..
        }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nk_match_functions_reach_the_host() {
    let (pool, host) = pool().await;
    assert!(host.pool.set(pool.clone()).is_ok());
    let r = rpc(
        &pool,
        "rt_match",
        json!({"module": "match", "params": {"debug": false}, "signal": "hey"}),
    )
    .await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert!(id.ends_with(".shoal") && id.len() == 36 + 6, "{id}");
    let info = json!({
        "match_id": id, "authoritative": true, "label": "skill=100-150", "size": 0,
        "tick_rate": 1, "handler_name": "match",
    });
    assert_eq!(r["got"], info);
    assert_eq!(r["missing"], Value::Null);
    assert_eq!(r["list"], json!([info]));
    assert_eq!(r["list_default"], json!([info]));
    // nk.match_signal ran the match's own match_signal (data|members|log).
    assert_eq!(r["signal"], "hey|0|");
    assert_eq!(r["signal_nil"], "|0|");
    assert!(host.handlers.lock().unwrap().contains_key(&id));

    let missing = "4f0e3e6a-0000-4000-8000-00000000abcd.shoal";
    assert_eq!(
        host.take_realtime(),
        vec![
            RealtimeCall::MatchCreate("match".into(), Some(json!({"debug": false}))),
            RealtimeCall::MatchGet(id.clone()),
            RealtimeCall::MatchGet(missing.into()),
            RealtimeCall::MatchList(MatchListQuery {
                limit: 5,
                authoritative: Some(true),
                label: Some("skill".into()),
                min_size: Some(1),
                max_size: Some(4),
                query: Some("+label.skill:>=50".into()),
            }),
            RealtimeCall::MatchList(MatchListQuery {
                limit: 1,
                ..Default::default()
            }),
            RealtimeCall::MatchSignal(id.clone(), "hey".into()),
            RealtimeCall::MatchSignal(id, String::new()),
        ]
    );

    // No params is nil for match_init.
    rpc(
        &pool,
        "rt_match",
        json!({"module": "returns", "signal": "x"}),
    )
    .await;
    assert_eq!(
        host.take_realtime()[0],
        RealtimeCall::MatchCreate("returns".into(), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nk_stream_functions_reach_the_host() {
    let (pool, host) = pool().await;
    let session = host.connect(UID, "alice");
    let other_session = uuid::Uuid::new_v4().to_string();
    let subject = "A0A0A0A0-0000-4000-8000-0000000000AA";
    let r = rpc(
        &pool,
        "rt_streams",
        json!({"user": UID, "session": session, "other_session": other_session, "subject": subject}),
    )
    .await;
    let subject = subject.to_lowercase();

    let row = json!({
        "user_id": UID, "session_id": session, "node": "shoal", "hidden": false,
        "persistence": true, "username": "alice", "status": "back",
    });
    assert_eq!(
        r,
        json!({
            "joined": true, "joined_again": false, "listed": [row], "listed_hidden_only": {},
            "got": {"hidden": false, "persistence": true, "username": "alice", "status": "back"},
            "count": 1, "count_after_leave": 0,
        })
    );

    let stream = Stream {
        mode: 2,
        subject: subject.clone(),
        subcontext: String::new(),
        label: "lobby".into(),
    };
    let asked = |hidden, persistence, status: &str| StreamPresence {
        user_id: UID.into(),
        session_id: session.clone(),
        hidden,
        persistence,
        status: status.into(),
        ..Default::default()
    };
    let target = |user_id: &str, node: &str| StreamPresence {
        user_id: user_id.into(),
        session_id: session.clone(),
        node: node.into(),
        ..Default::default()
    };
    let send = |data: &str, presences, reliable, raw| RealtimeCall::StreamSend {
        stream: stream.clone(),
        data: data.into(),
        presences,
        reliable,
        raw,
    };
    assert_eq!(
        host.take_realtime(),
        vec![
            RealtimeCall::StreamUserJoin(stream.clone(), asked(true, false, "away")),
            RealtimeCall::StreamUserJoin(stream.clone(), asked(false, true, "")),
            RealtimeCall::StreamUserUpdate(stream.clone(), asked(false, true, "back")),
            RealtimeCall::StreamUserList(stream.clone(), true, true),
            RealtimeCall::StreamUserList(stream.clone(), true, false),
            RealtimeCall::StreamUserGet(stream.clone(), UID.into(), session.clone()),
            RealtimeCall::StreamUserGet(stream.clone(), UID.into(), other_session),
            RealtimeCall::StreamCount(stream.clone()),
            send("payload", None, true, false),
            send("to one", Some(vec![target("", "shoal")]), false, false),
            // An empty target list is the whole stream, as in Nakama.
            send("to nobody in particular", None, true, false),
            send(
                r#"{"channel_message":{"channel_id":"c","content":"{}"}}"#,
                Some(vec![target(UID, "other-node")]),
                true,
                true,
            ),
            RealtimeCall::StreamUserLeave(stream.clone(), UID.into(), session.clone()),
            RealtimeCall::StreamCount(stream.clone()),
            RealtimeCall::StreamUserLeave(
                Stream {
                    mode: 9,
                    ..Default::default()
                },
                UID.into(),
                session.clone(),
            ),
            RealtimeCall::StreamClose(Stream {
                mode: 3,
                subcontext: subject,
                ..Default::default()
            }),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nk_notifications_and_chat_reach_the_host() {
    let (pool, host) = pool().await;
    let r = rpc(
        &pool,
        "rt_messages",
        json!({"user": UID, "other_user": OTHER}),
    )
    .await;
    assert_eq!(
        r["ack"],
        json!({
            "channelId": "2...lobby", "messageId": "6f2c4c1e-0000-4000-8000-000000000001",
            "code": 0, "username": "alice", "createTime": 1_700_000_000,
            "updateTime": 1_700_000_001, "persistent": true,
        })
    );
    assert_eq!(r["system"]["username"], "");
    assert_eq!(r["system"]["persistent"], false);

    let n = |user: &str, subject: &str, content: &str, code, sender: &str, persistent| {
        NotificationSend {
            user_id: user.into(),
            subject: subject.into(),
            content: content.into(),
            code,
            sender_id: sender.into(),
            persistent,
        }
    };
    let chat =
        |content: &str, sender: &str, username: &str, persist| RealtimeCall::ChannelMessageSend {
            channel_id: "2...lobby".into(),
            content: content.into(),
            sender_id: sender.into(),
            sender_username: username.into(),
            persist,
        };
    assert_eq!(
        host.take_realtime(),
        vec![
            RealtimeCall::NotificationsSend(vec![n(
                UID,
                "hello",
                r#"{"reward":10}"#,
                101,
                OTHER,
                true
            )]),
            RealtimeCall::NotificationsSend(vec![n(UID, "plain", "{}", 1, "", false)]),
            RealtimeCall::NotificationsSend(vec![
                n(UID, "a", r#"{"n":1}"#, 5, "", false),
                n(OTHER, "b", "{}", 6, UID, true),
            ]),
            chat(r#"{"text":"hi"}"#, UID, "alice", true),
            chat("{}", "", "", false),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nk_realtime_arguments_are_checked_like_nakamas() {
    let (pool, host) = pool().await;
    let session = host.connect(UID, "alice");
    let payload = json!({
        "user": UID, "session": session, "other_session": uuid::Uuid::new_v4().to_string(),
        "unreachable": UNREACHABLE_USER, "bad_channel": BAD_CHANNEL, "channel_down": CHANNEL_DOWN,
    });
    let errors = rpc(&pool, "rt_errors", payload).await;
    let errors = errors.as_object().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "match_create_module",
            "bad argument #1 to match_create (expects module name)",
        ),
        (
            "match_create_params",
            "bad argument #2 to match_create (expects params to be nil or a table of key-value pairs)",
        ),
        (
            "match_create_array",
            "bad argument #2 to match_create (expects params to be nil or a table of key-value pairs)",
        ),
        ("match_create_host", ": error creating match: not found"),
        ("match_get_host", ": failed to get match: match id invalid"),
        (
            "match_list_authoritative",
            "bad argument #2 to match_list (expects authoritative true/false or nil)",
        ),
        (
            "match_list_label",
            "bad argument #3 to match_list (expects label string or nil)",
        ),
        (
            "match_list_min",
            "bad argument #4 to match_list (expects minimum size number or nil)",
        ),
        (
            "match_list_max",
            "bad argument #5 to match_list (expects maximum size number or nil)",
        ),
        (
            "match_list_query",
            "bad argument #6 to match_list (expects query string or nil)",
        ),
        (
            "match_signal_host",
            ": failed to signal match: match not found",
        ),
        (
            "join_user_empty",
            "bad argument #1 to stream_user_join (expects user id)",
        ),
        (
            "join_user_bad",
            "bad argument #1 to stream_user_join (expects valid user id)",
        ),
        (
            "join_session_empty",
            "bad argument #2 to stream_user_join (expects session id)",
        ),
        (
            "join_session_bad",
            "bad argument #2 to stream_user_join (expects valid session id)",
        ),
        (
            "join_stream_type",
            "bad argument #3 to stream_user_join (table expected, got string)",
        ),
        (
            "join_mode",
            "bad argument #3 to stream_user_join (stream mode must be a number)",
        ),
        (
            "join_subject_type",
            "bad argument #3 to stream_user_join (stream subject must be a string)",
        ),
        (
            "join_subject_bad",
            "bad argument #3 to stream_user_join (stream subject must be a valid identifier)",
        ),
        (
            "join_subcontext_bad",
            "bad argument #3 to stream_user_join (stream subcontext must be a valid identifier)",
        ),
        (
            "join_label_type",
            "bad argument #3 to stream_user_join (stream label must be a string)",
        ),
        (
            "join_hidden_type",
            "bad argument #4 to stream_user_join (boolean expected, got string)",
        ),
        (
            "join_unknown_session",
            "bad argument #2 to stream_user_join (session id does not exist)",
        ),
        (
            "update_unknown_session",
            "bad argument #2 to stream_user_update (session id does not exist)",
        ),
        (
            "leave_session_bad",
            "bad argument #2 to stream_user_leave (expects valid session id)",
        ),
        (
            "kick_nil",
            "bad argument #1 to stream_user_kick (expects a valid presence)",
        ),
        (
            "kick_bad_user",
            "bad argument #1 to stream_user_kick (expects each presence to have a valid user_id)",
        ),
        (
            "kick_incomplete",
            "bad argument #1 to stream_user_kick (expects each presence to have a valid user_id, session_id, and node)",
        ),
        (
            "kick_node_type",
            "bad argument #1 to stream_user_kick (expects node to be string)",
        ),
        (
            "kick_stream",
            "bad argument #2 to stream_user_kick (stream mode must be a number)",
        ),
        (
            "list_stream",
            "bad argument #1 to stream_user_list (stream label must be a string)",
        ),
        (
            "count_stream",
            "bad argument #1 to stream_count (table expected, got nil)",
        ),
        (
            "send_data",
            "bad argument #2 to stream_send (string expected, got nil)",
        ),
        (
            "send_presences",
            "bad argument #3 to stream_send (expects a valid set of presences)",
        ),
        (
            "send_presence_session",
            "bad argument #3 to stream_send (presence session id must be a valid identifier)",
        ),
        (
            "send_presence_node",
            "bad argument #3 to stream_send (presence node must be a string)",
        ),
        (
            "send_reliable",
            "bad argument #4 to stream_send (boolean expected, got string)",
        ),
        (
            "send_raw_envelope",
            "bad argument #2 to stream_send_raw (table expected, got string)",
        ),
        (
            "send_raw_array",
            "bad argument #2 to stream_send_raw (not a valid envelope)",
        ),
        (
            "notify_user",
            "bad argument #1 to notification_send (expects user_id to be a valid UUID)",
        ),
        (
            "notify_subject",
            "bad argument #2 to notification_send (expects subject to be a non-empty string)",
        ),
        (
            "notify_content",
            "bad argument #3 to notification_send (table expected, got string)",
        ),
        (
            "notify_code",
            "bad argument #4 to notification_send (expects code number to be a positive integer)",
        ),
        (
            "notify_sender",
            "bad argument #5 to notification_send (expects sender_id to either be not set, empty string or a valid UUID)",
        ),
        (
            "notify_host",
            ": failed to send notifications: user store unreachable",
        ),
        (
            "notifications_type",
            "bad argument #1 to notifications_send (table expected, got string)",
        ),
        (
            "notifications_entry",
            "bad argument #1 to notifications_send (expects a valid set of notifications)",
        ),
        (
            "notifications_persistent",
            "bad argument #1 to notifications_send (expects persistent to be boolean)",
        ),
        (
            "notifications_subject_type",
            "bad argument #1 to notifications_send (expects subject to be string)",
        ),
        (
            "notifications_content_type",
            "bad argument #1 to notifications_send (expects content to be a table)",
        ),
        (
            "notifications_code_type",
            "bad argument #1 to notifications_send (expects code to be number)",
        ),
        (
            "notifications_code_zero",
            "bad argument #1 to notifications_send (expects code to number above 0)",
        ),
        (
            "notifications_user_type",
            "bad argument #1 to notifications_send (expects user_id to be string)",
        ),
        (
            "notifications_user_bad",
            "bad argument #1 to notifications_send (expects user_id to be a valid UUID)",
        ),
        (
            "notifications_sender_bad",
            "bad argument #1 to notifications_send (expects sender_id to be a valid UUID)",
        ),
        (
            "notifications_no_subject",
            "bad argument #1 to notifications_send (expects subject to be provided and to be non-empty)",
        ),
        (
            "notifications_no_content",
            "bad argument #1 to notifications_send (expects content to be provided and be valid JSON)",
        ),
        (
            "notifications_no_user",
            "bad argument #1 to notifications_send (expects user_id to be provided and be a valid UUID)",
        ),
        (
            "notifications_no_code",
            "bad argument #1 to notifications_send (expects code to be provided and be a number above 0)",
        ),
        (
            "channel_content",
            "bad argument #2 to channel_message_send (expects message content to be a valid JSON object)",
        ),
        (
            "channel_sender",
            "bad argument #3 to channel_message_send (expects sender id to either be not set, empty string or a valid UUID)",
        ),
        // A channel id the host cannot parse is raised as the host said it.
        ("channel_bad_id", "rt.lua:"),
        (
            "channel_down",
            ": failed to send channel message: channel store unreachable",
        ),
    ];
    for (case, expected) in cases {
        let got = errors[*case].as_str().unwrap();
        assert!(
            got.starts_with("rt.lua:") && (got.ends_with(expected) || *case == "channel_bad_id"),
            "{case}: {got}"
        );
    }
    let bad_id = errors["channel_bad_id"].as_str().unwrap();
    assert!(bad_id.ends_with(": invalid channel id"), "{bad_id}");
    assert_eq!(errors.len(), cases.len(), "every case failed");

    // Only the calls that passed the checks reached the host.
    let mut reached: Vec<String> = host
        .take_realtime()
        .iter()
        .map(|c| {
            format!("{c:?}")
                .split(['(', ' '])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    reached.sort();
    assert_eq!(
        reached,
        [
            "ChannelMessageSend",
            "ChannelMessageSend",
            "MatchCreate",
            "MatchGet",
            "MatchSignal",
            "NotificationsSend",
            "StreamUserJoin",
            "StreamUserUpdate",
        ]
    );
}
