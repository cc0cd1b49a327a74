-- Re-seeding of one user's sessions after Redis lost them (restarted empty,
-- failed over to a replica that lost writes): merges what one replica knows
-- into the user's hash, never overwriting a newer record.
-- KEYS[1]  the user's hash (record format: see redis_lib.lua)
-- ARGV[1]  TTL µs                ARGV[2]  max lease µs
-- ARGV[3..] per session, five values: id, age of its last heartbeat in µs
--          (on the replica's clock, so that the clocks need not agree), age
--          of its start in µs, µs until its media runs out (may be negative;
--          '' when it was given none), device as encoded by the Go side
-- Returns the number of sessions written.
local key, ttl, lease = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_us()

local written, latest = 0, 0
for i = 3, #ARGV, 5 do
  local sid = ARGV[i]
  local seen = now - tonumber(ARGV[i + 1])
  local bu = 0
  if ARGV[i + 3] ~= '' then bu = now + tonumber(ARGV[i + 3]) end
  -- A buffered session silent for more than the TTL still plays what it
  -- holds: its lease decides, as in the replica's table.
  local mine = {seen = seen, bu = {bu, 0, 0}}
  local exp = expiry(mine, ttl, lease)
  if now < exp then
    local rec = redis.call('HGET', key, sid)
    local put
    if not rec then
      put = encode({exp = exp, seen = seen, started = now - tonumber(ARGV[i + 2]),
        bu = {bu, 0, 0}, hint = 0, n1 = '', s1 = 0, n2 = '', s2 = 0, nets = 0, shared = 0,
        bound = '', dev = ARGV[i + 4]})
    else
      -- Keep every field as Redis has it but a later heartbeat or a longer
      -- lease; a newer record is left alone.
      local s = parse(rec, ttl)
      if s.seen < seen or s.exp < exp then
        s.seen = math.max(s.seen, seen)
        s.bu[1] = math.max(s.bu[1], bu)
        s.exp = math.max(s.exp, expiry(s, ttl, lease))
        put = encode(s)
      end
    end
    if put then
      redis.call('HSET', key, sid, put)
      written = written + 1
      latest = math.max(latest, exp)
    end
  end
end
if written > 0 then
  -- The key lives as long as its longest-lived session; never shorten it.
  extend(key, latest, now)
end
return written
