-- Seed 000, "register_http" (Nakama 1.x), with its missing `end` restored.
local nk = require("nakama")

local function http_handler(context, payload)
  local message = nk.json_encode(payload)
  nk.logger_info(("Message: %q"):format(message))
  return {["context"] = context}
end

nk.register_http(http_handler, "http_handler_path")
