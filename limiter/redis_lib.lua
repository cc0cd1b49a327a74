-- Shared by every script: the Go side puts it in front of each one.
--
-- A user's hash holds two kinds of fields, times in µs of Redis's clock:
--   <session id>[\t<network>]
--                 "<expires>;<lastSeen>;<startedAt>;<bu1>;<bu2>;<bu3>;<hint>;
--                  <net1>;<seen1>;<net2>;<seen2>;<networks>;<shared>;<bound>;<device>"
--                 bu1..bu3 are bufferedUntil per track (main, video, audio),
--                 hint the segment duration, net1/net2 the last two client
--                 networks (hex) and when they used it, networks how many
--                 did, shared 1 once two did at once, bound the network the
--                 session is bound to under network binding (which then also
--                 names it after a tab). Records of the previous format,
--                 "<lastSeen>:<startedAt>:<device>", expire at lastSeen + TTL.
--   " <session id>"  a mark, "<until>;<reason>": o ended by the operator,
--                 r replaced, l lapsed. Ids are visible ASCII, so no id
--                 starts with a space.

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- expires_of reads a record's expiry with one match: the loops call it on
-- every field.
local function expires_of(rec, ttl)
  local n, sep = string.match(rec, '^(%d+)([;:])')
  if sep == ';' then return tonumber(n) end
  return tonumber(n) + ttl
end

-- times matches a record's first seven fields, its times: all that a
-- renewal moves (redis_touch.lua).
local times = '^(%d+);(%d+);(%d+);(%d+);(%d+);(%d+);(%d+);'
local record = times .. '(%x*);(%d+);(%x*);(%d+);(%d+);(%d);(%x*);(.*)$'

local function parse(rec, ttl)
  local e, ls, st, b1, b2, b3, h, n1, s1, n2, s2, nn, sh, bound, dev = string.match(rec, record)
  if e then
    return {exp = tonumber(e), seen = tonumber(ls), started = tonumber(st),
      bu = {tonumber(b1), tonumber(b2), tonumber(b3)}, hint = tonumber(h),
      n1 = n1, s1 = tonumber(s1), n2 = n2, s2 = tonumber(s2), nets = tonumber(nn), shared = tonumber(sh),
      bound = bound, dev = dev}
  end
  local ls2, st2, dev2 = string.match(rec, '^(%d+):(%d+):(.*)$')
  return {exp = tonumber(ls2) + ttl, seen = tonumber(ls2), started = tonumber(st2),
    bu = {0, 0, 0}, hint = 0, n1 = '', s1 = 0, n2 = '', s2 = 0, nets = 0, shared = 0, bound = '', dev = dev2}
end

local function encode(s)
  return string.format('%d;%d;%d;%d;%d;%d;%d;%s;%d;%s;%d;%d;%d;%s;', s.exp, s.seen, s.started,
    s.bu[1], s.bu[2], s.bu[3], s.hint, s.n1, s.s1, s.n2, s.s2, s.nets, s.shared, s.bound) .. s.dev
end

-- see_network notes that network n (hex, '' unknown) used s and returns 1
-- when that made the session shared for the first time.
local function see_network(s, n, now, ttl, window)
  if n == '' then return 0 end
  if s.n1 == n then s.s1 = now return 0 end
  if s.n2 == n then s.s2 = now return 0 end
  local concurrent, live = false, false
  if s.n1 ~= '' then
    concurrent = concurrent or now - s.s1 < window
    live = live or now - s.s1 < ttl
  end
  if s.n2 ~= '' then
    concurrent = concurrent or now - s.s2 < window
    live = live or now - s.s2 < ttl
  end
  if s.s1 <= s.s2 then s.n1, s.s1 = n, now else s.n2, s.s2 = n, now end
  if live then s.nets = math.min(s.nets + 1, 255) else s.nets = 1 end
  if concurrent and s.shared == 0 then
    s.shared = 1
    return 1
  end
  return 0
end

-- base is the session id a field names: a bound session's field adds a tab
-- and its network.
local function base(f)
  return string.match(f, '^[^\t]*')
end

-- expiry: max(lastSeen, bufferedUntil) + TTL, never past lastSeen + lease,
-- never before lastSeen + TTL.
local function expiry(s, ttl, lease)
  local e = s.seen + ttl
  local b = math.max(s.bu[1], s.bu[2], s.bu[3])
  if lease > ttl and b > s.seen then
    e = math.max(e, math.min(b + ttl, s.seen + lease))
  end
  return e
end

-- extend makes the key live at least until the given time.
local function extend(key, untilus, now)
  local want = math.ceil((untilus - now) / 1000)
  if want > 0 and redis.call('PTTL', key) < want then
    redis.call('PEXPIRE', key, want)
  end
end

-- cap keeps the 32 marks that expire last; marks is a list of {field, until}.
local function cap(key, marks)
  if #marks <= 32 then return end
  table.sort(marks, function(a, b) return a[2] > b[2] end)
  local drop = {}
  for i = 33, #marks do drop[#drop + 1] = marks[i][1] end
  redis.call('HDEL', key, unpack(drop))
end

