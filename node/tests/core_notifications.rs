//! `core` notifications and chat history against a real single-node cluster in-process:
//! creation goes through Raft, listings read the applied state, REST reads the same data.

use std::collections::BTreeMap;

use serde_json::Value;
use shoal_node::core::channel::ChannelSender;
use shoal_proto::{ChannelMessageAck, NotificationSend, channel_id_build};
use uuid::Uuid;

struct Node {
    _dir: tempfile::TempDir,
    node: shoal_node::NodeHandle,
}

async fn start() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = shoal_config::NodeConfig::default();
    config.name = "core-test".into();
    config.data_dir = dir.path().join("data");
    config.socket.port = 0;
    config.console.port = 0;
    config.cluster.port = 0;
    config.session.token_expiry_sec = 7200;
    config.validate().unwrap();
    let node = shoal_node::start(config).await.unwrap();
    Node { _dir: dir, node }
}

/// (user id, session token) of a new custom-id account.
async fn user(n: &Node, custom: &str) -> (Uuid, String) {
    let a = n
        .node
        .core
        .authenticate_custom(custom, true, None, BTreeMap::new())
        .await
        .unwrap();
    (a.user_id, a.session.token)
}

fn send(to: &Uuid, subject: &str, code: i32, persistent: bool) -> NotificationSend {
    NotificationSend {
        user_id: to.to_string(),
        subject: subject.into(),
        content: "{\"reward_coins\":1000}".into(),
        code,
        sender_id: String::new(),
        persistent,
    }
}

async fn get(n: &Node, token: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{}{}", n.node.api_addr, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn notifications_are_stamped_persisted_listed_and_deleted() {
    let n = start().await;
    let core = &n.node.core;
    let (alice, token) = user(&n, "alice-notifications").await;

    // Validation happens before anything is stored.
    let mut bad = send(&alice, "s", 1, true);
    bad.content = "[1]".into();
    assert_eq!(
        core.notifications_create(&[bad]).await.unwrap_err().message,
        "expects content to be a JSON object"
    );
    let mut bad = send(&alice, "", 1, true);
    assert_eq!(
        core.notifications_create(&[bad.clone()])
            .await
            .unwrap_err()
            .message,
        "expects subject to be a non-empty string"
    );
    bad.subject = "s".into();
    bad.user_id = "nope".into();
    assert_eq!(core.notifications_create(&[bad]).await.unwrap_err().code, 3);
    // A recipient that does not exist fails the whole (persistent) batch.
    let ghost = Uuid::new_v4();
    let err = core
        .notifications_create(&[send(&alice, "a", 1, true), send(&ghost, "b", 1, true)])
        .await
        .unwrap_err();
    assert_eq!(err.message, "User account not found.");
    assert!(
        core.notifications_list(&alice, Some(100), "")
            .await
            .unwrap()
            .notifications
            .is_empty()
    );

    // Every notification comes back stamped, in input order; only persistent ones are stored.
    let out = core
        .notifications_create(&[
            send(&alice, "first", 1, true),
            send(&alice, "live only", 2, false),
            send(&alice, "second", -1, true),
        ])
        .await
        .unwrap();
    assert_eq!(
        out.iter().map(|n| n.subject.as_str()).collect::<Vec<_>>(),
        ["first", "live only", "second"]
    );
    assert_eq!(
        out.iter().map(|n| n.persistent).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert!(
        out.iter()
            .all(|n| Uuid::parse_str(&n.id).is_ok() && n.create_time > 0)
    );
    assert_ne!(out[0].id, out[2].id);

    // Listing one at a time with the cacheable cursor, like nakama-js's test.
    let page = core.notifications_list(&alice, None, "").await.unwrap();
    assert_eq!(page.notifications.len(), 1, "the default limit is 1");
    assert_eq!(page.notifications[0].id, out[0].id);
    assert_eq!(page.notifications[0].content, "{\"reward_coins\":1000}");
    let page2 = core
        .notifications_list(&alice, Some(1), &page.cacheable_cursor)
        .await
        .unwrap();
    assert_eq!(page2.notifications[0].id, out[2].id);
    assert_eq!(page2.notifications[0].code, -1);
    let page3 = core
        .notifications_list(&alice, Some(1), &page2.cacheable_cursor)
        .await
        .unwrap();
    assert!(page3.notifications.is_empty());
    assert_eq!(
        page3.cacheable_cursor, page2.cacheable_cursor,
        "nothing new hands the cursor back"
    );

    // REST sees the same, in protojson.
    let (status, body) = get(&n, &token, "/v2/notification?limit=10&").await;
    assert_eq!(status, 200, "{body}");
    let listed = body["notifications"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["subject"], "first");
    assert_eq!(listed[0]["code"], 1);
    assert_eq!(listed[0]["persistent"], true);
    assert!(
        listed[0].get("sender_id").is_none(),
        "system sender left out: {body}"
    );
    assert!(listed[0]["create_time"].as_str().unwrap().ends_with('Z'));
    assert!(!body["cacheable_cursor"].as_str().unwrap().is_empty());

    // Deleting by id (ids that are not the user's, or not ids, are ignored).
    core.notifications_delete(
        &alice,
        &[out[0].id.clone(), "junk".into(), Uuid::new_v4().to_string()],
    )
    .await
    .unwrap();
    let left = core
        .notifications_list(&alice, Some(100), "")
        .await
        .unwrap();
    assert_eq!(
        left.notifications
            .iter()
            .map(|n| n.id.clone())
            .collect::<Vec<_>>(),
        vec![out[2].id.clone()]
    );

    // Deleting the account deletes its notifications.
    core.delete_account(&alice).await.unwrap();
    assert!(
        core.notifications_list(&alice, Some(100), "")
            .await
            .unwrap()
            .notifications
            .is_empty()
    );
    n.node.shutdown().await;
}

#[tokio::test]
async fn chat_history_is_persisted_edited_by_its_sender_and_listed() {
    let n = start().await;
    let core = &n.node.core;
    let (alice, alice_token) = user(&n, "alice-chat-history").await;
    let (bob, _) = user(&n, "bob-chat-history").await;
    let (carol, carol_token) = user(&n, "carol-chat-history").await;

    let (room_id, room) = core.channel_id_build(&alice, "lobby", 1).await.unwrap();
    assert_eq!(room_id, "2...lobby");
    let as_alice = ChannelSender {
        channel_id: &room_id,
        stream: &room,
        user_id: alice,
        username: "alice",
        persist: true,
    };
    let as_bob = ChannelSender {
        user_id: bob,
        username: "bob",
        ..as_alice
    };

    let m1 = core
        .channel_message_create(&as_alice, "{\"hello\":\"world\"}")
        .await
        .unwrap();
    assert_eq!(
        (m1.code, m1.persistent, m1.room_name.as_str()),
        (0, true, "lobby")
    );
    assert_eq!(m1.sender_id, alice.to_string());
    let ack = ChannelMessageAck::from(&m1);
    assert_eq!(ack.message_id, m1.message_id);
    let m2 = core
        .channel_message_create(&as_bob, "{\"n\":2}")
        .await
        .unwrap();
    // Not persisted: delivered, never listed.
    let live = core
        .channel_message_create(
            &ChannelSender {
                persist: false,
                ..as_bob
            },
            "{\"n\":3}",
        )
        .await
        .unwrap();
    assert!(!live.persistent);
    assert_eq!(
        core.channel_message_create(&as_alice, "[]")
            .await
            .unwrap_err()
            .message,
        "Message content must be a valid JSON object"
    );

    // Only the sender edits or removes.
    let err = core
        .channel_message_update(&as_bob, &m1.message_id, "{\"x\":1}")
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Could not find message to update in channel history"
    );
    let err = core
        .channel_message_remove(&as_alice, &m2.message_id)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Could not find message to remove in channel history"
    );
    let up = core
        .channel_message_update(&as_alice, &m1.message_id, "{\"hello\":\"world2\"}")
        .await
        .unwrap();
    assert_eq!((up.code, up.create_time), (1, m1.create_time));
    let gone = core
        .channel_message_remove(&as_bob, &m2.message_id)
        .await
        .unwrap();
    assert_eq!((gone.code, gone.content.as_str()), (2, "{}"));

    // Anyone lists a room; the edit is there with its original code, the removal is gone.
    let list = core
        .channel_messages_list(Some(&carol), &room_id, Some(10), None, "")
        .await
        .unwrap();
    assert_eq!(list.messages.len(), 1);
    assert_eq!(
        (list.messages[0].content.as_str(), list.messages[0].code),
        ("{\"hello\":\"world2\"}", 0)
    );
    assert!(list.messages[0].persistent);
    assert!(!list.cacheable_cursor.is_empty());
    assert_ne!(list.messages[0].message_id, live.message_id);
    let (status, body) = get(
        &n,
        &carol_token,
        &format!("/v2/channel/{room_id}?limit=10&forward=false"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["room_name"], "lobby");
    assert_eq!(body["messages"][0]["code"], 0);
    assert_eq!(body["messages"][0]["persistent"], true);
    assert_eq!(body["messages"][0]["username"], "alice");

    // A DM is listed only by its two users.
    let (dm_id, dm) = core
        .channel_id_build(&alice, &bob.to_string(), 2)
        .await
        .unwrap();
    assert_eq!(
        dm_id,
        channel_id_build(&bob, &alice.to_string(), 2).unwrap().0
    );
    let dm_sender = ChannelSender {
        channel_id: &dm_id,
        stream: &dm,
        user_id: alice,
        username: "alice",
        persist: true,
    };
    let dm_msg = core
        .channel_message_create(&dm_sender, "{\"psst\":1}")
        .await
        .unwrap();
    assert!(!dm_msg.user_id_one.is_empty() && !dm_msg.user_id_two.is_empty());
    let seen = core
        .channel_messages_list(Some(&bob), &dm_id, Some(10), Some(true), "")
        .await
        .unwrap();
    assert_eq!(seen.messages.len(), 1);
    assert_eq!(
        core.channel_messages_list(Some(&carol), &dm_id, Some(10), None, "")
            .await
            .unwrap_err()
            .message,
        "Channel not found."
    );
    assert_eq!(
        core.channel_messages_list(None, &dm_id, Some(10), None, "")
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    let (status, body) = get(&n, &carol_token, &format!("/v2/channel/{dm_id}?limit=10")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Channel not found."))
    );
    let (status, body) = get(&n, &alice_token, &format!("/v2/channel/{dm_id}?limit=10")).await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"][0]["user_id_one"], dm.subject.as_str());

    // DM targets must exist and not block the sender.
    let err = core
        .channel_id_build(&alice, &Uuid::new_v4().to_string(), 2)
        .await
        .unwrap_err();
    assert_eq!(err.message, "User ID not found: Invalid channel target");
    core.friends_block(&carol, &[alice.to_string()], &[])
        .await
        .unwrap();
    let err = core
        .channel_id_build(&alice, &carol.to_string(), 2)
        .await
        .unwrap_err();
    assert_eq!(err.message, "User ID not found: Invalid channel target");
    assert!(
        core.channel_id_build(&carol, &alice.to_string(), 2)
            .await
            .is_ok()
    );
    n.node.shutdown().await;
}
