-- A module that returns nothing: require gives `true`, which is not a match module.
local nk = require("nakama")
nk.logger_debug("no_table loaded")
