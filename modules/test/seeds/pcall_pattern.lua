-- Seed 000, "Errors and logs" (Nakama 1.x), with its missing `else`/`do`/`end`s restored.
-- The seed runs this at module load; the same code is also registered as an RPC so a
-- test can observe what it did.
local nk = require("nakama")

local function will_error()
  error("This function will always throw an error!")
end

if pcall(will_error) then
  -- no errors with "will_error"
else
  -- handle errors
end

local status, result = pcall(nk.users_fetch_handle, {"22e9ed62"})
if (not status) then
  nk.logger_error(("Error occurred: %q"):format(result))
else
  for _, u in ipairs(result) do
    local message = ("id: %q, fullname: %q"):format(u.Id, u.Fullname)
    print(message) -- will appear in console output.
  end
end

local function pcall_pattern(context, payload)
  local out = { will_error = pcall(will_error) }
  local handles = nk.json_decode(payload)
  local status, result = pcall(nk.users_fetch_handle, handles)
  out.status = status
  if (not status) then
    out.error = nk.logger_error(("Error occurred: %q"):format(result))
  else
    out.messages = {}
    for _, u in ipairs(result) do
      local message = ("id: %q, fullname: %q"):format(u.Id, u.Fullname)
      print(message) -- will appear in console output.
      table.insert(out.messages, message)
    end
  end
  return nk.json_encode(out)
end

nk.register_rpc(pcall_pattern, "pcall_pattern")
