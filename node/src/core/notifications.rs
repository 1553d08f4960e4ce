//! Notifications (N `server/core_notification.go`, `api_notification.go`): create (stamp
//! every notification, persist the persistent ones in one Raft command, hand all back for
//! delivery), list a user's persistent notifications behind a cacheable cursor, delete.

use base64::Engine;
use shoal_proto::{Notification, NotificationList, NotificationSend, Status};
use shoal_storage::{Command, NotificationCommand, NotificationCursor, NotificationRecord};
use uuid::Uuid;

use super::{Core, internal, now_nanos};

/// Nakama's notification cursors are unpadded URL-safe base64; ours carry a bincode
/// [`NotificationCursor`].
fn encode_cursor(c: &NotificationCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shoal_storage::encode(c))
}

fn decode_cursor(s: &str) -> Result<Option<NotificationCursor>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    let malformed = || Status::invalid("Malformed cursor was used.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| malformed())?;
    shoal_storage::decode(&bytes)
        .map(Some)
        .map_err(|_| malformed())
}

fn is_json_object(s: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).is_ok()
}

/// The API form of a stored notification: the system sender is left out.
pub fn notification_to_api(n: &NotificationRecord) -> Notification {
    Notification {
        id: n.id.to_string(),
        subject: n.subject.clone(),
        content: n.content.clone(),
        code: n.code,
        sender_id: if n.sender_id.is_nil() {
            String::new()
        } else {
            n.sender_id.to_string()
        },
        create_time: n.create_time(),
        persistent: true,
    }
}

impl Core {
    /// Validates `sends`, stamps each with an id (v4) and creation time, stores the
    /// persistent ones in one command (all or none: every recipient must exist), and returns
    /// every notification, in the order of `sends`, for delivery to `sends[i].user_id`.
    ///
    /// `code` is not checked: Nakama's runtime refuses codes ≤ 0 from modules, but the
    /// server itself sends negative codes (e.g. -1, a DM request).
    pub async fn notifications_create(
        &self,
        sends: &[NotificationSend],
    ) -> Result<Vec<Notification>, Status> {
        let mut records = Vec::with_capacity(sends.len());
        let base = now_nanos();
        for (i, s) in sends.iter().enumerate() {
            let user_id = Uuid::parse_str(&s.user_id)
                .map_err(|_| Status::invalid("expects user_id to be a valid UUID"))?;
            if s.subject.is_empty() {
                return Err(Status::invalid("expects subject to be a non-empty string"));
            }
            let content = if s.content.is_empty() {
                "{}".to_owned()
            } else {
                s.content.clone()
            };
            if !is_json_object(&content) {
                return Err(Status::invalid("expects content to be a JSON object"));
            }
            let sender_id = if s.sender_id.is_empty() {
                Uuid::nil()
            } else {
                Uuid::parse_str(&s.sender_id).map_err(|_| {
                    Status::invalid(
                        "expects sender_id to either be not set, empty string or a valid UUID",
                    )
                })?
            };
            records.push((
                s.persistent,
                NotificationRecord {
                    id: Uuid::new_v4(),
                    user_id,
                    subject: s.subject.clone(),
                    content,
                    code: s.code,
                    sender_id,
                    // One batch keeps its order: each notification a nanosecond after the last.
                    create_time_ns: base + i as i64,
                },
            ));
        }
        let persistent: Vec<NotificationRecord> = records
            .iter()
            .filter(|(p, _)| *p)
            .map(|(_, r)| r.clone())
            .collect();
        if !persistent.is_empty() {
            self.propose(Command::Notification(NotificationCommand::Create {
                notifications: persistent,
            }))
            .await?;
        }
        Ok(records
            .iter()
            .map(|(persistent, r)| Notification {
                persistent: *persistent,
                ..notification_to_api(r)
            })
            .collect())
    }

    /// A user's persistent notifications, oldest first: `limit` 1–100 (default 1) after
    /// `cursor`, and the cacheable cursor to resume from (Nakama `ListNotifications`).
    pub async fn notifications_list(
        &self,
        user_id: &Uuid,
        limit: Option<i64>,
        cursor: &str,
    ) -> Result<NotificationList, Status> {
        let limit = limit.unwrap_or(1);
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid(
                "Invalid limit - limit must be between 1 and 100.",
            ));
        }
        let incoming = decode_cursor(cursor)?;
        self.read_barrier().await?;
        let (records, next) = self
            .reader
            .notifications_page(user_id, incoming.as_ref(), limit as usize)
            .map_err(internal)?;
        // Nothing new after a cursor: hand the same cursor back, as Nakama does.
        let cacheable_cursor = if records.is_empty() && !cursor.is_empty() {
            cursor.to_owned()
        } else {
            encode_cursor(&next)
        };
        Ok(NotificationList {
            notifications: records.iter().map(notification_to_api).collect(),
            cacheable_cursor,
        })
    }

    /// Deletes the user's notifications with these ids; ids that are not UUIDs or not the
    /// user's are ignored (they cannot match), and no ids is a no-op.
    pub async fn notifications_delete(&self, user_id: &Uuid, ids: &[String]) -> Result<(), Status> {
        let mut ids: Vec<Uuid> = ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        self.propose(Command::Notification(NotificationCommand::Delete {
            user_id: *user_id,
            ids,
        }))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_malformed() {
        let c = NotificationCursor {
            after: Some((42, Uuid::from_u128(7))),
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)).unwrap(), Some(c));
        assert_eq!(decode_cursor("").unwrap(), None);
        assert_eq!(
            decode_cursor("!!!").unwrap_err().message,
            "Malformed cursor was used."
        );
        // Valid base64 that is not a cursor (an Option tag of 2).
        assert_eq!(
            decode_cursor("Ag").unwrap_err().message,
            "Malformed cursor was used."
        );
    }

    #[test]
    fn system_sender_is_left_out() {
        let r = NotificationRecord {
            id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            subject: "s".into(),
            content: "{}".into(),
            code: 1,
            sender_id: Uuid::nil(),
            create_time_ns: 5_500_000_000,
        };
        let n = notification_to_api(&r);
        assert_eq!(
            (n.sender_id.as_str(), n.create_time, n.persistent),
            ("", 5, true)
        );
        let json = serde_json::to_value(&n).unwrap();
        assert!(json.get("sender_id").is_none());
        assert_eq!(json["create_time"], "1970-01-01T00:00:05Z");
    }
}
