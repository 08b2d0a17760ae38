-- Removes the records of a stream stamped before a time, oldest first, at most ARGV[3].
-- KEYS[1] the stream by time, KEYS[2] the stream by expiry (see append_record.lua).
-- ARGV[1] the time (a score), ARGV[2] the same as 16 hex digits, ARGV[3] the limit.
-- Scores are doubles: a score below the time's is a record before it, but past 2^53 a
-- record just before the time can share its score, so of the members with that score the
-- time in the member (hex digits 17 to 32, fixed width, so text order is number order)
-- decides. Removed in slices of 1000 members: unpack() is bounded by Lua's stack.
local limit = tonumber(ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, limit)
if #old < limit then
  local same = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
  for _, member in ipairs(same) do
    if #old >= limit then
      break
    end
    if string.sub(member, 17, 32) < ARGV[2] then
      old[#old + 1] = member
    end
  end
end
for first = 1, #old, 1000 do
  local last = math.min(first + 999, #old)
  redis.call('ZREM', KEYS[1], unpack(old, first, last))
  redis.call('ZREM', KEYS[2], unpack(old, first, last))
end
return #old
