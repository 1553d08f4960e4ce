-- A board that resets every second (6-field cron with seconds), and a reset hook that
-- records each reset it is called for as a public storage object.
local nk = require("nakama")

nk.leaderboard_create("ticking", false, "desc", "best", "* * * * * *", nil, true)

nk.register_leaderboard_reset(function(context, leaderboard, reset)
  nk.storage_write({{
    collection = "resets",
    key = leaderboard.id .. "-" .. string.format("%d", reset),
    value = {board = leaderboard.id, at = reset, mode = context.execution_mode},
    permission_read = 2,
  }})
end)
