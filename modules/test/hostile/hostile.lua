-- Fixtures for tests/tests/hostile.rs: an authoritative board and tournament, a writer that
-- uses them as the server would, and RPCs that attack the Lua runtime (endless loops,
-- memory bombs, deep recursion) next to a "ping" that must keep answering.
local nk = require("nakama")

-- id, authoritative, sort, operator, reset, metadata, enable_ranks
nk.leaderboard_create("hostile_official", true, "desc", "set", "", nil, true)
nk.leaderboard_create("hostile_open", false, "desc", "best", "", nil, true)
-- id, authoritative, sort, operator, duration, reset, metadata, title, description,
-- category, start_time, end_time, max_size, max_num_score, join_required, enable_ranks
nk.tournament_create("hostile_cup", true, "desc", "best", 86400, "", nil, "Cup", "", 1, 0, 0, 0, 0, false, true)

nk.register_rpc(function() return "pong" end, "ping")

-- The server's own write to the authoritative boards (what a client must not do).
nk.register_rpc(function(context, payload)
  local input = nk.json_decode(payload)
  nk.leaderboard_record_write("hostile_official", input.owner, "server", input.score, 0, {by = "server"})
  nk.tournament_record_write("hostile_cup", input.owner, "server", input.score, 0, {by = "server"})
  return ""
end, "official_write")

-- Module-level state of this VM: "poison" dirties it and then never returns, so the VM
-- must be discarded; "vm_state" reports the state of whichever VM serves it.
local dirty = false
nk.register_rpc(function()
  dirty = true
  while true do end
end, "poison")
nk.register_rpc(function() return dirty and "dirty" or "clean" end, "vm_state")
-- A plain Lua error keeps the VM (as in Nakama): the dirt stays visible.
nk.register_rpc(function()
  dirty = true
  error("dirtied")
end, "dirty_then_error")

nk.register_rpc(function() while true do end end, "infinite_loop")
nk.register_rpc(function()
  while true do pcall(function() while true do end end) end
end, "pcall_loop")
nk.register_rpc(function() return #string.rep("x", 1024 * 1024 * 1024) end, "memory_bomb")
nk.register_rpc(function()
  local t = {}
  while true do t[#t + 1] = string.rep("x", 64 * 1024) .. #t end
end, "memory_growth")
nk.register_rpc(function()
  local t = {}
  for i = 1, 100000000 do t[i] = {i} end
  return tostring(#t)
end, "table_bomb")
nk.register_rpc(function()
  local function f() return f() + 1 end
  return f()
end, "stack_overflow")
