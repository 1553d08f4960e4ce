//! Persisted chat history (N `server/core_channel.go` `ChannelMessageSend/Update/Remove`,
//! `ChannelMessagesList`): messages of a channel in creation order, updated or removed by
//! their sender only, listed in either direction with next/previous/cacheable cursors.

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};
use shoal_proto::Stream;
use uuid::Uuid;

use crate::apply::{Txn, TxnError};
use crate::codec::decode;
use crate::command::{ChannelMessageCommand, Rejection, Reply, Response};
use crate::keys;
use crate::read::{ReadError, Reader};

/// A persisted channel message. The channel (stream) is part of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMessageRecord {
    pub id: Uuid,
    /// Nakama's message type (0 chat; group events use other codes). Updates keep it.
    pub code: i32,
    /// The nil UUID for the system user.
    pub sender_id: Uuid,
    pub username: String,
    /// JSON object text.
    pub content: String,
    /// Unix ns, stamped by the proposer; with the id it orders the channel's history.
    pub create_time_ns: i64,
    /// Unix s.
    pub update_time: i64,
}

impl ChannelMessageRecord {
    /// Unix seconds, as the API reports it.
    pub fn create_time(&self) -> i64 {
        self.create_time_ns.div_euclid(1_000_000_000)
    }
}

/// Nakama's `channelMessageListCursor`: a position in one channel's history, for one
/// listing direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMessageCursor {
    pub stream: Stream,
    pub create_time_ns: i64,
    pub id: Uuid,
    /// The listing direction the cursor belongs to (`forward` = oldest first).
    pub forward: bool,
    /// `true`: the page after this position in the listing's direction; `false`: before.
    pub is_next: bool,
}

/// One page of history in the listing's direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelMessagePage {
    pub messages: Vec<ChannelMessageRecord>,
    pub next: Option<ChannelMessageCursor>,
    pub prev: Option<ChannelMessageCursor>,
    /// Resumes a forward listing after the newest message seen, to catch up later.
    pub cacheable: Option<ChannelMessageCursor>,
}

/// Where a message lives: its channel and creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Locator {
    stream: Stream,
    create_time_ns: i64,
}

pub(crate) fn apply(txn: &mut Txn<'_>, cmd: &ChannelMessageCommand) -> Result<Response, TxnError> {
    match cmd {
        ChannelMessageCommand::Write { stream, message } => {
            let locator = keys::channel_message_id(&message.id);
            // Ids are random v4 stamped by the proposer; a repeat is a retried proposal.
            if txn.get_raw(&locator)?.is_none() {
                txn.put(
                    locator,
                    &Locator {
                        stream: stream.clone(),
                        create_time_ns: message.create_time_ns,
                    },
                );
                txn.put(
                    keys::channel_message(stream, message.create_time_ns, &message.id),
                    message,
                );
            }
            Ok(Ok(Reply::ChannelMessage(message.clone())))
        }
        ChannelMessageCommand::Update {
            stream,
            id,
            sender_id,
            username,
            content,
            now,
        } => {
            let Some((key, mut rec)) = find(txn, stream, id, sender_id)? else {
                return Ok(Err(Rejection::ChannelMessageUpdateNotFound));
            };
            rec.username = username.clone();
            rec.content = content.clone();
            rec.update_time = *now;
            txn.put(key, &rec);
            Ok(Ok(Reply::ChannelMessage(rec)))
        }
        ChannelMessageCommand::Remove {
            stream,
            id,
            sender_id,
        } => {
            let Some((key, rec)) = find(txn, stream, id, sender_id)? else {
                return Ok(Err(Rejection::ChannelMessageRemoveNotFound));
            };
            txn.delete(key);
            txn.delete(keys::channel_message_id(id));
            Ok(Ok(Reply::ChannelMessage(rec)))
        }
    }
}

/// The message `id` of `stream` if `sender` sent it (Nakama: `WHERE id = $1 AND sender_id
/// = $2`; Shoal also requires the channel to match).
fn find(
    txn: &Txn<'_>,
    stream: &Stream,
    id: &Uuid,
    sender: &Uuid,
) -> Result<Option<(Vec<u8>, ChannelMessageRecord)>, TxnError> {
    let Some(loc) = txn.get::<Locator>(&keys::channel_message_id(id))? else {
        return Ok(None);
    };
    if loc.stream != *stream {
        return Ok(None);
    }
    let key = keys::channel_message(stream, loc.create_time_ns, id);
    let Some(rec) = txn.get::<ChannelMessageRecord>(&key)? else {
        return Ok(None);
    };
    Ok((rec.sender_id == *sender).then_some((key, rec)))
}

impl Reader {
    /// Up to `limit` messages of `stream` strictly after (`ascending`) or before the
    /// position, or from the oldest/newest end without one, in scan order.
    fn channel_messages_scan(
        &self,
        stream: &Stream,
        from: Option<(i64, Uuid)>,
        ascending: bool,
        limit: usize,
    ) -> Result<Vec<ChannelMessageRecord>, ReadError> {
        let prefix = keys::channel_message_stream(stream);
        let bound = from.map(|(t, id)| keys::channel_message(stream, t, &id));
        let end = keys::prefix_end(&prefix);
        let start = match (&bound, ascending) {
            (Some(b), _) => b.clone(),
            (None, true) => prefix.clone(),
            (None, false) => end,
        };
        let dir = if ascending {
            Direction::Forward
        } else {
            Direction::Reverse
        };
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(), IteratorMode::From(&start, dir))
        {
            if out.len() == limit {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                // Reverse scans may start on the first key past the channel.
                if !ascending && k[..] > prefix[..] {
                    continue;
                }
                break;
            }
            if bound.as_deref() == Some(&k[..]) {
                continue;
            }
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    /// A page of `stream`'s history as Nakama's `ChannelMessagesList`: `forward` lists
    /// oldest first; a cursor continues a listing of the same channel and direction
    /// (`ReadError::InvalidCursor` otherwise). `limit` ≥ 1.
    pub fn channel_messages_page(
        &self,
        stream: &Stream,
        forward: bool,
        cursor: Option<&ChannelMessageCursor>,
        limit: usize,
    ) -> Result<ChannelMessagePage, ReadError> {
        if let Some(c) = cursor
            && (c.forward != forward || c.stream != *stream)
        {
            return Err(ReadError::InvalidCursor);
        }
        let at = |m: &ChannelMessageRecord, is_next: bool| ChannelMessageCursor {
            stream: stream.clone(),
            create_time_ns: m.create_time_ns,
            id: m.id,
            forward,
            is_next,
        };
        // Forward and next page, or backwards and previous page, read ascending.
        let ascending = match cursor {
            None => forward,
            Some(c) => forward == c.is_next,
        };
        let from = cursor.map(|c| (c.create_time_ns, c.id));
        let mut messages = self.channel_messages_scan(stream, from, ascending, limit + 1)?;
        let mut next = None;
        if messages.len() > limit {
            messages.truncate(limit);
            next = messages.last().map(|m| at(m, true));
        }
        // Only a paginated listing can have a previous page.
        let mut prev = match cursor {
            Some(_) => messages.first().map(|m| at(m, false)),
            None => None,
        };
        if cursor.is_some_and(|c| !c.is_next) {
            // A previous page: back to the listing's order, cursors swapped.
            std::mem::swap(&mut next, &mut prev);
            for c in [&mut next, &mut prev].into_iter().flatten() {
                c.is_next = !c.is_next;
            }
            messages.reverse();
        }
        let cacheable = match (messages.last(), cursor) {
            (Some(m), _) => Some(ChannelMessageCursor {
                forward: true,
                ..at(m, true)
            }),
            (None, Some(c)) if forward => Some(c.clone()),
            (None, Some(c)) => Some(ChannelMessageCursor {
                forward: true,
                is_next: true,
                ..c.clone()
            }),
            (None, None) => None,
        };
        Ok(ChannelMessagePage {
            messages,
            next,
            prev,
            cacheable,
        })
    }

    /// One persisted message by id, with its channel.
    pub fn channel_message(
        &self,
        id: &Uuid,
    ) -> Result<Option<(Stream, ChannelMessageRecord)>, ReadError> {
        let Some(loc) = self.get::<Locator>(&keys::channel_message_id(id))? else {
            return Ok(None);
        };
        let rec = self.get(&keys::channel_message(&loc.stream, loc.create_time_ns, id))?;
        Ok(rec.map(|r| (loc.stream, r)))
    }
}
