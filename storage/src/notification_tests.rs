//! Unit tests of notifications and channel history through the state machine.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use shoal_proto::Stream;
use uuid::Uuid;

use super::*;

fn entry(index: u64, cmd: Command) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(cmd),
    }
}

fn user(id: u128) -> UserRecord {
    UserRecord {
        id: Uuid::from_u128(id),
        username: format!("user{id}"),
        custom_id: format!("custom-{id}"),
        ..Default::default()
    }
}

fn note(id: u128, to: u128, t: i64) -> NotificationRecord {
    NotificationRecord {
        id: Uuid::from_u128(id),
        user_id: Uuid::from_u128(to),
        subject: format!("n{id}"),
        content: "{}".into(),
        code: 1,
        sender_id: Uuid::nil(),
        create_time_ns: t,
    }
}

fn ids(ns: &[NotificationRecord]) -> Vec<u128> {
    ns.iter().map(|n| n.id.as_u128()).collect()
}

#[tokio::test]
async fn notifications_list_in_creation_order_with_a_cacheable_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm, reader) = open(dir.path()).unwrap();
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let create = |ns| Command::Notification(NotificationCommand::Create { notifications: ns });
    let r = sm
        .apply(vec![
            entry(1, Command::CreateUser { user: user(1) }),
            entry(2, Command::CreateUser { user: user(2) }),
            // Out of id order on purpose: the list follows creation time, then id.
            entry(
                3,
                create(vec![
                    note(30, 1, 3_000_000_000),
                    note(20, 1, 2_000_000_000),
                    note(21, 1, 2_000_000_000),
                ]),
            ),
            entry(4, create(vec![note(40, 2, 1)])),
            // One recipient missing: nothing of the command is stored.
            entry(5, create(vec![note(50, 1, 5), note(51, 9, 5)])),
            // A retried proposal stores its notifications once.
            entry(6, create(vec![note(30, 1, 3_000_000_000)])),
        ])
        .await
        .unwrap();
    assert_eq!(r[4], Err(Rejection::UserNotFound));
    assert!(r[5].is_ok());
    assert!(
        reader
            .notification(&a, &Uuid::from_u128(50))
            .unwrap()
            .is_none(),
        "rejected command left a trace"
    );

    let (page, cursor) = reader.notifications_page(&a, None, 2).unwrap();
    assert_eq!(ids(&page), vec![20, 21]);
    assert_eq!(page[0].create_time(), 2);
    assert_eq!(cursor.after, Some((2_000_000_000, Uuid::from_u128(21))));
    let (page, cursor) = reader.notifications_page(&a, Some(&cursor), 2).unwrap();
    assert_eq!(ids(&page), vec![30]);
    // Nothing new: the cursor comes back as it was, to be cached.
    let (page, again) = reader.notifications_page(&a, Some(&cursor), 2).unwrap();
    assert!(page.is_empty());
    assert_eq!(again, cursor);
    // An empty first listing gives the start cursor, which later sees everything.
    let (page, start) = reader
        .notifications_page(&Uuid::from_u128(3), None, 10)
        .unwrap();
    assert!(page.is_empty());
    assert_eq!(start, NotificationCursor::default());
    assert_eq!(
        ids(&reader.notifications_page(&b, Some(&start), 10).unwrap().0),
        vec![40]
    );

    // Deleting: only the owner's ids go; unknown ids are ignored.
    let del = |user_id, ids: &[u128]| {
        Command::Notification(NotificationCommand::Delete {
            user_id,
            ids: ids.iter().map(|i| Uuid::from_u128(*i)).collect(),
        })
    };
    sm.apply(vec![entry(7, del(b, &[20])), entry(8, del(a, &[21, 99]))])
        .await
        .unwrap();
    assert_eq!(
        ids(&reader.notifications_page(&a, None, 10).unwrap().0),
        vec![20, 30]
    );
    assert!(
        reader
            .notification(&a, &Uuid::from_u128(21))
            .unwrap()
            .is_none()
    );

    // Deleting the account deletes its notifications, and only its.
    sm.apply(vec![entry(
        9,
        Command::DeleteUser {
            user_id: a,
            now: 10,
        },
    )])
    .await
    .unwrap();
    assert!(
        reader
            .notifications_page(&a, None, 10)
            .unwrap()
            .0
            .is_empty()
    );
    assert!(
        reader
            .notification(&a, &Uuid::from_u128(20))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        ids(&reader.notifications_page(&b, None, 10).unwrap().0),
        vec![40]
    );
}

fn room(name: &str) -> Stream {
    Stream {
        mode: shoal_proto::stream_mode::CHANNEL,
        label: name.into(),
        ..Default::default()
    }
}

fn msg(id: u128, sender: u128, t: i64) -> ChannelMessageRecord {
    ChannelMessageRecord {
        id: Uuid::from_u128(id),
        code: 0,
        sender_id: Uuid::from_u128(sender),
        username: format!("user{sender}"),
        content: format!("{{\"n\":{id}}}"),
        create_time_ns: t,
        update_time: t / 1_000_000_000,
    }
}

fn write(stream: &Stream, m: ChannelMessageRecord) -> Command {
    Command::ChannelMessage(ChannelMessageCommand::Write {
        stream: stream.clone(),
        message: m,
    })
}

fn mids(p: &ChannelMessagePage) -> Vec<u128> {
    p.messages.iter().map(|m| m.id.as_u128()).collect()
}

#[tokio::test]
async fn only_the_sender_updates_or_removes_a_message_in_its_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm, reader) = open(dir.path()).unwrap();
    let (lobby, other) = (room("lobby"), room("other"));
    let update = |stream: &Stream, sender: u128, content: &str| {
        Command::ChannelMessage(ChannelMessageCommand::Update {
            stream: stream.clone(),
            id: Uuid::from_u128(1),
            sender_id: Uuid::from_u128(sender),
            username: "renamed".into(),
            content: content.into(),
            now: 50,
        })
    };
    let remove = |stream: &Stream, sender: u128| {
        Command::ChannelMessage(ChannelMessageCommand::Remove {
            stream: stream.clone(),
            id: Uuid::from_u128(1),
            sender_id: Uuid::from_u128(sender),
        })
    };
    let r = sm
        .apply(vec![
            entry(1, write(&lobby, msg(1, 7, 10_000_000_000))),
            entry(2, update(&lobby, 8, "{\"x\":1}")),
            entry(3, update(&other, 7, "{\"x\":1}")),
            entry(4, update(&lobby, 7, "{\"x\":2}")),
            entry(5, remove(&lobby, 8)),
            entry(6, remove(&other, 7)),
        ])
        .await
        .unwrap();
    assert!(matches!(&r[0], Ok(Reply::ChannelMessage(m)) if m.id == Uuid::from_u128(1)));
    assert_eq!(r[1], Err(Rejection::ChannelMessageUpdateNotFound));
    assert_eq!(r[2], Err(Rejection::ChannelMessageUpdateNotFound));
    let Ok(Reply::ChannelMessage(updated)) = &r[3] else {
        panic!("{:?}", r[3])
    };
    assert_eq!(
        (updated.content.as_str(), updated.username.as_str()),
        ("{\"x\":2}", "renamed")
    );
    assert_eq!(
        (updated.create_time(), updated.update_time, updated.code),
        (10, 50, 0)
    );
    assert_eq!(r[4], Err(Rejection::ChannelMessageRemoveNotFound));
    assert_eq!(r[5], Err(Rejection::ChannelMessageRemoveNotFound));
    assert_eq!(
        reader
            .channel_message(&Uuid::from_u128(1))
            .unwrap()
            .unwrap()
            .1,
        *updated
    );

    let r = sm
        .apply(vec![
            entry(7, remove(&lobby, 7)),
            entry(8, remove(&lobby, 7)),
        ])
        .await
        .unwrap();
    assert!(matches!(&r[0], Ok(Reply::ChannelMessage(m)) if m.content == "{\"x\":2}"));
    assert_eq!(r[1], Err(Rejection::ChannelMessageRemoveNotFound));
    assert!(
        reader
            .channel_message(&Uuid::from_u128(1))
            .unwrap()
            .is_none()
    );
    assert!(
        reader
            .channel_messages_page(&lobby, true, None, 10)
            .unwrap()
            .messages
            .is_empty()
    );
    assert!(
        Rejection::ChannelMessageUpdateNotFound
            .to_status()
            .message
            .contains("to update in channel history")
    );
}

#[tokio::test]
async fn history_pages_both_ways_like_nakama() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm, reader) = open(dir.path()).unwrap();
    let (lobby, lobby2) = (room("lobby"), room("lobby2"));
    // Five messages 1..=5 in time order (3 and 4 share a time: the id breaks the tie),
    // plus one in a neighbouring room that must never show up.
    let times = [(1, 100), (2, 200), (4, 300), (3, 300), (5, 400)];
    let mut entries: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, (id, t))| entry(i as u64 + 1, write(&lobby, msg(*id, 7, *t))))
        .collect();
    entries.push(entry(6, write(&lobby2, msg(9, 7, 250))));
    sm.apply(entries).await.unwrap();

    // Forward, two at a time.
    let p1 = reader.channel_messages_page(&lobby, true, None, 2).unwrap();
    assert_eq!(mids(&p1), vec![1, 2]);
    assert!(p1.prev.is_none(), "a first page has no previous page");
    let p2 = reader
        .channel_messages_page(&lobby, true, p1.next.as_ref(), 2)
        .unwrap();
    assert_eq!(mids(&p2), vec![3, 4]);
    let p3 = reader
        .channel_messages_page(&lobby, true, p2.next.as_ref(), 2)
        .unwrap();
    assert_eq!(mids(&p3), vec![5]);
    assert!(p3.next.is_none());
    // Back from page 3 to page 2, in listing order, and on back to page 1.
    let back = reader
        .channel_messages_page(&lobby, true, p3.prev.as_ref(), 2)
        .unwrap();
    assert_eq!(mids(&back), vec![3, 4]);
    assert_eq!(
        mids(
            &reader
                .channel_messages_page(&lobby, true, back.next.as_ref(), 2)
                .unwrap()
        ),
        vec![5]
    );
    let first = reader
        .channel_messages_page(&lobby, true, back.prev.as_ref(), 2)
        .unwrap();
    assert_eq!(mids(&first), vec![1, 2]);
    assert!(first.prev.is_none(), "nothing before the first message");

    // Backwards: newest first.
    let b1 = reader
        .channel_messages_page(&lobby, false, None, 3)
        .unwrap();
    assert_eq!(mids(&b1), vec![5, 4, 3]);
    let b2 = reader
        .channel_messages_page(&lobby, false, b1.next.as_ref(), 3)
        .unwrap();
    assert_eq!(mids(&b2), vec![2, 1]);
    assert!(b2.next.is_none());
    assert_eq!(
        mids(
            &reader
                .channel_messages_page(&lobby, false, b2.prev.as_ref(), 3)
                .unwrap()
        ),
        vec![5, 4, 3]
    );

    // The cacheable cursor resumes a forward listing after the last message returned.
    let all = reader
        .channel_messages_page(&lobby, true, None, 10)
        .unwrap();
    assert_eq!(mids(&all), vec![1, 2, 3, 4, 5]);
    assert!(all.next.is_none());
    let cache = all.cacheable.clone().unwrap();
    let caught_up = reader
        .channel_messages_page(&lobby, true, Some(&cache), 10)
        .unwrap();
    assert!(caught_up.messages.is_empty());
    assert_eq!(
        caught_up.cacheable.as_ref(),
        Some(&cache),
        "nothing new keeps the cursor"
    );
    sm.apply(vec![entry(7, write(&lobby, msg(6, 8, 500)))])
        .await
        .unwrap();
    assert_eq!(
        mids(
            &reader
                .channel_messages_page(&lobby, true, Some(&cache), 10)
                .unwrap()
        ),
        vec![6]
    );
    assert!(
        reader
            .channel_messages_page(&room("empty"), true, None, 10)
            .unwrap()
            .cacheable
            .is_none()
    );

    // A cursor from another channel or direction is refused.
    let err = reader
        .channel_messages_page(&lobby2, true, p1.next.as_ref(), 2)
        .unwrap_err();
    assert!(matches!(err, ReadError::InvalidCursor));
    assert!(matches!(
        reader.channel_messages_page(&lobby, false, p1.next.as_ref(), 2),
        Err(ReadError::InvalidCursor)
    ));
    assert_eq!(
        mids(
            &reader
                .channel_messages_page(&lobby2, false, None, 10)
                .unwrap()
        ),
        vec![9]
    );
}
