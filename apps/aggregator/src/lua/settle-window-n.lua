#!lua
--[[
  Ends a partition's part in a window (an hour, or any size) after publish-hour-2.lua answered: marks the totals the published
  entry holds as settled, or sends totals it does not hold to the late stream (through the outbox) with
  the reason, so nothing is lost and nothing counted twice. Idempotent.

  Settled totals stay (without their per-device fields) as long as the hour's other state: should the
  averages stream lose the publication (a failover to a replica that lacked it, without
  --wait-replicas), the hour closer finds settled hours newer than the stream's newest entry and
  publishes them again from these totals, exactly.

  With --per-device, the window's device totals are final once sealed: the first settle folds them
  into the next coarser window's hash (KEYS[5]), which therefore gets them once, from the sealed
  totals, rather than from every batch (accumulate-batch-n.lua merges devices into the finest window
  only). Also when the totals go late: the coarser window's fleet totals hold those readings (the
  batch script adds every reading to every size's fleet totals), so its devices must too. The coarser
  window cannot be sealed before this settle (seal-window-n.lua refuses while a finer window is open).

  KEYS[1] {partition}:open   KEYS[2] {partition}:hour:<start>   KEYS[3] {partition}:outbox
  KEYS[4] {partition}:settled (sorted set of settled hours)
  KEYS[5] (--per-device, a size with a coarser one) the window of the next coarser size that holds it

  ARGV[1] hour start ms   ARGV[2] '' = settle, else the reason the totals are late   ARGV[3] partition
  ARGV[4] the late stream's key (the outbox entry's destination)

  Returns the number of readings sent to the late stream.
]]
local open, hourKey, outbox, settled = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local hourStart, reason = ARGV[1], ARGV[2]
local late = 0
local stats = redis.call('HGETALL', hourKey)

-- Merges the packed `d:<device>` totals (nine doubles, or text from an earlier version: see
-- accumulate-batch-n.lua's mergeDevices) of `stats` into `coarser`; counts the devices it did not list
-- yet in its `devices` field.
--#include lib/device-totals.lua
local function fold(coarser)
  local names, values = {}, {}
  for j = 1, #stats, 2 do
    if string.sub(stats[j], 1, 2) == 'd:' then
      names[#names + 1] = stats[j]
      values[#values + 1] = stats[j + 1]
    end
  end
  local added = 0
  for from = 1, #names, 1000 do
    local to = math.min(from + 999, #names)
    local old = redis.call('HMGET', coarser, unpack(names, from, to))
    local packed = {}
    for i = from, to do
      local o = old[i - from + 1]
      packed[#packed + 1] = names[i]
      local n, sum, sq, min, max, f, l, hn, hsum = totalsOf(values[i])
      if o then
        packed[#packed + 1] = mergedTotals(n, sum, sq, min, max, f, l, hn, hsum, o)
      else
        added = added + 1
        packed[#packed + 1] = struct.pack(PACKED, n, sum, sq, min, max, f, l, hn, hsum)
      end
    end
    redis.call('HSET', coarser, unpack(packed))
  end
  if added > 0 then redis.call('HINCRBY', coarser, 'devices', added) end
  -- The coarser hash exists (the batches wrote its fleet totals) and keeps its expiry; should it not,
  -- it lives as long as this one.
  if #names > 0 and redis.call('PTTL', coarser) == -1 then
    local ttl = redis.call('PTTL', hourKey)
    if ttl > 0 then redis.call('PEXPIRE', coarser, ttl) end
  end
end

-- The window's own totals, without what only counting needed: the device totals (`d:<device>`) and the
-- token of the batch that wrote them last (`dv`, see accumulate-batch-n.lua's storeDevices).
local function kept(field) return string.sub(field, 1, 2) ~= 'd:' and field ~= 'dv' end

local settledBefore = false
for j = 1, #stats, 2 do
  if stats[j] == 'settled' then settledBefore = true end
end
if KEYS[5] and not settledBefore then fold(KEYS[5]) end
if reason ~= '' then
  local totals = {}
  for j = 1, #stats, 2 do
    if kept(stats[j]) and stats[j] ~= 'settled' then totals[stats[j]] = stats[j + 1] end
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
  -- The totals without the devices, written anew: a hash that grew into a hash table (many devices, or
  -- --per-device's packed totals) would stay one after HDEL (1-10 KB measured for one that had 1,000
  -- devices), where a listpack of these few fields takes a few hundred bytes.
  local totals = {}
  for j = 1, #stats, 2 do
    if kept(stats[j]) then
      totals[#totals + 1] = stats[j]
      totals[#totals + 1] = stats[j + 1]
    end
  end
  local ttl = redis.call('PTTL', hourKey)
  redis.call('DEL', hourKey)
  redis.call('HSET', hourKey, 'settled', '1', unpack(totals))
  if ttl > 0 then redis.call('PEXPIRE', hourKey, ttl) end
  redis.call('ZADD', settled, hourStart, hourStart)
  if ttl > 0 and redis.call('PTTL', settled) < ttl then redis.call('PEXPIRE', settled, ttl) end
end
redis.call('ZREM', open, hourStart)
return late
