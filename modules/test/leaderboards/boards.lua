-- Boards the leaderboard integration tests use, created at load time as Nakama modules
-- commonly do (leaderboard_create is idempotent, so every VM may run it).
local nk = require("nakama")

-- v3 order: id, authoritative, sort, operator, reset, metadata, enable_ranks
nk.leaderboard_create("scores", false, "desc", "best", "", {season = 1}, true)
nk.leaderboard_create("laps", false, "asc", "best", "", nil, true)
nk.leaderboard_create("counter", false, "desc", "incr", "", nil, true)
nk.leaderboard_create("decr", false, "desc", "decr", "", nil, false)
nk.leaderboard_create("official", true, "desc", "set", "", nil, true)
-- the seed's 1.x order: id, sort, reset, metadata, authoritative
nk.leaderboard_create("weekly", "desc", "0 0 * * 1", {kind = "weekly"}, false)

-- Tournaments: id, authoritative, sort, operator, duration, reset, metadata, title,
-- description, category, start_time, end_time, max_size, max_num_score, join_required,
-- enable_ranks
nk.tournament_create("cup", false, "desc", "best", 3600, "", {prize = "gold"}, "The Cup", "weekly cup", 3, 0, 0, 2, 2, true, true)
nk.tournament_create("open", false, "desc", "incr", 3600, "", nil, "Open", "", 5, 0, 0, 0, 0, false, true)
nk.tournament_create("future", false, "desc", "best", 60, "", nil, "Later", "", 7, os.time() + 86400, 0, 0, 0, false, false)

-- Authoritative writes and reads from Lua, through the same core functions as REST.
nk.register_rpc(function(context, payload)
  local input = nk.json_decode(payload)
  local record = nk.leaderboard_record_write("official", input.owner, "lua", input.score, 0, {by = "lua"})
  local records, owner_records, next_cursor, prev_cursor, rank_count = nk.leaderboard_records_list("official", {input.owner}, 10)
  return nk.json_encode({score = record.score, rank = record.rank, listed = #records, owned = #owner_records, rank_count = rank_count})
end, "official_write")

nk.register_rpc(function(context, payload)
  local tournaments = nk.tournament_list(0, 127, -1, -1, 10)
  local ids = {}
  for _, t in ipairs(tournaments) do table.insert(ids, t.id) end
  return nk.json_encode(ids)
end, "tournament_ids")
