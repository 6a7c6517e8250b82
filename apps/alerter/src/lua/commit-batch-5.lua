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
  ARGV[4] s, then s pairs: field, state (states set)
  then h, then h fields (states back to ok: deleted)
  then one argument: the devices' newest times, a JSON array of strings `["device","ts",...]`
  then t, then t times: rule, device, state (firing|resolved), since, at, value
  The state pairs and fields go from ARGV to HSET and HDEL as they are. The devices' times, a pair per
  device of the batch (most of its readings), come as one argument: a thousand arguments cost the alerter
  more to send than one costs Redis to decode (cjson: in C, about half what splitting it in Lua took).

  Returns 1 when committed, 0 when the position was not ARGV[2] (nothing written).
]]
local states, positions, seen, alerts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local partition, expected, position = ARGV[1], ARGV[2], ARGV[3]
if (redis.call('HGET', positions, partition) or '') ~= expected then return 0 end

-- Calls with many arguments go in slices: Lua's unpack has a limit. `per` arguments make one item.
local SLICE = 1000
local function each(command, key, list, from, count, per)
  local last = from + count * per - 1
  for first = from, last, SLICE do
    redis.call(command, key, unpack(list, first, math.min(last, first + SLICE - 1)))
  end
  return last + 1
end

local i = 4
local s = tonumber(ARGV[i])
i = each('HSET', states, ARGV, i + 1, s, 2)
local h = tonumber(ARGV[i])
i = each('HDEL', states, ARGV, i + 1, h, 1)

local times = cjson.decode(ARGV[i])
each('HSET', seen, times, 1, #times / 2, 2)
i = i + 1

local t = tonumber(ARGV[i])
for k = 0, t - 1 do
  local b = i + 1 + 6 * k
  redis.call('XADD', alerts, '*', 'rule', ARGV[b], 'device', ARGV[b + 1], 'state', ARGV[b + 2],
    'since', ARGV[b + 3], 'at', ARGV[b + 4], 'value', ARGV[b + 5])
end

redis.call('HSET', positions, partition, position)
return 1
