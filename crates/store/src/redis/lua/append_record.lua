-- Appends one record to a stream and trims a bounded batch of expired ones.
-- KEYS[1] the stream by time (sorted set scored by the record's time),
-- KEYS[2] the stream by expiry (the same members scored by their expiry),
-- KEYS[3] the sequence counter that keeps records of the same second in append order,
-- KEYS[4] the set of stream names.
-- ARGV[1] the record's time, ARGV[2] its expiry, ARGV[3] seconds until then on Redis's
-- clock, ARGV[4] the member's tail (time and expiry as 16 hex digits each, then the
-- data), ARGV[5] now, ARGV[6] how many expired records to trim at most, ARGV[7] the
-- stream's name.
-- A member is the sequence number (16 hex digits) then the tail: members of the same
-- score sort by it, so reads return records in the order they were appended.
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5], 'LIMIT', 0, ARGV[6])
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
local ttl = tonumber(ARGV[3])
if ttl <= 0 then
  return #gone
end
local member = string.format('%016x', redis.call('INCR', KEYS[3])) .. ARGV[4]
redis.call('ZADD', KEYS[1], ARGV[1], member)
redis.call('ZADD', KEYS[2], ARGV[2], member)
redis.call('SADD', KEYS[4], ARGV[7])
for i = 1, 2 do
  if redis.call('TTL', KEYS[i]) < ttl then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return #gone
