#!lua
--[[
  Extends the lease only while the caller still holds it (compare-and-set), so a replica that stalled
  past its lease never extends a lease another replica has taken since.

  KEYS[1] the lease key
  ARGV[1] holder id   ARGV[2] lease time ms

  Returns 1 when renewed, 0 when the lease is held by someone else or expired.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
