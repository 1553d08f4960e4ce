-- The module every chaos node loads (`--runtime.path`); see chaos/README.md.
local nk = require("nakama")

-- Creates the board the increment workload writes (idempotent). Called once after the
-- cluster forms rather than at load time, so a node restarted during a fault never has to
-- commit a write just to load its modules.
nk.register_rpc(function(context, payload)
  nk.leaderboard_create("chaos", false, "desc", "incr", "", nil, true)
  return "{}"
end, "chaos_setup")

-- A durable write behind a socket RPC: one storage object per call, owned by the caller.
-- Payload `{"key": "...", "w": "<unique id>"}`; the reply echoes it.
nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  nk.storage_write({{collection = "chaos_rpc", key = p.key, user_id = context.user_id, value = {w = p.w}}})
  return payload
end, "chaos_write")
