//! Shared by the runtime's integration tests: an in-memory [`RuntimeHost`], pool helpers
//! and a tiny local HTTP server.

#![allow(dead_code)]

mod http;

#[allow(unused_imports)]
pub use http::http_server;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use md5::{Digest, Md5};
use shoal_proto::{
    Account, ChannelMessageAck, Friend, FriendList, Leaderboard, LeaderboardList,
    LeaderboardRecord, LeaderboardRecordList, MatchInfo, MatchListQuery, NotificationSend, Status,
    StorageObject, StorageObjectAck, Stream, StreamPresence, Tournament, TournamentList, User,
};
use shoal_runtime::{
    AccountUpdate, AuthResult, LeaderboardCreate, MatchHandler, MatchSetup, ModuleBundle,
    PoolConfig, RecordsQuery, RuntimeHost, ScoreWrite, StorageList, StorageObjectId, StorageWrite,
    TournamentCreate, TournamentQuery, VmPool,
};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, Clone, Default)]
pub struct UserRec {
    pub user: User,
    pub custom_id: String,
    pub device_id: String,
    pub email: String,
    pub password: String,
}

#[derive(Default)]
pub struct State {
    pub users: Vec<UserRec>,
    /// (collection, user_id, key) → object.
    pub storage: BTreeMap<(String, String, String), StorageObject>,
    /// (user, other) → (state, metadata).
    pub friends: BTreeMap<(String, String), (i32, String)>,
    pub leaderboards: Vec<LeaderboardCreate>,
    /// Every leaderboard/tournament call after `leaderboard_create`, arguments as received.
    pub board_calls: Vec<BoardCall>,
    pub disconnected: Vec<String>,
    pub logouts: Vec<String>,
    pub deleted: Vec<(String, bool)>,
    pub tokens: Vec<(String, String, i64, BTreeMap<String, String>)>,
    /// Every realtime call, arguments as received.
    pub realtime: Vec<RealtimeCall>,
    /// Connected sessions: session id → (user id, username).
    pub sessions: BTreeMap<String, (String, String)>,
    pub streams: BTreeMap<Stream, Vec<StreamPresence>>,
    pub matches: Vec<MatchInfo>,
}

/// A realtime call the [`TestHost`] received.
#[derive(Debug, Clone, PartialEq)]
pub enum RealtimeCall {
    MatchCreate(String, Option<serde_json::Value>),
    MatchGet(String),
    MatchList(MatchListQuery),
    MatchSignal(String, String),
    StreamUserJoin(Stream, StreamPresence),
    StreamUserUpdate(Stream, StreamPresence),
    StreamUserLeave(Stream, String, String),
    StreamUserList(Stream, bool, bool),
    StreamUserGet(Stream, String, String),
    StreamCount(Stream),
    StreamClose(Stream),
    StreamSend {
        stream: Stream,
        data: String,
        presences: Option<Vec<StreamPresence>>,
        reliable: bool,
        raw: bool,
    },
    NotificationsSend(Vec<NotificationSend>),
    ChannelMessageSend {
        channel_id: String,
        content: String,
        sender_id: String,
        sender_username: String,
        persist: bool,
    },
}

/// The module [`TestHost::match_create`] fails for, as a node does for an unknown one.
pub const MISSING_MODULE: &str = "missing";
/// Notifications to this user fail in the [`TestHost`].
pub const UNREACHABLE_USER: &str = "dead0000-0000-4000-8000-000000000000";
/// `channel_message_send` on this channel id fails as an invalid id; on
/// [`CHANNEL_DOWN`] as an unavailable service.
pub const BAD_CHANNEL: &str = "not-a-channel";
pub const CHANNEL_DOWN: &str = "2...down";

/// A leaderboard or tournament call the [`TestHost`] received (`bool`: the tournament API).
#[derive(Debug, Clone, PartialEq)]
pub enum BoardCall {
    LeaderboardDelete(String),
    LeaderboardList(i64, Option<String>),
    LeaderboardsGetId(Vec<String>),
    RecordWrite(bool, ScoreWrite),
    RecordDelete(bool, String, String),
    RecordsList(bool, RecordsQuery),
    RecordsHaystack(bool, RecordsQuery),
    CursorFromRank(String, i64, i64),
    TournamentCreate(TournamentCreate),
    TournamentDelete(String),
    TournamentAddAttempt(String, String, i64),
    TournamentJoin(String, String, String),
    TournamentList(TournamentQuery),
    TournamentsGetId(Vec<String>),
}

/// The board id the [`TestHost`] answers with `NotFound`, to check how Lua raises host errors.
pub const MISSING_BOARD: &str = "missing";

/// A canned record: everything set, so tests see each Lua field.
pub fn canned_record(board: &str, owner: &str, rank: i64) -> LeaderboardRecord {
    LeaderboardRecord {
        leaderboard_id: board.into(),
        owner_id: owner.into(),
        username: Some(format!("name-{rank}")),
        score: 100 - rank,
        subscore: 7,
        num_score: 3,
        metadata: r#"{"lap":12}"#.into(),
        create_time: 1_700_000_000,
        update_time: 1_700_000_100,
        expiry_time: Some(1_800_000_000),
        rank,
        max_num_score: 5,
    }
}

/// A canned record with the optional fields unset (no username, expiry or rank).
pub fn bare_record(board: &str, owner: &str) -> LeaderboardRecord {
    LeaderboardRecord {
        leaderboard_id: board.into(),
        owner_id: owner.into(),
        create_time: 1_700_000_000,
        update_time: 1_700_000_000,
        ..Default::default()
    }
}

pub fn canned_leaderboard(id: &str) -> Leaderboard {
    Leaderboard {
        id: id.into(),
        sort_order: 1,
        operator: 3,
        prev_reset: 1_699_999_000,
        next_reset: 1_700_086_400,
        metadata: r#"{"m":1}"#.into(),
        create_time: 1_600_000_000,
        authoritative: true,
    }
}

pub fn canned_tournament(id: &str) -> Tournament {
    Tournament {
        id: id.into(),
        title: "Weekly".into(),
        description: "desc".into(),
        category: 4,
        sort_order: 0,
        size: 12,
        max_size: 50,
        max_num_score: 3,
        can_enter: true,
        end_active: 1_700_003_600,
        next_reset: 1_700_604_800,
        metadata: r#"{"prize":"gold"}"#.into(),
        create_time: 1_600_000_000,
        start_time: 1_690_000_000,
        end_time: Some(1_900_000_000),
        duration: 3600,
        start_active: 1_700_000_000,
        prev_reset: 0,
        operator: 2,
        authoritative: true,
        join_required: true,
    }
}

/// An in-memory host with just enough behaviour for the fixtures.
#[derive(Default)]
pub struct TestHost {
    pub state: Mutex<State>,
    /// Makes `users_get_username` block this long, to keep a VM busy.
    pub delay_ms: std::sync::atomic::AtomicU64,
    /// When set, `match_create` really creates matches on this pool (as a node does) and
    /// keeps their handlers in [`TestHost::handlers`]; `match_signal` runs their
    /// `match_signal`.
    pub pool: OnceLock<VmPool>,
    pub handlers: Mutex<BTreeMap<String, MatchHandler>>,
}

impl TestHost {
    pub fn new() -> Arc<TestHost> {
        Arc::new(TestHost::default())
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Adds a user with a metadata JSON object; returns its id.
    pub fn add_user(&self, username: &str, metadata: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.lock().users.push(UserRec {
            user: User {
                id: id.clone(),
                username: username.into(),
                metadata: metadata.into(),
                ..Default::default()
            },
            ..Default::default()
        });
        id
    }

    pub fn object(
        &self,
        collection: &str,
        key: &str,
        user_id: Option<&str>,
    ) -> Option<StorageObject> {
        let user = user_id.unwrap_or(NIL).to_owned();
        self.lock()
            .storage
            .get(&(collection.into(), user, key.into()))
            .cloned()
    }

    fn auth(
        &self,
        find: impl Fn(&UserRec) -> bool,
        username: Option<&str>,
        create: bool,
        init: impl FnOnce(&mut UserRec),
    ) -> Result<AuthResult, Status> {
        let mut s = self.lock();
        if let Some(u) = s.users.iter().find(|u| find(u)) {
            return Ok(AuthResult {
                user_id: u.user.id.clone(),
                username: u.user.username.clone(),
                created: false,
            });
        }
        if !create {
            return Err(Status::not_found("User account not found."));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let username = username
            .map(str::to_owned)
            .unwrap_or_else(|| format!("user{}", &id[..6]));
        if s.users.iter().any(|u| u.user.username == username) {
            return Err(Status::already_exists("Username is already in use."));
        }
        let mut rec = UserRec {
            user: User {
                id: id.clone(),
                username: username.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        init(&mut rec);
        s.users.push(rec);
        Ok(AuthResult {
            user_id: id,
            username,
            created: true,
        })
    }

    /// Records a board call; `id` [`MISSING_BOARD`] fails with `NotFound`.
    fn board_call(&self, id: &str, call: BoardCall) -> Result<(), Status> {
        self.lock().board_calls.push(call);
        if id == MISSING_BOARD {
            Err(Status::not_found("Leaderboard not found."))
        } else {
            Ok(())
        }
    }

    /// Marks a session as connected (for `stream_user_join`); returns its id.
    pub fn connect(&self, user_id: &str, username: &str) -> String {
        let session = uuid::Uuid::new_v4().to_string();
        self.lock()
            .sessions
            .insert(session.clone(), (user_id.into(), username.into()));
        session
    }

    /// The realtime calls received so far, and forgets them.
    pub fn take_realtime(&self) -> Vec<RealtimeCall> {
        std::mem::take(&mut self.lock().realtime)
    }

    fn realtime_call(&self, call: RealtimeCall) {
        self.lock().realtime.push(call);
    }

    /// The board calls received so far, and forgets them.
    pub fn take_board_calls(&self) -> Vec<BoardCall> {
        std::mem::take(&mut self.lock().board_calls)
    }

    fn users_where(&self, f: impl Fn(&User) -> bool) -> Vec<User> {
        self.lock()
            .users
            .iter()
            .map(|u| u.user.clone())
            .filter(|u| f(u))
            .collect()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl RuntimeHost for TestHost {
    fn authenticate_device(
        &self,
        id: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status> {
        self.auth(
            |u| u.device_id == id,
            username,
            create,
            |u| u.device_id = id.into(),
        )
    }

    fn authenticate_custom(
        &self,
        id: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status> {
        self.auth(
            |u| u.custom_id == id,
            username,
            create,
            |u| u.custom_id = id.into(),
        )
    }

    fn authenticate_email(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        create: bool,
    ) -> Result<AuthResult, Status> {
        let r = self.auth(
            |u| u.email == email,
            username,
            create,
            |u| {
                u.email = email.into();
                u.password = password.into();
            },
        )?;
        let ok = self
            .lock()
            .users
            .iter()
            .any(|u| u.email == email && u.password == password);
        if ok {
            Ok(r)
        } else {
            Err(Status::unauthenticated("Invalid credentials."))
        }
    }

    fn authenticate_token_generate(
        &self,
        user_id: &str,
        username: &str,
        exp: i64,
        vars: &BTreeMap<String, String>,
    ) -> Result<(String, i64), Status> {
        let exp = if exp == 0 { now() + 60 } else { exp };
        self.lock()
            .tokens
            .push((user_id.into(), username.into(), exp, vars.clone()));
        Ok((format!("token-for-{user_id}"), exp))
    }

    fn accounts_get_id(&self, user_ids: &[String]) -> Result<Vec<Account>, Status> {
        let s = self.lock();
        Ok(s.users
            .iter()
            .filter(|u| user_ids.contains(&u.user.id))
            .map(|u| Account {
                user: u.user.clone(),
                wallet: "{}".into(),
                email: u.email.clone(),
                custom_id: u.custom_id.clone(),
                ..Default::default()
            })
            .collect())
    }

    fn account_update_id(&self, user_id: &str, update: &AccountUpdate) -> Result<(), Status> {
        let mut s = self.lock();
        let u = s
            .users
            .iter_mut()
            .find(|u| u.user.id == user_id)
            .ok_or_else(|| Status::not_found("User account not found."))?;
        if let Some(m) = &update.metadata {
            u.user.metadata = m.clone();
        }
        if let Some(d) = &update.display_name {
            u.user.display_name = d.clone();
        }
        if let Some(n) = &update.username {
            u.user.username = n.clone();
        }
        Ok(())
    }

    fn account_delete_id(&self, user_id: &str, recorded: bool) -> Result<(), Status> {
        let mut s = self.lock();
        s.users.retain(|u| u.user.id != user_id);
        s.deleted.push((user_id.into(), recorded));
        Ok(())
    }

    fn users_get_id(&self, user_ids: &[String]) -> Result<Vec<User>, Status> {
        Ok(self.users_where(|u| user_ids.contains(&u.id)))
    }

    fn users_get_username(&self, usernames: &[String]) -> Result<Vec<User>, Status> {
        std::thread::sleep(Duration::from_millis(
            self.delay_ms.load(std::sync::atomic::Ordering::Relaxed),
        ));
        Ok(self.users_where(|u| usernames.contains(&u.username)))
    }

    fn storage_read(&self, ids: &[StorageObjectId]) -> Result<Vec<StorageObject>, Status> {
        Ok(ids
            .iter()
            .filter_map(|id| self.object(&id.collection, &id.key, id.user_id.as_deref()))
            .collect())
    }

    fn storage_write(&self, writes: &[StorageWrite]) -> Result<Vec<StorageObjectAck>, Status> {
        let mut s = self.lock();
        let mut acks = Vec::new();
        for w in writes {
            if !w.value.trim_start().starts_with('{') {
                return Err(Status::invalid("Value must be a JSON object."));
            }
            let user = w.user_id.clone().unwrap_or_else(|| NIL.into());
            let version = hex::encode(Md5::digest(w.value.as_bytes()));
            let o = StorageObject {
                collection: w.collection.clone(),
                key: w.key.clone(),
                user_id: user.clone(),
                value: w.value.clone(),
                version: version.clone(),
                permission_read: w.permission_read,
                permission_write: w.permission_write,
                create_time: now(),
                update_time: now(),
            };
            s.storage
                .insert((w.collection.clone(), user.clone(), w.key.clone()), o);
            acks.push(StorageObjectAck {
                collection: w.collection.clone(),
                key: w.key.clone(),
                version,
                user_id: user,
                ..Default::default()
            });
        }
        Ok(acks)
    }

    fn storage_delete(&self, ids: &[StorageObjectId]) -> Result<(), Status> {
        let mut s = self.lock();
        for id in ids {
            let user = id.user_id.clone().unwrap_or_else(|| NIL.into());
            s.storage
                .remove(&(id.collection.clone(), user, id.key.clone()));
        }
        Ok(())
    }

    fn storage_list(
        &self,
        _caller: Option<&str>,
        user_id: Option<&str>,
        collection: &str,
        limit: i64,
        _cursor: Option<&str>,
    ) -> Result<StorageList, Status> {
        let s = self.lock();
        let objects: Vec<_> = s
            .storage
            .values()
            .filter(|o| o.collection == collection && user_id.is_none_or(|u| o.user_id == u))
            .take(limit as usize)
            .cloned()
            .collect();
        Ok(StorageList {
            objects,
            cursor: None,
        })
    }

    fn friends_list(
        &self,
        user_id: &str,
        limit: i64,
        state: Option<i32>,
        _cursor: Option<&str>,
    ) -> Result<FriendList, Status> {
        let s = self.lock();
        let users: HashMap<_, _> = s
            .users
            .iter()
            .map(|u| (u.user.id.clone(), u.user.clone()))
            .collect();
        let friends = s
            .friends
            .iter()
            .filter(|((u, _), (st, _))| u == user_id && state.is_none_or(|x| x == *st))
            .take(limit as usize)
            .map(|((_, other), (st, meta))| Friend {
                user: users.get(other).cloned().unwrap_or_else(|| User {
                    id: other.clone(),
                    ..Default::default()
                }),
                state: *st,
                update_time: now(),
                metadata: meta.clone(),
            })
            .collect();
        Ok(FriendList {
            friends,
            cursor: String::new(),
        })
    }

    fn friends_add(
        &self,
        user_id: &str,
        _username: &str,
        ids: &[String],
        _usernames: &[String],
        metadata: Option<&str>,
    ) -> Result<(), Status> {
        let mut s = self.lock();
        for id in ids {
            s.friends.insert(
                (user_id.into(), id.clone()),
                (0, metadata.unwrap_or("{}").into()),
            );
        }
        Ok(())
    }

    fn friends_delete(
        &self,
        user_id: &str,
        _username: &str,
        ids: &[String],
        _usernames: &[String],
    ) -> Result<(), Status> {
        let mut s = self.lock();
        for id in ids {
            s.friends.remove(&(user_id.to_owned(), id.clone()));
        }
        Ok(())
    }

    fn friends_block(
        &self,
        user_id: &str,
        _username: &str,
        ids: &[String],
        _usernames: &[String],
    ) -> Result<(), Status> {
        let mut s = self.lock();
        for id in ids {
            s.friends
                .insert((user_id.into(), id.clone()), (3, "{}".into()));
        }
        Ok(())
    }

    fn session_disconnect(&self, session_id: &str, _reason: Option<i32>) -> Result<(), Status> {
        self.lock().disconnected.push(session_id.into());
        Ok(())
    }

    fn session_logout(
        &self,
        user_id: &str,
        _token: Option<&str>,
        _refresh: Option<&str>,
    ) -> Result<(), Status> {
        self.lock().logouts.push(user_id.into());
        Ok(())
    }

    fn leaderboard_create(&self, leaderboard: &LeaderboardCreate) -> Result<(), Status> {
        self.lock().leaderboards.push(leaderboard.clone());
        Ok(())
    }

    fn leaderboard_delete(&self, id: &str) -> Result<(), Status> {
        self.board_call(id, BoardCall::LeaderboardDelete(id.into()))
    }

    fn leaderboard_list(
        &self,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<LeaderboardList, Status> {
        self.board_call(
            "",
            BoardCall::LeaderboardList(limit, cursor.map(Into::into)),
        )?;
        let mut plain = canned_leaderboard("plain");
        (
            plain.sort_order,
            plain.operator,
            plain.prev_reset,
            plain.next_reset,
        ) = (0, 1, 0, 0);
        (plain.metadata, plain.authoritative) = (String::new(), false);
        Ok(LeaderboardList {
            leaderboards: vec![canned_leaderboard("weekly"), plain],
            cursor: "lb-cursor".into(),
        })
    }

    fn leaderboards_get_id(&self, ids: &[String]) -> Result<Vec<Leaderboard>, Status> {
        self.board_call("", BoardCall::LeaderboardsGetId(ids.to_vec()))?;
        Ok(ids
            .iter()
            .filter(|id| *id != MISSING_BOARD)
            .map(|id| canned_leaderboard(id))
            .collect())
    }

    fn record_write(
        &self,
        tournament: bool,
        write: &ScoreWrite,
    ) -> Result<LeaderboardRecord, Status> {
        self.board_call(&write.id, BoardCall::RecordWrite(tournament, write.clone()))?;
        Ok(LeaderboardRecord {
            username: write.username.clone(),
            score: write.score,
            subscore: write.subscore,
            metadata: write.metadata.clone().unwrap_or_default(),
            ..canned_record(&write.id, &write.owner_id, 4)
        })
    }

    fn record_delete(&self, tournament: bool, id: &str, owner_id: &str) -> Result<(), Status> {
        self.board_call(
            id,
            BoardCall::RecordDelete(tournament, id.into(), owner_id.into()),
        )
    }

    /// Two records (one full, one bare), an owner record per owner asked for, a next
    /// cursor, no previous one, rank_count 2.
    fn records_list(
        &self,
        tournament: bool,
        query: &RecordsQuery,
    ) -> Result<LeaderboardRecordList, Status> {
        self.board_call(&query.id, BoardCall::RecordsList(tournament, query.clone()))?;
        let owners = [
            "a0a0a0a0-0000-4000-8000-000000000001",
            "a0a0a0a0-0000-4000-8000-000000000002",
        ];
        Ok(LeaderboardRecordList {
            records: vec![
                canned_record(&query.id, owners[0], 1),
                bare_record(&query.id, owners[1]),
            ],
            owner_records: query
                .owner_ids
                .iter()
                .map(|o| canned_record(&query.id, o, 9))
                .collect(),
            next_cursor: "next-page".into(),
            prev_cursor: String::new(),
            rank_count: 2,
        })
    }

    /// The owner's record between two neighbours, both cursors, rank_count 40.
    fn records_haystack(
        &self,
        tournament: bool,
        query: &RecordsQuery,
    ) -> Result<LeaderboardRecordList, Status> {
        self.board_call(
            &query.id,
            BoardCall::RecordsHaystack(tournament, query.clone()),
        )?;
        let owner = query.owner_ids.first().cloned().unwrap_or_default();
        Ok(LeaderboardRecordList {
            records: (10..13)
                .map(|rank| canned_record(&query.id, &owner, rank))
                .collect(),
            owner_records: vec![canned_record(&query.id, &owner, 11)],
            next_cursor: "after".into(),
            prev_cursor: "before".into(),
            rank_count: 40,
        })
    }

    fn records_cursor_from_rank(&self, id: &str, rank: i64, expiry: i64) -> Result<String, Status> {
        self.board_call(id, BoardCall::CursorFromRank(id.into(), rank, expiry))?;
        Ok(format!("cursor-{id}-{rank}"))
    }

    fn tournament_create(&self, tournament: &TournamentCreate) -> Result<(), Status> {
        self.board_call(
            &tournament.id,
            BoardCall::TournamentCreate(tournament.clone()),
        )
    }

    fn tournament_delete(&self, id: &str) -> Result<(), Status> {
        self.board_call(id, BoardCall::TournamentDelete(id.into()))
    }

    fn tournament_add_attempt(&self, id: &str, owner_id: &str, count: i64) -> Result<(), Status> {
        self.board_call(
            id,
            BoardCall::TournamentAddAttempt(id.into(), owner_id.into(), count),
        )
    }

    fn tournament_join(&self, id: &str, owner_id: &str, username: &str) -> Result<(), Status> {
        self.board_call(
            id,
            BoardCall::TournamentJoin(id.into(), owner_id.into(), username.into()),
        )
    }

    fn tournament_list(&self, query: &TournamentQuery) -> Result<TournamentList, Status> {
        self.board_call("", BoardCall::TournamentList(query.clone()))?;
        let mut open = canned_tournament("open");
        (open.end_time, open.next_reset, open.prev_reset) = (None, 0, 1_699_000_000);
        Ok(TournamentList {
            tournaments: vec![canned_tournament("weekly"), open],
            cursor: String::new(),
        })
    }

    fn tournaments_get_id(&self, ids: &[String]) -> Result<Vec<Tournament>, Status> {
        self.board_call("", BoardCall::TournamentsGetId(ids.to_vec()))?;
        Ok(ids
            .iter()
            .filter(|id| *id != MISSING_BOARD)
            .map(|id| canned_tournament(id))
            .collect())
    }

    fn match_create(
        &self,
        module: &str,
        params: Option<serde_json::Value>,
    ) -> Result<String, Status> {
        self.realtime_call(RealtimeCall::MatchCreate(module.into(), params.clone()));
        if module == MISSING_MODULE {
            return Err(Status::not_found("error creating match: not found"));
        }
        let match_id = format!("{}.shoal", uuid::Uuid::new_v4());
        let mut info = MatchInfo {
            match_id: match_id.clone(),
            authoritative: true,
            label: Some(String::new()),
            size: 0,
            tick_rate: 1,
            handler_name: module.into(),
        };
        if let Some(pool) = self.pool.get() {
            let setup = MatchSetup {
                match_id: match_id.clone(),
                node: "shoal".into(),
                module: module.into(),
            };
            let (handler, init) = pool
                .create_match(setup, params)
                .map_err(|e| Status::invalid(format!("error creating match: {e}")))?;
            info.label = Some(init.label);
            info.tick_rate = init.tick_rate as i32;
            self.handlers
                .lock()
                .unwrap()
                .insert(match_id.clone(), handler);
        }
        self.lock().matches.push(info);
        Ok(match_id)
    }

    fn match_get(&self, match_id: &str) -> Result<Option<MatchInfo>, Status> {
        self.realtime_call(RealtimeCall::MatchGet(match_id.into()));
        if match_id == MISSING_BOARD {
            return Err(Status::invalid("match id invalid"));
        }
        Ok(self
            .lock()
            .matches
            .iter()
            .find(|m| m.match_id == match_id)
            .cloned())
    }

    fn match_list(&self, query: &MatchListQuery) -> Result<Vec<MatchInfo>, Status> {
        self.realtime_call(RealtimeCall::MatchList(query.clone()));
        Ok(self
            .lock()
            .matches
            .iter()
            .take(query.limit)
            .cloned()
            .collect())
    }

    fn match_signal(&self, match_id: &str, data: &str) -> Result<String, Status> {
        self.realtime_call(RealtimeCall::MatchSignal(match_id.into(), data.into()));
        if let Some(handler) = self.handlers.lock().unwrap().get_mut(match_id) {
            let (_, result) = handler
                .signal(0, data)
                .map_err(|e| Status::invalid(e.to_string()))?;
            return Ok(result.unwrap_or_default());
        }
        if self.lock().matches.iter().any(|m| m.match_id == match_id) {
            Ok(format!("signalled:{data}"))
        } else {
            Err(Status::not_found("match not found"))
        }
    }

    fn stream_user_join(&self, stream: &Stream, presence: &StreamPresence) -> Result<bool, Status> {
        self.realtime_call(RealtimeCall::StreamUserJoin(
            stream.clone(),
            presence.clone(),
        ));
        let mut s = self.lock();
        let Some((_, username)) = s.sessions.get(&presence.session_id).cloned() else {
            return Err(Status::not_found("session not found"));
        };
        let list = s.streams.entry(stream.clone()).or_default();
        if list.iter().any(|p| p.session_id == presence.session_id) {
            return Ok(false);
        }
        list.push(StreamPresence {
            username,
            node: "shoal".into(),
            ..presence.clone()
        });
        Ok(true)
    }

    fn stream_user_update(
        &self,
        stream: &Stream,
        presence: &StreamPresence,
    ) -> Result<bool, Status> {
        self.realtime_call(RealtimeCall::StreamUserUpdate(
            stream.clone(),
            presence.clone(),
        ));
        let mut s = self.lock();
        if !s.sessions.contains_key(&presence.session_id) {
            return Err(Status::not_found("session not found"));
        }
        let Some(p) = s
            .streams
            .get_mut(stream)
            .and_then(|l| l.iter_mut().find(|p| p.session_id == presence.session_id))
        else {
            return Ok(false);
        };
        (p.hidden, p.persistence, p.status) = (
            presence.hidden,
            presence.persistence,
            presence.status.clone(),
        );
        Ok(true)
    }

    fn stream_user_leave(
        &self,
        stream: &Stream,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), Status> {
        self.realtime_call(RealtimeCall::StreamUserLeave(
            stream.clone(),
            user_id.into(),
            session_id.into(),
        ));
        if let Some(list) = self.lock().streams.get_mut(stream) {
            list.retain(|p| p.session_id != session_id);
        }
        Ok(())
    }

    fn stream_user_list(
        &self,
        stream: &Stream,
        include_hidden: bool,
        include_not_hidden: bool,
    ) -> Result<Vec<StreamPresence>, Status> {
        self.realtime_call(RealtimeCall::StreamUserList(
            stream.clone(),
            include_hidden,
            include_not_hidden,
        ));
        Ok(self
            .lock()
            .streams
            .get(stream)
            .map(|l| {
                l.iter()
                    .filter(|p| {
                        if p.hidden {
                            include_hidden
                        } else {
                            include_not_hidden
                        }
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    fn stream_user_get(
        &self,
        stream: &Stream,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<StreamPresence>, Status> {
        self.realtime_call(RealtimeCall::StreamUserGet(
            stream.clone(),
            user_id.into(),
            session_id.into(),
        ));
        Ok(self.lock().streams.get(stream).and_then(|l| {
            l.iter()
                .find(|p| p.session_id == session_id && p.user_id == user_id)
                .cloned()
        }))
    }

    fn stream_count(&self, stream: &Stream) -> Result<i64, Status> {
        self.realtime_call(RealtimeCall::StreamCount(stream.clone()));
        Ok(self
            .lock()
            .streams
            .get(stream)
            .map_or(0, |l| l.len() as i64))
    }

    fn stream_close(&self, stream: &Stream) -> Result<(), Status> {
        self.realtime_call(RealtimeCall::StreamClose(stream.clone()));
        self.lock().streams.remove(stream);
        Ok(())
    }

    fn stream_send(
        &self,
        stream: &Stream,
        data: &str,
        presences: Option<&[StreamPresence]>,
        reliable: bool,
        raw: bool,
    ) -> Result<(), Status> {
        self.realtime_call(RealtimeCall::StreamSend {
            stream: stream.clone(),
            data: data.into(),
            presences: presences.map(<[StreamPresence]>::to_vec),
            reliable,
            raw,
        });
        Ok(())
    }

    fn notifications_send(&self, notifications: &[NotificationSend]) -> Result<(), Status> {
        self.realtime_call(RealtimeCall::NotificationsSend(notifications.to_vec()));
        if notifications.iter().any(|n| n.user_id == UNREACHABLE_USER) {
            return Err(Status::unavailable("user store unreachable"));
        }
        Ok(())
    }

    fn channel_message_send(
        &self,
        channel_id: &str,
        content: &str,
        sender_id: &str,
        sender_username: &str,
        persist: bool,
    ) -> Result<ChannelMessageAck, Status> {
        self.realtime_call(RealtimeCall::ChannelMessageSend {
            channel_id: channel_id.into(),
            content: content.into(),
            sender_id: sender_id.into(),
            sender_username: sender_username.into(),
            persist,
        });
        match channel_id {
            BAD_CHANNEL => Err(Status::invalid("invalid channel id")),
            CHANNEL_DOWN => Err(Status::unavailable("channel store unreachable")),
            _ => Ok(ChannelMessageAck {
                channel_id: channel_id.into(),
                message_id: "6f2c4c1e-0000-4000-8000-000000000001".into(),
                code: 0,
                username: sender_username.into(),
                create_time: 1_700_000_000,
                update_time: 1_700_000_001,
                persistent: persist,
                ..Default::default()
            }),
        }
    }
}

pub fn fixtures(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../modules/test")
        .join(dir)
}

/// Small, fast limits for tests.
pub fn test_config() -> PoolConfig {
    PoolConfig {
        min_count: 2,
        max_count: 4,
        memory_limit_bytes: 32 * 1024 * 1024,
        instruction_limit: 20_000_000,
        call_timeout: Duration::from_secs(3),
        ..PoolConfig::default()
    }
}

pub async fn fixture_pool(dir: &str, config: PoolConfig, host: Arc<TestHost>) -> VmPool {
    let bundle = ModuleBundle::from_dir(&fixtures(dir)).expect("bundle");
    VmPool::new(bundle, config, host)
        .await
        .unwrap_or_else(|e| panic!("pool for {dir}: {e}"))
}
