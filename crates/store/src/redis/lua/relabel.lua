-- Gives a digest a label and moves the token counters and totals with it, atomically.
-- KEYS[1] labels hash (digest -> "spam"|"ham"), KEYS[2] tokens hash (8-byte key ->
-- "spam:ham"), KEYS[3] totals hash (spam, ham).
-- ARGV[1] digest, ARGV[2] the new label ("spam", "ham", or "" to remove it),
-- ARGV[3..] the distinct token keys.
-- Returns the old label, "" for none.
local labels, tokens, totals = KEYS[1], KEYS[2], KEYS[3]
local digest, new = ARGV[1], ARGV[2]
local old = redis.call('HGET', labels, digest) or ''
if old == new then
  return old
end

local dspam, dham = 0, 0
if old == 'spam' then dspam = dspam - 1 elseif old == 'ham' then dham = dham - 1 end
if new == 'spam' then dspam = dspam + 1 elseif new == 'ham' then dham = dham + 1 end

-- Counters never go below zero, as in every backend.
local function shifted(count, delta)
  local n = count + delta
  if n < 0 then return 0 end
  return n
end

for class, delta in pairs({ spam = dspam, ham = dham }) do
  if delta ~= 0 then
    local total = tonumber(redis.call('HGET', totals, class) or '0')
    redis.call('HSET', totals, class, string.format('%d', shifted(total, delta)))
  end
end

-- Batches keep unpack() well inside Lua's stack limit.
local BATCH = 1000
for start = 3, #ARGV, BATCH do
  local stop = math.min(start + BATCH - 1, #ARGV)
  local keys = {}
  for i = start, stop do
    keys[#keys + 1] = ARGV[i]
  end
  local values = redis.call('HMGET', tokens, unpack(keys))
  local set, del = {}, {}
  for i, key in ipairs(keys) do
    local spam, ham = 0, 0
    if values[i] then
      local s, h = string.match(values[i], '^(%d+):(%d+)$')
      if not s then
        return redis.error_reply('kanmon: token counter is not "spam:ham"')
      end
      spam, ham = tonumber(s), tonumber(h)
    end
    spam, ham = shifted(spam, dspam), shifted(ham, dham)
    if spam == 0 and ham == 0 then
      del[#del + 1] = key
    else
      set[#set + 1] = key
      set[#set + 1] = string.format('%d:%d', spam, ham)
    end
  end
  if #set > 0 then redis.call('HSET', tokens, unpack(set)) end
  if #del > 0 then redis.call('HDEL', tokens, unpack(del)) end
end

if new == '' then
  redis.call('HDEL', labels, digest)
else
  redis.call('HSET', labels, digest, new)
end
return old
