-- Globals under `runtime.lua_read_only_globals`: writable while modules load, read-only
-- afterwards (Nakama's default).
local nk = require("nakama")

greeting = "hello"     -- a global set at load time
local counter = 0      -- module state kept in an upvalue is per VM, and stays writable

nk.register_rpc(function(context, payload)
  return greeting
end, "read_global")

nk.register_rpc(function(context, payload)
  greeting = payload
  return greeting
end, "write_global")

nk.register_rpc(function(context, payload)
  _G.brand_new = 1
  return "set"
end, "new_global")

nk.register_rpc(function(context, payload)
  setmetatable(_G, nil)
  return "unfrozen"
end, "unfreeze")

nk.register_rpc(function(context, payload)
  counter = counter + 1
  return tostring(counter > 0)
end, "upvalue")
