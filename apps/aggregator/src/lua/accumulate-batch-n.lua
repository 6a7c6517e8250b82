#!lua
--[==[
  Counts one batch of a partition exactly once. Each entry is acknowledged here, and counts only when
  XACK returned 1: a redelivered entry (restart, reaper claim, second instance) is never counted twice,
  and no entry is acknowledged without being counted, dead-lettered or routed to the late stream.
  The caller sends each hour's figures precomputed; they apply as they are when every entry of the
  hour was acknowledged now (the usual case), and are recomputed from the per-entry values otherwise.
  Every key is in the partition's cluster slot: late readings, dead letters and alerts go to the
  partition's outbox, from which forwardOutbox (@pipe/streams) moves them to their streams exactly once.

  KEYS[1] partition stream          KEYS[2] {partition}:agg   (hash: maxts, sealed, group)
  KEYS[3] {partition}:open          (zset of open hour starts)
  KEYS[4] {partition}:outbox        (stream; first field `to` = the destination stream's key)
  KEYS[5..] {partition}:hour:<start>, one per hour of the batch

  ARGV[1] group   ARGV[2] consumer   ARGV[3] now ms
  ARGV[4] newest event time among the batch's readings ('' = none)
  ARGV[5] entries as JSON: { "i": [id, ...], "k": [hour KEYS index or 0 for undecodable, ...],
          "x": [[entry index, reason, original fields JSON], ...], "a": [entry index above the alert threshold, ...] }
  ARGV[6] hours as JSON, in KEYS order: [[n, sum, humidity n, humidity sum, "min", "max", [device, ...]], ...]
  ARGV[7] per-entry values as JSON, read only when an hour had entries acknowledged before:
          { "t": ["temp_f", ...], "h": [humidity or false, ...], "d": [device, ...] }
  ARGV[8] late stream key   ARGV[9] dead-letter stream key   ARGV[10] alerts stream key
  ARGV[11] ms the `agg` hash outlives the partition

  Returns { counted, already_acked, late, dead_lettered, {alert entry indexes (1-based)} }
]==]
local partition, agg, open, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local FIRST_HOUR_KEY = 5
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local late, dlq, alerts = ARGV[8], ARGV[9], ARGV[10]
local batchMaxts = tonumber(ARGV[4])
local batch = cjson.decode(ARGV[5])
local hourFigures = cjson.decode(ARGV[6])
local ids, hourOf = batch.i, batch.k

-- Nothing is written (no XACK either) unless every figure is a finite number: a script that failed
-- half-way would leave entries acknowledged and not counted.
local function finite(x) return type(x) == 'number' and x == x and x ~= math.huge and x ~= -math.huge end
for _, figures in ipairs(hourFigures) do
  if not (finite(figures[1]) and finite(figures[2]) and finite(figures[3]) and finite(figures[4])) then
    return redis.error_reply('accumulate-batch: an hour\'s figures are not finite numbers; batch refused whole')
  end
end

-- One consumer group counts a partition (the one that owns the averages, see ownership.ts): an entry
-- acknowledged in a second group would count twice. The first batch names it; take-over-2.lua moves it.
local owner = redis.call('HGET', agg, 'group')
if owner and owner ~= group then
  return redis.error_reply('NOTOWNER ' .. partition .. ' is counted by consumer group ' .. owner)
end
if not owner then redis.call('HSET', agg, 'group', group) end

-- Hours at or before the partition's sealed hour are closed for good (seal-hour-4.lua): late.
local sealed = tonumber(redis.call('HGET', agg, 'sealed') or '-1')

local hours = {}
for k = FIRST_HOUR_KEY, #KEYS do
  local start = tonumber(string.match(KEYS[k], '(%d+)$'))
  hours[k] = { start = start, late = start <= sealed, counted = 0, skipped = 0 }
end

local function original(id)
  local entry = redis.call('XRANGE', partition, id, id)[1]
  local fields = {}
  if entry then
    for j = 1, #entry[2], 2 do fields[entry[2][j]] = entry[2][j + 1] end
  end
  return fields
end

local poison = {}
for _, x in ipairs(batch.x) do poison[x[1]] = x end

local counted, duplicates, lateCount, dead = 0, 0, 0, 0
local fresh = {}
for i = 1, #ids do
  local id, k = ids[i], hourOf[i]
  if k == 0 then
    -- Read delivery facts before the ack removes the PEL entry.
    local p = redis.call('XPENDING', partition, group, id, id, 1)
    if redis.call('XACK', partition, group, id) == 1 then
      local owner, deliveries, idle = consumer, 1, 0
      if p[1] then owner, idle, deliveries = p[1][2], p[1][3], p[1][4] end
      redis.call('XADD', outbox, '*', 'to', dlq, 'stream', partition, 'id', id, 'group', group, 'consumer', owner,
        'deliveries', deliveries, 'idle_ms', idle, 'reason', poison[i][2], 'fields', poison[i][3], 'dead_at', now)
      dead = dead + 1
    else
      duplicates = duplicates + 1
    end
  elseif redis.call('XACK', partition, group, id) == 1 then
    fresh[i] = true
    local h = hours[k]
    if h.late then
      redis.call('XADD', outbox, '*', 'to', late, 'stream', partition, 'id', id,
        'reason', 'hour ' .. h.start .. ' was already closed', 'fields', cjson.encode(original(id)))
      lateCount = lateCount + 1
    else
      h.counted = h.counted + 1
      counted = counted + 1
    end
  else
    duplicates = duplicates + 1
    hours[k].skipped = hours[k].skipped + 1
  end
end

local alertIndexes = {}
for _, i in ipairs(batch.a) do
  if fresh[i] then
    local f = original(ids[i])
    redis.call('XADD', outbox, '*', 'to', alerts, 'device', f['device'] or 'default', 'temp_f', f['temp_f'] or '',
      'ts', f['ts'] or string.match(ids[i], '^(%d+)'), 'stream', partition, 'id', ids[i])
    alertIndexes[#alertIndexes + 1] = i
  end
end

-- Figures of the entries of hour k acknowledged now, when some of its entries had been acknowledged
-- before (by this or another consumer): only those may count, min, max and devices included.
local values = nil
local function recount(k)
  values = values or cjson.decode(ARGV[7])
  local n, sum, hn, hsum, min, max, devices, seen = 0, 0, 0, 0, nil, nil, {}, {}
  for i = 1, #ids do
    if fresh[i] and hourOf[i] == k then
      local t = tonumber(values.t[i])
      n = n + 1
      sum = sum + t
      if values.h[i] then
        hn = hn + 1
        hsum = hsum + values.h[i]
      end
      if not min or t < tonumber(min) then min = values.t[i] end
      if not max or t > tonumber(max) then max = values.t[i] end
      if not seen[values.d[i]] then
        seen[values.d[i]] = true
        devices[#devices + 1] = values.d[i]
      end
    end
  end
  return { n, sum, hn, hsum, min, max, devices }
end

-- Companion state lives as long as its partition, so nothing is left behind when a day expires.
local ttl = redis.call('PTTL', partition)
for k = FIRST_HOUR_KEY, #KEYS do
  local h, key, figures = hours[k], KEYS[k], hourFigures[k - FIRST_HOUR_KEY + 1]
  if h.counted > 0 then
    if h.skipped > 0 then figures = recount(k) end
    local n, sum, hn, hsum = figures[1], figures[2], figures[3], figures[4]
    redis.call('HINCRBY', key, 'n', n)
    redis.call('HINCRBYFLOAT', key, 'sum', sum)
    if hn > 0 then
      redis.call('HINCRBY', key, 'hn', hn)
      redis.call('HINCRBYFLOAT', key, 'hsum', hsum)
    end
    local old = redis.call('HMGET', key, 'min', 'max')
    if not old[1] or tonumber(figures[5]) < tonumber(old[1]) then redis.call('HSET', key, 'min', figures[5]) end
    if not old[2] or tonumber(figures[6]) > tonumber(old[2]) then redis.call('HSET', key, 'max', figures[6]) end
    local newDevices = 0
    for _, device in ipairs(figures[7]) do newDevices = newDevices + redis.call('HSETNX', key, 'd:' .. device, 1) end
    if newDevices > 0 then redis.call('HINCRBY', key, 'devices', newDevices) end
    redis.call('ZADD', open, h.start, h.start)
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end

if counted > 0 then
  if ttl > 0 then redis.call('PEXPIRE', open, ttl) end
  local old = tonumber(redis.call('HGET', agg, 'maxts'))
  if batchMaxts and (not old or batchMaxts > old) then redis.call('HSET', agg, 'maxts', batchMaxts) end
end
-- Also when nothing was counted: late readings push the partition's expiry too. `sealed` outlives the
-- partition by as long as the published hours' sources: a partition that expires and is written again
-- (a straggler within --retention) must find its hours sealed, or their new readings would count into
-- totals that settle-hour drops as already published.
if ttl > 0 then redis.call('PEXPIRE', agg, ttl + tonumber(ARGV[11])) end

if ttl > 0 and (lateCount > 0 or dead > 0 or #alertIndexes > 0) then redis.call('PEXPIRE', outbox, ttl) end

return { counted, duplicates, lateCount, dead, alertIndexes }
