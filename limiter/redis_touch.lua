-- Renews a session a replica answers from its refresh cache, ahead of its
-- entry going stale there, bringing to Redis the heartbeats the replica
-- answered meanwhile: an active session only ever gets longer.
-- KEYS[1] the user's hash; ARGV[1] session id; ARGV[2] TTL µs; ARGV[3] max
-- lease µs; ARGV[4] µs since the last heartbeat; ARGV[5..7] µs buffered
-- per track after the last heartbeat (0 = none), so that a touch sent once
-- the media has run out still says how long it ran; ARGV[8] segment hint
-- µs (0 = none); ARGV[9] deadline in Redis µs, 0 = none: past it, nothing
-- is written.
-- Returns
--   {1, active, now}  the session was active and is renewed; active is the
--                     user's active sessions, as an admission counts them
--   {0, 0, now}       it was not (ended, replaced, expired): nothing is written
--   {-1, now}         past the deadline: nothing is written
local key, sid = KEYS[1], ARGV[1]
local ttl, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = tonumber(ARGV[9])
local now = now_us()
if deadline > 0 and now > deadline then return {-1, now} end
local rec = redis.call('HGET', key, sid)
if not rec then return {0, 0, now} end
local s = parse(rec, ttl)
if now >= s.exp then return {0, 0, now} end
local seen = now - tonumber(ARGV[4])
s.seen = math.max(s.seen, seen)
-- Under the TTL-only rule (no lease longer than the TTL) media changes nothing.
if lease > ttl then
  for t = 1, 3 do
    local left = tonumber(ARGV[4 + t])
    if left > 0 then s.bu[t] = math.max(s.bu[t], seen + left) end
  end
  if tonumber(ARGV[8]) > 0 then s.hint = tonumber(ARGV[8]) end
end
s.exp = expiry(s, ttl, lease)
redis.call('HSET', key, sid, encode(s))
extend(key, s.exp, now)
local active = 0
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  if string.byte(fields[i], 1) ~= 32 and now < expires_of(fields[i + 1], ttl) then
    active = active + 1
  end
end
return {1, active, now}
