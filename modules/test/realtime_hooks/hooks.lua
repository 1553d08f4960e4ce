-- Realtime hooks and session controls for tests/tests/realtime_hooks.rs.
local nk = require("nakama")

-- Every room join is redirected to the room "rewritten".
nk.register_rt_before(function(context, envelope)
  envelope.channel_join.target = "rewritten"
  return envelope
end, "ChannelJoin")

-- Relayed match creation is refused outright.
nk.register_rt_before(function(context, envelope)
  return nil
end, "MatchCreate")

-- Status updates are recorded after they happen.
nk.register_rt_after(function(context, out, input)
  nk.storage_write({ { collection = "status_log", key = context.session_id, user_id = context.user_id,
    value = { status = input.status_update.status or "" } } })
end, "StatusUpdate")

nk.register_rpc(function(context, payload)
  nk.session_disconnect(payload)
  return "{}"
end, "kick_session")

nk.register_rpc(function(context, payload)
  local stream = { mode = 21, label = "flood" }
  nk.stream_user_join(context.user_id, context.session_id, stream)
  return "{}"
end, "flood_join")

nk.register_rpc(function(context, payload)
  local stream = { mode = 21, label = "flood" }
  local chunk = string.rep("x", 1000)
  for i = 1, tonumber(payload) do
    nk.stream_send(stream, chunk)
  end
  return tostring(nk.stream_count(stream))
end, "flood_send")

nk.register_rpc(function(context, payload)
  local stream = { mode = 22, label = "watch" }
  nk.stream_user_join(context.user_id, context.session_id, stream, false, true, payload)
  local list = nk.stream_user_list(stream)
  return nk.json_encode({ count = nk.stream_count(stream), first_status = list[1] and list[1].status or "" })
end, "watch_join")
