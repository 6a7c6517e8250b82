--[[
  Publishes one hour's average exactly once, or says why not yet. Hours are published in ascending
  order (the averages stream only accepts growing IDs), so an hour is refused while an earlier hour is
  still open in any partition.

  KEYS[1] partition stream of the hour     KEYS[2] {partition}:open
  KEYS[3] {partition}:hour:<start>         KEYS[4] averages stream
  KEYS[5] late stream
  KEYS[6..] {older partition}:open for every other live partition up to the hour's day

  ARGV[1] group   ARGV[2] hour start ms   ARGV[3] watermark ms (max event time seen)
  ARGV[4] grace ms   ARGV[5] averages MAXLEN (~)   ARGV[6] '1' = close now whatever the watermark
  ARGV[7] max pending entries to inspect   ARGV[8] date 'YYYY/MM/DD'   ARGV[9] hour 0-23

  Returns { status, detail }: status is 'published', 'not-due', 'pending', 'earlier-open', 'empty'
  or 'superseded' (a later hour was published first; the hour's totals went to the late stream).
]]
local partition, open, hourKey, averages, late = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group = ARGV[1]
local hourStart, watermark, grace = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxlen, force, pendingLimit = ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local hourEnd = hourStart + 3600000

if not force and watermark < hourEnd + grace then return { 'not-due', '' } end

for i = 6, #KEYS do
  local earlier = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', '(' .. hourStart, 'LIMIT', 0, 1)
  if earlier[1] then return { 'earlier-open', earlier[1] } end
end
local earlier = redis.call('ZRANGEBYSCORE', open, '-inf', '(' .. hourStart, 'LIMIT', 0, 1)
if earlier[1] then return { 'earlier-open', earlier[1] } end

-- A reading of this hour still pending with some consumer (in hand, or held by a crashed one until
-- the reaper hands it on) would be lost if the hour closed now.
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
      if ts and ts >= hourStart and ts < hourEnd then return { 'pending', p[1] } end
    end
  end
end

local stats = redis.call('HGETALL', hourKey)
local h = {}
for j = 1, #stats, 2 do h[stats[j]] = stats[j + 1] end
local n = tonumber(h['n'] or '0')
if n == 0 then
  redis.call('ZREM', open, hourStart)
  redis.call('DEL', hourKey)
  return { 'empty', '' }
end

-- Shortest decimal text that reads back as the same double (Lua has no round-trip formatting).
local function exact(x)
  for digits = 15, 17 do
    local s = string.format('%.' .. digits .. 'g', x)
    if tonumber(s) == x then return s end
  end
  return string.format('%.17g', x)
end

local average = tonumber(h['sum']) / n
local hn = tonumber(h['hn'] or '0')
local top = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)
local lastPublished = -1
if top[1] then lastPublished = tonumber(string.match(top[1][1], '^(%d+)')) end

local fields = { 'date', ARGV[8], 'hour', ARGV[9], 'average_temp_f', exact(average), 'num_observations', n,
  'min_temp_f', h['min'], 'max_temp_f', h['max'], 'devices', h['devices'] or '0' }
if hn > 0 then
  fields[#fields + 1] = 'average_humidity'
  fields[#fields + 1] = exact(tonumber(h['hsum']) / hn)
end

redis.call('ZREM', open, hourStart)
redis.call('DEL', hourKey)
if lastPublished >= hourStart then
  -- Cannot happen while every instance closes hours in order; if it does, nothing is dropped silently.
  redis.call('XADD', late, '*', 'stream', partition, 'id', hourStart .. '-0',
    'reason', 'hour totals arrived after a later hour was published', 'fields', cjson.encode(fields))
  return { 'superseded', tostring(lastPublished) }
end
redis.call('XADD', averages, 'MAXLEN', '~', maxlen, hourStart .. '-0', unpack(fields))
return { 'published', exact(average) }
