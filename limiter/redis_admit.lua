-- Admission of one session, atomic because Redis runs one script at a time.
-- KEYS[1]  the user's hash (see redis_lib.lua)
-- KEYS[2]  the session's held key, set while a stop keeps it (redis_end.lua)
-- ARGV[1]  session id            ARGV[2]  limit (>= 1)
-- ARGV[3]  TTL µs                ARGV[4]  device, stored, never read here
-- ARGV[5]  max lease µs          ARGV[6]  1 when the request adds no media
-- ARGV[7]  over the limit: refuse, evict or shadow
-- ARGV[8]  track 0..2            ARGV[9]  media d µs    ARGV[10] buffer bl µs
-- ARGV[11] segment hint µs (0 keeps the stored one)
-- ARGV[12] deadline in Redis µs, 0 = none: past it, nothing is written
-- ARGV[13] tombstone TTL µs      ARGV[14..16] media a replica answered from
--          its refresh cache: per track, µs still buffered (0 = none)
-- ARGV[17] the client's network (hex), '' unknown
-- ARGV[18] 1 when sessions are bound to their network
-- ARGV[19] the shared window µs: another network used a session at the
--          same time when less than this ago
-- ARGV[20] media µs of a request that tells none when the session keeps no
--          hint (Request.FallbackMedia), not stored
-- ARGV[21] the least µs a request that delivers media counts (MinMedia)
-- Returns
--   {-1, now}                                       past the deadline
--   {0, active, now, lapsed, shared, field1, rec1, ...}
--                                                   rejected, listing the active sessions
--   {1|2, active, now, wouldReject, evicted, hint, left1, left2, left3, shared}
--                                                   refreshed | started; left = bu - now
--   {3, active, now, reason}                        ended (a tombstone)
local key, sid = KEYS[1], ARGV[1]
local limit, ttl, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local nomedia, policy, track = ARGV[6] == '1', ARGV[7], tonumber(ARGV[8]) + 1
local d, bl, hint = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local deadline, keep = tonumber(ARGV[12]), tonumber(ARGV[13])
local net, bind, window = ARGV[17], ARGV[18] == '1', tonumber(ARGV[19])
-- Redis's clock, not the replicas': replicas whose clocks disagree still
-- agree on who is active.
local now = now_us()
if deadline > 0 and now > deadline then
  return {-1, now}
end

local msid = ' ' .. sid
local fields = redis.call('HGETALL', key)
local active, mark, dead, marks, latest, candidates = 0, nil, {}, {}, 0, {}
for i = 1, #fields, 2 do
  local f, rec = fields[i], fields[i + 1]
  if string.byte(f, 1) == 32 then
    local u, r = string.match(rec, '^(%d+);(%a)')
    u = tonumber(u)
    if now >= u then
      dead[#dead + 1] = f
    else
      marks[#marks + 1] = {f, u}
      if r ~= 'l' then latest = math.max(latest, u) end
      if f == msid then mark = r end
    end
  else
    local exp = expires_of(rec, ttl)
    local b = f
    if bind then b = base(f) end
    if now >= exp then
      dead[#dead + 1] = f
      if keep > 0 and now < exp + keep then
        -- Lapsed: a later rejection can say the session was playing before.
        redis.call('HSET', key, ' ' .. b, string.format('%d;l', exp + keep))
        marks[#marks + 1] = {' ' .. b, exp + keep}
        if b == sid then mark = 'l' end
      end
    else
      active = active + 1
      latest = math.max(latest, exp)
      if b == sid then candidates[#candidates + 1] = {f, rec} end
    end
  end
end
if #dead > 0 then
  redis.call('HDEL', key, unpack(dead))
end
cap(key, marks)

-- Which record is this request's: the session's, or under network binding
-- the one bound to this network, or one silent on its own network long
-- enough to move here. Busy elsewhere: the same id from a second network.
local field, mine, elsewhere = sid, nil, false
if bind and net ~= '' then field = sid .. '\t' .. net end
if not bind then
  if candidates[1] then mine = candidates[1][2] end
else
  local moved = nil
  for _, c in ipairs(candidates) do
    local s = parse(c[2], ttl)
    if s.bound == net or s.bound == '' or net == '' then
      field, mine, moved = c[1], c[2], nil
      break
    elseif now - s.seen >= window then
      moved = c
    else
      elsewhere = true
    end
  end
  if moved then
    redis.call('HDEL', key, moved[1])
    mine, elsewhere = moved[2], false
  end
end

if not mine and mark and mark ~= 'l' then
  return {3, active, now, mark}
end

local shared = 0
if elsewhere then
  -- Counted once per session id, on whichever record says it first.
  shared = 1
  for _, c in ipairs(candidates) do
    local s = parse(c[2], ttl)
    if s.shared == 1 then shared = 0 end
  end
  if shared == 1 then
    for _, c in ipairs(candidates) do
      local s = parse(c[2], ttl)
      s.shared = 1
      redis.call('HSET', key, c[1], encode(s))
    end
  end
end

local result, would, evicted, s = 1, 0, '', nil
if mine then
  s = parse(mine, ttl)
  if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
    -- A stop kept it for its media (redis_end.lua), shifted back by the
    -- TTL; it plays again: its media is what it was.
    for k = 1, 3 do
      if s.bu[k] > 0 then s.bu[k] = s.bu[k] + ttl end
    end
    redis.call('DEL', KEYS[2])
  end
  if bind and net ~= '' and s.bound ~= '' then s.bound = net end
else
  if active >= limit then
    if policy == 'shadow' then
      would = 1
    elseif policy == 'evict' then
      local oldest, seen = nil, nil
      for i = 1, #fields, 2 do
        local f = fields[i]
        if string.byte(f, 1) ~= 32 and now < expires_of(fields[i + 1], ttl) then
          local ls = parse(fields[i + 1], ttl).seen
          if not seen or ls < seen or (ls == seen and f < oldest) then oldest, seen = f, ls end
        end
      end
      redis.call('HDEL', key, oldest)
      evicted = base(oldest)
      if keep > 0 then
        redis.call('HSET', key, ' ' .. evicted, string.format('%d;r', now + keep))
        latest = math.max(latest, now + keep)
      end
      active = active - 1
    else
      -- Rejected: nothing is written, no session is refreshed.
      local out = {0, active, now, mark == 'l' and 1 or 0, shared}
      for i = 1, #fields, 2 do
        local f, rec = fields[i], fields[i + 1]
        if string.byte(f, 1) ~= 32 and now < expires_of(rec, ttl) then
          out[#out + 1] = f
          out[#out + 1] = rec
        end
      end
      return out
    end
  end
  if mark == 'l' then redis.call('HDEL', key, msid) end
  s = {exp = 0, seen = now, started = now, bu = {0, 0, 0}, hint = 0,
    n1 = '', s1 = 0, n2 = '', s2 = 0, nets = 0, shared = 0, bound = '', dev = ARGV[4]}
  if bind then s.bound, s.shared = net, elsewhere and 1 or 0 end
  result, active = 2, active + 1
end

if see_network(s, net, now, ttl, window) == 1 then shared = 1 end
for t = 1, 3 do
  local left = tonumber(ARGV[13 + t])
  if left > 0 then s.bu[t] = math.max(s.bu[t], now + left) end
end
-- Under the TTL-only rule (no lease longer than the TTL) media changes nothing.
if lease > ttl then
  if hint > 0 then s.hint = hint end
  if not nomedia and d <= 0 then d = s.hint end
  if not nomedia and d <= 0 then d = tonumber(ARGV[20]) end
  if d > 0 then d = math.max(d, tonumber(ARGV[21]) or 0) end
  if nomedia then d = 0 end
  if d > 0 or bl > 0 then
    s.bu[track] = math.max(s.bu[track], now + bl) + d
  end
end
s.seen = now
s.exp = expiry(s, ttl, lease)
redis.call('HSET', key, field, encode(s))
-- The key lives as long as its longest-lived session or tombstone: Redis
-- drops dead users itself.
redis.call('PEXPIRE', key, math.ceil((math.max(latest, s.exp) - now) / 1000))
return {result, active, now, would, evicted, s.hint, s.bu[1] - now, s.bu[2] - now, s.bu[3] - now, shared}
