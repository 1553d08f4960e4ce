--[[
 As Nakama's data/modules/match_init.lua: when every matched user asked for
 properties.mode == "authoritative", the matchmaker result is a new authoritative "match"
 (match.lua) instead of a relayed-match token.
--]]

local nk = require("nakama")

local function makematch(context, matched_users)
  for _, user in ipairs(matched_users) do
    if user.properties["mode"] ~= "authoritative" then
      return nil
    end
  end
  return nk.match_create("match", { label = nk.json_encode({ mode = "matched", size = #matched_users }) })
end
nk.register_matchmaker_matched(makematch)
