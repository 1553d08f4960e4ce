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
