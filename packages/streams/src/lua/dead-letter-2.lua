#!lua
--[[
  Moves pending entries of one stream and group to the dead-letter stream, each one atomically:
  the letter is written only when XACK removed the entry from the group's PEL (returned 1), so an entry
  is never both pending and dead-lettered, and never neither. The letter goes to the stream's outbox
  (same cluster slot), from which forwardOutbox moves it to the dead-letter stream exactly once.

  Each ID is checked again here, under the script's atomicity: it must still be pending, idle at least
  ARGV[2] ms and delivered at least ARGV[3] times. An entry that a consumer re-read or that was claimed
  since the caller looked is left alone.

  KEYS[1] the stream (partition)      KEYS[2] the stream's outbox
  ARGV[1] group   ARGV[2] min idle ms   ARGV[3] min deliveries
  ARGV[4] reason ('{deliveries}' is replaced by the entry's delivery count)
  ARGV[5] the dead-letter stream's key (the outbox entry's destination)
  ARGV[6..] pending entry IDs

  Returns one code per ID, in order:
     1  dead-lettered (acknowledged, letter written)
     0  left alone (no longer pending, not idle enough, or too few deliveries)
    -1  acknowledged, no letter: the entry was deleted or trimmed from the stream, nothing to keep

  Letter layout (encodeDeadLetter's field order): stream, id, group, consumer, deliveries, idle_ms,
  reason, fields (JSON object, original field order), dead_at (server time, ms).
]]
local stream, outbox, dlq = KEYS[1], KEYS[2], ARGV[5]
local group, minIdle, minDeliveries, reason = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local time = redis.call('TIME')
local deadAt = tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))

local codes = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local code = 0
  local pending = redis.call('XPENDING', stream, group, 'IDLE', minIdle, id, id, 1)[1]
  if pending and tonumber(pending[4]) >= minDeliveries then
    local entry = redis.call('XRANGE', stream, id, id)[1]
    if redis.call('XACK', stream, group, id) == 1 then
      if entry then
        local parts = {}
        local fields = entry[2]
        for f = 1, #fields, 2 do
          parts[#parts + 1] = cjson.encode(fields[f]) .. ':' .. cjson.encode(fields[f + 1])
        end
        local why = string.gsub(reason, '{deliveries}', tostring(pending[4]))
        redis.call('XADD', outbox, '*', 'to', dlq,
          'stream', stream, 'id', id, 'group', group, 'consumer', pending[2],
          'deliveries', tostring(pending[4]), 'idle_ms', tostring(pending[3]),
          'reason', why, 'fields', '{' .. table.concat(parts, ',') .. '}', 'dead_at', deadAt)
        code = 1
      else
        code = -1
      end
    end
  end
  codes[#codes + 1] = code
end
-- The outbox lives as long as its stream.
local ttl = redis.call('PTTL', stream)
if ttl > 0 then redis.call('PEXPIRE', outbox, ttl) end
return codes
