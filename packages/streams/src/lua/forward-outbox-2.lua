#!lua
--[==[
  Moves outbox entries (see outbox.ts) to their destination stream, exactly once. An outbox and its
  destination sit in different cluster slots, so the move cannot be one script: the destination keeps,
  per outbox, the last entry ID it took, and refuses that entry and older ones. Outbox IDs only grow
  and the caller sends them in order, so a move retried after a crash, or raced by a second process,
  writes nothing twice.

  KEYS[1] destination stream   KEYS[2] {destination}:forwarded (hash: outbox key -> last ID taken)

  ARGV[1] outbox key   ARGV[2] how long the marks are kept (ms)
  ARGV[3] the entries as JSON, oldest first: [[outbox entry ID, [field, value, ...]], ...]

  Returns the number of entries written (the others had been taken before).
]==]
local destination, marks = KEYS[1], KEYS[2]
local outbox = ARGV[1]

local function parse(x)
  local ms, seq = string.match(x, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local last = redis.call('HGET', marks, outbox)
local lastMs, lastSeq = -1, -1
if last then lastMs, lastSeq = parse(last) end

local written = 0
for _, entry in ipairs(cjson.decode(ARGV[3])) do
  local ms, seq = parse(entry[1])
  if ms > lastMs or (ms == lastMs and seq > lastSeq) then
    redis.call('XADD', destination, '*', unpack(entry[2]))
    lastMs, lastSeq = ms, seq
    last = entry[1]
    written = written + 1
  end
end
-- Written or not (another process moved these entries), a write: the caller's WAIT (--wait-replicas)
-- then covers what this call found moved, not only what it moved itself.
if last then redis.call('HSET', marks, outbox, last) end
redis.call('PEXPIRE', marks, ARGV[2])
return written
