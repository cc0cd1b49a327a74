-- Ends one session. KEYS[1] the user's hash; ARGV[1] session id; ARGV[2] TTL
-- µs; ARGV[3] tombstone reason (o, r) or '' for none; ARGV[4] tombstone TTL
-- µs. Returns 1 when the session was active, else 0. An expired record is
-- removed too, but is not reported as ended and leaves no tombstone. Under
-- network binding one id may have a record per network: all of them end.
local key, sid = KEYS[1], ARGV[1]
local ttl = tonumber(ARGV[2])
local gone = {}
if redis.call('HEXISTS', key, sid) == 1 then gone[1] = {sid, redis.call('HGET', key, sid)} end
local cursor = '0'
repeat
  local page = redis.call('HSCAN', key, cursor, 'MATCH', string.gsub(sid, '[%*%?%[%]\\]', '\\%0') .. '\t*', 'COUNT', 100)
  cursor = page[1]
  for i = 1, #page[2], 2 do
    if base(page[2][i]) == sid then gone[#gone + 1] = {page[2][i], page[2][i + 1]} end
  end
until cursor == '0'
if #gone == 0 then
  return 0
end
local now, active = now_us(), 0
for _, g in ipairs(gone) do
  redis.call('HDEL', key, g[1])
  if now < expires_of(g[2], ttl) then active = 1 end
end
local keep = tonumber(ARGV[4])
if active == 1 and ARGV[3] ~= '' and keep > 0 then
  redis.call('HSET', key, ' ' .. sid, string.format('%d;%s', now + keep, ARGV[3]))
  extend(key, now + keep, now)
end
return active
