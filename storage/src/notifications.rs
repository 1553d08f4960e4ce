//! Persistent notifications (N `server/core_notification.go`): stored per recipient in
//! creation order, listed oldest first behind a cacheable cursor, deleted by id, and deleted
//! with their recipient's account. Non-persistent notifications never reach storage.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::apply::{Txn, TxnError};
use crate::command::{NotificationCommand, Rejection, Reply, Response};
use crate::keys;
use crate::read::{ReadError, Reader};

/// A persistent notification as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: Uuid,
    /// The recipient.
    pub user_id: Uuid,
    pub subject: String,
    /// JSON object text.
    pub content: String,
    pub code: i32,
    /// The nil UUID for the system user.
    pub sender_id: Uuid,
    /// Unix ns, stamped by the proposer; with the id it orders a user's notifications.
    pub create_time_ns: i64,
}

impl NotificationRecord {
    /// Unix seconds, as the API reports it.
    pub fn create_time(&self) -> i64 {
        self.create_time_ns.div_euclid(1_000_000_000)
    }
}

/// Nakama's `notificationCacheableCursor`: where a listing resumes. `None` is the start of
/// the user's notifications (the cursor of an empty first listing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationCursor {
    /// (create time in ns, id) of the last notification seen.
    pub after: Option<(i64, Uuid)>,
}

pub(crate) fn apply(txn: &mut Txn<'_>, cmd: &NotificationCommand) -> Result<Response, TxnError> {
    match cmd {
        NotificationCommand::Create { notifications } => {
            // Nakama's foreign key: a missing recipient fails the whole insert.
            for n in notifications {
                if txn.get_raw(&keys::user(&n.user_id))?.is_none() {
                    return Ok(Err(Rejection::UserNotFound));
                }
            }
            for n in notifications {
                let locator = keys::notification_id(&n.user_id, &n.id);
                // Ids are random v4 stamped by the proposer; a repeat is a retried proposal.
                if txn.get_raw(&locator)?.is_some() {
                    continue;
                }
                txn.put(locator, &n.create_time_ns);
                txn.put(keys::notification(&n.user_id, n.create_time_ns, &n.id), n);
            }
            Ok(Ok(Reply::Done))
        }
        NotificationCommand::Delete { user_id, ids } => {
            for id in ids {
                let locator = keys::notification_id(user_id, id);
                let Some(t) = txn.get::<i64>(&locator)? else {
                    continue;
                };
                txn.delete(keys::notification(user_id, t, id));
                txn.delete(locator);
            }
            Ok(Ok(Reply::Done))
        }
    }
}

/// Deletes every notification of a user (part of deleting the account).
pub(crate) fn delete_user_notifications(txn: &mut Txn<'_>, user: &Uuid) -> Result<(), TxnError> {
    for (k, _) in txn.scan_prefix(&keys::notification_user(user))? {
        txn.delete(k);
    }
    for (k, _) in txn.scan_prefix(&keys::notification_id_user(user))? {
        txn.delete(k);
    }
    Ok(())
}

impl Reader {
    /// Up to `limit` of `user`'s notifications after `cursor` (from the start without one),
    /// oldest first, and the cacheable cursor to resume from: after the last one returned,
    /// or the incoming cursor (the start) when there is nothing new.
    pub fn notifications_page(
        &self,
        user: &Uuid,
        cursor: Option<&NotificationCursor>,
        limit: usize,
    ) -> Result<(Vec<NotificationRecord>, NotificationCursor), ReadError> {
        let prefix = keys::notification_user(user);
        let after = cursor
            .and_then(|c| c.after)
            .map(|(t, id)| keys::notification(user, t, &id));
        let start = after.clone().unwrap_or_else(|| prefix.clone());
        let mut out: Vec<NotificationRecord> = Vec::new();
        let it = self.db.iterator_cf(
            self.cf(),
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
        );
        for item in it {
            if out.len() == limit {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if after.as_deref() == Some(&k[..]) {
                continue;
            }
            out.push(crate::codec::decode(&v)?);
        }
        let next = match out.last() {
            Some(n) => NotificationCursor {
                after: Some((n.create_time_ns, n.id)),
            },
            None => cursor.cloned().unwrap_or_default(),
        };
        Ok((out, next))
    }

    /// One notification of a user, by id.
    pub fn notification(
        &self,
        user: &Uuid,
        id: &Uuid,
    ) -> Result<Option<NotificationRecord>, ReadError> {
        let Some(t) = self.get::<i64>(&keys::notification_id(user, id))? else {
            return Ok(None);
        };
        self.get(&keys::notification(user, t, id))
    }
}
