-- Seed 000, "An example module" (Nakama 1.x), with its missing `}`, `else` and `end`s
-- restored. The base URL can be overridden per call (pokemon.lua passes
-- context.env.POKEAPI_BASE_URL) so tests can point it at a local server.
local nk = require("nakama")

local M = {}

local API_BASE_URL = "https://pokeapi.co/api/v2"

function M.lookup_pokemon(name, base_url)
  local url = ("%s/pokemon/%s"):format(base_url or API_BASE_URL, name)
  local method = "GET"
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json"
  }
  local success, code, _, body = pcall(nk.http_request, url, method, headers, nil)
  if (not success) then
    nk.logger_error(("Failed request %q"):format(code))
  elseif (code >= 400) then
    nk.logger_error(("Failed request %q %q"):format(code, body))
  else
    return nk.json_decode(body)
  end
end

return M
