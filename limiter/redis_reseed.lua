-- Re-seeding of one user's sessions after Redis lost them (restarted empty,
-- failed over to a replica that lost writes): merges what one replica knows
-- into the user's hash, never overwriting a newer record.
-- KEYS[1]  the user's hash (record format: see redis_admit.lua)
-- ARGV[1]  TTL in microseconds
-- ARGV[2..] per session, four values: id, age of its last heartbeat in µs
--          (on the replica's clock, so that the clocks need not agree), age
--          of its start in µs, device as encoded by the Go side
-- Returns the number of sessions written.
local key, ttl = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local written, newest = 0, 0
for i = 2, #ARGV, 4 do
  local sid = ARGV[i]
  local seen = now - tonumber(ARGV[i + 1])
  if now - seen < ttl then
    local rec = redis.call('HGET', key, sid)
    local have = rec and tonumber(string.match(rec, '^%d+'))
    if not have or have < seen then
      local stamp = string.format('%.0f', seen)
      if rec then
        -- Keep every field after the heartbeat as Redis has it.
        rec = stamp .. string.sub(rec, (string.find(rec, ':', 1, true)))
      else
        rec = stamp .. ':' .. string.format('%.0f', now - tonumber(ARGV[i + 2])) .. ':' .. ARGV[i + 3]
      end
      redis.call('HSET', key, sid, rec)
      written = written + 1
      if seen > newest then newest = seen end
    end
  end
end
if written > 0 then
  -- The key lives as long as its newest session; never shorten it.
  local left = math.ceil((newest + ttl - now) / 1000)
  if redis.call('PTTL', key) < left then
    redis.call('PEXPIRE', key, left)
  end
end
return written
