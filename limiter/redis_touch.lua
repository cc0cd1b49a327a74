-- Renews sessions a replica answers from its refresh cache, ahead of their
-- entries going stale there, bringing to Redis the heartbeats the replica
-- answered meanwhile: an active session only ever gets longer. One run
-- renews several sessions, so that a batch costs Redis one script call per
-- few sessions instead of one per session.
-- KEYS[i] the hash of session i's user (all in one cluster slot).
-- ARGV[1] TTL µs; ARGV[2] max lease µs; ARGV[3] deadline in Redis µs,
-- 0 = none: past it, nothing is written. Then six per session, from
-- ARGV[4 + 6(i-1)]: its id; µs since its last heartbeat; µs buffered per
-- track after that heartbeat (three, 0 = none), so that a touch sent once
-- the media has run out still says how long it ran; its segment hint µs
-- (0 = none).
-- Returns
--   {-1, now}                past the deadline: nothing is written
--   {1, now, r1, a1, ...}    per session: r 1 it was active and is renewed,
--                            a the user's active sessions as an admission
--                            counts them; r 0 it was not (ended, replaced,
--                            expired) and nothing is written for it, a 0;
--                            r -2 its renewal failed (a record or key it
--                            cannot read), which fails no other session
local ttl, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local deadline = tonumber(ARGV[3])
local now = now_us()
if deadline > 0 and now > deadline then return {-1, now} end

-- A touch moves only a record's times, so it reads those and keeps the
-- rest of the record as it is: parsing and encoding the whole record took a
-- third of Redis's CPU per session renewed. A record of the previous format
-- is parsed whole, and written in the current one.
local head = times .. '()'

local function touch(key, a)
  local rec = redis.call('HGET', key, ARGV[a])
  if not rec then return 0, 0 end
  local s
  local e, ls, st, b1, b2, b3, h, tail = string.match(rec, head)
  if e then
    s = {exp = tonumber(e), seen = tonumber(ls), bu = {tonumber(b1), tonumber(b2), tonumber(b3)}, hint = tonumber(h)}
  else
    s = parse(rec, ttl)
  end
  if now >= s.exp then return 0, 0 end
  local seen = now - tonumber(ARGV[a + 1])
  s.seen = math.max(s.seen, seen)
  -- Under the TTL-only rule (no lease longer than the TTL) media changes nothing.
  if lease > ttl then
    for t = 1, 3 do
      local left = tonumber(ARGV[a + 1 + t])
      if left > 0 then s.bu[t] = math.max(s.bu[t], seen + left) end
    end
    if tonumber(ARGV[a + 5]) > 0 then s.hint = tonumber(ARGV[a + 5]) end
  end
  s.exp = expiry(s, ttl, lease)
  if e then
    -- encode's first seven fields, the start kept as it was read.
    rec = string.format('%d;%d;%s;%d;%d;%d;%d;', s.exp, s.seen, st, s.bu[1], s.bu[2], s.bu[3], s.hint) ..
      string.sub(rec, tail)
  else
    rec = encode(s)
  end
  redis.call('HSET', key, ARGV[a], rec)
  extend(key, s.exp, now)
  -- Most users watch on one device: a hash of one field holds this session
  -- alone, and reading it whole to count cost a tenth of the script's time.
  if redis.call('HLEN', key) == 1 then return 1, 1 end
  local active = 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.byte(fields[i], 1) ~= 32 and now < expires_of(fields[i + 1], ttl) then
      active = active + 1
    end
  end
  return 1, active
end

local out = {1, now}
for i = 1, #KEYS do
  local ok, renewed, active = pcall(touch, KEYS[i], 4 + 6 * (i - 1))
  if not ok then renewed, active = -2, 0 end
  out[#out + 1] = renewed
  out[#out + 1] = active
end
return out
