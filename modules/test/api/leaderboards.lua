-- Leaderboards and tournaments (§5.4, §8): how nk.* parses its arguments and the tables
-- Lua gets back. The test host records each call and answers with canned data.
local nk = require("nakama")

-- The number of values a call returned.
local function count(...) return select("#", ...) end

nk.register_rpc(function(context, payload)
  nk.leaderboard_create("v3_board", true, "asc", "incr", "0 0 * * *", {m = 1}, true)
  nk.leaderboard_create("v3_defaults")
end, "leaderboards")

-- Every leaderboard function, once with every argument and once with the defaults.
nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  local out = {}
  nk.leaderboard_delete("old")
  local boards, cursor = nk.leaderboard_list()
  out.list = {boards = boards, cursor = cursor}
  nk.leaderboard_list(5, "lb-cursor")
  out.got = nk.leaderboards_get_id({"weekly", "missing"})
  out.got_empty = nk.leaderboards_get_id({})
  out.written = nk.leaderboard_record_write("weekly", p.owner, "alice", 42, 3, {lap = 9}, "increment")
  out.written_defaults = nk.leaderboard_record_write("weekly", p.owner)
  nk.leaderboard_record_write("weekly", p.owner, "", 1, 0, nil, "DECR")
  nk.leaderboard_record_delete("weekly", p.owner)
  local records, owner_records, next_cursor, prev_cursor, rank_count =
    nk.leaderboard_records_list("weekly", {p.owner, p.other}, 50, "c1", 1800000000)
  out.records = {
    records = records, owner_records = owner_records, next_cursor = next_cursor,
    prev_cursor = prev_cursor, rank_count = rank_count,
  }
  out.records_n = count(nk.leaderboard_records_list("weekly"))
  out.empty_owners_n = count(nk.leaderboard_records_list("weekly", {}))
  local around, after, before, around_count = nk.leaderboard_records_haystack("weekly", p.owner, 3, "h1", 1800000000)
  out.haystack = {records = around, next_cursor = after, prev_cursor = before, rank_count = around_count}
  out.haystack_n = count(nk.leaderboard_records_haystack("weekly", p.owner))
  out.from_rank = nk.leaderboard_records_list_cursor_from_rank("weekly", 11, 1800000000)
  nk.leaderboard_records_list_cursor_from_rank("weekly", 1)
  return nk.json_encode(out)
end, "lb_all")

-- Every tournament function, likewise.
nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  local out = {}
  nk.tournament_create("cup", false, "ascending", "set", 3600, "0 12 * * 1", {prize = "gold"}, "Cup", "A cup",
    12, 1700000000, 1800000000, 100, 5, true, true)
  nk.tournament_create("cup_defaults", nil, nil, nil, 60)
  nk.tournament_delete("old")
  nk.tournament_add_attempt("cup", p.owner, -2)
  nk.tournament_join("cup", p.owner, "alice")
  local tournaments, cursor = nk.tournament_list()
  out.list = {tournaments = tournaments, cursor = cursor}
  out.list_n = count(nk.tournament_list(1, 20, 1700000000, 1800000000, 50, "t-cursor"))
  out.got = nk.tournaments_get_id({"weekly"})
  out.got_empty = nk.tournaments_get_id({})
  out.written = nk.tournament_record_write("cup", p.owner, "alice", -5, 2, {try = 1}, "BEST")
  nk.tournament_record_write("cup", p.owner, nil, nil, nil, nil, "no_override")
  nk.tournament_record_delete("cup", p.owner)
  local records, owner_records, next_cursor, prev_cursor, rank_count =
    nk.tournament_records_list("cup", {p.owner}, 10, nil, 1800000000)
  out.records = {
    records = records, owner_records = owner_records, next_cursor = next_cursor,
    prev_cursor = prev_cursor, rank_count = rank_count,
  }
  local around, after, before, around_count = nk.tournament_records_haystack("cup", p.owner, 100)
  out.haystack = {n = #around, next_cursor = after, prev_cursor = before, rank_count = around_count}
  return nk.json_encode(out)
end, "tournament_all")

-- Argument errors, each raised before the host is asked.
nk.register_rpc(function(context, payload)
  local owner = nk.json_decode(payload).owner
  local calls = {
    create_sort = function() nk.leaderboard_create("b", false, "up") end,
    create_operator = function() nk.leaderboard_create("b", false, "desc", "max") end,
    create_cron = function() nk.leaderboard_create("b", false, "desc", "best", "every day") end,
    delete_id = function() nk.leaderboard_delete("") end,
    list_limit = function() nk.leaderboard_list(101) end,
    get_id_list = function() nk.leaderboards_get_id() end,
    get_id_item = function() nk.leaderboards_get_id({"a", 7}) end,
    write_id = function() nk.leaderboard_record_write("", owner) end,
    write_owner = function() nk.leaderboard_record_write("b", "not-a-uuid") end,
    write_score = function() nk.leaderboard_record_write("b", owner, nil, -1) end,
    write_subscore = function() nk.leaderboard_record_write("b", owner, nil, 1, -1) end,
    write_operator = function() nk.leaderboard_record_write("b", owner, nil, 1, 1, nil, "max") end,
    delete_owner = function() nk.leaderboard_record_delete("b", "nope") end,
    list_owner_type = function() nk.leaderboard_records_list("b", {owner, 5}) end,
    list_owner_uuid = function() nk.leaderboard_records_list("b", {"nope"}) end,
    list_limit_high = function() nk.leaderboard_records_list("b", nil, 10001) end,
    haystack_owner = function() nk.leaderboard_records_haystack("b", "nope") end,
    haystack_limit = function() nk.leaderboard_records_haystack("b", owner, 0) end,
    haystack_expiry = function() nk.leaderboard_records_haystack("b", owner, 10, nil, -1) end,
    rank = function() nk.leaderboard_records_list_cursor_from_rank("b", 0) end,
    t_id = function() nk.tournament_create("", true, "desc", "best", 10) end,
    t_duration = function() nk.tournament_create("t") end,
    t_cron = function() nk.tournament_create("t", true, "desc", "best", 10, "bad cron") end,
    t_category = function() nk.tournament_create("t", true, "desc", "best", 10, nil, nil, nil, nil, 128) end,
    t_start = function() nk.tournament_create("t", true, "desc", "best", 10, nil, nil, nil, nil, 0, -1) end,
    t_end = function() nk.tournament_create("t", true, "desc", "best", 10, nil, nil, nil, nil, 0, 100, 100) end,
    t_max_size = function() nk.tournament_create("t", true, "desc", "best", 10, nil, nil, nil, nil, 0, 0, 0, -1) end,
    t_max_num_score = function() nk.tournament_create("t", true, "desc", "best", 10, nil, nil, nil, nil, 0, 0, 0, 0, -1) end,
    t_attempt_owner = function() nk.tournament_add_attempt("t", "", 1) end,
    t_attempt_count = function() nk.tournament_add_attempt("t", owner, 0) end,
    t_join_user = function() nk.tournament_join("t", "nope", "alice") end,
    t_join_username = function() nk.tournament_join("t", owner, "") end,
    t_list_category = function() nk.tournament_list(5, 2) end,
    t_list_start = function() nk.tournament_list(0, 0, -2) end,
    t_list_end = function() nk.tournament_list(0, 0, 100, 50) end,
    t_list_limit = function() nk.tournament_list(0, 0, -1, -1, 0) end,
    t_write_owner = function() nk.tournament_record_write("t", "nope") end,
    t_write_operator = function() nk.tournament_record_write("t", owner, nil, 1, 1, nil, "biggest") end,
  }
  local out = {}
  for name, f in pairs(calls) do
    local ok, err = pcall(f)
    out[name] = ok and "no error" or err
  end
  return nk.json_encode(out)
end, "lb_errors")

-- Host failures are raised as "<what failed>: <message>".
nk.register_rpc(function(context, payload)
  local owner = nk.json_decode(payload).owner
  local out = {}
  out.write = select(2, pcall(nk.leaderboard_record_write, "missing", owner))
  out.t_write = select(2, pcall(nk.tournament_record_write, "missing", owner))
  out.list = select(2, pcall(nk.leaderboard_records_list, "missing"))
  out.t_haystack = select(2, pcall(nk.tournament_records_haystack, "missing", owner))
  out.delete = select(2, pcall(nk.leaderboard_delete, "missing"))
  out.t_join = select(2, pcall(nk.tournament_join, "missing", owner, "alice"))
  out.rank = select(2, pcall(nk.leaderboard_records_list_cursor_from_rank, "missing", 3))
  return nk.json_encode(out)
end, "lb_host_errors")
