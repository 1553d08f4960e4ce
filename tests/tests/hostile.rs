//! Hostile input against a running node — REST, the realtime socket, the console API, the
//! cluster port and the Lua runtime. Every case gets a clean error (Nakama's code, message
//! and HTTP status where Nakama defines one; the socket closes where Nakama closes it), and
//! afterwards the node is healthy (healthcheck, a normal RPC, a socket ping) and the
//! victim's data is exactly what it was before the attacks.
//!
//! Each area is one test on its own node. Every case is labelled, and an area's test fails
//! listing all of its failed cases, not just the first.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use shoal_tests::ws::Socket;
use shoal_tests::{Auth, Client, Resp, TestNode, tail, token_user_id, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, Message};

const SERVER_KEY: &str = "defaultkey";
const SESSION_KEY: &str = "defaultencryptionkey";
const REFRESH_KEY: &str = "defaultrefreshencryptionkey";

fn modules() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/test/hostile").display().to_string()
}

async fn start(extra: &[&str]) -> TestNode {
    let modules = modules();
    let mut args = vec!["--runtime.path", modules.as_str()];
    args.extend_from_slice(extra);
    TestNode::start(&args).await.expect("node starts")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn jwt(alg: jsonwebtoken::Algorithm, key: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &jsonwebtoken::EncodingKey::from_secret(key.as_bytes())).unwrap()
}

/// grpc-gateway's `HTTPStatusFromCode`.
fn http_status_of(code: i64) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// The cases of one area: each records pass or fail, and `finish` fails the test with
/// every failed case listed (so one run shows all of an area's divergences).
struct Cases {
    area: &'static str,
    run: usize,
    failed: Vec<String>,
}

impl Cases {
    fn new(area: &'static str) -> Cases {
        Cases { area, run: 0, failed: Vec::new() }
    }

    fn check(&mut self, ok: bool, what: impl std::fmt::Display) -> bool {
        self.run += 1;
        if !ok {
            self.failed.push(what.to_string());
        }
        ok
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, got: T, want: T, what: impl std::fmt::Display) -> bool {
        let ok = got == want;
        self.check(ok, format_args!("{what}: got {got:?}, want {want:?}"))
    }

    /// HTTP status and gRPC code.
    fn expect(&mut self, r: &Resp, status: u16, code: i64, what: &str) -> bool {
        self.eq((r.status, r.body["code"].as_i64()), (status, Some(code)), format_args!("{what} (body {})", r.body))
    }

    /// HTTP status, gRPC code and message.
    fn expect_msg(&mut self, r: &Resp, status: u16, code: i64, message: &str, what: &str) -> bool {
        let got = (r.status, r.body["code"].as_i64(), r.body["message"].as_str());
        self.eq(got, (status, Some(code), Some(message)), format_args!("{what} (body {})", r.body))
    }

    fn finish(self) {
        println!("{}: {} cases", self.area, self.run);
        assert!(
            self.failed.is_empty(),
            "{}: {} of {} cases failed:\n  - {}",
            self.area,
            self.failed.len(),
            self.run,
            self.failed.join("\n  - ")
        );
    }
}

/// A user whose data the attacks must not change: three storage objects (owner-only,
/// public, public and runtime-write-only) and a record on a client-writable board.
struct Victim {
    token: String,
    refresh: String,
    uid: String,
}

impl Victim {
    async fn create(c: &Client, custom_id: &str) -> Victim {
        let (token, refresh) = c.login_custom(custom_id).await;
        let uid = token_user_id(&token);
        c.json(
            "PUT",
            "/v2/storage",
            Auth::Bearer(&token),
            json!({"objects":[
                {"collection":"vault","key":"private","value":"{\"gold\":100}","permission_read":1,"permission_write":1},
                {"collection":"vault","key":"public","value":"{\"title\":\"knight\"}","permission_read":2,"permission_write":1},
                {"collection":"vault","key":"locked","value":"{\"badge\":\"founder\"}","permission_read":2,"permission_write":0},
            ]}),
        )
        .await
        .ok();
        c.json("POST", "/v2/leaderboard/hostile_open", Auth::Bearer(&token), json!({"score":"42","subscore":"7","metadata":"{\"run\":1}"}))
            .await
            .ok();
        Victim { token, refresh, uid }
    }

    fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.token)
    }

    /// The account, the three objects and the board record (without rank, which other
    /// players' legitimate scores may move).
    async fn snapshot(&self, c: &Client) -> Value {
        let mut account = c.call("GET", "/v2/account", self.auth(), None).await.ok();
        if let Some(u) = account.get_mut("user").and_then(Value::as_object_mut) {
            u.remove("online");
        }
        let ids: Vec<Value> = ["private", "public", "locked"].iter().map(|k| json!({"collection":"vault","key":k,"user_id":self.uid})).collect();
        let storage = c.json("POST", "/v2/storage", self.auth(), json!({ "object_ids": ids })).await.ok();
        let mut board = c.call("GET", &format!("/v2/leaderboard/hostile_open?owner_ids={}", self.uid), self.auth(), None).await.ok();
        let mut records = board["owner_records"].take();
        for r in records.as_array_mut().into_iter().flatten() {
            r.as_object_mut().map(|o| o.remove("rank"));
        }
        assert_eq!(storage["objects"].as_array().map(Vec::len), Some(3), "victim's objects: {storage}");
        json!({"account": account, "storage": storage, "board": records})
    }
}

/// After an area's attacks: the process runs, `/healthcheck` and a normal RPC and socket
/// ping answer, the victim's data is unchanged, and nothing panicked. Then the area's
/// verdict.
async fn finish_healthy(mut k: Cases, node: &mut TestNode, c: &Client, v: &Victim, before: &Value) {
    let area = k.area;
    assert!(node.is_running(), "{area}: the node exited; log:\n{}", tail(&node.log(), 60));
    k.eq(c.call("GET", "/healthcheck", Auth::None, None).await.status, 200, "healthcheck afterwards");
    let r = c.call("POST", "/v2/rpc/ping", v.auth(), Some(b"\"\"".to_vec())).await;
    k.eq(r.body["payload"].as_str(), Some("pong"), format_args!("a normal RPC afterwards ({})", r.body));
    match Socket::connect(node.port, &v.token, false).await {
        Ok(mut s) => {
            let pong = s.request("ping", json!({})).await.map(|p| p.get("pong").is_some());
            k.check(matches!(pong, Ok(true)), format_args!("a socket ping afterwards: {pong:?}"));
        }
        Err(e) => {
            k.check(false, format_args!("a socket connects afterwards: {e}"));
        }
    }
    let after = v.snapshot(c).await;
    k.check(&after == before, format_args!("the victim's data changed:\n    before {before}\n    after  {after}"));
    let log = node.log();
    k.check(!log.contains("panicked"), format_args!("a panic in the node log:\n{}", tail(&log, 80)));
    k.finish();
}

/// Sends `head` then `body` chunks on a fresh TCP connection and reads the answer until the
/// server closes (10 s at most). Returns the status (0 if none) and the JSON body.
async fn raw_http(port: u16, head: &[u8], body: &[&[u8]], what: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = s.write_all(head).await;
    for chunk in body {
        if s.write_all(chunk).await.is_err() {
            break;
        }
    }
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut tmp = [0u8; 16 * 1024];
        loop {
            match s.read(&mut tmp).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{what}: no answer within 10 s (hang)");
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return (0, Value::Null) };
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = buf[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        let start = eol + 2;
        if n == 0 || b.len() < start + n {
            break;
        }
        out.extend_from_slice(&b[start..start + n]);
        b = &b[(start + n + 2).min(b.len())..];
    }
    out
}

#[tokio::test]
async fn rest_bodies_json_and_field_types() {
    let mut node = start(&[]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-rest").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("REST");
    let auth_path = "/v2/account/authenticate/custom?create=true";
    let board = "/v2/leaderboard/hostile_open";

    // Oversize bodies (socket.max_request_size_bytes = 256 KiB), each a valid write of the
    // victim's own object if the limit did not hold.
    let big = json!({"objects":[{"collection":"vault","key":"private","value": json!({"gold": "9".repeat(300 * 1024)}).to_string()}]});
    let r = c.call("PUT", "/v2/storage", v.auth(), Some(serde_json::to_vec(&big).unwrap())).await;
    k.expect_msg(&r, 400, 3, "http: request body too large", "oversize storage write");
    let r = c.call("POST", "/v2/rpc/ping", v.auth(), Some(serde_json::to_vec(&json!("x".repeat(300 * 1024))).unwrap())).await;
    k.expect_msg(&r, 400, 3, "http: request body too large", "oversize RPC body");
    let r = c.call("POST", "/v2/rpc/ping", v.auth(), Some(serde_json::to_vec(&json!("x".repeat(3 << 20))).unwrap())).await;
    k.expect_msg(&r, 400, 3, "http: request body too large", "3 MB RPC body");
    let head = format!(
        "PUT /v2/storage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        v.token
    );
    let big = serde_json::to_vec(&big).unwrap();
    let chunks: Vec<Vec<u8>> = big.chunks(16 * 1024).map(|c| [format!("{:x}\r\n", c.len()).into_bytes(), c.to_vec(), b"\r\n".to_vec()].concat()).collect();
    let mut parts: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    parts.push(b"0\r\n\r\n");
    let (status, body) = raw_http(node.port, head.as_bytes(), &parts, "oversize chunked body").await;
    let got = (status, body["code"].as_i64(), body["message"].as_str());
    k.eq(got, (400, Some(3), Some("http: request body too large")), format_args!("oversize chunked body, no Content-Length ({body})"));

    // Malformed, deeply nested and huge JSON.
    let r = c.call("PUT", "/v2/storage", v.auth(), Some(br#"{"objects":[{"collection":"vault","key":"private","value":"{}""#.to_vec())).await;
    k.expect(&r, 400, 3, "truncated JSON");
    let r = c.call("POST", auth_path, Auth::Basic(SERVER_KEY), Some("[".repeat(100_000).into_bytes())).await;
    k.expect(&r, 400, 3, "100k unbalanced [");
    let deep = format!("{{\"junk\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let r = c.call("POST", auth_path, Auth::Basic(SERVER_KEY), Some(deep.into_bytes())).await;
    k.expect(&r, 400, 3, "100k balanced [ in an unknown field");
    let r = c.call("POST", "/v2/rpc/ping", v.auth(), Some("[".repeat(100_000).into_bytes())).await;
    k.expect_msg(&r, 400, 3, "json: cannot unmarshal object into Go value of type string", "100k [ as an RPC body");
    for (what, score) in [
        ("int64 overflow as a string", json!("99999999999999999999999")),
        ("int64 overflow as a number", json!(1e30)),
        ("fractional int64", json!(1.5)),
        ("NaN int64", json!("NaN")),
    ] {
        let r = c.json("POST", board, v.auth(), json!({ "score": score })).await;
        k.expect(&r, 400, 3, what);
    }
    let r = c.call("POST", board, v.auth(), Some(format!("{{\"score\":{}}}", "1".repeat(200_000)).into_bytes())).await;
    k.expect(&r, 400, 3, "200k-digit number");
    let r = c.json("POST", auth_path, Auth::Basic(SERVER_KEY), json!({"id": "a".repeat(200_000)})).await;
    k.expect_msg(&r, 400, 3, "Custom ID invalid, must be 6-128 bytes.", "200 KB custom id");
    // Nakama's storage key column is VARCHAR(128): a 200 KB key never lands.
    let r = c.json("PUT", "/v2/storage", v.auth(), json!({"objects":[{"collection":"vault","key":"k".repeat(200_000),"value":"{}"}]})).await;
    k.expect(&r, 400, 3, "200 KB storage key");

    // Invalid UTF-8 in bodies, paths and query strings.
    let mut body = br#"{"objects":[{"collection":"vault","key":"private","value":"{\"gold\":\""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#"\"}"}]}"#);
    let r = c.call("PUT", "/v2/storage", v.auth(), Some(body)).await;
    k.expect(&r, 400, 3, "invalid UTF-8 inside a JSON string");
    let r = c.call("GET", "/v2/storage/%FF%FE", v.auth(), None).await;
    k.expect(&r, 400, 3, "percent-encoded invalid UTF-8 in a path parameter");
    let r = c.call("GET", "/v2/storage/vault?cursor=%FF%FE", v.auth(), None).await;
    k.expect(&r, 400, 3, "invalid UTF-8 in a query parameter");
    let r = c.call("GET", &format!("/v2/leaderboard/hostile_open?owner_ids=%FF{}", v.uid), v.auth(), None).await;
    k.expect(&r, 400, 3, "invalid UTF-8 in a repeated query parameter");
    let r = c.call("POST", "/v2/rpc/%FF%FE", v.auth(), Some(b"\"\"".to_vec())).await;
    k.expect_msg(&r, 404, 5, "RPC function not found", "invalid UTF-8 in an RPC id");
    let r = c.call("POST", "/v2/rpc/ping?x=%FF%FE", v.auth(), Some(b"\"\"".to_vec())).await;
    k.eq((r.status, r.body["payload"].as_str()), (200, Some("pong")), format_args!("invalid UTF-8 in an RPC query param is passed to the function ({})", r.body));
    let mut head = b"GET /v2/storage/\xff\xfe HTTP/1.1\r\nHost: x\r\n".to_vec();
    head.extend_from_slice(format!("Authorization: Bearer {}\r\nConnection: close\r\n\r\n", v.token).as_bytes());
    let (status, body) = raw_http(node.port, &head, &[], "raw invalid UTF-8 path").await;
    k.eq(status, 400, format_args!("raw invalid UTF-8 bytes in the request path ({body})"));

    // Wrong JSON types, one per kind of field.
    let types: Vec<(&str, &str, &str, Value)> = vec![
        ("string given a bool", "POST", auth_path, json!({"id": true})),
        ("string given an array", "POST", auth_path, json!({"id": ["abcdefgh"]})),
        ("map<string,string> given a number value", "POST", auth_path, json!({"id":"abcdefgh-1","vars":{"k":5}})),
        ("map given an array", "POST", auth_path, json!({"id":"abcdefgh-2","vars":["k"]})),
        ("int64 given an object", "POST", board, json!({"score": {}})),
        ("enum given an unknown name", "POST", board, json!({"score":"1","operator":"EXPLODE"})),
        ("enum given a bool", "POST", board, json!({"score":"1","operator":true})),
        ("message given a string", "PUT", "/v2/storage", json!({"objects":["x"]})),
        ("repeated given an object", "PUT", "/v2/storage/delete", json!({"object_ids":{"collection":"vault","key":"private"}})),
        (
            "Int32Value given a word",
            "PUT",
            "/v2/storage",
            json!({"objects":[{"collection":"vault","key":"private","value":"{}","permission_read":"public"}]}),
        ),
        ("string given an object", "PUT", "/v2/storage", json!({"objects":[{"collection":"vault","key":"private","value":{"gold":0}}]})),
        ("StringValue given a number", "PUT", "/v2/account", json!({"display_name": 5})),
        ("StringValue given an array", "PUT", "/v2/account", json!({"username": ["x"]})),
        ("top-level array", "PUT", "/v2/storage", json!([])),
        ("top-level string", "PUT", "/v2/storage", json!("objects")),
    ];
    let r = c.call("POST", auth_path, Auth::Basic(SERVER_KEY), Some(br#"{"id":"dup-key-one","id":"victim-rest"}"#.to_vec())).await;
    k.expect(&r, 400, 3, "a duplicated field (protojson refuses it)");
    for (what, method, path, body) in types {
        let auth = if path.contains("authenticate") { Auth::Basic(SERVER_KEY) } else { v.auth() };
        let r = c.json(method, path, auth, body).await;
        k.expect(&r, 400, 3, what);
    }
    for (what, method, path) in [
        ("bool query param given a word", "POST", "/v2/account/authenticate/custom?create=maybe"),
        ("Int32Value query param given a word", "GET", "/v2/friend?limit=lots"),
        ("Int32Value query param over int32", "GET", "/v2/friend?limit=99999999999"),
        ("Int32Value query param fractional", "GET", "/v2/storage/vault?limit=1.5"),
        ("Int64Value query param given a word", "GET", "/v2/leaderboard/hostile_open?expiry=soon"),
        ("bool query param given a number", "GET", "/v2/channel/2...room?forward=2"),
    ] {
        let auth = if path.contains("authenticate") { Auth::Basic(SERVER_KEY) } else { v.auth() };
        let body = path.contains("authenticate").then(|| br#"{"id":"query-typed-1"}"#.to_vec());
        let r = c.call(method, path, auth, body).await;
        k.expect(&r, 400, 3, what);
    }

    // Well-typed but invalid values.
    for (what, obj, message) in [
        ("value not an object", json!({"collection":"vault","key":"private","value":"[1,2]"}), "Value must be a JSON object."),
        ("value not JSON", json!({"collection":"vault","key":"private","value":"{bad"}), "Value must be a JSON object."),
        (
            "permission_read 3",
            json!({"collection":"vault","key":"private","value":"{}","permission_read":3}),
            "Invalid Read permission supplied. It must be either 0, 1 or 2.",
        ),
        (
            "permission_write 2",
            json!({"collection":"vault","key":"private","value":"{}","permission_write":2}),
            "Invalid Write permission supplied. It must be either 0 or 1.",
        ),
    ] {
        let r = c.json("PUT", "/v2/storage", v.auth(), json!({ "objects": [obj] })).await;
        k.expect_msg(&r, 400, 3, message, what);
    }
    let r = c.json("POST", board, v.auth(), json!({"score":"1","metadata":"{bad"})).await;
    k.expect_msg(&r, 400, 3, "Metadata value must be JSON, if provided.", "leaderboard metadata not JSON");

    // Routing and headers.
    let r = c.call("FOO", "/v2/account", v.auth(), None).await;
    k.expect_msg(&r, 501, 12, "Method Not Allowed", "unknown method");
    let r = c.call("GET", "/v2/account", Auth::Bearer(&"A".repeat(60 * 1024)), None).await;
    k.expect_msg(&r, 401, 16, "Auth token invalid", "60 KB bearer token");
    let head = b"GET /v2/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x80\r\nConnection: close\r\n\r\n";
    let (status, body) = raw_http(node.port, head, &[], "non-ASCII Authorization").await;
    k.eq((status, body["code"].as_i64()), (401, Some(16)), format_args!("non-ASCII bytes in Authorization ({body})"));

    finish_healthy(k, &mut node, &c, &v, &before).await;
}

#[tokio::test]
async fn forged_expired_and_revoked_tokens_are_refused() {
    let mut node = start(&[]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-tokens").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("tokens");
    let (other, other_refresh) = c.login_custom("token-attacker").await;
    let t = now();
    let claims = |uid: &str, exp: i64| json!({"tid":"6b9f5b9e-1b8e-4a55-9d8e-0a3e4f1c2d3e","uid":uid,"usn":"x","exp":exp,"iat":t});
    let h256 = jsonwebtoken::Algorithm::HS256;
    let none_header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let victim_claims = b64url(claims(&v.uid, t + 3600).to_string().as_bytes());
    let other_sig = other.rsplit('.').next().unwrap().to_string();
    let other_header = other.split('.').next().unwrap().to_string();
    let session_forgeries: Vec<(&str, String)> = vec![
        ("signed with the wrong key", jwt(h256, "not-the-key", &claims(&v.uid, t + 3600))),
        ("expired", jwt(h256, SESSION_KEY, &claims(&v.uid, t - 10))),
        ("alg none without a signature", format!("{none_header}.{victim_claims}.")),
        ("alg none with a signature", format!("{none_header}.{victim_claims}.{other_sig}")),
        ("HS512 with the right key", jwt(jsonwebtoken::Algorithm::HS512, SESSION_KEY, &claims(&v.uid, t + 3600))),
        ("uid swapped, signature kept", format!("{other_header}.{victim_claims}.{other_sig}")),
        ("no uid", jwt(h256, SESSION_KEY, &json!({"tid":"t","usn":"x","exp":t + 3600}))),
        ("uid not a UUID", jwt(h256, SESSION_KEY, &claims("not-a-uuid", t + 3600))),
        ("uid a number", jwt(h256, SESSION_KEY, &json!({"tid":"t","uid":5,"exp":t + 3600}))),
        ("no exp", jwt(h256, SESSION_KEY, &json!({"tid":"t","uid":v.uid}))),
        ("exp a string", jwt(h256, SESSION_KEY, &json!({"tid":"t","uid":v.uid,"exp":"never"}))),
        ("signed with the refresh key", jwt(h256, REFRESH_KEY, &claims(&v.uid, t + 3600))),
        ("a refresh token", v.refresh.clone()),
        ("two segments", format!("{none_header}.{victim_claims}")),
        ("empty", String::new()),
    ];
    for (what, token) in &session_forgeries {
        let r = c.call("GET", "/v2/account", Auth::Bearer(token), None).await;
        k.expect_msg(&r, 401, 16, "Auth token invalid", &format!("session token {what} (REST)"));
        let r = c.call("POST", "/v2/rpc/ping", Auth::Bearer(token), Some(b"\"\"".to_vec())).await;
        k.expect_msg(&r, 401, 16, "Auth token invalid", &format!("session token {what} (RPC)"));
        let r = c.json("PUT", "/v2/storage", Auth::Bearer(token), json!({"objects":[{"collection":"vault","key":"private","value":"{\"gold\":0}"}]})).await;
        k.expect(&r, 401, 16, &format!("session token {what} (storage write)"));
        let status = ws_handshake(node.port, &format!("token={token}")).await;
        k.eq(status, 401, format_args!("session token {what} (socket handshake)"));
    }
    let r = c.call("GET", "/v2/account", Auth::Raw(&format!("Basic {}", b64(&format!("{}:", v.token)))), None).await;
    k.expect_msg(&r, 401, 16, "Auth token invalid", "session token sent as Basic");

    let refresh_forgeries: Vec<(&str, String)> = vec![
        ("a session token", v.token.clone()),
        ("signed with the session key", jwt(h256, SESSION_KEY, &claims(&v.uid, t + 3600))),
        ("signed with the wrong key", jwt(h256, "not-the-key", &claims(&v.uid, t + 3600))),
        ("expired", jwt(h256, REFRESH_KEY, &claims(&v.uid, t - 10))),
        ("alg none", format!("{none_header}.{victim_claims}.")),
        ("garbage", "abc.def.ghi".into()),
    ];
    for (what, token) in &refresh_forgeries {
        let r = c.json("POST", "/v2/account/session/refresh", Auth::Basic(SERVER_KEY), json!({ "token": token })).await;
        k.expect_msg(&r, 401, 16, "Refresh token invalid or expired.", &format!("refresh token {what}"));
    }

    // Someone else's logout must not revoke the victim's session.
    let _ = c.json("POST", "/v2/session/logout", Auth::Bearer(&other), json!({"token": v.token, "refresh_token": v.refresh})).await;
    let r = c.call("GET", "/v2/account", v.auth(), None).await;
    k.eq(r.status, 200, format_args!("the victim's session after another user logged out its token ({})", r.body));
    let r = c.json("POST", "/v2/account/session/refresh", Auth::Basic(SERVER_KEY), json!({ "token": v.refresh })).await;
    k.eq(r.status, 200, format_args!("the victim's refresh token after another user logged it out ({})", r.body));

    // A logged-out session and refresh token are dead everywhere.
    c.json("POST", "/v2/session/logout", Auth::Bearer(&other), json!({"token": other, "refresh_token": other_refresh})).await.ok();
    let r = c.call("GET", "/v2/account", Auth::Bearer(&other), None).await;
    k.expect_msg(&r, 401, 16, "Auth token invalid", "logged-out session token (REST)");
    let r = c.call("POST", "/v2/rpc/ping", Auth::Bearer(&other), Some(b"\"\"".to_vec())).await;
    k.expect_msg(&r, 401, 16, "Auth token invalid", "logged-out session token (RPC)");
    k.eq(ws_handshake(node.port, &format!("token={other}")).await, 401, "logged-out session token (socket handshake)");
    let r = c.json("POST", "/v2/account/session/refresh", Auth::Basic(SERVER_KEY), json!({ "token": other_refresh })).await;
    k.expect_msg(&r, 401, 16, "Refresh token invalid or expired.", "logged-out refresh token");

    // The socket handshake's own checks.
    k.eq(ws_handshake(node.port, "lang=en").await, 401, "socket without a token");
    k.eq(ws_handshake(node.port, "token=%FF%FE").await, 401, "socket token with invalid UTF-8");
    k.eq(ws_handshake(node.port, &format!("token={}&format=xml", v.token)).await, 400, "socket format=xml");

    finish_healthy(k, &mut node, &c, &v, &before).await;
}

/// The HTTP status of a `/ws?<query>` upgrade (101 when it succeeds).
async fn ws_handshake(port: u16, query: &str) -> u16 {
    match tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?{query}")).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("socket handshake with {query}: {e}"),
    }
}

#[tokio::test]
async fn other_users_storage_and_authoritative_boards_are_off_limits() {
    let mut node = start(&[]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-storage").await;
    c.call(
        "POST",
        "/v2/rpc/official_write?http_key=defaulthttpkey",
        Auth::None,
        Some(serde_json::to_vec(&json!(json!({"owner": v.uid, "score": 500}).to_string())).unwrap()),
    )
    .await
    .ok();
    let official = |c: Client, uid: String, token: String| async move {
        let a = c.call("GET", &format!("/v2/leaderboard/hostile_official?owner_ids={uid}"), Auth::Bearer(&token), None).await.ok();
        let t = c.call("GET", &format!("/v2/tournament/hostile_cup?owner_ids={uid}"), Auth::Bearer(&token), None).await.ok();
        (a["owner_records"].clone(), t["owner_records"].clone())
    };
    let official_before = official(c.clone(), v.uid.clone(), v.token.clone()).await;
    assert_eq!((&official_before.0[0]["score"], &official_before.1[0]["score"]), (&json!("500"), &json!("500")), "the server's own writes: {official_before:?}");
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("permissions");
    let (a, _) = c.login_custom("storage-attacker").await;
    let a_uid = token_user_id(&a);
    let atk = || Auth::Bearer(&a);
    let victim_version = before["storage"]["objects"].as_array().unwrap().iter().find(|o| o["key"] == "public").unwrap()["version"].clone();

    // Reads and lists: only the public objects.
    let r = c
        .json("POST", "/v2/storage", atk(), json!({"object_ids":[{"collection":"vault","key":"private","user_id":v.uid},{"collection":"vault","key":"public","user_id":v.uid}]}))
        .await
        .ok();
    let keys: Vec<&str> = r["objects"].as_array().into_iter().flatten().filter_map(|o| o["key"].as_str()).collect();
    k.eq(keys, vec!["public"], format_args!("another user's objects readable by id ({r})"));
    for (what, path) in [
        ("list of the victim's collection by path", format!("/v2/storage/vault/{}?limit=100", v.uid)),
        ("list of the victim's collection by query", format!("/v2/storage/vault?user_id={}&limit=100", v.uid)),
        ("public list of the collection", "/v2/storage/vault?limit=100".to_string()),
    ] {
        let r = c.call("GET", &path, atk(), None).await;
        let leaked: Vec<&Value> = r.body["objects"].as_array().into_iter().flatten().filter(|o| o["permission_read"] != 2).collect();
        k.check(r.status == 200 && leaked.is_empty(), format_args!("{what}: status {}, non-public objects {leaked:?}", r.status));
    }

    // Writes cannot target the victim: `user_id` is not a field of a client write.
    let r = c
        .json("PUT", "/v2/storage", atk(), json!({"objects":[{"collection":"vault","key":"private","value":"{\"gold\":0}","user_id":v.uid}]}))
        .await;
    k.eq(r.body["acks"][0]["user_id"].as_str(), Some(a_uid.as_str()), format_args!("a write naming the victim's user_id lands in the caller's own space ({})", r.body));
    let r = c
        .json("PUT", "/v2/storage", atk(), json!({"objects":[{"collection":"vault","key":"public","value":"{}","version":victim_version,"user_id":v.uid}]}))
        .await;
    k.expect_msg(&r, 400, 3, "Storage write rejected - version check failed.", "write with the victim's version");
    let r = c.json("PUT", "/v2/storage/delete", atk(), json!({"object_ids":[{"collection":"vault","key":"public","user_id":v.uid}]})).await;
    k.expect_msg(&r, 400, 3, "Storage delete rejected - not found, version check failed, or permission denied.", "delete of the victim's object");
    let r = c.json("PUT", "/v2/storage/delete", atk(), json!({"object_ids":[{"collection":"vault","key":"locked","version":victim_version}]})).await;
    k.expect_msg(&r, 400, 3, "Storage delete rejected - not found, version check failed, or permission denied.", "versioned delete, not found");

    // The victim's own runtime-write-only object is read-only to its owner, and a read=0
    // object is invisible even to its owner.
    let r = c.json("PUT", "/v2/storage", v.auth(), json!({"objects":[{"collection":"vault","key":"locked","value":"{\"badge\":\"none\"}"}]})).await;
    k.expect_msg(&r, 400, 3, "Storage write rejected - permission denied.", "owner write to a permission_write=0 object");
    let r = c.json("PUT", "/v2/storage/delete", v.auth(), json!({"object_ids":[{"collection":"vault","key":"locked"}]})).await;
    k.expect_msg(&r, 400, 3, "Storage delete rejected - not found, version check failed, or permission denied.", "owner delete of a permission_write=0 object");
    c.json("PUT", "/v2/storage", v.auth(), json!({"objects":[{"collection":"hidden","key":"k","value":"{}","permission_read":0}]})).await.ok();
    let r = c.json("POST", "/v2/storage", v.auth(), json!({"object_ids":[{"collection":"hidden","key":"k","user_id":v.uid}]})).await.ok();
    k.check(r.get("objects").is_none(), format_args!("a permission_read=0 object was readable by its owner's client: {r}"));

    // Leaderboards: client records are the caller's own; authoritative boards refuse clients.
    c.json("POST", "/v2/leaderboard/hostile_open", atk(), json!({"score":"1","owner_id":v.uid})).await.ok();
    c.call("DELETE", "/v2/leaderboard/hostile_open", atk(), None).await.ok();
    for (who, auth) in [("attacker", atk()), ("the record's owner", v.auth())] {
        let r = c.json("POST", "/v2/leaderboard/hostile_official", auth, json!({"score":"999999"})).await;
        k.expect_msg(&r, 403, 7, "Leaderboard only allows authoritative score submissions.", &format!("client write to an authoritative board by {who}"));
    }
    let r = c.call("DELETE", "/v2/leaderboard/hostile_official", v.auth(), None).await;
    k.expect_msg(&r, 403, 7, "Leaderboard only allows authoritative score deletions.", "client delete on an authoritative board");
    for method in ["POST", "PUT"] {
        let r = c.json(method, "/v2/tournament/hostile_cup", v.auth(), json!({"score":"999999"})).await;
        k.expect_msg(&r, 403, 7, "Tournament only allows authoritative score submissions.", &format!("client {method} to an authoritative tournament"));
    }
    let r = c.call("DELETE", "/v2/tournament/hostile_cup", v.auth(), None).await;
    k.expect_msg(&r, 403, 7, "Tournament only allows authoritative score deletions.", "client delete on an authoritative tournament");

    // Account takeover attempts: linking the victim's custom id, then logging in with it.
    let r = c.json("POST", "/v2/account/link/custom", atk(), json!({"id":"victim-storage"})).await;
    k.expect_msg(&r, 409, 6, "Custom ID is already in use.", "linking the victim's custom id");
    let (again, _) = c.login_custom("victim-storage").await;
    k.eq(token_user_id(&again), v.uid.clone(), "the victim's custom id logs in the victim");

    let official_after = official(c.clone(), v.uid.clone(), v.token.clone()).await;
    k.eq(official_after, official_before, "the authoritative records");
    finish_healthy(k, &mut node, &c, &v, &before).await;
}

/// One console request; `Err` if no answer within 30 s.
async fn console(node: &TestNode, method: &str, path: &str, authorization: Option<&str>, body: Option<Vec<u8>>) -> Result<Resp, String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut req = http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("http://127.0.0.1:{}{path}", node.console_port));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b);
    }
    let resp = req.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok(Resp { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers })
}

#[tokio::test]
async fn console_refuses_user_tokens_bad_credentials_and_bad_bundles() {
    let mut node = start(&["--runtime.lua_call_timeout_ms", "1000"]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-console").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("console");
    let version_before = node.cluster_status().await.expect("console answers")["nodes"][0]["bundle_version"].clone();
    let admin = format!("Basic {}", b64("admin:password"));

    let routes = [("GET", "/v2/console/cluster"), ("GET", "/v2/console/realtime"), ("POST", "/v2/console/bundle"), ("POST", "/v2/console/bundle/rollback")];
    let bearer = format!("Bearer {}", v.token);
    let wrong = format!("Basic {}", b64("admin:wrong"));
    // Bad credentials for another name: failures for `admin` itself would lock the account
    // (the lockout is checked at the end).
    let wrong_other = format!("Basic {}", b64("intruder:wrong"));
    let server_key = format!("Basic {}", b64("defaultkey:"));
    let no_colon = format!("Basic {}", b64("intruder"));
    let bad_auth: [(&str, &str); 5] = [
        ("a user's session token", &bearer),
        ("a wrong password", &wrong_other),
        ("the server key", &server_key),
        ("Basic with bad base64", "Basic %%%"),
        ("Basic without a colon", &no_colon),
    ];
    let deploy = serde_json::to_vec(&json!({"files": {"evil.lua": "local nk = require('nakama')\nnk.register_rpc(function() return 'owned' end, 'ping')\n"}})).unwrap();
    for (method, path) in routes {
        let body = (method == "POST").then(|| deploy.clone());
        let r = console(&node, method, path, None, body.clone()).await.unwrap();
        k.expect_msg(&r, 401, 16, "Console authentication required.", &format!("{method} {path} without credentials"));
        for (what, a) in bad_auth {
            let r = console(&node, method, path, Some(a), body.clone()).await.unwrap();
            k.expect_msg(&r, 401, 16, "Console authentication invalid.", &format!("{method} {path} with {what}"));
        }
    }
    // The console is not served on the API port, and fault injection is off.
    let r = c.call("GET", "/v2/console/cluster", Auth::Raw(&admin), None).await;
    k.expect_msg(&r, 404, 5, "Not Found", "console route on the API port");
    let r = console(&node, "POST", "/v2/console/debug/partition", Some(&admin), Some(br#"{"blocked":[]}"#.to_vec())).await.unwrap();
    k.expect(&r, 404, 5, "partition route without cluster.fault_injection");

    // Bundles an admin must not be able to deploy: each refused, within 30 s.
    let bundles: Vec<(&str, Vec<u8>)> = vec![
        ("path traversal", serde_json::to_vec(&json!({"files": {"../../evil.lua": "return 1"}})).unwrap()),
        ("absolute path", serde_json::to_vec(&json!({"files": {"/etc/evil.lua": "return 1"}})).unwrap()),
        ("malformed JSON", b"{\"files\":".to_vec()),
        ("files a number", br#"{"files":5}"#.to_vec()),
        ("100k nested [", "[".repeat(100_000).into_bytes()),
        ("syntax error", serde_json::to_vec(&json!({"files": {"a.lua": "local function (\n"}})).unwrap()),
        ("endless loop at load", serde_json::to_vec(&json!({"files": {"a.lua": "while true do end\n"}})).unwrap()),
        ("memory bomb at load", serde_json::to_vec(&json!({"files": {"a.lua": "local s = string.rep('x', 1024 * 1024 * 1024)\n"}})).unwrap()),
        ("table bomb at load", serde_json::to_vec(&json!({"files": {"a.lua": "local t = {}\nfor i = 1, 1e9 do t[i] = {i} end\n"}})).unwrap()),
    ];
    for (what, body) in bundles {
        let r = console(&node, "POST", "/v2/console/bundle", Some(&admin), Some(body)).await.unwrap_or_else(|e| panic!("bundle with {what}: {e} (hang)"));
        k.expect(&r, 400, 3, &format!("bundle with {what}"));
    }
    let r = console(&node, "POST", "/v2/console/bundle/rollback", Some(&admin), None).await.unwrap();
    k.expect_msg(&r, 400, 9, "There is no previous bundle to roll back to.", "rollback with no previous bundle");
    let version_after = node.cluster_status().await.expect("console answers")["nodes"][0]["bundle_version"].clone();
    k.eq(version_after, version_before, "the running bundle after the refused ones");

    // Password guessing: Nakama locks the console account after 5 failures in a minute
    // (and the IP after 10), so even the right password is refused afterwards.
    for _ in 0..5 {
        let r = console(&node, "GET", "/v2/console/cluster", Some(&wrong), None).await.unwrap();
        k.expect_msg(&r, 401, 16, "Console authentication invalid.", "password guess");
    }
    let r = console(&node, "GET", "/v2/console/cluster", Some(&admin), None).await.unwrap();
    k.expect_msg(&r, 401, 16, "Console authentication invalid.", "the right password right after 5 wrong guesses (lockout)");

    finish_healthy(k, &mut node, &c, &v, &before).await;
}

#[tokio::test]
async fn cluster_port_shrugs_off_garbage_and_peers_without_the_secret() {
    let mut node = start(&["--cluster.secret", "the-real-secret"]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-cluster").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("cluster port");
    let target = format!("127.0.0.1:{}", node.cluster_port);

    // Garbage datagrams: random bytes, QUIC long-header lookalikes (Initial, 0-RTT,
    // Handshake, Retry, unknown versions), short-header lookalikes, empty and 64 KB ones.
    let seed = std::env::var("HOSTILE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(now() as u64) | 1;
    println!("garbage datagrams, seed {seed}; reproduce: HOSTILE_SEED={seed} cargo test --workspace --test hostile cluster_port");
    let mut x = seed;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0;
    for i in 0..3000u32 {
        let len = match i % 5 {
            0 => 1200,
            1 => 1 + (rnd() % 1500) as usize,
            2 => (rnd() % 64) as usize,
            _ => 20 + (rnd() % 1300) as usize,
        };
        let mut d: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        if i % 5 == 0 && d.len() > 6 {
            d[0] = 0xc0 | ((i as u8 % 4) << 4) | (rnd() as u8 & 0x0f);
            let version: [u8; 4] = if i % 2 == 0 { [0, 0, 0, 1] } else { (rnd() as u32).to_be_bytes() };
            d[1..5].copy_from_slice(&version);
            d[5] = (rnd() % 21) as u8;
        }
        if i % 5 == 3 && !d.is_empty() {
            d[0] = 0x40 | (d[0] & 0x3f);
        }
        if udp.send_to(&d, &target).is_ok() {
            sent += 1;
        }
    }
    for d in [vec![], vec![0u8; 65_000], vec![0xffu8; 65_000]] {
        let _ = udp.send_to(&d, &target);
    }
    assert!(sent > 2900, "only {sent} datagrams sent");
    k.eq(c.call("GET", "/healthcheck", Auth::None, None).await.status, 200, "healthcheck after garbage datagrams");
    let s = node.cluster_status().await.unwrap_or_default();
    k.eq((s["leader"].as_str(), s["nodes"].as_array().map(Vec::len)), (Some("test1"), Some(1)), format_args!("the cluster after garbage datagrams ({s})"));

    // A real shoal peer that does not know the secret, seeded at the node: every attempt is
    // rejected and it never becomes a member.
    let seeds = format!("127.0.0.1:{}", node.cluster_port);
    let mut intruder = TestNode::new("intruder", &["--cluster.secret", "a-guess", "--cluster.seeds", &seeds, "--cluster.bootstrap_expect", "2"]).unwrap();
    intruder.launch().unwrap();
    let rejected = wait_until(Duration::from_secs(20), "the node to reject the intruder 3 times", || async {
        node.log().matches("rejected peer").count() >= 3
    })
    .await;
    let intruder_log = intruder.log();
    intruder.kill();
    k.check(rejected.is_ok(), format_args!("the node rejects a peer without the secret: {rejected:?}\nnode log:\n{}\nintruder log:\n{}", tail(&node.log(), 40), tail(&intruder_log, 40)));
    let s = node.cluster_status().await.unwrap_or_default();
    let names: Vec<&str> = s["nodes"].as_array().into_iter().flatten().filter_map(|n| n["name"].as_str()).collect();
    k.eq((s["leader"].as_str(), names), (Some("test1"), vec!["test1"]), format_args!("the members after a peer without the secret tried to join ({s})"));

    finish_healthy(k, &mut node, &c, &v, &before).await;
}

#[tokio::test]
async fn lua_loops_and_bombs_fail_cleanly_and_the_vm_is_replaced() {
    // One VM, so "the next call" runs on the replacement of the VM that failed.
    let mut node = start(&[
        "--runtime.lua_min_count",
        "1",
        "--runtime.lua_max_count",
        "1",
        "--runtime.lua_call_timeout_ms",
        "1000",
        "--runtime.lua_instruction_limit",
        "50000000",
        "--runtime.lua_memory_limit_bytes",
        "33554432",
    ])
    .await;
    let c = node.client();
    let v = Victim::create(&c, "victim-lua").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("Lua");
    let rpc = |id: &'static str| {
        let (c, token) = (c.clone(), v.token.clone());
        async move {
            let start = std::time::Instant::now();
            let r = c.call("POST", &format!("/v2/rpc/{id}"), Auth::Bearer(&token), Some(b"\"\"".to_vec())).await;
            (r, start.elapsed())
        }
    };
    assert_eq!(rpc("vm_state").await.0.ok()["payload"], "clean");
    // The probe works: after a plain Lua error the same VM serves the next call, dirty.
    let (r, _) = rpc("dirty_then_error").await;
    assert_eq!((r.status, r.body["message"].as_str()), (500, Some("dirtied")), "a plain Lua error: {}", r.body);
    assert_eq!(rpc("vm_state").await.0.ok()["payload"], "dirty", "one VM, kept after a plain Lua error");

    for id in ["infinite_loop", "pcall_loop", "memory_bomb", "memory_growth", "table_bomb", "stack_overflow", "poison"] {
        let (r, took) = rpc(id).await;
        let code = r.body["code"].as_i64().unwrap_or(0);
        let shaped = r.body["message"].as_str().is_some_and(|m| !m.is_empty()) && r.body.get("error").is_some();
        k.check(
            code != 0 && r.status == http_status_of(code) && shaped && took < Duration::from_secs(10),
            format_args!("RPC {id}: a clean error in Nakama's RPC shape {{code, error, message}} within 10 s; got status {} in {took:?}: {}", r.status, r.body),
        );
        println!("RPC {id}: {} in {took:?}: {}", r.status, r.body);
        let (next, _) = rpc("ping").await;
        k.eq(next.body["payload"].as_str(), Some("pong"), format_args!("the next call after {id} ({})", next.body));
    }
    let (r, _) = rpc("vm_state").await;
    k.eq(r.body["payload"].as_str(), Some("clean"), "the module state after `poison` (its VM must be discarded)");

    // Over the socket: the RPC fails with RUNTIME_FUNCTION_EXCEPTION and the socket stays.
    let mut s = Socket::connect(node.port, &v.token, false).await.unwrap();
    for id in ["infinite_loop", "memory_bomb"] {
        let reply = s.request("rpc", json!({"id": id})).await.unwrap_or_default();
        k.eq(reply["error"]["code"].as_i64(), Some(7), format_args!("socket rpc {id}: RUNTIME_FUNCTION_EXCEPTION ({reply})"));
        let reply = s.request("rpc", json!({"id": "ping"})).await.unwrap_or_default();
        k.eq(reply["rpc"]["payload"].as_str(), Some("pong"), format_args!("socket rpc after {id} ({reply})"));
    }

    finish_healthy(k, &mut node, &c, &v, &before).await;
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw_ws(port: u16, token: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?lang=en&status=false&token={token}")).await.expect("socket connects").0
}

/// Reads until the server closes the socket (true) or `within` passes (false); returns the
/// text envelopes that arrived first.
async fn raw_closes(ws: &mut Ws, within: Duration) -> (bool, Vec<Value>) {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return (false, got),
            Ok(Some(Ok(Message::Text(t)))) => got.push(serde_json::from_str(t.as_str()).unwrap_or(Value::Null)),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(_) => return (true, got),
        }
    }
}

#[tokio::test]
async fn socket_hostile_frames_and_messages() {
    let mut node = start(&[]).await;
    let c = node.client();
    let v = Victim::create(&c, "victim-socket").await;
    let before = v.snapshot(&c).await;
    let mut k = Cases::new("socket");
    let (a, _) = c.login_custom("socket-attacker").await;
    let (p, _) = c.login_custom("socket-partner").await;
    let close_wait = Duration::from_secs(5);

    // Frames Nakama answers by closing the socket without a reply.
    let deep = format!("{{\"cid\":\"1\",\"ping\":{}", "[".repeat(4000));
    let closing_texts: Vec<(&str, String)> = vec![
        ("an unknown message key", r#"{"cid":"1","no_such_message":{}}"#.into()),
        ("not JSON", "hello".into()),
        ("a JSON array", "[1,2,3]".into()),
        ("4000 nested [", deep),
        ("ping given an array", r#"{"cid":"1","ping":[]}"#.into()),
        ("an unknown field inside a message", r#"{"cid":"1","ping":{"junk":1}}"#.into()),
        ("two messages in one envelope", r#"{"cid":"1","ping":{},"rpc":{"id":"ping"}}"#.into()),
        ("match_join match_id a number", r#"{"cid":"1","match_join":{"match_id":123}}"#.into()),
        ("matchmaker_add min_count a word", r#"{"cid":"1","matchmaker_add":{"min_count":"lots","max_count":4,"query":"*"}}"#.into()),
        ("channel_join type unknown", r#"{"cid":"1","channel_join":{"target":"r","type":"PARTY_LINE"}}"#.into()),
        ("match_data_send data not base64", r#"{"match_data_send":{"match_id":"x.","op_code":"1","data":"!!not base64!!"}}"#.into()),
        ("cid a number", r#"{"cid":1,"ping":{}}"#.into()),
        ("a frame over socket.max_message_size_bytes", format!("{{\"cid\":\"{}\",\"ping\":{{}}}}", "c".repeat(5000))),
    ];
    for (what, text) in closing_texts {
        let mut s = Socket::connect(node.port, &a, false).await.unwrap();
        s.send_text(&text).await.unwrap();
        let reply = s.read(close_wait).await;
        let closed = s.closed || s.closes_within(close_wait).await;
        k.check(reply.is_none() && closed, format_args!("{what}: Nakama closes without a reply; got reply {reply:?}, closed {closed}"));
    }
    // ...and the frames that only a raw socket can send.
    let mut invalid_utf8 = br#"{"cid":"1","ping":{}}"#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    let raw_frames: Vec<(&str, Message)> = vec![
        ("a binary frame on a JSON socket", Message::Binary(br#"{"cid":"1","ping":{}}"#.to_vec().into())),
        (
            "a text frame with invalid UTF-8",
            Message::Frame(tungstenite::protocol::frame::Frame::message(
                invalid_utf8,
                tungstenite::protocol::frame::coding::OpCode::Data(tungstenite::protocol::frame::coding::Data::Text),
                true,
            )),
        ),
        ("a 1 MB binary frame", Message::Binary(vec![0u8; 1 << 20].into())),
    ];
    for (what, frame) in raw_frames {
        let mut ws = raw_ws(node.port, &a).await;
        let _ = ws.send(frame).await;
        let (closed, got) = raw_closes(&mut ws, close_wait).await;
        k.check(closed && got.is_empty(), format_args!("{what}: Nakama closes without a reply; got {got:?}, closed {closed}"));
    }
    // Just under the frame limit is fine.
    let mut s = Socket::connect(node.port, &a, false).await.unwrap();
    let cid = "c".repeat(4000);
    s.send_text(&format!("{{\"cid\":\"{cid}\",\"ping\":{{}}}}")).await.unwrap();
    let reply = s.read(close_wait).await.unwrap_or_default();
    k.eq((reply["cid"].as_str(), reply.get("pong").is_some()), (Some(cid.as_str()), true), "a 4 KB frame, under the limit, is answered");

    // Errors Nakama sends before closing.
    for (what, text, code, message) in [
        ("missing payload", r#"{"cid":"2"}"#, 2, "Missing message."),
        ("a server-only message", r#"{"cid":"2","status_presence_event":{}}"#, 1, "Unrecognized message."),
    ] {
        let mut s = Socket::connect(node.port, &a, false).await.unwrap();
        s.send_text(text).await.unwrap();
        let reply = s.read(close_wait).await;
        k.eq(reply, Some(json!({"cid":"2","error":{"code":code,"message":message}})), format_args!("{what}: the error envelope"));
        k.check(s.closed || s.closes_within(close_wait).await, format_args!("{what}: the socket closes after the error"));
    }

    // Errors that leave the socket open.
    let mut s = Socket::connect(node.port, &a, false).await.unwrap();
    let ghost = format!("{}.", uuid::Uuid::new_v4());
    let ghost_authoritative = format!("{}.test1", uuid::Uuid::new_v4());
    for (what, key, body, code, message) in [
        ("match_join with a garbage id", "match_join", json!({"match_id":"garbage"}), 3, "Invalid match ID"),
        ("match_join with a non-UUID id", "match_join", json!({"match_id":"not-a-uuid.test1"}), 3, "Invalid match ID"),
        ("match_join with a garbage token", "match_join", json!({"token":"garbage"}), 3, "Invalid match token"),
        ("match_join with neither", "match_join", json!({}), 3, "No match ID or token found"),
        ("match_join of a missing relayed match", "match_join", json!({"match_id": ghost}), 4, "Match not found"),
        ("match_join of a missing authoritative match", "match_join", json!({"match_id": ghost_authoritative}), 4, "Match not found"),
        ("matchmaker_add min_count 1", "matchmaker_add", json!({"min_count":1,"max_count":4,"query":"*"}), 3, "Invalid minimum count, must be >= 2"),
        ("matchmaker_add max < min", "matchmaker_add", json!({"min_count":4,"max_count":2,"query":"*"}), 3, "Invalid maximum count, must be >= minimum count"),
        ("matchmaker_add negative counts", "matchmaker_add", json!({"min_count":-5,"max_count":-1,"query":"*"}), 3, "Invalid minimum count, must be >= 2"),
        (
            "matchmaker_add count_multiple 0",
            "matchmaker_add",
            json!({"min_count":2,"max_count":4,"query":"*","count_multiple":0}),
            3,
            "Invalid count multiple, must be >= 1",
        ),
        (
            "matchmaker_add count_multiple not dividing min",
            "matchmaker_add",
            json!({"min_count":3,"max_count":6,"query":"*","count_multiple":2}),
            3,
            "Invalid count multiple for minimum count, must divide",
        ),
        ("rpc without an id", "rpc", json!({}), 3, "RPC ID must be set"),
        ("rpc of an unknown id", "rpc", json!({"id":"no_such_rpc"}), 6, "RPC function not found"),
    ] {
        let reply = match s.request(key, body).await {
            Ok(r) => r,
            Err(e) => {
                k.check(false, format_args!("{what}: {e}"));
                s = Socket::connect(node.port, &a, false).await.unwrap();
                continue;
            }
        };
        k.eq((reply["error"]["code"].as_i64(), reply["error"]["message"].as_str()), (Some(code), Some(message)), format_args!("{what} ({reply})"));
    }
    // match_data_send with a garbage id: an error without a cid.
    s.send_no_cid("match_data_send", json!({"match_id":"garbage","op_code":"1","data":"aGk="})).await.unwrap();
    let e = s.wait_push_within("error", Duration::from_secs(3), |_| true).await.ok();
    k.eq(e, Some(json!({"code":3,"message":"Invalid match ID"})), "match_data_send with a garbage id: an error without a cid");
    let pong = s.request("ping", json!({})).await.map(|p| p.get("pong").is_some());
    k.check(matches!(pong, Ok(true)), format_args!("the socket stays open after handler errors: {pong:?}"));

    // match_data_send to a match the sender is not in: silently dropped.
    let mut vs = Socket::connect(node.port, &v.token, false).await.unwrap();
    let m = vs.request("match_create", json!({})).await.unwrap();
    let match_id = m["match"]["match_id"].as_str().expect("a relayed match").to_string();
    let mut ps = Socket::connect(node.port, &p, false).await.unwrap();
    ps.request("match_join", json!({"match_id": match_id})).await.unwrap();
    vs.wait_push("match_presence_event", |_| true).await.unwrap();
    s.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code":"66", "data":"cHduZWQ="})).await.unwrap();
    s.send_no_cid("match_data_send", json!({"match_id": ghost_authoritative, "op_code":"66", "data":"cHduZWQ="})).await.unwrap();
    let pong = s.request("ping", json!({})).await.map(|p| p.get("pong").is_some());
    k.check(matches!(pong, Ok(true)), format_args!("match_data_send as a non-member: no reply, the socket stays open: {pong:?}"));
    ps.send_no_cid("match_data_send", json!({"match_id": match_id, "op_code":"1", "data":"aGk="})).await.unwrap();
    let d = vs.wait_push("match_data", |_| true).await.unwrap_or_default();
    k.eq(d["op_code"].as_str(), Some("1"), format_args!("the first match data the member got is a member's ({d})"));
    vs.request("ping", json!({})).await.unwrap();
    let leaked = vs.wait_push_within("match_data", Duration::from_millis(300), |d| d["op_code"] == "66").await;
    k.check(leaked.is_err(), format_args!("a non-member's match data reached the match: {leaked:?}"));

    // A burst of thousands of messages: every one answered, or the socket closed (never a
    // silent drop or a hang).
    let n = 3000usize;
    let (mut tx, mut rx) = raw_ws(node.port, &a).await.split();
    let reader = tokio::spawn(async move {
        let (mut pongs, mut closed) = (0usize, false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while pongs < n {
            match tokio::time::timeout_at(deadline, rx.next()).await {
                Err(_) => break,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains("\"pong\"") => pongs += 1,
                Ok(Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_)))) => {}
                other => {
                    println!("burst: the socket ended with {other:?}");
                    closed = true;
                    break;
                }
            }
        }
        (pongs, closed)
    });
    for i in 0..n {
        if tx.feed(Message::Text(format!("{{\"cid\":\"{i}\",\"ping\":{{}}}}").into())).await.is_err() {
            break;
        }
    }
    let _ = tx.flush().await;
    let (pongs, closed) = reader.await.unwrap();
    println!("burst: {pongs} of {n} pongs, closed {closed}");
    k.check(pongs == n || closed, format_args!("a burst of {n} pings: all answered or the socket closed; got {pongs} pongs, closed {closed}"));
    let pong = vs.request("ping", json!({})).await.map(|p| p.get("pong").is_some());
    k.check(matches!(pong, Ok(true)), format_args!("another user's socket after the burst: {pong:?}"));

    finish_healthy(k, &mut node, &c, &v, &before).await;
}
