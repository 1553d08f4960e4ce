//! Hostile and malformed input: every case gets Nakama's error, never a panic or a 500,
//! and the node stays healthy with its data unchanged.

use serde_json::json;
use shoal_tests::{Auth, TestNode, token_user_id};

fn hs256(key: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn b64(v: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn hostile_input_gets_clean_errors() {
    let mut node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let (token, refresh) = c.login_custom("victim-user").await;
    let uid = token_user_id(&token);
    c.json("PUT", "/v2/storage", Auth::Bearer(&token), json!({"objects":[{"collection":"c","key":"k","value":"{\"safe\":true}"}]})).await.ok();
    let auth_path = "/v2/account/authenticate/custom";
    let key = Auth::Basic("defaultkey");

    // Bodies.
    let r = c.call("POST", auth_path, Auth::Basic("defaultkey"), Some(b"{not json".to_vec())).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "{}", r.body);
    let r = c.json("POST", auth_path, Auth::Basic("defaultkey"), json!({"id": 123456789})).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "{}", r.body);
    c.json("POST", auth_path, Auth::Basic("defaultkey"), json!({"id": null})).await.assert_error(400, 3, "Custom ID is required.");
    c.json("POST", auth_path, Auth::Basic("defaultkey"), json!({"id": "x".repeat(129)}))
        .await
        .assert_error(400, 3, "Custom ID invalid, must be 6-128 bytes.");
    let r = c.call("POST", auth_path, key, Some(vec![0xff, 0xfe, b'{', b'}'])).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "invalid utf-8: {}", r.body);
    let deep = "[".repeat(100_000);
    let r = c.call("PUT", "/v2/storage", Auth::Bearer(&token), Some(deep.into_bytes())).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "deep json: {}", r.body);
    let big = format!("{{\"id\":\"{}\"}}", "a".repeat(300 * 1024));
    c.call("POST", auth_path, Auth::Basic("defaultkey"), Some(big.into_bytes()))
        .await
        .assert_error(400, 3, "http: request body too large");
    let r = c.json("PUT", "/v2/storage", Auth::Bearer(&token), json!({"objects": "nope"})).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "{}", r.body);
    let r = c.call("GET", "/v2/storage/c?limit=abc", Auth::Bearer(&token), None).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "{}", r.body);
    let r = c.call("POST", &format!("{auth_path}?create=maybe"), Auth::Basic("defaultkey"), Some(b"{\"id\":\"abcdefg\"}".to_vec())).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(3)), "{}", r.body);

    // Server key.
    c.json("POST", auth_path, Auth::None, json!({"id":"someone-123"})).await.assert_error(401, 16, "Server key required");
    c.json("POST", auth_path, Auth::Basic("wrongkey"), json!({"id":"someone-123"})).await.assert_error(401, 16, "Server key invalid");
    c.json("POST", auth_path, Auth::Bearer(&token), json!({"id":"someone-123"})).await.assert_error(401, 16, "Server key invalid");
    c.json("POST", auth_path, Auth::Raw("Basic %%%"), json!({"id":"someone-123"})).await.assert_error(401, 16, "Server key invalid");

    // Session tokens.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = |exp: i64| json!({"tid":"t1","uid":uid,"usn":"x","exp":exp,"iat":now});
    let alg_none = format!("{}.{}.", b64(&json!({"alg":"none","typ":"JWT"})), b64(&claims(now + 3600)));
    let expired = hs256("defaultencryptionkey", claims(now - 10));
    let forged = hs256("not-the-key", claims(now + 3600));
    let no_exp = hs256("defaultencryptionkey", json!({"tid":"t1","uid":uid}));
    let bad_uid = hs256("defaultencryptionkey", json!({"tid":"t1","uid":"nope","exp":now + 3600}));
    for (what, t) in [
        ("alg none", alg_none.as_str()),
        ("expired", &expired),
        ("forged", &forged),
        ("no exp", &no_exp),
        ("bad uid", &bad_uid),
        ("refresh as session", &refresh),
        ("garbage", "abc.def.ghi"),
    ] {
        let r = c.call("GET", "/v2/account", Auth::Bearer(t), None).await;
        assert_eq!((r.status, r.body["code"].as_i64()), (401, Some(16)), "{what}: {}", r.body);
        assert_eq!(r.body["message"], "Auth token invalid", "{what}");
    }
    c.call("GET", "/v2/account", Auth::Basic("defaultkey"), None).await.assert_error(401, 16, "Auth token invalid");
    c.call("GET", "/v2/account", Auth::None, None).await.assert_error(401, 16, "Auth token required");
    // A session token is not a refresh token.
    c.json("POST", "/v2/account/session/refresh", Auth::Basic("defaultkey"), json!({"token": token}))
        .await
        .assert_error(401, 16, "Refresh token invalid or expired.");
    c.json("POST", "/v2/account/session/refresh", Auth::Basic("defaultkey"), json!({}))
        .await
        .assert_error(400, 3, "Refresh token is required.");

    // Other users' data: a forged write cannot target another user; reads of others' private
    // objects return nothing.
    let (other, _) = c.login_custom("attacker-1").await;
    let r = c
        .json("POST", "/v2/storage", Auth::Bearer(&other), json!({"object_ids":[{"collection":"c","key":"k","user_id":uid}]}))
        .await
        .ok();
    assert!(r.get("objects").is_none(), "private object leaked: {r}");
    c.json("PUT", "/v2/storage", Auth::Bearer(&other), json!({"objects":[{"collection":"c","key":"k","value":"{\"pwned\":1}","user_id":uid}]})).await.ok();

    // Healthy, and the victim's data unchanged.
    assert!(node.is_running());
    let mine = c
        .json("POST", "/v2/storage", Auth::Bearer(&token), json!({"object_ids":[{"collection":"c","key":"k","user_id":uid}]}))
        .await
        .ok();
    assert_eq!(mine["objects"][0]["value"], "{\"safe\":true}");
    assert_eq!(c.call("GET", "/healthcheck", Auth::None, None).await.status, 200);
    let log = node.log();
    assert!(!log.contains("panicked"), "node log has a panic:\n{log}");
    node.kill();
}
