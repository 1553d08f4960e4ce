-- A helper module match.lua requires (as Nakama's sample match does): pretty-prints a value.
local M = {}

function M.print_r(value, indent)
  indent = indent or ""
  if type(value) ~= "table" then
    return tostring(value) .. "\n"
  end
  local keys = {}
  for k in pairs(value) do
    keys[#keys + 1] = tostring(k)
  end
  table.sort(keys)
  local out = "{\n"
  for _, k in ipairs(keys) do
    local v = value[k]
    if v == nil then
      v = value[tonumber(k)]
    end
    out = out .. indent .. "  " .. k .. " = " .. M.print_r(v, indent .. "  ")
  end
  return out .. indent .. "}\n"
end

return M
