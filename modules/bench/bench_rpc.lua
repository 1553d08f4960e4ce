-- RPCs the realtime benchmarks drive the server with (README.md).
local nk = require("nakama")

nk.register_rpc(function(context, payload)
  return payload
end, "echo")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  local ids = {}
  for i = 1, args.count do
    ids[i] = nk.match_create("bench_match", { tick_rate = args.tick_rate })
  end
  return nk.json_encode(ids)
end, "bench_create_matches")

nk.register_rpc(function(context, payload)
  local args = nk.json_decode(payload)
  local total = { matches = 0, members = 0, inputs = 0, echoes = 0, snapshots = 0, snapshot_deliveries = 0 }
  for _, id in ipairs(args.ids) do
    local s = nk.json_decode(nk.match_signal(id, "stats"))
    total.matches = total.matches + 1
    for k, v in pairs(s) do
      total[k] = total[k] + v
    end
  end
  return nk.json_encode(total)
end, "bench_match_stats")
