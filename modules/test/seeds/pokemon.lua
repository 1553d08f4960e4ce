-- Seed 000, "pokemon.lua" (Nakama 1.x), with its missing `}`, `else`, `end`s and the
-- `name = result.name` field restored; it passes context.env.POKEAPI_BASE_URL (nil means
-- the public API) to pokeapi.lookup_pokemon.
local nk = require("nakama")
local pokeapi = require("pokeapi")

local function get_pokemon(context, payload)
  -- we'll assume payload was sent as JSON and decode it.
  local json = nk.json_decode(payload)

  local success, result = pcall(pokeapi.lookup_pokemon, json.PokemonName, context.env.POKEAPI_BASE_URL)
  if (not success) then
    error("Unable to lookup pokemon.")
  else
    local pokemon = {
      name = result.name,
      height = result.height,
      weight = result.weight,
      image = result.sprites.front_default
    }
    return pokemon
  end
end

nk.register_rpc(get_pokemon, "get_pokemon")
