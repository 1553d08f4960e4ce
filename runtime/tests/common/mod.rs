//! Shared by the runtime's integration tests: an in-memory [`RuntimeHost`], pool helpers
//! and a tiny local HTTP server.

#![allow(dead_code)]

mod http;

#[allow(unused_imports)]
pub use http::http_server;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use shoal_proto::{Account, Friend, FriendList, Status, StorageObject, StorageObjectAck, User};
use shoal_runtime::{
    AccountUpdate, AuthResult, LeaderboardCreate, ModuleBundle, PoolConfig, RuntimeHost,
    StorageList, StorageObjectId, StorageWrite, VmPool,
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
    pub disconnected: Vec<String>,
    pub logouts: Vec<String>,
    pub deleted: Vec<(String, bool)>,
    pub tokens: Vec<(String, String, i64, BTreeMap<String, String>)>,
}

/// An in-memory host with just enough behaviour for the fixtures.
#[derive(Default)]
pub struct TestHost {
    pub state: Mutex<State>,
    /// Makes `users_get_username` block this long, to keep a VM busy.
    pub delay_ms: std::sync::atomic::AtomicU64,
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
