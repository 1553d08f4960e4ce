--[[
 The authoritative match module "match" for the nakama-js socket compat tests, in the shape
 of Nakama's data/modules/match.lua (all seven callbacks, a required helper module, a
 function kept in the state), but it plays back: every member message is broadcast to all
 members with op_code + 100 and the sender attached, and each joiner is told (op_code 1)
 the metadata its join attempt carried. op_code 99 ends the match.
--]]

local nk = require("nakama")
local du = require("debug_utils")

local function match_init(context, params)
  local state = {
    debug = (params and params.debug) or false,
    presences = {},
    metadata = {},
    ticks = 0,
    -- The state is a live Lua value: it may hold functions.
    count = function(t)
      local n = 0
      for _ in pairs(t) do
        n = n + 1
      end
      return n
    end,
  }
  if state.debug then
    print("match init params:\n" .. du.print_r(params))
  end
  local label = ""
  if params and params.label then
    label = params.label
  end
  return state, 10, label
end

local function match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  if metadata and metadata.deny == "yes" then
    return state, false, "denied by match.lua"
  end
  state.metadata[presence.session_id] = metadata or {}
  return state, true
end

local function match_join(context, dispatcher, tick, state, presences)
  for _, presence in ipairs(presences) do
    state.presences[presence.session_id] = presence
    local welcome = nk.json_encode({
      user_id = presence.user_id,
      node = presence.node,
      metadata = state.metadata[presence.session_id] or {},
    })
    dispatcher.broadcast_message(1, welcome, { presence })
  end
  return state
end

local function match_leave(context, dispatcher, tick, state, presences)
  for _, presence in ipairs(presences) do
    state.presences[presence.session_id] = nil
  end
  return state
end

local function match_loop(context, dispatcher, tick, state, messages)
  state.ticks = tick
  for _, message in ipairs(messages) do
    if state.debug then
      print("match message:\n" .. du.print_r(message))
    end
    if message.op_code == 99 then
      return nil
    end
    dispatcher.broadcast_message(message.op_code + 100, message.data, nil, message.sender)
  end
  return state
end

local function match_terminate(context, dispatcher, tick, state, grace_seconds)
  return state
end

local function match_signal(context, dispatcher, tick, state, data)
  return state, nk.json_encode({ data = data, members = state.count(state.presences) })
end

return {
  match_init = match_init,
  match_join_attempt = match_join_attempt,
  match_join = match_join,
  match_leave = match_leave,
  match_loop = match_loop,
  match_terminate = match_terminate,
  match_signal = match_signal,
}
