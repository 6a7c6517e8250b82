#!lua
--[[
  Seals one partition (or shard) for an hour and returns the partition's totals of that hour. Once
  sealed, accumulate-batch-n.lua sends the partition's readings of that hour and earlier to the late
  stream, so the totals returned here are final and any instance that publishes them publishes the
  same figures. A partition is not sealed while it has an earlier hour open, or while a reading of
  its day up to the hour's end is pending with some consumer (in hand, or held by a crashed one until
  the reaper hands it on): sealing then would turn that reading late.

  KEYS[1] partition stream   KEYS[2] {partition}:agg (hash: maxts, sealed)
  KEYS[3] {partition}:open   KEYS[4] {partition}:hour:<start>

  ARGV[1] group   ARGV[2] hour start ms   ARGV[3] max pending entries to inspect
  ARGV[4] the partition's UTC midnight ms   ARGV[5] 'check' to only say whether it could be sealed
  ARGV[6] ms the `agg` hash outlives the partition (see stateAfterPartitionMs)

  Returns { 'sealed', HGETALL of the hour } (with 'check': { 'sealable', '' }) or
  { 'earlier-open' | 'pending', detail }.
]]
local partition, agg, open, hourKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group = ARGV[1]
local hourStart, pendingLimit, dayStart = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local checkOnly = ARGV[5] == 'check'
local hourEnd = hourStart + 3600000

local sealed = tonumber(redis.call('HGET', agg, 'sealed') or '-1')
if sealed < hourStart then
  local earlier = redis.call('ZRANGEBYSCORE', open, '-inf', '(' .. hourStart, 'LIMIT', 0, 1)
  if earlier[1] then return { 'earlier-open', earlier[1] } end

  local ok, pending = pcall(redis.call, 'XPENDING', partition, group, '-', '+', pendingLimit)
  if ok then
    if #pending >= pendingLimit then return { 'pending', 'too many to inspect' } end
    for _, p in ipairs(pending) do
      local entry = redis.call('XRANGE', partition, p[1], p[1])[1]
      if entry then
        -- Event time from the ts field (RU202 entries without one take it from the ID); an unreadable
        -- ts is a poison entry that belongs to no hour.
        local ts = nil
        local fields = entry[2]
        for j = 1, #fields, 2 do
          if fields[j] == 'ts' then ts = tonumber(fields[j + 1]) or -1 end
        end
        if ts == nil then ts = tonumber(string.match(p[1], '^(%d+)')) end
        if ts >= dayStart and ts < hourEnd then return { 'pending', p[1] } end
      end
    end
  end

  if checkOnly then return { 'sealable', '' } end
  -- A partition that expired since it was discovered needs no seal, and gets no state without expiry.
  local ttl = redis.call('PTTL', partition)
  if ttl == -2 then return { 'sealed', redis.call('HGETALL', hourKey) } end
  redis.call('HSET', agg, 'sealed', hourStart)
  local keep = ttl + tonumber(ARGV[6])
  local left = redis.call('PTTL', agg)
  if ttl > 0 and (left == -1 or left < keep) then redis.call('PEXPIRE', agg, keep) end
end
if checkOnly then return { 'sealable', '' } end
return { 'sealed', redis.call('HGETALL', hourKey) }
