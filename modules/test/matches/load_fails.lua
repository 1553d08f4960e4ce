-- Loads fine in the pool's VMs; fails while a match VM loads it once a test has set the
-- flag (the local cache is shared by the pool and the match VMs it creates).
local nk = require("nakama")
if nk.localcache_get("explode_match_load") then
  error("exploded while loading")
end

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
  match_signal = function(context, dispatcher, tick, state, data)
    return state, data
  end,
}
