--[[
  Puts a dead letter's original entry back into its stream and removes the letter, atomically: either
  both happen or neither. The caller read the letter and passes its fields (letters are never modified,
  only deleted, so if the letter still exists these are its fields).

  KEYS[1] the dead-letter stream      KEYS[2] the letter's original stream
  ARGV[1] letter ID   ARGV[2..] field/value pairs to append to the original stream

  Returns { status, new entry ID or '' }, status one of:
    'replayed'  appended to the original stream, letter removed
    'gone'      the letter no longer exists (replayed or purged meanwhile)
    'nostream'  the original stream no longer exists (an expired partition): the letter stays, and no
                stream is created without its expiry (NOMKSTREAM)

  On a Redis Cluster the two keys live in different slots; dead-letter.ts then takes a non-atomic path.
]]
local dlq, stream, letter = KEYS[1], KEYS[2], ARGV[1]
if not redis.call('XRANGE', dlq, letter, letter)[1] then return { 'gone', '' } end
if redis.call('EXISTS', stream) == 0 then return { 'nostream', '' } end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', stream, 'NOMKSTREAM', '*', unpack(fields))
redis.call('XDEL', dlq, letter)
return { 'replayed', id }
