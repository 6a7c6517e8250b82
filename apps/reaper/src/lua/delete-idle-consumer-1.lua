#!lua
--[[
  Deletes a consumer only if, at this moment, it has no pending entries and has been idle longer than
  the TTL. Checking and deleting in one script leaves no gap in which the consumer could receive an
  entry (XREADGROUP, XCLAIM) that XGROUP DELCONSUMER would then drop from the PEL.

  KEYS[1] the stream
  ARGV[1] group   ARGV[2] consumer   ARGV[3] TTL ms (idle must exceed it)

  Returns 1 when deleted, 0 when the consumer is gone, busy (pending > 0) or not idle long enough.
]]
local stream, group, consumer, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
for _, row in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if info['name'] == consumer then
    if tonumber(info['pending']) == 0 and tonumber(info['idle']) > ttl then
      redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
      return 1
    end
    return 0
  end
end
return 0
