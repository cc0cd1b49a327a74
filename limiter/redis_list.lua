-- Lists a user's sessions with Redis's clock. KEYS[1] the user's hash.
-- Returns {now µs, id1, record1, id2, record2, ...}; the caller drops expired
-- records, so this script writes nothing.
local t = redis.call('TIME')
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
return out
