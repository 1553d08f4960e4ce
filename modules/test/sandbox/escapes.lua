-- Sandbox escape attempts, each an RPC that must fail cleanly (and "ping" must keep
-- answering afterwards).
local nk = require("nakama")

nk.register_rpc(function() return "pong" end, "ping")

-- What the sandbox exposes.
nk.register_rpc(function()
  local names = {}
  for _, name in ipairs({"io", "debug", "coroutine", "dofile", "loadfile", "module", "require", "load", "loadstring"}) do
    names[name] = type(_G[name])
  end
  local os_names = {}
  for k in pairs(os) do table.insert(os_names, k) end
  table.sort(os_names)
  names.os = table.concat(os_names, ",")
  names.string_dump = type(string.dump)
  names.bit32 = bit32.band(0xff, 0x0f)
  names.loadlib = select(2, pcall(package.loadlib, "libc.so.6", "system"))
  return nk.json_encode(names)
end, "globals")

nk.register_rpc(function() return io.open("/etc/passwd"):read("*a") end, "io_open")
nk.register_rpc(function() return os.execute("echo pwned") end, "os_execute")
nk.register_rpc(function() return dofile("/etc/passwd") end, "dofile")
nk.register_rpc(function() return require("io") end, "require_io")

-- Bytecode: string.dump is gone, and a hand-made binary chunk is refused.
nk.register_rpc(function()
  local f = load(string.dump(function() return "bytecode ran" end))
  return f()
end, "string_dump")
nk.register_rpc(function()
  local f, err = loadstring("\27Lua\81\0\1\4\8\4\8\0")
  if f then return "loaded bytecode" end
  error(err)
end, "bytecode")
nk.register_rpc(function()
  local parts = {"\27Lua", "\81\0"}
  local i = 0
  local f, err = load(function() i = i + 1 return parts[i] end)
  if f then return "loaded bytecode" end
  error(err)
end, "bytecode_reader")
-- Text chunks still load.
nk.register_rpc(function()
  return loadstring("return 'text ' .. 'chunk'")()
end, "text_chunk")

-- Resource limits.
nk.register_rpc(function() return #string.rep("x", 1024 * 1024 * 1024) end, "memory_bomb")
nk.register_rpc(function()
  local t = {}
  while true do t[#t + 1] = string.rep("x", 64 * 1024) .. #t end
end, "memory_growth")
nk.register_rpc(function()
  local ok, err = pcall(string.rep, "x", 1024 * 1024 * 1024)
  return tostring(ok) .. ":" .. tostring(err)
end, "memory_caught")
nk.register_rpc(function() while true do end end, "infinite_loop")
nk.register_rpc(function()
  while true do pcall(function() while true do end end) end
end, "pcall_loop")
nk.register_rpc(function()
  local function f() return f() + 1 end
  return f()
end, "stack_overflow")
