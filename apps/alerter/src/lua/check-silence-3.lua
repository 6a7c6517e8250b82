#!lua
--[[
  Fires the no_data rules of devices that have been silent for their `for` time by `now`: stream time
  (the newest reading applied) at the end of a drain, the clock while live. A device fires once per
  silence; apply-readings resolves it with its next reading. `since` is the last reading's event time,
  `at` since + for: the same entry whenever the silence is noticed.

  KEYS[1] states   KEYS[2] devices seen   KEYS[3] the alerts stream
  ARGV[1] the no_data rules (encodeRules)   ARGV[2] now (ms)

  Returns the number of alerts fired.
]]
local states, seen, alerts = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[2])

local rules = {}
for line in string.gmatch(ARGV[1], '[^\n]+') do
  local name, pattern, kind, forMs = string.match(line, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t[^\t]*\t[^\t]*\t[^\t]*\t([^\t]*)$')
  if kind == 'no_data' then rules[#rules + 1] = { name = name, pattern = pattern, forMs = tonumber(forMs) } end
end
if #rules == 0 then return 0 end

-- Devices in name order, so that the entries come in the same order whatever the hash's history.
local flat = redis.call('HGETALL', seen)
local devices, lastOf = {}, {}
for i = 1, #flat, 2 do
  devices[#devices + 1] = flat[i]
  lastOf[flat[i]] = tonumber(flat[i + 1])
end
table.sort(devices)

local fired = 0
for _, device in ipairs(devices) do
  local last = lastOf[device]
  for _, rule in ipairs(rules) do
    if now - last >= rule.forMs and string.find(device, rule.pattern) then
      local field = rule.name .. ':' .. device
      if not redis.call('HGET', states, field) then
        local since = string.format('%d', last)
        redis.call('XADD', alerts, '*', 'rule', rule.name, 'device', device, 'state', 'firing',
          'since', since, 'at', string.format('%d', last + rule.forMs), 'value', '')
        redis.call('HSET', states, field, 'f:' .. since .. ':')
        fired = fired + 1
      end
    end
  end
end
return fired
