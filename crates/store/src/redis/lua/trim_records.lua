-- Removes the oldest records of a stream past its newest ARGV[1], at most ARGV[2] of them.
-- KEYS[1] the stream by time, KEYS[2] the stream by expiry (see append_record.lua).
-- Members of the same second sort by their sequence number, so the oldest go first.
-- Removed in slices of 1000 members: unpack() is bounded by Lua's stack.
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if extra <= 0 then
  return 0
end
if extra > tonumber(ARGV[2]) then
  extra = tonumber(ARGV[2])
end
local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
for first = 1, #old, 1000 do
  local last = math.min(first + 999, #old)
  redis.call('ZREM', KEYS[1], unpack(old, first, last))
  redis.call('ZREM', KEYS[2], unpack(old, first, last))
end
return #old
