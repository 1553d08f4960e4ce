--[[
 RPCs that drive the realtime nk.* functions (matches, streams, notifications, chat) so
 tests can check what the host receives and what Lua gets back. Payloads are JSON.
--]]

local nk = require("nakama")

local function rpc(id, f)
  nk.register_rpc(function(context, payload)
    return nk.json_encode(f(nk.json_decode(payload)))
  end, id)
end

rpc("rt_match", function(p)
  local id = nk.match_create(p.module, p.params)
  return {
    id = id,
    got = nk.match_get(id),
    missing = nk.match_get("4f0e3e6a-0000-4000-8000-00000000abcd.shoal"),
    list = nk.match_list(5, true, "skill", 1, 4, "+label.skill:>=50"),
    list_default = nk.match_list(),
    signal = nk.match_signal(id, p.signal),
    signal_nil = nk.match_signal(id),
  }
end)

rpc("rt_streams", function(p)
  local stream = { mode = 2, subject = p.subject, label = "lobby" }
  local out = {}
  out.joined = nk.stream_user_join(p.user, p.session, stream, true, false, "away")
  out.joined_again = nk.stream_user_join(p.user, p.session, stream)
  out.updated = nk.stream_user_update(p.user, p.session, stream, false, true, "back")
  out.listed = nk.stream_user_list(stream)
  out.listed_hidden_only = nk.stream_user_list(stream, true, false)
  out.got = nk.stream_user_get(p.user, p.session, stream)
  out.got_other = nk.stream_user_get(p.user, p.other_session, stream)
  out.count = nk.stream_count(stream)
  nk.stream_send(stream, "payload")
  nk.stream_send(stream, "to one", { { session_id = p.session } }, false)
  nk.stream_send(stream, "to nobody in particular", {})
  nk.stream_send_raw(stream, { channel_message = { channel_id = "c", content = "{}" } }, { { session_id = p.session, node = "other-node", user_id = p.user } })
  nk.stream_user_leave(p.user, p.session, stream)
  out.count_after_leave = nk.stream_count(stream)
  nk.stream_user_kick({ user_id = p.user, session_id = p.session }, { mode = 9 })
  nk.stream_close({ mode = 3, subcontext = p.subject })
  return out
end)

rpc("rt_flag", function(p)
  nk.localcache_put(p.key, true)
  return {}
end)

rpc("rt_messages", function(p)
  nk.notification_send(p.user, "hello", { reward = 10 }, 101, p.other_user, true)
  nk.notification_send(p.user, "plain", {}, 1)
  nk.notifications_send({
    { user_id = p.user, subject = "a", content = { n = 1 }, code = 5 },
    { user_id = p.other_user, subject = "b", content = {}, code = 6, sender_id = p.user, persistent = true },
  })
  local ack = nk.channel_message_send("2...lobby", { text = "hi" }, p.user, "alice", true)
  local system = nk.channel_message_send("2...lobby")
  return { ack = ack, system = system }
end)

-- Each case is a call that must fail; the reply maps case names to error messages.
rpc("rt_errors", function(p)
  local U, S = p.user, p.session
  local stream = { mode = 2 }
  local cases = {
    match_create_module = function() nk.match_create("") end,
    match_create_params = function() nk.match_create("match", "x") end,
    match_create_array = function() nk.match_create("match", { 1, 2 }) end,
    match_create_host = function() nk.match_create("missing") end,
    match_get_host = function() nk.match_get("missing") end,
    match_list_authoritative = function() nk.match_list(1, "yes") end,
    match_list_label = function() nk.match_list(1, nil, 5) end,
    match_list_min = function() nk.match_list(1, nil, nil, "1") end,
    match_list_max = function() nk.match_list(1, nil, nil, nil, {}) end,
    match_list_query = function() nk.match_list(1, nil, nil, nil, nil, true) end,
    match_signal_host = function() nk.match_signal("nope.shoal", "x") end,
    join_user_empty = function() nk.stream_user_join("", S, stream) end,
    join_user_bad = function() nk.stream_user_join("u", S, stream) end,
    join_session_empty = function() nk.stream_user_join(U, "", stream) end,
    join_session_bad = function() nk.stream_user_join(U, "s", stream) end,
    join_stream_type = function() nk.stream_user_join(U, S, "stream") end,
    join_mode = function() nk.stream_user_join(U, S, { mode = "2" }) end,
    join_subject_type = function() nk.stream_user_join(U, S, { mode = 2, subject = 5 }) end,
    join_subject_bad = function() nk.stream_user_join(U, S, { mode = 2, subject = "x" }) end,
    join_subcontext_bad = function() nk.stream_user_join(U, S, { mode = 2, subcontext = "x" }) end,
    join_label_type = function() nk.stream_user_join(U, S, { mode = 2, label = {} }) end,
    join_hidden_type = function() nk.stream_user_join(U, S, stream, "no") end,
    join_unknown_session = function() nk.stream_user_join(U, p.other_session, stream) end,
    update_unknown_session = function() nk.stream_user_update(U, p.other_session, stream) end,
    leave_session_bad = function() nk.stream_user_leave(U, "s", stream) end,
    kick_nil = function() nk.stream_user_kick(nil, stream) end,
    kick_bad_user = function() nk.stream_user_kick({ user_id = "u", session_id = S }, stream) end,
    kick_incomplete = function() nk.stream_user_kick({ user_id = U }, stream) end,
    kick_node_type = function() nk.stream_user_kick({ user_id = U, session_id = S, node = 1 }, stream) end,
    kick_stream = function() nk.stream_user_kick({ user_id = U, session_id = S }, { mode = true }) end,
    list_stream = function() nk.stream_user_list({ label = 1 }) end,
    count_stream = function() nk.stream_count(nil) end,
    send_data = function() nk.stream_send(stream, nil) end,
    send_presences = function() nk.stream_send(stream, "x", { "s" }) end,
    send_presence_session = function() nk.stream_send(stream, "x", { { session_id = "s" } }) end,
    send_presence_node = function() nk.stream_send(stream, "x", { { session_id = S, node = 1 } }) end,
    send_reliable = function() nk.stream_send(stream, "x", nil, "yes") end,
    send_raw_envelope = function() nk.stream_send_raw(stream, "x") end,
    send_raw_array = function() nk.stream_send_raw(stream, { 1, 2 }) end,
    notify_user = function() nk.notification_send("u", "s", {}, 1) end,
    notify_subject = function() nk.notification_send(U, "", {}, 1) end,
    notify_content = function() nk.notification_send(U, "s", "c", 1) end,
    notify_code = function() nk.notification_send(U, "s", {}, 0) end,
    notify_sender = function() nk.notification_send(U, "s", {}, 1, "x") end,
    notify_host = function() nk.notification_send(p.unreachable, "s", {}, 1) end,
    notifications_type = function() nk.notifications_send("x") end,
    notifications_entry = function() nk.notifications_send({ "x" }) end,
    notifications_persistent = function() nk.notifications_send({ { persistent = 1 } }) end,
    notifications_subject_type = function() nk.notifications_send({ { subject = 1 } }) end,
    notifications_content_type = function() nk.notifications_send({ { content = "c" } }) end,
    notifications_code_type = function() nk.notifications_send({ { code = "1" } }) end,
    notifications_code_zero = function() nk.notifications_send({ { code = 0 } }) end,
    notifications_user_type = function() nk.notifications_send({ { user_id = 1 } }) end,
    notifications_user_bad = function() nk.notifications_send({ { user_id = "u" } }) end,
    notifications_sender_bad = function() nk.notifications_send({ { sender_id = "" } }) end,
    notifications_no_subject = function() nk.notifications_send({ { user_id = U, content = {}, code = 1 } }) end,
    notifications_no_content = function() nk.notifications_send({ { user_id = U, subject = "s", code = 1 } }) end,
    notifications_no_user = function() nk.notifications_send({ { subject = "s", content = {}, code = 1 } }) end,
    notifications_no_code = function() nk.notifications_send({ { user_id = U, subject = "s", content = {} } }) end,
    channel_content = function() nk.channel_message_send("2...lobby", { 1 }) end,
    channel_sender = function() nk.channel_message_send("2...lobby", {}, "x") end,
    channel_bad_id = function() nk.channel_message_send(p.bad_channel, {}) end,
    channel_down = function() nk.channel_message_send(p.channel_down, {}) end,
  }
  local out = {}
  for name, case in pairs(cases) do
    local ok, err = pcall(case)
    out[name] = ok and "no error" or err
  end
  return out
end)
