#!lua
--[[
  Ends a partition's part in an hour after publish-hour-2.lua answered: marks the totals the published
  entry holds as settled, or sends totals it does not hold to the late stream (through the outbox) with
  the reason, so nothing is lost and nothing counted twice. Idempotent.

  Settled totals stay (without their per-device fields) as long as the hour's other state: should the
  averages stream lose the publication (a failover to a replica that lacked it, without
  --wait-replicas), the hour closer finds settled hours newer than the stream's newest entry and
  publishes them again from these totals, exactly.

  KEYS[1] {partition}:open   KEYS[2] {partition}:hour:<start>   KEYS[3] {partition}:outbox
  KEYS[4] {partition}:settled (sorted set of settled hours)

  ARGV[1] hour start ms   ARGV[2] '' = settle, else the reason the totals are late   ARGV[3] partition
  ARGV[4] the late stream's key (the outbox entry's destination)

  Returns the number of readings sent to the late stream.
]]
local open, hourKey, outbox, settled = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local hourStart, reason = ARGV[1], ARGV[2]
local late = 0
local stats = redis.call('HGETALL', hourKey)
if reason ~= '' then
  local totals = {}
  for j = 1, #stats, 2 do
    if string.sub(stats[j], 1, 2) ~= 'd:' and stats[j] ~= 'settled' then totals[stats[j]] = stats[j + 1] end
  end
  late = tonumber(totals['n'] or '0')
  if late > 0 then
    redis.call('XADD', outbox, '*', 'to', ARGV[4], 'stream', ARGV[3], 'id', hourStart .. '-0',
      'reason', reason, 'fields', cjson.encode(totals))
    -- The outbox lives as long as the hour's totals did (its partition's expiry).
    local ttl = redis.call('PTTL', hourKey)
    if ttl > 0 then redis.call('PEXPIRE', outbox, ttl) end
  end
  redis.call('DEL', hourKey)
elseif #stats > 0 then
  local devices = {}
  for j = 1, #stats, 2 do
    if string.sub(stats[j], 1, 2) == 'd:' then devices[#devices + 1] = stats[j] end
  end
  for i = 1, #devices, 1000 do
    redis.call('HDEL', hourKey, unpack(devices, i, math.min(i + 999, #devices)))
  end
  redis.call('HSET', hourKey, 'settled', '1')
  redis.call('ZADD', settled, hourStart, hourStart)
  local ttl = redis.call('PTTL', hourKey)
  if ttl > 0 and redis.call('PTTL', settled) < ttl then redis.call('PEXPIRE', settled, ttl) end
end
redis.call('ZREM', open, hourStart)
return late
