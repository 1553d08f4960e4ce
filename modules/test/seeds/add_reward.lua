-- Seed 000, "register_after" (Nakama 1.x), with its missing `}`s and `end` restored.
local nk = require("nakama")

local function add_reward(context, payload)
  local value = {
    user_ids = {payload.UserId}
  }
  local record = {
    Bucket = "mygame",
    Collection = "rewards",
    Record = "reward",
    UserId = context.UserId,
    Value = value
  }
  nk.storage_write({ record })
end

nk.register_after(add_reward, "tfriendsadd")
