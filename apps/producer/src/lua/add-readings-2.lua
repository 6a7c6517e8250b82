#!lua
--[[
  Adds batches of readings to one daily partition, each batch at most once, and pushes the partition's
  expiry. Several batches share a call (the MQTT bridge sends the messages in hand together) while each
  keeps its own ledger entry, so a batch sent again alone or among others is still recognised.
  Atomic: a partition never exists without its expiry, and a batch is either wholly applied or not at all
  (Redis replicates a script's effects as one MULTI/EXEC, so the AOF holds both or neither).

  KEYS[1]  the partition stream, `<prefix>:YYYYMMDD`
  KEYS[2]  the partition's batch ledger, `{<prefix>:YYYYMMDD}:batches` (hash: batch id -> rejections,
           `<batch id>:readings` -> the fingerprints of the readings the batch wrote, 8 bytes each)
  ARGV[1]  '1' writes `<ts>-*` IDs (RU202 layout), '0' lets Redis assign `*`
  then four arguments per batch, in the order they are written:
    batch id     a digest of the batch's content, fixed across retries
    expire-at    in ms: the batch's newest reading + retention
    readings     one JSON array of strings, four per reading: device, ts, temp_f, humidity ('' when
                 absent). One argument rather than four per reading: cjson decodes it in C, which costs
                 Redis less than thousands of arguments and the client far less.
    fingerprints the readings' fingerprints (reading-fingerprint.ts), 8 bytes each, in reading order: a
                 re-run of the same input skips the readings whose fingerprints an earlier batch recorded

  Returns { applied, rejections } per batch, flat, in the order of the batches:
    applied      1 when this call wrote the batch, 0 when the ledger shows it was written before,
                 -1 when expire-at is not after Redis's clock: every reading of the batch is older than
                 retention (e.g. it waited out an outage), so nothing is written rather than written and
                 deleted at once
    rejections   '' or lines `<index>\t<error>` (1-based reading index) for readings Redis refused,
                 e.g. an ID out of order in `<ts>-*` mode; the other readings of the batch still land
]]
local partition = KEYS[1]
local ledger = KEYS[2]
local fromTime = ARGV[1] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local replies = {}
-- The latest expire-at of the batches this call wrote: the expiry both keys are pushed to.
local expireAt = nil

local function addBatch(batch, batchExpireAt, encoded, fingerprints)
  local previous = redis.call('HGET', ledger, batch)
  if previous then
    -- The same value again, but a write: the producer's WAIT (--wait-replicas) after this call then covers
    -- the earlier write of the batch too, not only this connection's writes.
    redis.call('HSET', ledger, batch, previous)
    return 0, previous
  end
  if batchExpireAt <= now then
    return -1, ''
  end

  local readings = cjson.decode(encoded)
  local rejections = {}
  local refused = {}
  local index = 0
  for i = 1, #readings, 4 do
    index = index + 1
    local id = '*'
    if fromTime then
      id = readings[i + 1] .. '-*'
    end
    local reply
    if readings[i + 3] == '' then
      reply = redis.pcall('XADD', partition, id, 'device', readings[i], 'ts', readings[i + 1], 'temp_f', readings[i + 2])
    else
      reply = redis.pcall('XADD', partition, id, 'device', readings[i], 'ts', readings[i + 1], 'temp_f', readings[i + 2],
        'humidity', readings[i + 3])
    end
    if type(reply) == 'table' and reply.err then
      rejections[#rejections + 1] = index .. '\t' .. reply.err
      refused[index] = true
    end
  end

  local outcome = table.concat(rejections, '\n')
  if #rejections > 0 then
    local kept = {}
    for i = 1, index do
      if not refused[i] then kept[#kept + 1] = string.sub(fingerprints, i * 8 - 7, i * 8) end
    end
    fingerprints = table.concat(kept)
  end
  -- One HSET for both fields: the bridge sends a batch per message, so a command less per message counts.
  if #fingerprints > 0 then
    redis.call('HSET', ledger, batch, outcome, batch .. ':readings', fingerprints)
  else
    redis.call('HSET', ledger, batch, outcome)
  end
  if expireAt == nil or batchExpireAt > expireAt then expireAt = batchExpireAt end
  return 1, outcome
end

for i = 2, #ARGV, 4 do
  local applied, rejections = addBatch(ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3])
  replies[#replies + 1] = applied
  replies[#replies + 1] = rejections
end

-- Push the expiry of both keys to at least expire-at; never lower a later one, never leave none.
-- PEXPIRETIME is -1 for a key without expiry and -2 for a missing key (every reading refused).
if expireAt ~= nil then
  for _, key in ipairs(KEYS) do
    local current = redis.call('PEXPIRETIME', key)
    if current == -1 or (current >= 0 and current < expireAt) then
      redis.call('PEXPIREAT', key, expireAt)
    end
  end
end

return replies
