-- Adds deltas to one hour's counters; each counter keeps its own expiry, the key lives as
-- long as its longest-lived counter, and the bucket index lists the hour.
-- KEYS[1] the hour's hash ("v:" .. name -> value, "x:" .. name -> expires),
-- KEYS[2] the bucket index (sorted set, member and score: the hour).
-- ARGV[1] the hour, ARGV[2] when the counters expire, ARGV[3] seconds until then on
-- Redis's clock, ARGV[4..] name, delta, name, delta...
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], 'v:' .. ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[1], 'x:' .. ARGV[i], ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local ttl = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  -- TTL is -1 for a key without expiry (new), so it gets one.
  if redis.call('TTL', key) < ttl then
    redis.call('EXPIRE', key, ttl)
  end
end
return 0
