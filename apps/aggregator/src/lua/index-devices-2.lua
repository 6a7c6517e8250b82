#!lua
--[[
  Updates the devices index after a window's per-device results were published: each device's last
  reading time (only ever forward), and for 1h windows its latest hour's result (only a newer hour
  replaces it). Devices not seen since ARGV[1] leave both (at most 1000 per call: their results have
  expired from every tier). Derived data: a crash before it runs is repaired by the next window.

  KEYS[1] <prefix>:devices (sorted set: device -> last reading time ms)
  KEYS[2] {<prefix>:devices}:latest (hash: device -> JSON of its latest 1h result, with `start`)

  ARGV[1] prune devices last seen before this ms   ARGV[2] window start ms
  ARGV[3] JSON [[device, last reading ms, latest 1h result JSON or ''], ...]

  Returns the number of devices pruned.
]]
local index, latest = KEYS[1], KEYS[2]
local start = tonumber(ARGV[2])
local devices = cjson.decode(ARGV[3])
for from = 1, #devices, 1000 do
  local args = {}
  for i = from, math.min(from + 999, #devices) do
    args[#args + 1] = devices[i][2]
    args[#args + 1] = devices[i][1]
  end
  redis.call('ZADD', index, 'GT', unpack(args))
end
for _, d in ipairs(devices) do
  if d[3] ~= '' then
    local old = redis.call('HGET', latest, d[1])
    if not old or cjson.decode(old).start < start then redis.call('HSET', latest, d[1], d[3]) end
  end
end
local gone = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
if #gone > 0 then
  redis.call('ZREM', index, unpack(gone))
  redis.call('HDEL', latest, unpack(gone))
end
return #gone
