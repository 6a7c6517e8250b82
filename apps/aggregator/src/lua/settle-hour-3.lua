#!lua
--[[
  Ends a partition's part in an hour after publish-hour-2.lua answered: drops the totals the published
  entry holds, or sends totals it does not hold to the late stream (through the outbox) with the
  reason, so nothing is lost and nothing counted twice. Idempotent: the second call finds no totals.

  KEYS[1] {partition}:open   KEYS[2] {partition}:hour:<start>   KEYS[3] {partition}:outbox

  ARGV[1] hour start ms   ARGV[2] '' = drop, else the reason the totals are late   ARGV[3] partition
  ARGV[4] the late stream's key (the outbox entry's destination)

  Returns the number of readings sent to the late stream.
]]
local open, hourKey, outbox = KEYS[1], KEYS[2], KEYS[3]
local hourStart, reason = ARGV[1], ARGV[2]
local late = 0
if reason ~= '' then
  local stats = redis.call('HGETALL', hourKey)
  local totals = {}
  for j = 1, #stats, 2 do
    if string.sub(stats[j], 1, 2) ~= 'd:' then totals[stats[j]] = stats[j + 1] end
  end
  late = tonumber(totals['n'] or '0')
  if late > 0 then
    redis.call('XADD', outbox, '*', 'to', ARGV[4], 'stream', ARGV[3], 'id', hourStart .. '-0',
      'reason', reason, 'fields', cjson.encode(totals))
    -- The outbox lives as long as the hour's totals did (its partition's expiry).
    local ttl = redis.call('PTTL', hourKey)
    if ttl > 0 then redis.call('PEXPIRE', outbox, ttl) end
  end
end
redis.call('ZREM', open, hourStart)
redis.call('DEL', hourKey)
return late
