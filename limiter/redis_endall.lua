-- Ends every session of a user. KEYS[1] the user's hash; ARGV[1] TTL µs;
-- ARGV[2] tombstone reason (o) or '' for none; ARGV[3] tombstone TTL µs.
-- Returns how many sessions were active. Earlier tombstones stay.
local key, ttl = KEYS[1], tonumber(ARGV[1])
local reason, keep = ARGV[2], tonumber(ARGV[3])
local now = now_us()
local fields = redis.call('HGETALL', key)
local active, gone, marks = 0, {}, {}
for i = 1, #fields, 2 do
  local f, rec = fields[i], fields[i + 1]
  if string.byte(f, 1) == 32 then
    local u = tonumber(string.match(rec, '^%d+'))
    if now < u then marks[#marks + 1] = {f, u} else gone[#gone + 1] = f end
  else
    gone[#gone + 1] = f
    if now < expires_of(rec, ttl) then
      active = active + 1
      if reason ~= '' and keep > 0 then
        redis.call('HSET', key, ' ' .. base(f), string.format('%d;%s', now + keep, reason))
        marks[#marks + 1] = {' ' .. base(f), now + keep}
      end
    end
  end
end
if #gone > 0 then
  redis.call('HDEL', key, unpack(gone))
end
if #marks == 0 then
  redis.call('DEL', key)
  return active
end
cap(key, marks)
if active > 0 and reason ~= '' and keep > 0 then
  extend(key, now + keep, now)
end
return active
