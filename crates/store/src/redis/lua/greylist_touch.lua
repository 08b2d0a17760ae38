-- Records a greylist sighting atomically, so concurrent sightings (from any MX host) each
-- see their own count.
-- KEYS[1] the entry (hash: first, last, count, expires).
-- ARGV[1] now, ARGV[2] when the entry expires after this sighting, ARGV[3] seconds until
-- then on Redis's clock (0: already expired, keep nothing).
-- Returns {first, last, count}.
local now = ARGV[1]
local entry = redis.call('HMGET', KEYS[1], 'first', 'count', 'expires')
local first, count = now, 1
-- The stored expiry counts too: the store's clock decides, as in every backend.
if entry[1] and entry[3] and tonumber(entry[3]) > tonumber(now) then
  first = entry[1]
  count = tonumber(entry[2]) + 1
end
count = string.format('%d', count)
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('HSET', KEYS[1], 'first', first, 'last', now, 'count', count, 'expires', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ttl)
else
  redis.call('DEL', KEYS[1])
end
return { first, now, count }
