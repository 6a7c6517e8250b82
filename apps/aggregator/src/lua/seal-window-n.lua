#!lua
--[[
  Seals one partition (or shard) for a window of one size and returns the partition's totals of that
  window. Once sealed, accumulate-batch-n.lua sends the partition's readings of that window and earlier
  ones of the size to the late stream, so the totals returned here are final and any instance that
  publishes them publishes the same figures. A partition is not sealed while it has an earlier window
  of the size open, or while a reading of its day up to the window's end is pending with some consumer
  (in hand, or held by a crashed one until the reaper hands it on): sealing then would turn that
  reading late.

  KEYS[1] partition stream   KEYS[2] {partition}:agg (hash: maxts, sealed markers)
  KEYS[3] the size's open windows ({partition}:open for 1h, {partition}:open:<size> else)
  KEYS[4] the window's hash ({partition}:hour:<start> for 1h, {partition}:win:<size>:<start> else)
  KEYS[5] (--per-device, a size with a finer one in the layout) the next finer size's open windows:
          while one inside this window is open, its device totals are not folded in yet
          (settle-window-n.lua), and the partition is not sealed

  ARGV[1] group   ARGV[2] window start ms   ARGV[3] max pending entries to inspect
  ARGV[4] the partition's UTC midnight ms   ARGV[5] 'check' to only say whether it could be sealed
  ARGV[6] ms the `agg` hash outlives the partition   ARGV[7] window size ms
  ARGV[8] the size's sealed marker field in `agg` (`sealed` for 1h, `sealed:<size>` else)

  Returns { 'sealed', HGETALL of the window, each device's packed totals (--per-device) binary, as
  stored } (with 'check': { 'sealable', '' }) or
  { 'earlier-open' | 'pending', detail } ('earlier-open' also for an open finer window, detail
  `<size ms> <start>`).
]]
local partition, agg, open, windowKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, marker = ARGV[1], ARGV[8]
local start, pendingLimit, dayStart = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local checkOnly = ARGV[5] == 'check'
local windowEnd = start + tonumber(ARGV[7])

-- The window's totals, --per-device totals as they are (nine packed doubles, accumulate-batch-n.lua):
-- the caller reads the binary, which Lua would spend most of the seal formatting as text.
local function totals() return redis.call('HGETALL', windowKey) end

local sealed = tonumber(redis.call('HGET', agg, marker) or '-1')
if sealed < start then
  local earlier = redis.call('ZRANGEBYSCORE', open, '-inf', '(' .. start, 'LIMIT', 0, 1)
  if earlier[1] then return { 'earlier-open', earlier[1] } end
  if KEYS[5] then
    local finer = redis.call('ZRANGEBYSCORE', KEYS[5], start, '(' .. windowEnd, 'LIMIT', 0, 1)
    if finer[1] then return { 'earlier-open', 'finer ' .. finer[1] } end
  end

  local ok, pending = pcall(redis.call, 'XPENDING', partition, group, '-', '+', pendingLimit)
  if ok then
    if #pending >= pendingLimit then return { 'pending', 'too many to inspect' } end
    for _, p in ipairs(pending) do
      local entry = redis.call('XRANGE', partition, p[1], p[1])[1]
      if entry then
        -- Event time from the ts field (RU202 entries without one take it from the ID); an unreadable
        -- ts is a poison entry that belongs to no window.
        local ts = nil
        local fields = entry[2]
        for j = 1, #fields, 2 do
          if fields[j] == 'ts' then ts = tonumber(fields[j + 1]) or -1 end
        end
        if ts == nil then ts = tonumber(string.match(p[1], '^(%d+)')) end
        if ts >= dayStart and ts < windowEnd then return { 'pending', p[1] } end
      end
    end
  end

  if checkOnly then return { 'sealable', '' } end
  -- A partition that expired since it was discovered needs no seal, and gets no state without expiry.
  local ttl = redis.call('PTTL', partition)
  if ttl == -2 then return { 'sealed', totals() } end
  redis.call('HSET', agg, marker, start)
  local keep = ttl + tonumber(ARGV[6])
  local left = redis.call('PTTL', agg)
  if ttl > 0 and (left == -1 or left < keep) then redis.call('PEXPIRE', agg, keep) end
end
if checkOnly then return { 'sealable', '' } end
return { 'sealed', totals() }
