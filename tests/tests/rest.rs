//! REST behaviour of a single node, checked on the wire: status, code, message, field names.

use serde_json::json;
use shoal_tests::{Auth, TestNode, token_user_id};

#[tokio::test]
async fn authenticate_session_and_account_wire_format() {
    let node = TestNode::start(&[]).await.unwrap();
    let c = node.client();

    // The README's command.
    let r = c.json("POST", "/v2/account/authenticate/custom?create=true", Auth::Basic("defaultkey"), json!({"id":"someone-123"})).await;
    let b = r.ok();
    assert_eq!(b["created"], true);
    let token = b["token"].as_str().unwrap().to_string();
    assert!(b["refresh_token"].as_str().unwrap().len() > 20);

    // Again: same user, `created` omitted (zero value).
    let b2 = c.json("POST", "/v2/account/authenticate/custom", Auth::Basic("defaultkey"), json!({"id":"someone-123"})).await.ok();
    assert!(b2.get("created").is_none(), "created:false must be omitted: {b2}");
    assert_eq!(token_user_id(b2["token"].as_str().unwrap()), token_user_id(&token));

    // create=false for an unknown id.
    c.json("POST", "/v2/account/authenticate/custom?create=false", Auth::Basic("defaultkey"), json!({"id":"nobody-456"}))
        .await
        .assert_error(404, 5, "User account not found.");
    // username taken.
    c.json("POST", "/v2/account/authenticate/device?username=taken", Auth::Basic("defaultkey"), json!({"id":"device-0000001"})).await.ok();
    c.json("POST", "/v2/account/authenticate/device?username=taken", Auth::Basic("defaultkey"), json!({"id":"device-0000002"}))
        .await
        .assert_error(409, 6, "Username is already in use.");
    // Email: wrong password.
    c.json("POST", "/v2/account/authenticate/email", Auth::Basic("defaultkey"), json!({"email":"Me@Example.com","password":"password1"})).await.ok();
    c.json("POST", "/v2/account/authenticate/email?create=false", Auth::Basic("defaultkey"), json!({"email":"me@example.com","password":"password2"}))
        .await
        .assert_error(401, 16, "Invalid credentials.");
    // lowerCamel input and vars in the token.
    let b = c.json("POST", "/v2/account/authenticate/custom", Auth::Basic("defaultkey"), json!({"id":"vars-user-1","vars":{"k":"v"}})).await.ok();
    let payload = b["token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["vrs"]["k"], "v");
    assert!(claims["tid"].is_string() && claims["usn"].is_string() && claims["iat"].is_i64());

    // Account: Nakama's defaults and snake_case names, RFC 3339 times.
    let acc = c.call("GET", "/v2/account", Auth::Bearer(&token), None).await.ok();
    assert_eq!(acc["wallet"], "{}");
    assert_eq!(acc["custom_id"], "someone-123");
    assert_eq!(acc["user"]["lang_tag"], "en");
    assert_eq!(acc["user"]["metadata"], "{}");
    let ct = acc["user"]["create_time"].as_str().unwrap();
    assert!(ct.ends_with('Z') && ct.len() == 20, "{ct}");
    assert!(acc["user"].get("online").is_none() && acc["user"].get("edge_count").is_none());

    // Update (both casings) then read back.
    c.json("PUT", "/v2/account", Auth::Bearer(&token), json!({"displayName":"Someone","location":"Here","lang_tag":"fr"})).await.ok();
    let acc = c.call("GET", "/v2/account", Auth::Bearer(&token), None).await.ok();
    assert_eq!(acc["user"]["display_name"], "Someone");
    assert_eq!(acc["user"]["location"], "Here");
    assert_eq!(acc["user"]["lang_tag"], "fr");

    // Users by id and username.
    let uid = token_user_id(&token);
    let users = c.call("GET", &format!("/v2/user?ids={uid}&usernames=taken&"), Auth::Bearer(&token), None).await.ok();
    let arr = users["users"].as_array().unwrap();
    assert_eq!(arr.len(), 2);
    c.call("GET", "/v2/user?ids=not-a-uuid", Auth::Bearer(&token), None).await.assert_error(400, 3, "ID 'not-a-uuid' is not a valid system ID.");

    // Refresh keeps the user; logout revokes both tokens.
    let (t2, r2) = c.login_custom("refresher-1").await;
    let b = c.json("POST", "/v2/account/session/refresh", Auth::Basic("defaultkey"), json!({"token": r2})).await.ok();
    assert_eq!(token_user_id(b["token"].as_str().unwrap()), token_user_id(&t2));
    c.json("POST", "/v2/session/logout", Auth::Bearer(&t2), json!({"token": t2, "refresh_token": r2})).await.ok();
    c.call("GET", "/v2/account", Auth::Bearer(&t2), None).await.assert_error(401, 16, "Auth token invalid");
    c.json("POST", "/v2/account/session/refresh", Auth::Basic("defaultkey"), json!({"token": r2}))
        .await
        .assert_error(401, 16, "Refresh token invalid or expired.");
}

#[tokio::test]
async fn storage_and_friends_rules() {
    let node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let (a, _) = c.login_custom("storage-a").await;
    let (b, _) = c.login_custom("storage-b").await;
    let a_id = token_user_id(&a);

    let acks = c
        .json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[
            {"collection":"c","key":"pub","value":"{\"x\":1}","permission_read":2},
            {"collection":"c","key":"own","value":"{\"x\":2}"},
            {"collection":"c","key":"hidden","value":"{\"x\":3}","permission_read":0,"permission_write":0}
        ]}))
        .await
        .ok();
    assert_eq!(acks["acks"][0]["version"], "ac3ef48caa08fa3ed5e025da69edc645", "version is hex md5 of the value");
    let v_pub = acks["acks"][0]["version"].as_str().unwrap().to_string();
    assert_eq!(v_pub.len(), 32);
    // B reads: only the public object; A reads: public + own, never read=0.
    let ids = json!({"object_ids":[{"collection":"c","key":"pub","user_id":a_id},{"collection":"c","key":"own","user_id":a_id},{"collection":"c","key":"hidden","user_id":a_id}]});
    let rb = c.json("POST", "/v2/storage", Auth::Bearer(&b), ids.clone()).await.ok();
    assert_eq!(rb["objects"].as_array().unwrap().len(), 1);
    assert_eq!(rb["objects"][0]["permission_read"], 2);
    assert_eq!(rb["objects"][0]["value"], "{\"x\":1}");
    let ra = c.json("POST", "/v2/storage", Auth::Bearer(&a), ids).await.ok();
    assert_eq!(ra["objects"].as_array().unwrap().len(), 2);
    // OCC.
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"pub","value":"{}","version":"*"}]}))
        .await
        .assert_error(400, 3, "Storage write rejected - version check failed.");
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"pub","value":"{}","version":"abc"}]}))
        .await
        .assert_error(400, 3, "Storage write rejected - version check failed.");
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"pub","value":"{}","version":v_pub,"permission_read":2}]})).await.ok();
    // write=0 objects cannot be changed or deleted by clients.
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"hidden","value":"{}"}]}))
        .await
        .assert_error(400, 3, "Storage write rejected - permission denied.");
    c.json("PUT", "/v2/storage/delete", Auth::Bearer(&a), json!({"object_ids":[{"collection":"c","key":"hidden"}]}))
        .await
        .assert_error(400, 3, "Storage delete rejected - not found, version check failed, or permission denied.");
    // Validation.
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"k","value":"[1]"}]}))
        .await
        .assert_error(400, 3, "Value must be a JSON object.");
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"","key":"k","value":"{}"}]}))
        .await
        .assert_error(400, 3, "Invalid collection or key value supplied. They must be set.");
    c.json("PUT", "/v2/storage", Auth::Bearer(&a), json!({"objects":[{"collection":"c","key":"k","value":"{}","permission_read":3}]}))
        .await
        .assert_error(400, 3, "Invalid Read permission supplied. It must be either 0, 1 or 2.");
    // Listing: default limit 1 with a cursor; another user's listing shows only public.
    let l = c.call("GET", &format!("/v2/storage/c?user_id={a_id}"), Auth::Bearer(&a), None).await.ok();
    assert_eq!(l["objects"].as_array().unwrap().len(), 1);
    let cur = l["cursor"].as_str().unwrap();
    let l2 = c.call("GET", &format!("/v2/storage/c?user_id={a_id}&limit=10&cursor={cur}"), Auth::Bearer(&a), None).await.ok();
    assert_eq!(l2["objects"].as_array().unwrap().len(), 1);
    assert!(l2.get("cursor").is_none());
    let lb = c.call("GET", &format!("/v2/storage/c/{a_id}?limit=10"), Auth::Bearer(&b), None).await.ok();
    assert_eq!(lb["objects"].as_array().unwrap().len(), 1);
    assert_eq!(lb["objects"][0]["key"], "pub");
    c.call("GET", "/v2/storage/c?limit=101", Auth::Bearer(&a), None).await.assert_error(400, 3, "Invalid limit - limit must be between 1 and 100.");
    c.call("GET", &format!("/v2/storage/other?user_id={a_id}&cursor={cur}"), Auth::Bearer(&a), None).await.assert_error(400, 3, "Invalid cursor.");

    // Friends: invite, accept, state 0 present on the wire.
    let b_id = token_user_id(&b);
    c.call("POST", &format!("/v2/friend?ids={b_id}"), Auth::Bearer(&a), None).await.ok();
    let fl = c.call("GET", "/v2/friend", Auth::Bearer(&b), None).await.ok();
    assert_eq!(fl["friends"][0]["state"], 2);
    c.call("POST", &format!("/v2/friend?ids={a_id}"), Auth::Bearer(&b), None).await.ok();
    let fl = c.call("GET", "/v2/friend?state=0", Auth::Bearer(&a), None).await.ok();
    assert_eq!(fl["friends"][0]["state"], 0);
    assert_eq!(fl["friends"][0]["user"]["id"], b_id.as_str());
    c.call("POST", &format!("/v2/friend?ids={a_id}"), Auth::Bearer(&a), None).await.assert_error(400, 3, "Cannot add self as friend.");
    c.call("GET", "/v2/friend?state=7", Auth::Bearer(&a), None).await.assert_error(400, 3, "Invalid state - state must be between 0 and 3.");
}

#[tokio::test]
async fn routing_cors_and_headers() {
    let node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let h = c.call("GET", "/healthcheck", Auth::None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body, json!({}));
    assert_eq!(h.headers["cache-control"], "no-store, no-cache, must-revalidate");
    c.call("GET", "/v2/nothing-here", Auth::None, None).await.assert_error(404, 5, "Not Found");
    c.call("PATCH", "/v2/account", Auth::None, None).await.assert_error(501, 12, "Method Not Allowed");
    // A browser preflight from nakama-js.
    let pre = c
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/v2/account", c.base))
        .header("Origin", "null")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "preflight status {}", pre.status());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    let methods = pre.headers()["access-control-allow-methods"].to_str().unwrap().to_string();
    assert!(methods.contains("PUT") && methods.contains("DELETE"), "{methods}");
    // A 401 carries WWW-Authenticate.
    let r = c.call("GET", "/v2/account", Auth::None, None).await;
    r.assert_error(401, 16, "Auth token required");
    assert_eq!(r.headers["www-authenticate"], "Auth token required");
}
