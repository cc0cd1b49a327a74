-- Ends one session. KEYS[1] the user's hash; KEYS[2] the user's free-stop
-- key; KEYS[3] the session's held key, set while a stop keeps it for its
-- media, so that a further stop changes nothing. ARGV[1] session id; ARGV[2]
-- TTL µs; ARGV[3] tombstone reason (o, r) or '' for none; ARGV[4]
-- tombstone TTL µs; ARGV[5] '1' for a player's stop (the memory store's
-- memory_stop.go: three free stops per TTL, counted in KEYS[2]; past them a
-- session that holds media stays active until that media runs out);
-- ARGV[6] max lease µs; ARGV[7..9] per track, the end in Redis's time (µs,
-- 0 for none) of the media that the replica's refresh cache knew of and
-- Redis may not yet. Returns 1 when the
-- session was active, 2 when it was and a stop keeps it for its media, else
-- 0. An expired record is removed too, but is not
-- reported as ended and leaves no tombstone. Under network binding one id
-- may have a record per network: all of them end.
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
local stop, lease = ARGV[5] == '1', tonumber(ARGV[6])
-- carried folds in the media the replica's cache knew of.
local function carried(s)
  for k = 1, 3 do
    local at = tonumber(ARGV[6 + k]) or 0
    if at > 0 then s.bu[k] = math.max(s.bu[k], at) end
  end
  return s
end
-- g[3] is the record, parsed with the cache's media, of each active
-- session a stop may keep.
local media = false
for _, g in ipairs(gone) do
  if now < expires_of(g[2], ttl) then
    active = 1
    if stop and lease > ttl then
      g[3] = carried(parse(g[2], ttl))
      if math.max(g[3].bu[1], g[3].bu[2], g[3].bu[3]) > now then media = true end
    end
  end
end
if stop and redis.call('EXISTS', KEYS[3]) == 1 then
  return active * 2 -- stopped already and kept for its media: as it was
end
local hold = false
if media then
  local n = redis.call('INCR', KEYS[2])
  if n == 1 then redis.call('PEXPIRE', KEYS[2], math.max(math.floor(ttl / 1000), 1)) end
  hold = n > 3 -- freeStopsPerTTL
end
local heldUntil = 0
for _, g in ipairs(gone) do
  local kept = false
  local s = g[3]
  if hold and s then
    local b = math.max(s.bu[1], s.bu[2], s.bu[3])
    if b > now then
      heldUntil = math.max(heldUntil, b)
      s.seen = math.min(s.seen, b - ttl)
      for k = 1, 3 do
        if s.bu[k] > 0 then s.bu[k] = s.bu[k] - ttl end
      end
      s.exp = expiry(s, ttl, lease)
      redis.call('HSET', key, g[1], encode(s))
      kept = true
    end
  end
  if not kept then redis.call('HDEL', key, g[1]) end
end
if heldUntil > 0 then
  redis.call('SET', KEYS[3], '1', 'PX', math.max(math.ceil((heldUntil - now) / 1000), 1))
end
local keep = tonumber(ARGV[4])
if active == 1 and ARGV[3] ~= '' and keep > 0 then
  redis.call('HSET', key, ' ' .. sid, string.format('%d;%s', now + keep, ARGV[3]))
  extend(key, now + keep, now)
end
if heldUntil > 0 then
  return 2
end
return active
