-- Seed 000, "register_before" (Nakama 1.x), with its missing `end`s restored.
local nk = require("nakama")

local function limit_friends(context, payload)
  local user = nk.users_fetch_id({context.UserId})[1]
  -- lets assume we've stored a user's level in their metadata.
  if user.Metadata.level <= 10 then
    error("Must reach level 10 before you can add friends.")
  end
  return payload -- important!
end
nk.register_before(limit_friends, "tfriendsadd")
