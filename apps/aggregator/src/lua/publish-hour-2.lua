#!lua
--[[
  Publishes an hour's average at ID <hour start>-0, once. The averages stream only accepts growing IDs,
  so a second entry for an hour cannot exist; the sources (the partitions whose totals it sums) are
  kept beside it, so an instance that finds the hour already published can tell which totals it holds.

  KEYS[1] averages stream   KEYS[2] {averages}:sources:<hour start> (hash: list = JSON list of partitions)

  ARGV[1] hour start ms   ARGV[2] averages MAXLEN (~)   ARGV[3] how long sources are kept (ms)
  ARGV[4] sources JSON   ARGV[5] the newest hour the caller knows published ('' for none)
  ARGV[6..] the entry's field/value pairs

  Returns { 'published', '' }, { 'already', sources JSON or '' }, { 'superseded', later ID }, or
  { 'regressed', newest ID or '' } when the stream's newest entry is older than the caller knows: it
  lost publications (a failover to a replica that lacked them), which must be made again first.
  Publishing past them would leave them for ever behind a newer ID.
]]
local averages, sources = KEYS[1], KEYS[2]
local id = ARGV[1] .. '-0'
if redis.call('XRANGE', averages, id, id)[1] then
  -- A write (the sources' expiry started again: harmless, they outlive the entry anyway), so that the
  -- caller's WAIT covers the publication it found.
  redis.call('PEXPIRE', sources, ARGV[3])
  return { 'already', redis.call('HGET', sources, 'list') or '' }
end
local top = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)[1]
local topHour = top and tonumber(string.match(top[1], '^(%d+)'))
if ARGV[5] ~= '' and (topHour == nil or topHour < tonumber(ARGV[5])) then
  return { 'regressed', top and top[1] or '' }
end
if top and tonumber(string.match(top[1], '^(%d+)')) >= tonumber(ARGV[1]) then return { 'superseded', top[1] } end
redis.call('XADD', averages, 'MAXLEN', '~', ARGV[2], id, unpack(ARGV, 6))
redis.call('HSET', sources, 'list', ARGV[4])
redis.call('PEXPIRE', sources, ARGV[3])
return { 'published', '' }
