-- A helper module other fixtures `require("lib.util")`.
local M = {}

function M.check(cond, message)
  if not cond then
    error(message or "check failed", 2)
  end
  return cond
end

M.loads = (M.loads or 0) + 1

return M
