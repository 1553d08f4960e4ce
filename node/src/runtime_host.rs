//! The Lua runtime's `RuntimeHost`, implemented over `core`: every `nk.*` data call runs the
//! same core function as the REST route, with the runtime as the (authoritative) caller.
//! Each method blocks on the async core function inside `shoal_runtime::blocking::section`.

use std::collections::BTreeMap;

use shoal_proto::{
    Account, DeleteStorageObjectId, FriendList, ReadStorageObjectId, Status, StorageObject, StorageObjectAck,
    User, WriteStorageObject,
};
use shoal_proto::{ChannelMessageAck, MatchInfo, MatchListQuery, NotificationSend, Stream, StreamPresence};
use shoal_proto::{Leaderboard, LeaderboardList, LeaderboardRecord, LeaderboardRecordList, Tournament, TournamentList};
use shoal_runtime::{
    AccountUpdate, AuthResult, LeaderboardCreate, RecordsQuery, RuntimeHost, ScoreWrite, StorageList, StorageObjectId,
    StorageWrite, TournamentCreate, TournamentQuery,
};
use shoal_storage::{Leaderboard as Board, TournamentFields};
use shoal_storage::UserUpdate;
use uuid::Uuid;

use crate::core::leaderboard::{self, BoardApi, ScoreInput};
use crate::core::{AuthOutcome, Core};
use crate::realtime::Realtime;
use crate::tokens::SessionClaims;

pub struct NodeHost {
    core: Core,
    realtime: Realtime,
    handle: tokio::runtime::Handle,
}

impl NodeHost {
    pub fn new(core: Core, realtime: Realtime, handle: tokio::runtime::Handle) -> Self {
        NodeHost { core, realtime, handle }
    }
    /// Runs an async core function to completion from Lua. Lua may be running inline on a
    /// tokio worker, so the wait happens in a blocking section that hands the worker's
    /// other tasks to another thread.
    fn run<T>(&self, f: impl std::future::Future<Output = Result<T, Status>>) -> Result<T, Status> {
        shoal_runtime::blocking::section(|| self.handle.block_on(f))
    }
}

fn uid(s: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(s).map_err(|_| Status::invalid("Invalid user ID - must be a valid UUID."))
}

fn owner(s: &Option<String>) -> Result<Uuid, Status> {
    match s.as_deref() {
        None | Some("") => Ok(shoal_proto::SYSTEM_USER_ID),
        Some(s) => uid(s),
    }
}

fn auth_result(o: AuthOutcome) -> AuthResult {
    AuthResult { user_id: o.user_id.to_string(), username: o.username, created: o.session.created }
}

impl RuntimeHost for NodeHost {
    fn authenticate_device(&self, id: &str, username: Option<&str>, create: bool) -> Result<AuthResult, Status> {
        self.run(self.core.authenticate_device(id, create, username, BTreeMap::new())).map(auth_result)
    }

    fn authenticate_custom(&self, id: &str, username: Option<&str>, create: bool) -> Result<AuthResult, Status> {
        self.run(self.core.authenticate_custom(id, create, username, BTreeMap::new())).map(auth_result)
    }

    fn authenticate_email(&self, email: &str, password: &str, username: Option<&str>, create: bool) -> Result<AuthResult, Status> {
        self.run(self.core.authenticate_email(email, password, create, username, BTreeMap::new())).map(auth_result)
    }

    fn authenticate_token_generate(
        &self,
        user_id: &str,
        username: &str,
        exp: i64,
        vars: &BTreeMap<String, String>,
    ) -> Result<(String, i64), Status> {
        self.core.token_generate(&uid(user_id)?, username, exp, vars.clone())
    }

    fn accounts_get_id(&self, user_ids: &[String]) -> Result<Vec<Account>, Status> {
        let ids = user_ids.iter().map(|s| uid(s)).collect::<Result<Vec<_>, _>>()?;
        self.run(self.core.accounts_get(&ids))
    }

    fn account_update_id(&self, user_id: &str, u: &AccountUpdate) -> Result<(), Status> {
        let update = UserUpdate {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            avatar_url: u.avatar_url.clone(),
            lang_tag: u.lang_tag.clone(),
            location: u.location.clone(),
            timezone: u.timezone.clone(),
            metadata: u.metadata.clone(),
        };
        self.run(self.core.update_account(&uid(user_id)?, update))
    }

    fn account_delete_id(&self, user_id: &str, _recorded: bool) -> Result<(), Status> {
        self.run(self.core.delete_account(&uid(user_id)?))
    }

    fn users_get_id(&self, user_ids: &[String]) -> Result<Vec<User>, Status> {
        self.run(self.core.get_users(user_ids, &[])).map(|u| u.users)
    }

    fn users_get_username(&self, usernames: &[String]) -> Result<Vec<User>, Status> {
        self.run(self.core.get_users(&[], usernames)).map(|u| u.users)
    }

    fn storage_read(&self, ids: &[StorageObjectId]) -> Result<Vec<StorageObject>, Status> {
        let ids: Vec<ReadStorageObjectId> = ids
            .iter()
            .map(|i| ReadStorageObjectId {
                collection: i.collection.clone(),
                key: i.key.clone(),
                user_id: i.user_id.clone().unwrap_or_default(),
            })
            .collect();
        self.run(self.core.storage_read(None, &ids)).map(|o| o.objects)
    }

    fn storage_write(&self, writes: &[StorageWrite]) -> Result<Vec<StorageObjectAck>, Status> {
        let owners = writes.iter().map(|w| owner(&w.user_id)).collect::<Result<Vec<_>, _>>()?;
        let objects: Vec<WriteStorageObject> = writes
            .iter()
            .map(|w| WriteStorageObject {
                collection: w.collection.clone(),
                key: w.key.clone(),
                value: w.value.clone(),
                version: w.version.clone().unwrap_or_default(),
                permission_read: Some(w.permission_read),
                permission_write: Some(w.permission_write),
            })
            .collect();
        self.run(self.core.storage_write(None, &objects, Some(&owners))).map(|a| a.acks)
    }

    fn storage_delete(&self, ids: &[StorageObjectId]) -> Result<(), Status> {
        let owners = ids.iter().map(|i| owner(&i.user_id)).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<DeleteStorageObjectId> = ids
            .iter()
            .map(|i| DeleteStorageObjectId {
                collection: i.collection.clone(),
                key: i.key.clone(),
                version: i.version.clone().unwrap_or_default(),
            })
            .collect();
        self.run(self.core.storage_delete(None, &ids, Some(&owners)))
    }

    fn storage_list(
        &self,
        caller_id: Option<&str>,
        user_id: Option<&str>,
        collection: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<StorageList, Status> {
        let caller = caller_id.filter(|c| !c.is_empty()).map(uid).transpose()?;
        let list = self.run(self.core.storage_list(
            caller.as_ref(),
            collection,
            user_id.unwrap_or(""),
            Some(limit),
            cursor.unwrap_or(""),
        ))?;
        Ok(StorageList { objects: list.objects, cursor: Some(list.cursor).filter(|c| !c.is_empty()) })
    }

    fn friends_list(&self, user_id: &str, limit: i64, state: Option<i32>, cursor: Option<&str>) -> Result<FriendList, Status> {
        self.run(self.core.friends_list(&uid(user_id)?, Some(limit), state.map(i64::from), cursor.unwrap_or("")))
    }

    fn friends_add(&self, user_id: &str, _username: &str, ids: &[String], usernames: &[String], metadata: Option<&str>) -> Result<(), Status> {
        self.run(self.core.friends_add(&uid(user_id)?, ids, usernames, metadata.unwrap_or("")))
    }

    fn friends_delete(&self, user_id: &str, _username: &str, ids: &[String], usernames: &[String]) -> Result<(), Status> {
        self.run(self.core.friends_delete(&uid(user_id)?, ids, usernames))
    }

    fn friends_block(&self, user_id: &str, _username: &str, ids: &[String], usernames: &[String]) -> Result<(), Status> {
        self.run(self.core.friends_block(&uid(user_id)?, ids, usernames))
    }

    /// Closes the socket wherever it is connected; Nakama succeeds for an unknown session.
    fn session_disconnect(&self, session_id: &str, _reason: Option<i32>) -> Result<(), Status> {
        let sid = Uuid::parse_str(session_id).map_err(|_| Status::invalid("expects a valid session id"))?;
        self.realtime.disconnect(sid, "disconnected by the server");
        Ok(())
    }

    fn session_logout(&self, user_id: &str, token: Option<&str>, refresh_token: Option<&str>) -> Result<(), Status> {
        let claims = SessionClaims {
            tid: String::new(),
            uid: uid(user_id)?.to_string(),
            usn: String::new(),
            vrs: BTreeMap::new(),
            exp: 0,
            iat: 0,
        };
        self.run(self.core.session_logout(&claims, token.unwrap_or(""), refresh_token.unwrap_or("")))
    }

    fn leaderboard_create(&self, l: &LeaderboardCreate) -> Result<(), Status> {
        self.lb_create(l)
    }

    fn leaderboard_delete(&self, id: &str) -> Result<(), Status> {
        self.run(self.core.board_delete(id))
    }

    fn leaderboard_list(&self, limit: i64, cursor: Option<&str>) -> Result<LeaderboardList, Status> {
        self.run(self.core.leaderboard_list(limit, cursor.unwrap_or("")))
    }

    fn leaderboards_get_id(&self, ids: &[String]) -> Result<Vec<Leaderboard>, Status> {
        let t = crate::core::now();
        let boards = self.run(self.core.boards_get(BoardApi::Leaderboard, ids))?;
        Ok(boards.iter().map(|b| leaderboard::leaderboard_proto(b, t)).collect())
    }

    fn record_write(&self, tournament: bool, write: &ScoreWrite) -> Result<LeaderboardRecord, Status> {
        self.lb_record_write(tournament, write)
    }

    fn record_delete(&self, tournament: bool, id: &str, owner_id: &str) -> Result<(), Status> {
        let owner = owner_uuid(owner_id)?;
        self.run(self.core.record_delete(api(tournament), None, id, owner))
    }

    fn records_list(&self, tournament: bool, query: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        self.lb_records_list(tournament, query)
    }

    fn records_haystack(&self, tournament: bool, query: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        self.lb_haystack(tournament, query)
    }

    fn records_cursor_from_rank(&self, id: &str, rank: i64, expiry: i64) -> Result<String, Status> {
        self.run(self.core.records_cursor_from_rank(id, rank, Some(expiry)))
    }

    fn tournament_create(&self, t: &TournamentCreate) -> Result<(), Status> {
        self.tournament_create_board(t)
    }

    fn tournament_delete(&self, id: &str) -> Result<(), Status> {
        self.run(self.core.board_delete(id))
    }

    fn tournament_add_attempt(&self, id: &str, owner_id: &str, count: i64) -> Result<(), Status> {
        let owner = owner_uuid(owner_id)?;
        self.run(self.core.tournament_add_attempt(id, owner, count))
    }

    fn tournament_join(&self, id: &str, owner_id: &str, username: &str) -> Result<(), Status> {
        let owner = owner_uuid(owner_id)?;
        self.run(self.core.tournament_join(id, owner, username))
    }

    fn tournament_list(&self, q: &TournamentQuery) -> Result<TournamentList, Status> {
        let cursor = q.cursor.clone().unwrap_or_default();
        self.run(self.core.tournament_list(q.category_start, q.category_end, q.start_time, q.end_time, q.limit, &cursor))
    }

    fn tournaments_get_id(&self, ids: &[String]) -> Result<Vec<Tournament>, Status> {
        self.run(self.core.tournaments_get(ids))
    }
    fn match_create(&self, module: &str, params: Option<serde_json::Value>) -> Result<String, Status> {
        self.run(self.realtime.match_create(module, params))
    }

    fn match_get(&self, match_id: &str) -> Result<Option<MatchInfo>, Status> {
        self.run(self.realtime.match_get(match_id))
    }

    fn match_list(&self, query: &MatchListQuery) -> Result<Vec<MatchInfo>, Status> {
        self.run(self.realtime.match_list(query))
    }

    fn match_signal(&self, match_id: &str, data: &str) -> Result<String, Status> {
        self.run(self.realtime.match_signal(match_id, data))
    }

    fn stream_user_join(&self, stream: &Stream, presence: &StreamPresence) -> Result<bool, Status> {
        self.run(self.realtime.stream_track(stream, presence, false))
    }

    fn stream_user_update(&self, stream: &Stream, presence: &StreamPresence) -> Result<bool, Status> {
        self.run(self.realtime.stream_track(stream, presence, true))
    }

    fn stream_user_leave(&self, stream: &Stream, _user_id: &str, session_id: &str) -> Result<(), Status> {
        self.run(self.realtime.stream_untrack(stream, session_id))
    }

    fn stream_user_list(&self, stream: &Stream, include_hidden: bool, include_not_hidden: bool) -> Result<Vec<StreamPresence>, Status> {
        Ok(self.realtime.stream_list(stream, include_hidden, include_not_hidden))
    }

    fn stream_user_get(&self, stream: &Stream, _user_id: &str, session_id: &str) -> Result<Option<StreamPresence>, Status> {
        Ok(self.realtime.stream_get(stream, session_id))
    }

    fn stream_count(&self, stream: &Stream) -> Result<i64, Status> {
        Ok(self.realtime.count(stream) as i64)
    }

    fn stream_close(&self, stream: &Stream) -> Result<(), Status> {
        self.run(self.realtime.stream_close(stream))
    }

    fn stream_send(&self, stream: &Stream, data: &str, presences: Option<&[StreamPresence]>, reliable: bool, raw: bool) -> Result<(), Status> {
        self.realtime.stream_send(stream, data, presences, reliable, raw)
    }

    fn notifications_send(&self, notifications: &[NotificationSend]) -> Result<(), Status> {
        self.run(self.realtime.notifications_send(notifications))
    }

    fn channel_message_send(&self, channel_id: &str, content: &str, sender_id: &str, sender_username: &str, persist: bool) -> Result<ChannelMessageAck, Status> {
        self.run(self.realtime.channel_message_send(channel_id, content, sender_id, sender_username, persist))
    }
}

// ------------------------------------------------------------------ leaderboards

fn owner_uuid(s: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(s).map_err(|_| Status::invalid("expects owner ID to be a valid identifier"))
}

fn board_from(
    id: &str,
    authoritative: bool,
    sort: &str,
    operator: &str,
    reset: &str,
    metadata: &str,
    enable_ranks: bool,
    tournament: Option<TournamentFields>,
) -> Result<Board, Status> {
    Ok(Board {
        id: id.to_owned(),
        authoritative,
        sort_order: leaderboard::sort_order(sort)?,
        operator: leaderboard::operator(operator)?,
        reset_schedule: reset.to_owned(),
        metadata: if metadata.is_empty() { "{}".to_owned() } else { metadata.to_owned() },
        create_time: crate::core::now(),
        enable_ranks,
        tournament,
    })
}

fn api(tournament: bool) -> BoardApi {
    if tournament { BoardApi::Tournament } else { BoardApi::Leaderboard }
}

impl NodeHost {
    pub(crate) fn lb_create(&self, l: &LeaderboardCreate) -> Result<(), Status> {
        let board = board_from(&l.id, l.authoritative, &l.sort_order, &l.operator, &l.reset_schedule, &l.metadata, l.enable_ranks, None)?;
        self.run(self.core.board_create(board)).map(|_| ())
    }

    pub(crate) fn lb_record_write(&self, tournament: bool, w: &ScoreWrite) -> Result<LeaderboardRecord, Status> {
        let input = ScoreInput {
            id: w.id.clone(),
            owner: owner_uuid(&w.owner_id)?,
            username: w.username.clone(),
            score: w.score,
            subscore: w.subscore,
            metadata: w.metadata.clone(),
            operator: w.operator.as_deref().map(leaderboard::operator).transpose()?,
        };
        self.run(self.core.record_write(api(tournament), None, input))
    }

    pub(crate) fn lb_records_list(&self, tournament: bool, q: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        let cursor = q.cursor.clone().unwrap_or_default();
        self.run(self.core.records_list(api(tournament), &q.id, &q.owner_ids, q.limit, &cursor, q.expiry))
    }

    pub(crate) fn lb_haystack(&self, tournament: bool, q: &RecordsQuery) -> Result<LeaderboardRecordList, Status> {
        let owner = owner_uuid(q.owner_ids.first().map(String::as_str).unwrap_or(""))?;
        let cursor = q.cursor.clone().unwrap_or_default();
        self.run(self.core.records_around_owner(api(tournament), &q.id, owner, q.limit, &cursor, q.expiry))
    }

    pub(crate) fn tournament_create_board(&self, t: &TournamentCreate) -> Result<(), Status> {
        if t.duration <= 0 {
            return Err(Status::invalid("duration must be > 0"));
        }
        if !(0..=127).contains(&t.category) {
            return Err(Status::invalid("category must be 0-127"));
        }
        if t.end_time > 0 && t.end_time < t.start_time {
            return Err(Status::invalid("endTime must be >= startTime. Use 0 to indicate a tournament that never ends."));
        }
        let now = crate::core::now();
        let fields = TournamentFields {
            title: t.title.clone(),
            description: t.description.clone(),
            category: t.category as u8,
            duration: t.duration,
            start_time: if t.start_time > 0 { t.start_time } else { now },
            end_time: t.end_time,
            max_size: u32::try_from(t.max_size.max(0)).unwrap_or(u32::MAX),
            max_num_score: u32::try_from(t.max_num_score.max(0)).unwrap_or(u32::MAX),
            join_required: t.join_required,
        };
        let board = board_from(&t.id, t.authoritative, &t.sort_order, &t.operator, &t.reset_schedule, &t.metadata, t.enable_ranks, Some(fields))?;
        self.run(self.core.board_create(board)).map(|_| ())
    }

}
