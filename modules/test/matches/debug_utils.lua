-- A dependency of match.lua (as Nakama's sample has one): pretty-prints a value.
local M = {}

local function print_r(value, indent, seen)
  indent = indent or ""
  seen = seen or {}
  if type(value) ~= "table" then
    return tostring(value) .. "\n"
  end
  if seen[value] then
    return "<cycle>\n"
  end
  seen[value] = true
  local keys = {}
  for k in pairs(value) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = "{\n"
  for _, k in ipairs(keys) do
    out = out .. indent .. "  " .. tostring(k) .. " = " .. print_r(value[k], indent .. "  ", seen)
  end
  return out .. indent .. "}\n"
end

M.print_r = print_r
return M
