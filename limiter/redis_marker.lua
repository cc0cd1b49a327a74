-- The generation marker of this Redis: set once, without TTL, by the first
-- replica to ask; it vanishes only when Redis loses its data.
-- KEYS[1]  the marker key
-- ARGV[1]  a fresh random value, set when there is none
-- Returns the marker's value.
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
