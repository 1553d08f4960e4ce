-- Like Nakama's p2prelayer.lua: no match_signal, so it cannot run as a match.
local function pass(context, dispatcher, tick, state)
  return state
end

return {
  match_init = function(context, params)
    return {}, 1, ""
  end,
  match_join_attempt = function(context, dispatcher, tick, state, presence)
    return state, true
  end,
  match_join = pass,
  match_leave = pass,
  match_loop = pass,
  match_terminate = pass,
}
