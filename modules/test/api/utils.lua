-- Nakama v3 utility functions: every one is called, results returned as JSON for the
-- Rust tests to check.
local nk = require("nakama")
local util = require("lib.util")

local function utils(context, payload)
  local r = {}

  r.json_empty = nk.json_encode({})
  r.json_array = nk.json_encode({1, 2, 3})
  r.json_sorted = nk.json_encode({b = 1, a = {c = true}, s = "x"})
  local d = nk.json_decode('{"x":[1,2,{"y":"z"}],"n":null,"f":1.5}')
  util.check(d.x[3].y == "z", "json_decode nested")
  util.check(d.n == nil, "json null is nil")
  util.check(d.f == 1.5, "json number")

  local u = nk.uuid_v4()
  r.uuid = u
  r.uuid_roundtrip = nk.uuid_bytes_to_string(nk.uuid_string_to_bytes(u)) == u
  r.uuid_bytes_len = #nk.uuid_string_to_bytes(u)

  r.time_ms = nk.time()
  r.time_tbl = nk.time({year = 2020, month = 1, day = 2, hour = 3, min = 4, sec = 5})
  r.cron_next = nk.cron_next("0 0 * * 1", 1700000000)
  r.cron_prev = nk.cron_prev("0 0 * * 1", 1700000000)

  r.b64 = nk.base64_encode("hello?")
  r.b64_nopad = nk.base64_encode("hi", false)
  r.b64_dec = nk.base64_decode("aGk")
  r.b64url = nk.base64url_encode("hello?")
  r.b64url_dec = nk.base64url_decode("aGVsbG8_")
  r.b16 = nk.base16_encode("hi")
  r.b16_dec = nk.base16_decode("6869")

  r.md5 = nk.md5_hash("hello")
  r.sha256 = nk.sha256_hash("hello")
  r.hmac = nk.base16_encode(nk.hmac_sha256_hash("hello", "key"))

  local k16, k32 = "0123456789abcdef", "0123456789abcdef0123456789abcdef"
  local c = nk.aes128_encrypt("secret", k16)
  r.aes128_len = #c
  r.aes128 = nk.aes128_decrypt(c, k16)
  r.aes256 = nk.aes256_decrypt(nk.aes256_encrypt("abcd", k32), k32)
  r.aes_bad_key = not pcall(nk.aes128_encrypt, "x", "short")

  local h = nk.bcrypt_hash("password")
  r.bcrypt_ok = nk.bcrypt_compare(h, "password")
  r.bcrypt_bad = nk.bcrypt_compare(h, "wrong")

  r.jwt = nk.jwt_generate("HS256", "secret", {sub = "u1", exp = 2000000000})

  r.logged = nk.logger_info("hello from lua")
  nk.logger_debug("debug from lua")
  nk.logger_warn("warn from lua")
  nk.logger_error("error from lua")
  print("print goes to the log", 1, true)

  nk.localcache_put("k", {a = 1, list = {"x", "y"}}, 0)
  local cached = nk.localcache_get("k")
  r.cache = cached.a
  r.cache_list = cached.list[2]
  r.cache_default = nk.localcache_get("missing", "dflt")
  nk.localcache_delete("k")
  r.cache_deleted = nk.localcache_get("k") == nil
  nk.localcache_put("k2", "v")
  nk.localcache_clear()
  r.cache_cleared = nk.localcache_get("k2") == nil

  r.format_any = (("%q|%s"):format({}, true)):sub(1, 7)
  r.loads = util.loads
  return nk.json_encode(r)
end

nk.register_rpc(utils, "utils")

-- nk.* failures are raised as plain Lua strings carrying the caller's position.
nk.register_rpc(function(context, payload)
  local ok, err = pcall(function()
    local decoded = nk.json_decode("{bad")
    return decoded
  end)
  return nk.json_encode({ok = ok, err = err, kind = type(err)})
end, "nk_error_is_string")

nk.register_rpc(function(context, payload)
  local cached = nk.localcache_get("shared")
  if cached == nil then
    nk.localcache_put("shared", payload, 60)
    return "stored"
  end
  return cached
end, "localcache_shared")

nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  local code, headers, body = nk.http_request(p.url, p.method or "GET", p.headers or {}, p.body, p.timeout)
  return nk.json_encode({code = code, body = body, header = headers["X-Test"]})
end, "http")
