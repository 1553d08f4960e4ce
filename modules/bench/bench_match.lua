--[[
 The benchmarks' authoritative match (README.md): consumes member input every tick and
 broadcasts one snapshot per tick to all members; op 2 is echoed to its sender.
--]]
local M = {}

local OP_INPUT, OP_ECHO, OP_SNAPSHOT = 1, 2, 10

function M.match_init(context, params)
  local state = { members = {}, latest = {}, count = 0, inputs = 0, echoes = 0, snapshots = 0, snapshot_deliveries = 0 }
  local tick_rate = (params and params.tick_rate) or 10
  return state, tick_rate, "bench"
end

function M.match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  return state, true
end

function M.match_join(context, dispatcher, tick, state, presences)
  for _, p in ipairs(presences) do
    if not state.members[p.session_id] then
      state.count = state.count + 1
    end
    state.members[p.session_id] = p
  end
  return state
end

function M.match_leave(context, dispatcher, tick, state, presences)
  for _, p in ipairs(presences) do
    if state.members[p.session_id] then
      state.count = state.count - 1
    end
    state.members[p.session_id] = nil
    state.latest[p.session_id] = nil
  end
  return state
end

function M.match_loop(context, dispatcher, tick, state, messages)
  for _, m in ipairs(messages) do
    if m.op_code == OP_ECHO then
      dispatcher.broadcast_message(OP_ECHO + 100, m.data, { m.sender })
      state.echoes = state.echoes + 1
    else
      state.latest[m.sender.session_id] = m.data
      state.inputs = state.inputs + 1
    end
  end
  if state.count > 0 then
    local parts = { tostring(tick) }
    for _, data in pairs(state.latest) do
      parts[#parts + 1] = data
    end
    dispatcher.broadcast_message(OP_SNAPSHOT, table.concat(parts, ";"))
    state.snapshots = state.snapshots + 1
    state.snapshot_deliveries = state.snapshot_deliveries + state.count
  end
  return state
end

function M.match_terminate(context, dispatcher, tick, state, grace_seconds)
  return state
end

function M.match_signal(context, dispatcher, tick, state, data)
  local result = string.format(
    '{"members":%d,"inputs":%d,"echoes":%d,"snapshots":%d,"snapshot_deliveries":%d}',
    state.count, state.inputs, state.echoes, state.snapshots, state.snapshot_deliveries)
  return state, result
end

return M
