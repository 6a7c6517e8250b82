#!lua
--[[
  Publishes one device's result of one window at ID <window start>-0 of the device's stream of the
  window's size, once: a second call for the same window (a crash before settle, another instance)
  answers `already`. The stream keeps the size's --keep (MINID ~ start - keep) and expires keep + size
  after its last write, so a device that goes quiet disappears tier by tier.

  KEYS[1] {<prefix>:device:<device>}:<size>

  ARGV[1] window start ms   ARGV[2] keep ms   ARGV[3] expiry ms (keep + size)
  ARGV[4..] the entry's field/value pairs (encodeDeviceWindow)

  Returns { 'published', '' }, { 'already', '' }, or { 'superseded', newer ID } when the stream holds a
  newer window already (nothing written).
]]
local key, start = KEYS[1], ARGV[1]
local id = start .. '-0'
if redis.call('XRANGE', key, id, id)[1] then return { 'already', '' } end
local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
if top and tonumber(string.match(top[1], '^(%d+)')) >= tonumber(start) then return { 'superseded', top[1] } end
local minid = math.max(0, tonumber(start) - tonumber(ARGV[2]))
redis.call('XADD', key, 'MINID', '~', string.format('%d', minid), id, unpack(ARGV, 4))
redis.call('PEXPIRE', key, ARGV[3])
return { 'published', '' }
