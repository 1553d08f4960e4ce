//! The Lua tables a match's callbacks receive about players: presences and `match_loop`
//! messages. Each is made by a Lua constructor in one call; setting their keys one by one
//! from Rust took a C API round trip per key, for every message of every tick.

use mlua::{Function, IntoLua, Lua, MultiValue, Table, Value};

use crate::match_core::{MatchMessage, MatchPresence};

const CONSTRUCTORS: &str = r#"
local function presence(user_id, session_id, username, node, reason)
  return { user_id = user_id, session_id = session_id, username = username, node = node,
           reason = reason }
end
local function message(user_id, session_id, username, node, op_code, data, reliable, time)
  return {
    sender = { user_id = user_id, session_id = session_id, username = username, node = node },
    op_code = op_code, data = data, reliable = reliable, receive_time_ms = time,
  }
end
return presence, message
"#;

/// A match VM's constructors.
#[derive(Clone)]
pub(crate) struct MatchTables {
    presence: Function,
    message: Function,
}

impl MatchTables {
    pub(crate) fn new(lua: &Lua) -> mlua::Result<MatchTables> {
        let (presence, message) = lua.load(CONSTRUCTORS).set_name("=match_tables").eval()?;
        Ok(MatchTables { presence, message })
    }

    /// `{user_id, session_id, username, node}`, plus `reason` for join and leave lists.
    pub(crate) fn presence(&self, lua: &Lua, p: &MatchPresence, reason: bool) -> mlua::Result<Table> {
        let mut args = presence_args(lua, p)?;
        if reason {
            args.push_back(Value::Integer(p.reason.into()));
        }
        self.presence.call(args)
    }

    pub(crate) fn presence_list(&self, lua: &Lua, presences: &[MatchPresence]) -> mlua::Result<Table> {
        let list = lua.create_table_with_capacity(presences.len(), 0)?;
        for (i, p) in presences.iter().enumerate() {
            list.raw_set(i + 1, self.presence(lua, p, true)?)?;
        }
        Ok(list)
    }

    /// `match_loop`'s messages: `{sender, op_code, data (raw string, or absent), reliable,
    /// receive_time_ms}`.
    pub(crate) fn message_list(&self, lua: &Lua, messages: &[MatchMessage]) -> mlua::Result<Table> {
        let list = lua.create_table_with_capacity(messages.len(), 0)?;
        for (i, m) in messages.iter().enumerate() {
            let mut args = presence_args(lua, &m.sender)?;
            args.push_back(Value::Integer(m.op_code));
            args.push_back(match &m.data {
                Some(data) => Value::String(lua.create_string(data)?),
                None => Value::Nil,
            });
            args.push_back(Value::Boolean(m.reliable));
            args.push_back(Value::Integer(m.receive_time_ms));
            let t: Table = self.message.call(args)?;
            list.raw_set(i + 1, t)?;
        }
        Ok(list)
    }
}

fn presence_args(lua: &Lua, p: &MatchPresence) -> mlua::Result<MultiValue> {
    let mut args = MultiValue::with_capacity(8);
    for s in [&p.user_id, &p.session_id, &p.username, &p.node] {
        args.push_back(s.as_str().into_lua(lua)?);
    }
    Ok(args)
}
