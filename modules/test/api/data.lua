-- Nakama v3 data functions, through the runtime host.
local nk = require("nakama")

nk.register_rpc(function(context, payload)
  local user_id, username, created = nk.authenticate_custom("custom-id-1", "alice", true)
  local device_user, _, device_created = nk.authenticate_device("device-id-0001")
  local email_user = nk.authenticate_email("Alice@Example.com", "password1", nil, true)
  local token, exp = nk.authenticate_token_generate(user_id, username, 0, {k = "v"})
  return nk.json_encode({
    user_id = user_id, username = username, created = created,
    device_user = device_user, device_created = device_created,
    email_user = email_user, token = token, exp = exp,
  })
end, "auth")

nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  nk.account_update_id(p.user_id, {level = 12}, nil, "Alice A")
  local a = nk.account_get_id(p.user_id)
  local accounts = nk.accounts_get_id({p.user_id})
  local users = nk.users_get_id({p.user_id})
  local by_name = nk.users_get_username({a.username})
  return nk.json_encode({
    display_name = a.display_name, level = a.metadata.level, user_level = a.user.metadata.level,
    custom_id = a.custom_id, accounts = #accounts, user_id = users[1].user_id,
    by_name = by_name[1].user_id, wallet = a.wallet,
  })
end, "account")

nk.register_rpc(function(context, payload)
  nk.account_delete_id(nk.json_decode(payload).user_id, true)
end, "account_delete")

nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  local acks = nk.storage_write({
    {collection = "c", key = "k1", user_id = p.user_id, value = {n = 1}},
    {collection = "c", key = "k2", user_id = p.user_id, value = {n = 2}, permission_read = 2, permission_write = 0},
    {collection = "sys", key = "k", value = {s = true}},
  })
  local objects = nk.storage_read({
    {collection = "c", key = "k1", user_id = p.user_id},
    {collection = "sys", key = "k"},
  })
  local listed, cursor = nk.storage_list(p.user_id, "c", 10)
  nk.storage_delete({{collection = "c", key = "k1", user_id = p.user_id}})
  local after = nk.storage_read({{collection = "c", key = "k1", user_id = p.user_id}})
  return nk.json_encode({
    acks = #acks, version = acks[1].version, n = objects[1].value.n, sys = objects[2].value.s,
    sys_owner = objects[2].user_id, listed = #listed, read_perm = listed[2].permission_read,
    cursor = cursor, after = #after,
  })
end, "storage")

nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  nk.friends_add(p.a, "alice", {p.b}, nil, {note = "hi"})
  local friends, cursor = nk.friends_list(p.a, 10)
  nk.friends_block(p.a, "alice", {p.b})
  local blocked = nk.friends_list(p.a, 10, 3)
  nk.friends_delete(p.a, "alice", {p.b})
  local none = nk.friends_list(p.a)
  return nk.json_encode({
    friends = #friends, friend = friends[1].user.user_id, note = friends[1].metadata.note,
    state = friends[1].state, cursor = cursor, blocked = #blocked, none = #none,
  })
end, "friends")

nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  nk.session_disconnect(p.session_id)
  nk.session_logout(p.user_id)
end, "sessions")
