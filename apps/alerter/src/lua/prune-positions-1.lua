#!lua
--[[
  Forgets the positions of partitions found gone (their key no longer exists), each only if it is still
  the position seen when the partition was found gone: one that moved meanwhile belongs to a partition
  written again and read since (by this alerter or another), and stays.

  A gone partition can deliver nothing: its entries, its consumer group and the group's pending entries
  went with the key. Written again later, its new entries have IDs above the old position (the producer
  refuses readings older than the retention, and the partition expired a retention after its newest
  one), so without the position they are applied as they would have been with it.

  KEYS[1] positions (hash partition -> last applied entry ID)
  ARGV    pairs: partition, its position when found gone

  Returns the number of positions deleted.
]]
local pruned = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    pruned = pruned + 1
  end
end
return pruned
