--[[
  Counts one batch of a partition exactly once: an entry is counted only while it is pending with this
  consumer, and is acknowledged in the same script. So a redelivered entry (restart, reaper claim,
  second instance) is never counted twice, and an entry is never acknowledged without being counted,
  dead-lettered or routed to the late stream.
  Min, max, distinct devices and the partition's newest event time are idempotent (a redelivered
  reading cannot change them), so the caller computes them per hour; only sums and counts need the guard.

  KEYS[1] partition stream          KEYS[2] {partition}:agg   (hash: maxts)
  KEYS[3] {partition}:open          (zset of open hour starts)
  KEYS[4] averages stream           KEYS[5] late stream
  KEYS[6] dead-letter stream        KEYS[7] alerts stream
  KEYS[8..] {partition}:hour:<start>, one per hour of the batch

  ARGV[1] group   ARGV[2] consumer   ARGV[3] now ms   ARGV[4] alert threshold °F ('' = none)
  ARGV[5] newest event time among the batch's readings ('' = none)
  ARGV[6] number of entries E, then 4 values per entry:
    id, hour KEYS index, temp_f, humidity ('' = none)     a decoded reading
    id, 0, reason, original fields as JSON                 an undecodable entry (dead-lettered)
  then, for each hour key in KEYS order: min, max, device count D, D device names

  Returns { counted, already_acked, late, dead_lettered, {alert entry indexes (1-based)} }
]]
local partition, agg, open = KEYS[1], KEYS[2], KEYS[3]
local averages, late, dlq, alerts = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local threshold = tonumber(ARGV[4])
local batchMaxts = tonumber(ARGV[5])
local entries = tonumber(ARGV[6])

-- Hours at or before the last published one are closed for good: their readings are late.
local lastPublished = -1
local top = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)
if top[1] then lastPublished = tonumber(string.match(top[1][1], '^(%d+)')) end

local hours = {}
for k = 8, #KEYS do
  local start = tonumber(string.match(KEYS[k], '(%d+)$'))
  hours[k] = { start = start, late = start <= lastPublished, n = 0, sum = 0, hn = 0, hsum = 0 }
end

local function original(id)
  local entry = redis.call('XRANGE', partition, id, id)[1]
  local fields = {}
  if entry then
    for j = 1, #entry[2], 2 do fields[entry[2][j]] = entry[2][j + 1] end
  end
  return fields
end

-- Which entries are still pending with this consumer: one XPENDING over the batch's ID range instead
-- of one XACK per entry. An entry no longer pending here (acknowledged already, or claimed by another
-- consumer who will count it) is skipped. The loop's reads keep a batch's IDs contiguous in our PEL;
-- if the range holds more than the limit, fall back to one XACK per entry.
local minId, maxId, limit = ARGV[7], ARGV[7 + (entries - 1) * 4], entries * 2 + 100
local mine = nil
if entries > 0 then
  local rows = redis.call('XPENDING', partition, group, minId, maxId, limit, consumer)
  if #rows < limit then
    mine = {}
    for _, row in ipairs(rows) do mine[row[1]] = true end
  end
end
local toAck = {}
local function claimFor(id)
  if mine then
    if mine[id] then
      toAck[#toAck + 1] = id
      return true
    end
    return false
  end
  return redis.call('XACK', partition, group, id) == 1
end

local counted, duplicates, lateCount, dead = 0, 0, 0, 0
local alertIndexes = {}
local pos = 7
for i = 1, entries do
  local id, k = ARGV[pos], tonumber(ARGV[pos + 1])
  local a, b = ARGV[pos + 2], ARGV[pos + 3]
  pos = pos + 4
  if k == 0 then
    -- Read delivery facts before the ack removes the PEL entry.
    local p = redis.call('XPENDING', partition, group, id, id, 1)
    if claimFor(id) then
      local owner, deliveries, idle = consumer, 1, 0
      if p[1] then owner, idle, deliveries = p[1][2], p[1][3], p[1][4] end
      redis.call('XADD', dlq, '*', 'stream', partition, 'id', id, 'group', group, 'consumer', owner,
        'deliveries', deliveries, 'idle_ms', idle, 'reason', a, 'fields', b, 'dead_at', now)
      dead = dead + 1
    else
      duplicates = duplicates + 1
    end
  elseif not claimFor(id) then
    duplicates = duplicates + 1
  else
    local h = hours[k]
    local temp = tonumber(a)
    if h.late then
      redis.call('XADD', late, '*', 'stream', partition, 'id', id,
        'reason', 'hour ' .. h.start .. ' was already published', 'fields', cjson.encode(original(id)))
      lateCount = lateCount + 1
    else
      h.n = h.n + 1
      h.sum = h.sum + temp
      if b ~= '' then
        h.hn = h.hn + 1
        h.hsum = h.hsum + tonumber(b)
      end
      counted = counted + 1
    end
    if threshold and temp > threshold then
      local f = original(id)
      redis.call('XADD', alerts, '*', 'device', f['device'] or 'default', 'temp_f', a,
        'ts', f['ts'] or string.match(id, '^(%d+)'), 'stream', partition, 'id', id)
      alertIndexes[#alertIndexes + 1] = i
    end
  end
end
for i = 1, #toAck, 1000 do
  redis.call('XACK', partition, group, unpack(toAck, i, math.min(i + 999, #toAck)))
end

-- Companion state lives as long as its partition, so nothing is left behind when a day expires.
local ttl = redis.call('PTTL', partition)
for k = 8, #KEYS do
  local h, key = hours[k], KEYS[k]
  local min, max, deviceCount = tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2])
  local firstDevice = pos + 3
  pos = firstDevice + deviceCount
  if h.n > 0 then
    redis.call('HINCRBY', key, 'n', h.n)
    redis.call('HINCRBYFLOAT', key, 'sum', h.sum)
    if h.hn > 0 then
      redis.call('HINCRBY', key, 'hn', h.hn)
      redis.call('HINCRBYFLOAT', key, 'hsum', h.hsum)
    end
    local bounds = redis.call('HMGET', key, 'min', 'max')
    if not bounds[1] or min < tonumber(bounds[1]) then redis.call('HSET', key, 'min', ARGV[pos - deviceCount - 3]) end
    if not bounds[2] or max > tonumber(bounds[2]) then redis.call('HSET', key, 'max', ARGV[pos - deviceCount - 2]) end
    local newDevices = 0
    for d = firstDevice, pos - 1 do newDevices = newDevices + redis.call('HSETNX', key, 'd:' .. ARGV[d], 1) end
    if newDevices > 0 then redis.call('HINCRBY', key, 'devices', newDevices) end
    redis.call('ZADD', open, h.start, h.start)
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end

if counted > 0 then
  if ttl > 0 then redis.call('PEXPIRE', open, ttl) end
  local old = tonumber(redis.call('HGET', agg, 'maxts'))
  if batchMaxts and (not old or batchMaxts > old) then redis.call('HSET', agg, 'maxts', batchMaxts) end
  if ttl > 0 then redis.call('PEXPIRE', agg, ttl) end
end

return { counted, duplicates, lateCount, dead, alertIndexes }
