#!lua
--[[
  Puts a dead letter's original entry back into its stream, once. The letter lives in the dead-letter
  stream, in another cluster slot, so the caller deletes it in a second step; the stream remembers
  which letters it took back (with the new entry's ID), so a replay repeated after a crash between the
  two steps, or raced by a second replay, appends nothing twice.

  KEYS[1] the letter's original stream   KEYS[2] {stream}:replayed (hash: '<dlq> <letter ID>' -> new ID)
  ARGV[1] the dead-letter stream's key   ARGV[2] letter ID   ARGV[3] how long the marks are kept (ms)
  ARGV[4..] field/value pairs to append to the original stream

  Returns { status, new entry ID or '' }, status one of:
    'replayed'  appended to the original stream now, or by an earlier replay of the same letter
    'nostream'  the original stream no longer exists (an expired partition): nothing appended, and no
                stream is created without its expiry (NOMKSTREAM)
]]
local stream, marks = KEYS[1], KEYS[2]
local mark = ARGV[1] .. ' ' .. ARGV[2]
local earlier = redis.call('HGET', marks, mark)
if earlier then
  -- A write, so that the caller's WAIT (--wait-replicas) covers the earlier replay it found.
  redis.call('HSET', marks, mark, earlier)
  return { 'replayed', earlier }
end
if redis.call('EXISTS', stream) == 0 then return { 'nostream', '' } end
local id = redis.call('XADD', stream, 'NOMKSTREAM', '*', unpack(ARGV, 4))
redis.call('HSET', marks, mark, id)
redis.call('PEXPIRE', marks, ARGV[3])
return { 'replayed', id }
