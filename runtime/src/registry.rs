//! What modules registered: per VM the Lua functions ([`Handlers`]), and for the node the
//! set of names ([`Registry`]) it consults before deciding whether to call into Lua.

use std::collections::{BTreeSet, HashMap};

use mlua::RegistryKey;

/// A before/after hook target, case-insensitive as in Nakama (§6): a request hook names a
/// gRPC method (`AddFriends`, `AuthenticateCustom`, …), a realtime hook an envelope
/// message (`ChannelJoin`, `MatchDataSend`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookId {
    Request(String),
    Realtime(String),
}

impl HookId {
    /// A `register_req_before/after` id, e.g. `HookId::request("AddFriends")`.
    pub fn request(name: &str) -> Self {
        HookId::Request(name.to_ascii_lowercase())
    }

    /// A `register_rt_before/after` id, e.g. `HookId::realtime("ChannelJoin")`.
    pub fn realtime(name: &str) -> Self {
        HookId::Realtime(name.to_ascii_lowercase())
    }

    /// The lower-cased name.
    pub fn name(&self) -> &str {
        match self {
            HookId::Request(n) | HookId::Realtime(n) => n,
        }
    }
}

impl std::fmt::Display for HookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookId::Request(n) => write!(f, "/nakama.api.nakama/{n}"),
            HookId::Realtime(n) => write!(f, "*rtapi.envelope_{n}"),
        }
    }
}

/// The names modules registered, identical on every VM of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    rpc: BTreeSet<String>,
    before: BTreeSet<HookId>,
    after: BTreeSet<HookId>,
    http: BTreeSet<String>,
    matchmaker_matched: bool,
    leaderboard_reset: bool,
    tournament_end: bool,
    tournament_reset: bool,
}

impl Registry {
    /// Whether an RPC with this id exists (ids are case-insensitive).
    pub fn has_rpc(&self, id: &str) -> bool {
        self.rpc.contains(&id.to_lowercase())
    }

    /// Registered RPC ids, lower-cased, sorted.
    pub fn rpc_ids(&self) -> impl Iterator<Item = &str> {
        self.rpc.iter().map(String::as_str)
    }

    pub fn has_before(&self, hook: &HookId) -> bool {
        self.before.contains(hook)
    }

    pub fn has_after(&self, hook: &HookId) -> bool {
        self.after.contains(hook)
    }

    pub fn before_hooks(&self) -> impl Iterator<Item = &HookId> {
        self.before.iter()
    }

    pub fn after_hooks(&self) -> impl Iterator<Item = &HookId> {
        self.after.iter()
    }

    /// Whether `register_http` registered this path (leading/trailing `/` ignored).
    pub fn has_http(&self, path: &str) -> bool {
        self.http.contains(normalize_http_path(path))
    }

    pub fn http_paths(&self) -> impl Iterator<Item = &str> {
        self.http.iter().map(String::as_str)
    }

    pub fn has_matchmaker_matched(&self) -> bool {
        self.matchmaker_matched
    }

    pub fn has_leaderboard_reset(&self) -> bool {
        self.leaderboard_reset
    }

    pub fn has_tournament_end(&self) -> bool {
        self.tournament_end
    }

    pub fn has_tournament_reset(&self) -> bool {
        self.tournament_reset
    }
}

pub(crate) fn normalize_http_path(path: &str) -> &str {
    path.trim_matches('/')
}

/// A registered hook function.
pub(crate) struct Handler {
    pub key: RegistryKey,
    /// Registered through a 1.x alias: an after hook gets `(context, input)`.
    pub legacy: bool,
}

/// The Lua functions one VM registered while its modules loaded.
#[derive(Default)]
pub(crate) struct Handlers {
    /// Registration is only allowed while modules load.
    pub sealed: bool,
    pub rpc: HashMap<String, RegistryKey>,
    pub before: HashMap<HookId, Handler>,
    pub after: HashMap<HookId, Handler>,
    pub http: HashMap<String, RegistryKey>,
    pub matchmaker_matched: Option<RegistryKey>,
    pub leaderboard_reset: Option<RegistryKey>,
    pub tournament_end: Option<RegistryKey>,
    pub tournament_reset: Option<RegistryKey>,
    /// `run_once` functions, run after load on the pool's first VM only.
    pub run_once: Vec<RegistryKey>,
}

impl Handlers {
    pub fn registry(&self) -> Registry {
        Registry {
            rpc: self.rpc.keys().cloned().collect(),
            before: self.before.keys().cloned().collect(),
            after: self.after.keys().cloned().collect(),
            http: self.http.keys().cloned().collect(),
            matchmaker_matched: self.matchmaker_matched.is_some(),
            leaderboard_reset: self.leaderboard_reset.is_some(),
            tournament_end: self.tournament_end.is_some(),
            tournament_reset: self.tournament_reset.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_ids_are_case_insensitive() {
        assert_eq!(HookId::request("AddFriends"), HookId::request("addfriends"));
        assert_ne!(HookId::request("Ping"), HookId::realtime("Ping"));
        assert_eq!(
            HookId::request("AddFriends").to_string(),
            "/nakama.api.nakama/addfriends"
        );
        assert_eq!(normalize_http_path("/a/b/"), "a/b");
    }
}
