-- Admission of one session, atomic because Redis runs one script at a time.
-- KEYS[1]  the user's hash: field = session id,
--          value = "<lastSeen µs>:<startedAt µs>:<device>".
-- ARGV[1]  session id
-- ARGV[2]  limit (>= 1)
-- ARGV[3]  TTL in microseconds
-- ARGV[4]  device, as encoded by the Go side; stored, never read here
-- Returns {1, active} refreshed, {2, active} started, or
-- {0, active, now, id1, record1, id2, record2, ...} rejected, listing the
-- active sessions so that the caller can tell who holds the slots.
local key, sid = KEYS[1], ARGV[1]
local limit, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
-- Redis's clock, not the replicas': replicas whose clocks disagree still
-- agree on who is active.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = t[1] .. string.format('%06d', tonumber(t[2]))

local fields = redis.call('HGETALL', key)
local active, mine, dead = 0, nil, {}
for i = 1, #fields, 2 do
  local rec = fields[i + 1]
  if now - tonumber(string.match(rec, '^%d+')) >= ttl then
    dead[#dead + 1] = fields[i]
  else
    active = active + 1
    if fields[i] == sid then mine = rec end
  end
end
if #dead > 0 then
  redis.call('HDEL', key, unpack(dead))
end

if mine or active < limit then
  local result = 1
  if mine then
    redis.call('HSET', key, sid, stamp .. string.sub(mine, (string.find(mine, ':', 1, true))))
  else
    redis.call('HSET', key, sid, stamp .. ':' .. stamp .. ':' .. ARGV[4])
    active, result = active + 1, 2
  end
  -- The key lives as long as its newest session: Redis drops dead users itself.
  redis.call('PEXPIRE', key, math.ceil(ttl / 1000))
  return {result, active}
end

-- Rejected: nothing is written, no session is refreshed.
local out = {0, active, now}
for i = 1, #fields, 2 do
  local rec = fields[i + 1]
  if now - tonumber(string.match(rec, '^%d+')) < ttl then
    out[#out + 1] = fields[i]
    out[#out + 1] = rec
  end
end
return out
