-- RPCs the realtime tests drive the server with.
local nk = require("nakama")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  return nk.match_create("rt_match", { mode = args.mode })
end, "create_match")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  return nk.match_signal(args.match_id, args.data)
end, "signal_match")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  return nk.json_encode(nk.match_list(10, true, nil, nil, nil, args.query))
end, "list_matches")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  nk.notification_send(args.user_id, "greeting", { hello = "world" }, 7, nil, args.persistent == true)
  return "{}"
end, "notify")

nk.register_rpc(function(context, payload)
  local stream = { mode = 20, label = "rt" }
  nk.stream_user_join(context.user_id, context.session_id, stream)
  nk.stream_send(stream, payload)
  return tostring(nk.stream_count(stream))
end, "stream_join_send")

nk.register_rpc(function(context, payload)
  -- As Nakama's clientrpc.lua: an analytics event on the way (no consumer here but the log).
  nk.event("echoed", { size = tostring(#payload) })
  return payload
end, "echo")

nk.register_rpc(function(context, payload)
  local ok, err = pcall(nk.event, "")
  return tostring(ok) .. " " .. tostring(err)
end, "bad_event")

-- As Nakama's match_init.lua: an authoritative match when both asked for one.
nk.register_matchmaker_matched(function(context, matched_users)
  for _, u in ipairs(matched_users) do
    if u.properties["mode"] ~= "authoritative" then
      return nil
    end
  end
  return nk.match_create("rt_match", { mode = "matched" })
end)
