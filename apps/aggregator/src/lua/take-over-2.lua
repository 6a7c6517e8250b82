#!lua
--[[
  Hands a partition's counting from one consumer group to another, atomically, so that every entry is
  counted by exactly one of them: the new group starts where the old one's deliveries ended and the
  old group is removed. Refused while the old group has entries pending: they were read and not yet
  counted, and the new group would never see them.

  KEYS[1] partition stream   KEYS[2] {partition}:agg (hash: group = the group that counts here)
  ARGV[1] new group          ARGV[2] the group that owned the averages until now

  Returns { 'taken', from id } | { 'already', '' } | { 'pending', count } | { 'no-group', old group }
]]
local partition, agg = KEYS[1], KEYS[2]
local new, previous = ARGV[1], ARGV[2]
local owner = redis.call('HGET', agg, 'group') or previous
if owner == new then return { 'already', '' } end

local from = nil
for _, info in ipairs(redis.call('XINFO', 'GROUPS', partition)) do
  local fields = {}
  for j = 1, #info, 2 do fields[info[j]] = info[j + 1] end
  if fields['name'] == owner then
    if fields['pending'] > 0 then return { 'pending', fields['pending'] } end
    from = fields['last-delivered-id']
  end
end
-- The partition was counted (it names its group) but that group is gone: where it stopped is unknown.
if not from and redis.call('HEXISTS', agg, 'group') == 1 then return { 'no-group', owner } end

-- A new group left over from a refused start may hold entries pending: they must not count again.
pcall(redis.call, 'XGROUP', 'DESTROY', partition, new)
redis.call('XGROUP', 'CREATE', partition, new, from or '0')
if from then redis.call('XGROUP', 'DESTROY', partition, owner) end
redis.call('HSET', agg, 'group', new)
return { 'taken', from or '0' }
