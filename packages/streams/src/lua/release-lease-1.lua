#!lua
--[[
  Gives the lease up on a graceful stop, only if the caller still holds it, so a standby replica takes
  over at once instead of waiting for the lease to expire.

  KEYS[1] the lease key
  ARGV[1] holder id

  Returns 1 when released, 0 when the caller did not hold it.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
