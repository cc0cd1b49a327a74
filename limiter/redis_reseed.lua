-- Re-seeding of one user's sessions after Redis lost them (restarted empty,
-- failed over to a replica that lost writes): merges what one replica knows
-- into the user's hash, never overwriting a newer record.
-- KEYS[1]  the user's hash (record format: see redis_lib.lua)
-- ARGV[1]  TTL µs                ARGV[2]  max lease µs
-- ARGV[3]  n, the number of sessions
-- ARGV[4..] per session, six values: id, age of its last heartbeat in µs
--          (on the replica's clock, so that the clocks need not agree), age
--          of its start in µs, µs until its media runs out (may be negative;
--          '' when it was given none), device as encoded by the Go side,
--          the network (hex) it is bound to, '' none: its field is then
--          "<id>\t<network>", as admit names it
-- then per tombstone, three values: id, µs it has left, reason (o, r)
-- Returns the number of sessions written.
local key, ttl, lease = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local tombs = 4 + 6 * tonumber(ARGV[3])
local now = now_us()

local written, latest = 0, 0
-- Ended means ended: a tombstone any replica knows wins over a session
-- another replica still holds.
for i = tombs, #ARGV, 3 do
  local sid, untilus = ARGV[i], now + tonumber(ARGV[i + 1])
  local mark = redis.call('HGET', key, ' ' .. sid)
  local u, r = 0, 'l'
  if mark then u, r = string.match(mark, '^(%d+);(%a)') end
  if r == 'l' or tonumber(u) < untilus then
    redis.call('HSET', key, ' ' .. sid, string.format('%d;%s', untilus, ARGV[i + 2]))
    latest = math.max(latest, untilus)
  end
  redis.call('HDEL', key, sid)
end
for i = 4, tombs - 1, 6 do
  local sid, bound = ARGV[i], ARGV[i + 5]
  local field = sid
  if bound ~= '' then field = sid .. '\t' .. bound end
  local seen = now - tonumber(ARGV[i + 1])
  local bu = 0
  if ARGV[i + 3] ~= '' then bu = now + tonumber(ARGV[i + 3]) end
  -- A buffered session silent for more than the TTL still plays what it
  -- holds: its lease decides, as in the replica's table.
  local mine = {seen = seen, bu = {bu, 0, 0}}
  local exp = expiry(mine, ttl, lease)
  local mark = redis.call('HGET', key, ' ' .. sid)
  if mark and not string.match(mark, ';l$') then exp = 0 end -- ended
  if now < exp then
    local rec = redis.call('HGET', key, field)
    local put
    if not rec then
      put = encode({exp = exp, seen = seen, started = now - tonumber(ARGV[i + 2]),
        bu = {bu, 0, 0}, hint = 0, n1 = '', s1 = 0, n2 = '', s2 = 0, nets = 0, shared = 0,
        bound = bound, dev = ARGV[i + 4]})
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
      redis.call('HSET', key, field, put)
      written = written + 1
      latest = math.max(latest, exp)
    end
  end
end
if latest > 0 then
  -- The key lives as long as its longest-lived session or tombstone; never
  -- shorten it.
  extend(key, latest, now)
end
return written
