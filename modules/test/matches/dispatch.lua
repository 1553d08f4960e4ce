--[[
 A match that uses its dispatcher: broadcasts (immediate and deferred), kicks and label
 updates driven by the op codes of the messages it receives, and a catalogue of bad
 dispatcher calls whose errors it collects (op code 99, then signal "errors").
--]]

local nk = require("nakama")

-- Registrations made while a match VM loads this module are accepted and ignored.
nk.register_rpc(function()
  return "registered by a match module"
end, "dispatch_rpc")

local UID = "5f0c0a3e-7d5b-4c0e-9a53-1a2b3c4d5e6f"
local SID = "0b5e8f0e-1111-4222-8333-444455556666"

local function collect_errors(d)
  local cases = {
    op_code = function() d.broadcast_message("x") end,
    data_type = function() d.broadcast_message(1, 5) end,
    presences_type = function() d.broadcast_message(1, "x", "all") end,
    presence_not_table = function() d.broadcast_message(1, "x", { "s" }) end,
    presence_bad_session = function()
      d.broadcast_message(1, "x", { { session_id = "nope", node = "n" } })
    end,
    presence_node_type = function()
      d.broadcast_message(1, "x", { { session_id = SID, node = 5 } })
    end,
    presence_missing_node = function() d.broadcast_message(1, "x", { { session_id = SID } }) end,
    presence_single_user = function()
      d.broadcast_message(1, "x", { { session_id = SID, node = "n" } })
    end,
    sender_type = function() d.broadcast_message(1, "x", nil, "me") end,
    sender_bad_user = function()
      d.broadcast_message(1, "x", nil, { user_id = "u", session_id = SID, username = "a" })
    end,
    sender_bad_session = function()
      d.broadcast_message(1, "x", nil, { user_id = UID, session_id = "s", username = "a" })
    end,
    sender_username_type = function()
      d.broadcast_message(1, "x", nil, { user_id = UID, session_id = SID, username = 5 })
    end,
    sender_incomplete = function()
      d.broadcast_message(1, "x", nil, { user_id = UID, session_id = SID })
    end,
    reliable_type = function() d.broadcast_message(1, "x", nil, nil, "yes") end,
    deferred_data_type = function() d.broadcast_message_deferred(1, {}) end,
    kick_type = function() d.match_kick("x") end,
    kick_not_table = function() d.match_kick({ 1 }) end,
    kick_bad_user = function() d.match_kick({ { user_id = "u", session_id = SID, node = "n" } }) end,
    kick_bad_session = function()
      d.match_kick({ { user_id = UID, session_id = "s", node = "n" } })
    end,
    kick_node_type = function() d.match_kick({ { user_id = UID, session_id = SID, node = 1 } }) end,
    kick_incomplete = function() d.match_kick({ { user_id = UID, session_id = SID } }) end,
    label_long = function() d.match_label_update(string.rep("a", 2049)) end,
    label_type = function() d.match_label_update({}) end,
    colon_call = function() d:broadcast_message(1) end,
  }
  local out = {}
  for name, case in pairs(cases) do
    local ok, err = pcall(case)
    out[name] = ok and "no error" or err
  end
  return out
end

-- Module-level state: every match VM runs this module afresh, so each match counts 1.
local created = 0

local M = {}

function M.match_init(context, params)
  created = created + 1
  return { errors = {}, labels = {}, created = created }, 10, "initial"
end

function M.match_join_attempt(context, dispatcher, tick, state, presence, metadata)
  return state, true
end

function M.match_join(context, dispatcher, tick, state, presences)
  dispatcher.broadcast_message(1, "welcome", presences)
  return state
end

function M.match_leave(context, dispatcher, tick, state, presences)
  dispatcher.match_kick(presences)
  return state
end

function M.match_loop(context, dispatcher, tick, state, messages)
  for _, m in ipairs(messages) do
    if m.op_code == 1 then
      -- To everyone, tagged with the sender.
      dispatcher.broadcast_message(2, m.data, nil, m.sender)
    elseif m.op_code == 2 then
      -- Deferred and unreliable, to the sender only.
      dispatcher.broadcast_message_deferred(3, m.data, { m.sender }, nil, false)
    elseif m.op_code == 3 then
      dispatcher.match_kick({ m.sender })
    elseif m.op_code == 4 then
      local before = context.match_label
      dispatcher.match_label_update(m.data)
      state.labels = { before = before, after = context.match_label }
    elseif m.op_code == 5 then
      -- Nil data; an empty target list and empty kicks do nothing; no label is "".
      dispatcher.broadcast_message(5)
      dispatcher.broadcast_message(6, nil, {})
      dispatcher.match_kick({})
      dispatcher.match_kick(nil)
      dispatcher.match_label_update()
    elseif m.op_code == 99 then
      state.errors = collect_errors(dispatcher)
    elseif m.op_code == 100 then
      for _ = 1, 129 do
        dispatcher.broadcast_message_deferred(1)
      end
    end
  end
  return state
end

function M.match_terminate(context, dispatcher, tick, state, grace_seconds)
  dispatcher.broadcast_message(9, "bye in " .. grace_seconds)
  return state
end

function M.match_signal(context, dispatcher, tick, state, data)
  if data == "errors" then return state, nk.json_encode(state.errors) end
  if data == "labels" then return state, nk.json_encode(state.labels) end
  if data == "created" then return state, tostring(state.created) end
  if data == "count" then
    -- nk works inside a match VM: the match's own stream, through the pool's host.
    local stream = { mode = 6, subject = context.match_id:sub(1, 36), label = context.match_node }
    return state, tostring(nk.stream_count(stream))
  end
  dispatcher.broadcast_message(7, data)
  return state, data
end

return M
