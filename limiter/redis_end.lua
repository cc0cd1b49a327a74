-- Ends one session. KEYS[1] the user's hash; ARGV[1] session id; ARGV[2] TTL
-- µs; ARGV[3] tombstone reason (o, r) or '' for none; ARGV[4] tombstone TTL
-- µs. Returns 1 when the session was active, else 0. An expired record is
-- removed too, but is not reported as ended and leaves no tombstone.
local key, sid = KEYS[1], ARGV[1]
local rec = redis.call('HGET', key, sid)
if not rec then
  return 0
end
redis.call('HDEL', key, sid)
local now = now_us()
if now >= expires_of(rec, tonumber(ARGV[2])) then
  return 0
end
local keep = tonumber(ARGV[4])
if ARGV[3] ~= '' and keep > 0 then
  redis.call('HSET', key, ' ' .. sid, string.format('%d;%s', now + keep, ARGV[3]))
  extend(key, now + keep, now)
end
return 1
