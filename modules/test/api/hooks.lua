-- Hooks, registration kinds and error mapping.
local nk = require("nakama")

nk.register_req_before(function(context, payload)
  payload.account.id = payload.account.id .. "-rewritten"
  return payload
end, "AuthenticateCustom")

-- Returning nil rejects the request.
nk.register_req_before(function(context, payload)
  return nil
end, "authenticatedevice")

nk.register_req_after(function(context, out, input)
  nk.storage_write({{collection = "after", key = "AddFriends", value = {out = out, input = input, mode = context.execution_mode}}})
end, "AddFriends")

nk.register_rt_before(function(context, envelope)
  envelope.channel_join.target = "rewritten"
  return envelope
end, "ChannelJoin")

nk.register_rt_after(function(context, out, input) end, "ChannelJoin")

nk.register_matchmaker_matched(function(context, entries)
  assert(context.execution_mode == "matchmaker" and entries[1].presence.user_id == "u")
  return nil
end)
nk.register_leaderboard_reset(function(context, leaderboard, reset)
  assert(context.execution_mode == "leaderboard_reset" and leaderboard.id == "lb" and reset == 1)
  -- The board as nk.leaderboards_get_id shows it.
  assert(leaderboard.sort_order == "1" and leaderboard.operator == "best", "board table shape")
end)
nk.register_tournament_end(function(context, tournament, stop, reset) end)
nk.register_tournament_reset(function(context, tournament, stop, reset) end)

nk.run_once(function(context)
  nk.storage_write({{collection = "boot", key = "run_once", value = {mode = context.execution_mode}}})
end)

nk.register_rpc(function(context, payload) error({"bad input", 3}) end, "err_code")
nk.register_rpc(function(context, payload) error({"odd code", 99}) end, "err_bad_code")
nk.register_rpc(function(context, payload) error("plain failure") end, "err_plain")
nk.register_rpc(function(context, payload) return 42 end, "bad_return")
nk.register_rpc(function(context, payload) return nil end, "nil_return")
nk.register_rpc(function(context, payload) return nk.json_encode(context) end, "context")
nk.register_rpc(function(context, payload) return payload end, "Echo")
nk.register_rpc(function(context, payload)
  nk.register_rpc(function() end, "late")
end, "register_late")
