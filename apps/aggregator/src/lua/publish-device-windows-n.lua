#!lua
--[[
  Publishes many devices' results of one window, each at ID <window start>-0 of the device's stream of
  the window's size, once: a device whose stream holds the window already (a crash before settle,
  another instance) answers `already`. Each stream keeps the size's --keep (MINID ~ start - keep) and
  expires keep + size after its last write, so a device that goes quiet disappears tier by tier.
  One call for many devices (their keys in one cluster slot; on one server, any): a call per device
  cost more than the writes themselves.

  KEYS[1..D] {<prefix>:device:<device>}:<size>, one per device

  ARGV[1] window start ms   ARGV[2] keep ms   ARGV[3] expiry ms (keep + size)
  ARGV[4..] per KEY in order: the number of field/value strings f, then the f strings of its entry
            (encodeDeviceWindow)

  Returns per KEY: 1 published, 0 already, or -1 superseded (the stream holds a newer window already;
  nothing written).
]]
local start = ARGV[1]
local id = start .. '-0'
local minid = string.format('%d', math.max(0, tonumber(start) - tonumber(ARGV[2])))
local outcomes = {}
local at = 4
for k = 1, #KEYS do
  local key, count = KEYS[k], tonumber(ARGV[at])
  local from, to = at + 1, at + count
  at = to + 1
  -- A stream only takes IDs above its newest: XADD refuses exactly the windows already there or
  -- superseded, which the usual first publication then need not look for.
  local added = redis.pcall('XADD', key, 'MINID', '~', minid, id, unpack(ARGV, from, to))
  if type(added) ~= 'table' or not added.err then
    redis.call('PEXPIRE', key, ARGV[3])
    outcomes[k] = 1
  elseif redis.call('XRANGE', key, id, id)[1] then
    outcomes[k] = 0
  else
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    -- Any other refusal (a key of another type) is the caller's error, not an outcome.
    if not (top and tonumber(string.match(top[1], '^(%d+)')) >= tonumber(start)) then
      return redis.error_reply(added.err)
    end
    outcomes[k] = -1
  end
end
return outcomes
