--[[
 A match module in the shape of Nakama's data/modules/match.lua: every callback, a
 dependency loaded with require, a function kept inside the state, and a loop that ends
 the match by returning nil once tick reaches 10.
--]]

local du = require("debug_utils")

local function match_init(context, params)
  local state = {
    debug = (params and params.debug) or false,
    -- The state is a live Lua value: it may hold functions.
    describe = function(tick)
      return "tick " .. tick
    end,
    presences = {},
    log = {},
  }
  if state.debug then
    print("match init context:\n" .. du.print_r(context) .. "match init params:\n" .. du.print_r(params))
  end
  local tick_rate = 1
  local label = "skill=100-150"

  return state, tick_rate, label
end

local function match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  if state.debug then
    print("match join attempt:\n" .. du.print_r(presence) .. "match join attempt metadata:\n" .. du.print_r(metadata))
  end
  return state, true
end

local function match_join(context, dispatcher, tick, state, presences)
  if state.debug then
    print("match join:\n" .. du.print_r(presences))
  end
  for _, presence in ipairs(presences) do
    state.presences[presence.session_id] = presence
  end
  return state
end

local function match_leave(context, dispatcher, tick, state, presences)
  if state.debug then
    print("match leave:\n" .. du.print_r(presences))
  end
  for _, presence in ipairs(presences) do
    state.presences[presence.session_id] = nil
  end
  return state
end

local function match_loop(context, dispatcher, tick, state, messages)
  if state.debug then
    print("match " .. context.match_id .. " tick " .. tick)
    print("match " .. context.match_id .. " messages:\n" .. du.print_r(messages))
  end
  state.log[#state.log + 1] = state.describe(tick)
  if tick < 10 then
    return state
  end
end

local function match_terminate(context, dispatcher, tick, state, grace_seconds)
  if state.debug then
    print("match terminate:\n" .. du.print_r(grace_seconds))
  end
  return state
end

local function match_signal(context, dispatcher, tick, state, data)
  if state.debug then
    print("match signal:\n" .. du.print_r(data))
  end
  local members = 0
  for _ in pairs(state.presences) do
    members = members + 1
  end
  return state, data .. "|" .. members .. "|" .. table.concat(state.log, ",")
end

-- Match modules must return a table with these functions defined. All functions are required.
return {
  match_init = match_init,
  match_join_attempt = match_join_attempt,
  match_join = match_join,
  match_leave = match_leave,
  match_loop = match_loop,
  match_terminate = match_terminate,
  match_signal = match_signal,
}
