//! Notifications and chat history over REST against a real `shoal` process: empty listings
//! with cacheable cursors, validation errors with Nakama's codes and messages, DM history
//! visible to its two users only, and the request hooks. (Creating notifications and
//! messages is covered in `node/tests/core_notifications.rs`; clients create them over the
//! socket and Lua, which are tested with those layers.)

use shoal_tests::{Auth, TestNode, token_user_id};

const HOOKS: &str = r#"
local nk = require("nakama")
nk.register_req_before(function(context, payload)
  return nil
end, "DeleteNotifications")
nk.register_req_before(function(context, payload)
  if payload.cursor == "drop-me" then payload.cursor = "" end
  return payload
end, "ListChannelMessages")
"#;

#[tokio::test]
async fn notifications_rest_lists_and_validates() {
    let node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let (t, _) = c.login_custom("notify-user-1").await;

    assert_eq!(
        c.call("GET", "/v2/notification", Auth::None, None)
            .await
            .status,
        401
    );

    // Nothing yet: no notifications, but a cursor to cache, which sees nothing new either.
    let first = c
        .call("GET", "/v2/notification?limit=10&", Auth::Bearer(&t), None)
        .await
        .ok();
    assert!(first.get("notifications").is_none(), "{first}");
    let cursor = first["cacheable_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty());
    let again = c
        .call(
            "GET",
            &format!("/v2/notification?limit=1&cacheable_cursor={cursor}"),
            Auth::Bearer(&t),
            None,
        )
        .await
        .ok();
    assert_eq!(again["cacheable_cursor"], cursor.as_str());
    // nakama-js spells it in camelCase too.
    let camel = c
        .call(
            "GET",
            &format!("/v2/notification?cacheableCursor={cursor}"),
            Auth::Bearer(&t),
            None,
        )
        .await;
    assert_eq!(camel.ok()["cacheable_cursor"], cursor.as_str());

    let limit_msg = "Invalid limit - limit must be between 1 and 100.";
    for bad in ["0", "101", "-1"] {
        let r = c
            .call(
                "GET",
                &format!("/v2/notification?limit={bad}"),
                Auth::Bearer(&t),
                None,
            )
            .await;
        r.assert_error(400, 3, limit_msg);
    }
    let r = c
        .call("GET", "/v2/notification?limit=x", Auth::Bearer(&t), None)
        .await;
    assert_eq!(r.status, 400);
    for bad in ["%25%25", "AgAA"] {
        let r = c
            .call(
                "GET",
                &format!("/v2/notification?cacheable_cursor={bad}"),
                Auth::Bearer(&t),
                None,
            )
            .await;
        r.assert_error(400, 3, "Malformed cursor was used.");
    }

    // Deleting ids that are not the user's (or not ids at all) is a quiet success.
    let r = c
        .call(
            "DELETE",
            "/v2/notification?ids=a&ids=00000000-0000-4000-8000-000000000001",
            Auth::Bearer(&t),
            None,
        )
        .await;
    assert_eq!(r.ok(), serde_json::json!({}));
    assert_eq!(
        c.call("DELETE", "/v2/notification", Auth::Bearer(&t), None)
            .await
            .ok(),
        serde_json::json!({})
    );
    assert_eq!(
        c.call("POST", "/v2/notification", Auth::Bearer(&t), None)
            .await
            .status,
        501
    );
    assert!(node.log().lines().all(|l| !l.contains("panicked")));
}

#[tokio::test]
async fn channel_history_rest_validates_and_guards_direct_messages() {
    let node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let (ta, _) = c.login_custom("chat-user-a").await;
    let (tb, _) = c.login_custom("chat-user-b").await;
    let (tc, _) = c.login_custom("chat-user-c").await;
    let (a, b) = (token_user_id(&ta), token_user_id(&tb));

    // An empty room: nothing to list, no cursors.
    let r = c
        .call(
            "GET",
            "/v2/channel/2...lobby?limit=10&forward=false&",
            Auth::Bearer(&tc),
            None,
        )
        .await;
    assert_eq!(r.ok(), serde_json::json!({}));
    assert_eq!(
        c.call("GET", "/v2/channel/2...lobby", Auth::None, None)
            .await
            .status,
        401
    );

    // A DM's history belongs to its two users; the channel id orders them.
    let (lo, hi) = if a < b { (&a, &b) } else { (&b, &a) };
    let dm = format!("4.{lo}.{hi}.");
    for t in [&ta, &tb] {
        assert_eq!(
            c.call(
                "GET",
                &format!("/v2/channel/{dm}?limit=5"),
                Auth::Bearer(t),
                None
            )
            .await
            .status,
            200
        );
    }
    let r = c
        .call(
            "GET",
            &format!("/v2/channel/{dm}?limit=5"),
            Auth::Bearer(&tc),
            None,
        )
        .await;
    r.assert_error(400, 3, "Channel not found.");

    for bad in [
        "nope",
        "2..lobby",
        "5...x",
        "3.not-a-uuid..",
        &format!("4.{a}.{b}.label"),
    ] {
        let r = c
            .call(
                "GET",
                &format!("/v2/channel/{bad}"),
                Auth::Bearer(&ta),
                None,
            )
            .await;
        r.assert_error(400, 3, "Invalid channel ID.");
    }
    for bad in ["0", "101"] {
        let r = c
            .call(
                "GET",
                &format!("/v2/channel/2...lobby?limit={bad}"),
                Auth::Bearer(&ta),
                None,
            )
            .await;
        r.assert_error(400, 3, "Invalid limit - limit must be between 1 and 100.");
    }
    let r = c
        .call(
            "GET",
            "/v2/channel/2...lobby?cursor=garbage",
            Auth::Bearer(&ta),
            None,
        )
        .await;
    r.assert_error(400, 3, "Cursor is invalid or expired.");
    let r = c
        .call(
            "GET",
            "/v2/channel/2...lobby?forward=sideways",
            Auth::Bearer(&ta),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn request_hooks_wrap_the_routes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hooks.lua"), HOOKS).unwrap();
    let node = TestNode::start(&["--runtime.path", &dir.path().display().to_string()])
        .await
        .unwrap();
    let c = node.client();
    let (t, _) = c.login_custom("hooked-user-1").await;

    // A before hook that returns nil disables the route.
    let r = c
        .call("DELETE", "/v2/notification?ids=a", Auth::Bearer(&t), None)
        .await;
    r.assert_error(404, 5, "Requested resource was not found.");
    // A before hook may rewrite the request: the bad cursor never reaches validation.
    let r = c
        .call(
            "GET",
            "/v2/channel/2...lobby?cursor=drop-me",
            Auth::Bearer(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            "GET",
            "/v2/channel/2...lobby?cursor=keep-me",
            Auth::Bearer(&t),
            None,
        )
        .await;
    r.assert_error(400, 3, "Cursor is invalid or expired.");
    // No hook for this one.
    assert_eq!(
        c.call("GET", "/v2/notification", Auth::Bearer(&t), None)
            .await
            .status,
        200
    );
}
