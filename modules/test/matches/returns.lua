--[[
 A match whose callbacks return whatever a test asks for, to check the return-value rules.
 `params.init` picks what match_init returns; afterwards `signal("set:<callback>:<mode>")`
 makes the next call of that callback (match_join_attempt, match_join, match_leave,
 match_loop, match_terminate) misbehave once. `signal("seen")` returns, as JSON, what the
 callbacks received (context keys, presences, metadata, messages).
--]]

local nk = require("nakama")

local function snapshot(context)
  return {
    execution_mode = context.execution_mode,
    node = context.node,
    env = context.env,
    match_id = context.match_id,
    match_node = context.match_node,
    match_label = context.match_label,
    match_tick_rate = context.match_tick_rate,
    user_id = context.user_id,
    username = context.username,
    vars = context.vars,
    user_session_exp = context.user_session_exp,
    session_id = context.session_id,
    client_ip = context.client_ip,
    client_port = context.client_port,
  }
end

local function take(state, name)
  local mode = state.modes[name]
  state.modes[name] = nil
  return mode
end

local M = {}

function M.match_init(context, params)
  local state = { modes = {}, seen = { init = snapshot(context), params = params }, calls = {} }
  local mode = params and params.init
  if mode == "nil_state" then return nil, 1, "x" end
  if mode == "no_values" then return end
  if mode == "no_label" then return state, 1 end
  if mode == "label_number" then return state, 1, 5 end
  if mode == "label_max" then return state, 1, string.rep("a", 2048) end
  if mode == "label_long" then return state, 1, string.rep("a", 2049) end
  if mode == "tick_string" then return state, "10", "x" end
  if mode == "tick0" then return state, 0, "x" end
  if mode == "tick61" then return state, 61, "x" end
  if mode == "tick60" then return state, 60, "x" end
  if mode == "tick_fraction" then return state, 2.9, "x" end
  if mode == "too_many" then return state, 1, "x", "extra" end
  if mode == "error" then error("init exploded") end
  if mode == "error_table" then error({ "bad params", 3 }) end
  if mode == "forever" then while true do end end
  return state, 5, "ready"
end

function M.match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  state.seen.join_attempt = snapshot(context)
  state.seen.presence = presence
  state.seen.metadata = metadata
  state.seen.join_attempt_tick = tick
  local mode = take(state, "match_join_attempt")
  if mode == "deny" then return state, false, "match is full" end
  if mode == "allow_reason" then return state, true, "welcome" end
  if mode == "nil_state" then return nil, true end
  if mode == "no_values" then return end
  if mode == "state_only" then return state end
  if mode == "reason_no_bool" then return state, "full" end
  if mode == "number" then return state, 1 end
  if mode == "reason_number" then return state, false, 7 end
  if mode == "too_many" then return state, true, "r", "x" end
  if mode == "error" then error("join attempt exploded") end
  return state, true
end

local function simple(name)
  return function(context, dispatcher, tick, state, arg)
    state.calls[#state.calls + 1] = name .. "@" .. tick
    state.seen[name .. "_ctx"] = snapshot(context)
    if name == "match_loop" then
      local messages = {}
      for i, m in ipairs(arg) do
        messages[i] = {
          sender = m.sender,
          op_code = m.op_code,
          has_data = m.data ~= nil,
          data_bytes = m.data and { string.byte(m.data, 1, -1) } or {},
          reliable = m.reliable,
          receive_time_ms = m.receive_time_ms,
        }
      end
      state.seen[name] = messages
    else
      state.seen[name] = arg
    end
    local mode = take(state, name)
    if mode == "nil" then return nil end
    if mode == "none" then return end
    if mode == "too_many" then return state, "extra" end
    if mode == "error" then error(name .. " exploded") end
    if mode == "error_table" then error({ name .. " refused", 7 }) end
    if mode == "forever" then while true do end end
    if mode == "memory" then
      local t = {}
      while true do t[#t + 1] = string.rep("x", 64 * 1024) .. #t end
    end
    if mode == "global" then leaked_global = 1 end
    if mode == "replace" then
      return { modes = state.modes, seen = state.seen, calls = state.calls, replaced = true }
    end
    return state
  end
end

M.match_join = simple("match_join")
M.match_leave = simple("match_leave")
M.match_loop = simple("match_loop")
M.match_terminate = simple("match_terminate")

function M.match_signal(context, dispatcher, tick, state, data)
  state.calls[#state.calls + 1] = "match_signal@" .. tick
  local cmd, a, b = data:match("^(%w+):?([%w_]*):?([%w_]*)$")
  if cmd == "set" then
    state.modes[a] = b
    return state, "ok"
  end
  if cmd == "seen" then return state, nk.json_encode(state.seen) end
  if cmd == "calls" then return state, table.concat(state.calls, ",") end
  if cmd == "replaced" then return state, tostring(state.replaced) end
  if cmd == "nilresult" then return state, nil end
  if cmd == "stateonly" then return state end
  if cmd == "number" then return state, 5 end
  if cmd == "finish" then return nil, "bye" end
  if cmd == "toomany" then return state, "a", "b" end
  return state, "echo:" .. data
end

return M
