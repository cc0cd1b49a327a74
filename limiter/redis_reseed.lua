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
    local stamp = string.format('%.0f', seen)
    local put
    if not rec then
      -- Written in the previous record format, which every script reads
      -- (redis_lib.lua): this replica knows heartbeats, not leases.
      put = stamp .. ':' .. string.format('%.0f', now - tonumber(ARGV[i + 2])) .. ':' .. ARGV[i + 3]
    else
      -- Keep every field as Redis has it but a later heartbeat, in either
      -- record format; a newer record is left alone.
      local e, ls, rest = string.match(rec, '^(%d+);(%d+);(.*)$')
      if e then
        if tonumber(ls) < seen then
          put = string.format('%.0f;%s;', math.max(tonumber(e), seen + ttl), stamp) .. rest
        end
      else
        local ls2, rest2 = string.match(rec, '^(%d+)(:.*)$')
        if ls2 and tonumber(ls2) < seen then put = stamp .. rest2 end
      end
    end
    if put then
      redis.call('HSET', key, sid, put)
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
