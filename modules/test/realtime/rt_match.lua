-- An authoritative match for the realtime tests: echoes every message to all members
-- (op_code + 100, the sender attached), rejects joins whose metadata says deny, reports
-- its members' count on signal, and counts ticks in its label.
local nk = require("nakama")

local M = {}

function M.match_init(context, params)
  local state = { members = {}, mode = (params and params.mode) or "test" }
  local label = nk.json_encode({ mode = state.mode, open = true })
  return state, 10, label
end

function M.match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  if metadata and metadata.deny == "yes" then
    return state, false, "denied by the test module"
  end
  return state, true
end

function M.match_join(context, dispatcher, tick, state, presences)
  for _, p in ipairs(presences) do
    state.members[p.session_id] = p
  end
  return state
end

function M.match_leave(context, dispatcher, tick, state, presences)
  for _, p in ipairs(presences) do
    state.members[p.session_id] = nil
  end
  return state
end

function M.match_loop(context, dispatcher, tick, state, messages)
  for _, m in ipairs(messages) do
    if m.op_code == 99 then
      return nil
    end
    dispatcher.broadcast_message(m.op_code + 100, m.data, nil, m.sender)
  end
  return state
end

function M.match_terminate(context, dispatcher, tick, state, grace_seconds)
  return state
end

function M.match_signal(context, dispatcher, tick, state, data)
  local n = 0
  for _ in pairs(state.members) do
    n = n + 1
  end
  return state, data .. ":" .. tostring(n)
end

return M
