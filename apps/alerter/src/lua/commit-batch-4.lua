#!lua
--[[
  Commits one applied batch of a partition: the state machines' changes, the devices' newest reading
  times, the transitions (XADD to the alerts stream) and the partition's new position, all at once, and
  only if the position is still the one the batch was applied after. So a batch applied twice (delivered
  again after a crash between this script and XACK, or read by a second alerter) is written once: the
  second commit finds the position moved and writes nothing.

  KEYS[1] states (hash `<rule>:<device>` -> `p:<since>` | `f:<since>:<value>`)
  KEYS[2] positions (hash partition -> last applied entry ID)
  KEYS[3] devices seen (hash device -> newest ts)   KEYS[4] the alerts stream
  ARGV[1] partition   ARGV[2] the position the batch was applied after ('' = none)   ARGV[3] new position
  ARGV[4] s, then s pairs: field, state ('' = ok: delete)
  then d, then d pairs: device, ts
  then t, then t times: rule, device, state (firing|resolved), since, at, value

  Returns 1 when committed, 0 when the position was not ARGV[2] (nothing written).
]]
local states, positions, seen, alerts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local partition, expected, position = ARGV[1], ARGV[2], ARGV[3]
if (redis.call('HGET', positions, partition) or '') ~= expected then return 0 end

-- Calls with many arguments go in slices: Lua's unpack has a limit.
local SLICE = 1000
local function flush(command, key, args)
  for from = 1, #args, SLICE do
    redis.call(command, key, unpack(args, from, math.min(#args, from + SLICE - 1)))
  end
end

local i = 4
local s = tonumber(ARGV[i])
local sets, deletes = {}, {}
for k = 1, s do
  local field, state = ARGV[i + 2 * k - 1], ARGV[i + 2 * k]
  if state == '' then
    deletes[#deletes + 1] = field
  else
    sets[#sets + 1] = field
    sets[#sets + 1] = state
  end
end
flush('HSET', states, sets)
flush('HDEL', states, deletes)
i = i + 2 * s + 1

local d = tonumber(ARGV[i])
local seenPairs = {}
for k = 1, 2 * d do seenPairs[k] = ARGV[i + k] end
flush('HSET', seen, seenPairs)
i = i + 2 * d + 1

local t = tonumber(ARGV[i])
for k = 0, t - 1 do
  local b = i + 1 + 6 * k
  redis.call('XADD', alerts, '*', 'rule', ARGV[b], 'device', ARGV[b + 1], 'state', ARGV[b + 2],
    'since', ARGV[b + 3], 'at', ARGV[b + 4], 'value', ARGV[b + 5])
end

redis.call('HSET', positions, partition, position)
return 1
