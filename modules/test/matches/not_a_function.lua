-- match_loop is present but is not a function.
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
  match_loop = "not a function",
  match_terminate = pass,
  match_signal = pass,
}
