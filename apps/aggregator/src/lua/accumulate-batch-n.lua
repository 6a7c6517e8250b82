--[[
  Counts one batch of a partition exactly once: each entry's XACK result guards everything done with it,
  so a redelivered entry (restart, reaper claim, second instance) is never counted twice, and an entry
  is never acknowledged without being counted, dead-lettered or routed to the late stream.

  KEYS[1] partition stream          KEYS[2] {partition}:agg   (hash: maxts)
  KEYS[3] {partition}:open          (zset of open hour starts)
  KEYS[4] averages stream           KEYS[5] late stream
  KEYS[6] dead-letter stream        KEYS[7] alerts stream
  KEYS[8..] {partition}:hour:<start> for each hour named in ARGV, in order of first appearance

  ARGV[1] group   ARGV[2] consumer   ARGV[3] now ms   ARGV[4] alert threshold °F ('' = none)
  ARGV[5] number of entries, then per entry 7 values:
    'r', id, hourKeyIndex (into KEYS), device, ts, temp_f, humidity ('' = none)   a decoded reading
    'x', id, reason, fields JSON, '', '', ''                                      an undecodable entry

  Returns { counted, already_acked, late, dead_lettered, {alert entry indexes (1-based)} }
]]
local partition, agg, open = KEYS[1], KEYS[2], KEYS[3]
local averages, late, dlq, alerts = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local threshold = tonumber(ARGV[4])
local n = tonumber(ARGV[5])

-- Hours at or before the last published one are closed for good: their readings are late.
local lastPublished = -1
local top = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)
if top[1] then lastPublished = tonumber(string.match(top[1][1], '^(%d+)')) end

local counted, duplicates, lateCount, dead = 0, 0, 0, 0
local alertIndexes = {}
local hours = {}   -- keyIndex -> stats table
local maxts = nil

for i = 0, n - 1 do
  local base = 6 + i * 7
  local kind, id = ARGV[base], ARGV[base + 1]
  if kind == 'x' then
    -- Read delivery facts before the ack removes the PEL entry.
    local p = redis.call('XPENDING', partition, group, id, id, 1)
    local acked = redis.call('XACK', partition, group, id)
    if acked == 1 then
      local owner, deliveries, idle = consumer, 1, 0
      if p[1] then owner, idle, deliveries = p[1][2], p[1][3], p[1][4] end
      redis.call('XADD', dlq, '*', 'stream', partition, 'id', id, 'group', group, 'consumer', owner,
        'deliveries', deliveries, 'idle_ms', idle, 'reason', ARGV[base + 2], 'fields', ARGV[base + 3],
        'dead_at', now)
      dead = dead + 1
    else
      duplicates = duplicates + 1
    end
  else
    local acked = redis.call('XACK', partition, group, id)
    if acked == 0 then
      duplicates = duplicates + 1
    else
      local keyIndex = tonumber(ARGV[base + 2])
      local hourStart = tonumber(string.match(KEYS[keyIndex], '(%d+)$'))
      local device, ts, tempRaw, humRaw = ARGV[base + 3], ARGV[base + 4], ARGV[base + 5], ARGV[base + 6]
      local temp = tonumber(tempRaw)
      if hourStart <= lastPublished then
        local fields = cjson.encode({ device = device, ts = ts, temp_f = tempRaw, humidity = humRaw ~= '' and humRaw or nil })
        redis.call('XADD', late, '*', 'stream', partition, 'id', id,
          'reason', 'hour ' .. hourStart .. ' was already published', 'fields', fields)
        lateCount = lateCount + 1
      else
        local h = hours[keyIndex]
        if not h then
          h = { start = hourStart, n = 0, sum = 0, min = temp, max = temp, hn = 0, hsum = 0, devices = {} }
          hours[keyIndex] = h
        end
        h.n = h.n + 1
        h.sum = h.sum + temp
        if temp < h.min then h.min = temp end
        if temp > h.max then h.max = temp end
        if humRaw ~= '' then
          h.hn = h.hn + 1
          h.hsum = h.hsum + tonumber(humRaw)
        end
        h.devices[device] = true
        local t = tonumber(ts)
        if not maxts or t > maxts then maxts = t end
        counted = counted + 1
      end
      if threshold and temp > threshold then
        redis.call('XADD', alerts, '*', 'device', device, 'temp_f', tempRaw, 'ts', ts, 'stream', partition, 'id', id)
        alertIndexes[#alertIndexes + 1] = i + 1
      end
    end
  end
end

for keyIndex, h in pairs(hours) do
  local key = KEYS[keyIndex]
  redis.call('HINCRBY', key, 'n', h.n)
  redis.call('HINCRBYFLOAT', key, 'sum', h.sum)
  local bounds = redis.call('HMGET', key, 'min', 'max')
  local min, max = bounds[1], bounds[2]
  if not min or h.min < tonumber(min) then redis.call('HSET', key, 'min', h.min) end
  if not max or h.max > tonumber(max) then redis.call('HSET', key, 'max', h.max) end
  if h.hn > 0 then
    redis.call('HINCRBY', key, 'hn', h.hn)
    redis.call('HINCRBYFLOAT', key, 'hsum', h.hsum)
  end
  local newDevices = 0
  for device in pairs(h.devices) do
    newDevices = newDevices + redis.call('HSETNX', key, 'd:' .. device, 1)
  end
  if newDevices > 0 then redis.call('HINCRBY', key, 'devices', newDevices) end
  redis.call('ZADD', open, h.start, h.start)
end

-- Companion state lives as long as its partition, so nothing is left behind when a day expires.
local ttl = redis.call('PTTL', partition)
if ttl > 0 then
  redis.call('PEXPIRE', open, ttl)
  for keyIndex in pairs(hours) do redis.call('PEXPIRE', KEYS[keyIndex], ttl) end
end

if maxts then
  local old = tonumber(redis.call('HGET', agg, 'maxts'))
  if not old or maxts > old then redis.call('HSET', agg, 'maxts', maxts) end
  if ttl > 0 then redis.call('PEXPIRE', agg, ttl) end
end

return { counted, duplicates, lateCount, dead, alertIndexes }
