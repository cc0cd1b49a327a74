-- Brings to Redis the heartbeats a replica answered from its refresh cache,
-- before they matter: an active session only ever gets longer.
-- KEYS[1] the user's hash; ARGV[1] session id; ARGV[2] TTL µs; ARGV[3] max
-- lease µs; ARGV[4] µs since the last heartbeat; ARGV[5..7] µs buffered
-- per track after the last heartbeat (0 = none), so that a touch sent once
-- the media has run out still says how long it ran; ARGV[8] segment hint
-- µs (0 = none).
-- Returns 1 when the session was active, else 0 (nothing is written).
local key, sid = KEYS[1], ARGV[1]
local ttl, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local rec = redis.call('HGET', key, sid)
if not rec then return 0 end
local now = now_us()
local s = parse(rec, ttl)
if now >= s.exp then return 0 end
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
return 1
