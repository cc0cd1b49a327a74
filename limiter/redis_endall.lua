-- Ends every session of a user. KEYS[1] the user's hash; ARGV[1] TTL in
-- microseconds. Returns how many sessions were active.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[1])
local recs = redis.call('HVALS', KEYS[1])
local active = 0
for _, rec in ipairs(recs) do
  if now - tonumber(string.match(rec, '^%d+')) < ttl then
    active = active + 1
  end
end
redis.call('DEL', KEYS[1])
return active
