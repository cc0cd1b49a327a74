-- Ends one session. KEYS[1] the user's hash; ARGV[1] session id; ARGV[2] TTL
-- in microseconds. Returns 1 when the session was active, else 0. An expired
-- record is removed too, but is not reported as ended.
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if now - tonumber(string.match(rec, '^%d+')) < tonumber(ARGV[2]) then
  return 1
end
return 0
