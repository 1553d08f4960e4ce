--[[
 RPCs the nakama-js socket compat tests (tests/compat/test/socket*.test.mjs) call, in the
 shape of Nakama's data/modules/clientrpc.lua: ids are "clientrpc.<name>", payloads are
 JSON text, results are JSON text (or the payload itself).
--]]

local nk = require("nakama")

-- Echoes the payload unchanged (the socket hands it over as a plain string).
local function rpc(context, payload)
  return payload
end
nk.register_rpc(rpc, "clientrpc.rpc")

local function rpc_get(context, payload)
  return nk.json_encode({ message = "PONG" })
end
nk.register_rpc(rpc_get, "clientrpc.rpc_get")

-- Always fails: over the socket this is an error envelope with code 7.
local function rpc_error(context, payload)
  error("clientrpc.rpc_error always fails")
end
nk.register_rpc(rpc_error, "clientrpc.rpc_error")

-- Who called, as the runtime saw it (socket RPCs carry a session id, HTTP ones do not).
local function whoami(context, payload)
  return nk.json_encode({
    user_id = context.user_id,
    username = context.username,
    session_id = context.session_id or "",
    node = context.node or "",
  })
end
nk.register_rpc(whoami, "clientrpc.whoami")

-- A persistent notification to payload.user_id, as upstream's send_notification.
local function send_notification(context, payload)
  local args = nk.json_decode(payload)
  local persistent = true
  if args.persistent == false then
    persistent = false
  end
  nk.notification_send(args.user_id, "You've unlocked level 100!", { reward_coins = 1000 }, 1, "", persistent)
  return nk.json_encode({ sent = 1 })
end
nk.register_rpc(send_notification, "clientrpc.send_notification")

-- Several notifications in one call (nk.notifications_send).
local function send_notifications(context, payload)
  local args = nk.json_decode(payload)
  local batch = {}
  for i = 1, args.count do
    batch[#batch + 1] = {
      user_id = args.user_id,
      subject = "batch " .. i,
      content = { n = i },
      code = 100 + i,
      persistent = true,
    }
  end
  nk.notifications_send(batch)
  return nk.json_encode({ sent = args.count })
end
nk.register_rpc(send_notifications, "clientrpc.send_notifications")

-- Joins the calling socket session to a custom stream (mode 20) and sends the payload on it.
local function send_stream_data(context, payload)
  local stream = { mode = 20, label = "compat stream" }
  nk.stream_user_join(context.user_id, context.session_id, stream)
  nk.stream_send(stream, payload)
  return nk.json_encode({ count = nk.stream_count(stream) })
end
nk.register_rpc(send_stream_data, "clientrpc.send_stream_data")

-- Starts an authoritative "match" (match.lua) on the node that runs this RPC. The payload's
-- "label" (a string) becomes the match label.
local function create_authoritative_match(context, payload)
  local params = {}
  if payload ~= nil and payload ~= "" then
    params = nk.json_decode(payload)
  end
  local match_id = nk.match_create("match", { label = params.label, debug = params.debug })
  return nk.json_encode({ match_id = match_id })
end
nk.register_rpc(create_authoritative_match, "clientrpc.create_authoritative_match")

-- Signals a match (member count and the metadata it saw, as match.lua reports them).
local function signal_match(context, payload)
  local args = nk.json_decode(payload)
  return nk.match_signal(args.match_id, args.data or "")
end
nk.register_rpc(signal_match, "clientrpc.signal_match")
