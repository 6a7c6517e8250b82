#!lua
--[==[
  Counts one batch of a partition exactly once, into the reading's window of every size of the day's
  layout (`--windows`, default 1h alone). Each entry is acknowledged here, and counts only when XACK
  returned 1: a redelivered entry (restart, reaper claim, second instance) is never counted twice, and no
  entry is acknowledged without being counted, dead-lettered or routed to the late stream. A reading is
  in every size or in none: either its XACK returned 1 now and no window of it is sealed (counted into
  each), or it goes to the late stream once, naming the sealed window, or it was counted before.
  Windows nest (each size a multiple of the next finer one), so the readings of one finest window share
  every coarser window, and lateness is decided per finest window.
  The caller sends each finest window's figures precomputed; they apply as they are when every entry of
  the window was acknowledged now (the usual case), and are recomputed from the per-entry values
  otherwise. Every key is in the partition's cluster slot: late readings and dead letters go to
  the partition's outbox, from which forwardOutbox (@pipe/streams) moves them to their streams exactly once.

  KEYS[1] partition stream   KEYS[2] {partition}:agg (maxts, group, and the sealed marker of each size)
  KEYS[3] {partition}:outbox (stream; first field `to` = the destination stream's key)
  KEYS[4 .. 3+S] the open windows of each size (zsets), finest first, S = number of sizes
  KEYS[4+S ..] window hashes ({partition}:hour:<start> for 1h, {partition}:win:<size>:<start> else)

  ARGV[1] group   ARGV[2] consumer   ARGV[3] now ms   ARGV[4] newest event time ('' = none)
  ARGV[5] entries JSON { "i": [id, ...], "k": [finest window index (1-based) or 0 for undecodable, ...],
          "x": [[entry index, reason, original fields JSON], ...] }
  ARGV[6] finest windows JSON, each [n, sum, sq, hn, hsum, "min", "max", first ts, last ts, [device, ...],
          [KEYS index of its window hash of each size, finest first]] and, with --per-device, a 12th
          element: the byte offset in ARGV[12] of its devices' figures, and maybe a 13th to 15th: the
          readings the caller expects the hash to count before the batch, the token it expects in its
          `dv` ('' none), and this batch's token (see storeDevices). Then the finest window's hash
          holds in `d:<device>` the device's totals packed as nine little-endian doubles
          `n sum sq min max f l hn hsum` (see mergeDevices) instead of `1`; coarser hashes get their
          devices when each finer window settles (settle-window-n.lua folds its sealed totals in), not
          once per batch.
  ARGV[7] per-entry values, read only when a window had entries acknowledged before (see recount):
          four little-endian doubles per entry, `temp_f ts humidity device` (humidity NaN when the
          reading has none; device the 1-based position in its finest window's device list; all 0 for
          an undecodable entry). Binary, as ARGV[12]: laying them out as JSON text cost the caller more
          than the rest of the batch, for a path that runs only after a redelivery.
  ARGV[8] late stream   ARGV[9] dead-letter stream
  ARGV[10] ms the `agg` hash outlives the partition
  ARGV[11] sizes JSON, finest first: [[name in late reasons (`hour`, `window 1m`), sealed marker field], ...]
  ARGV[12] with --per-device: each finest window's devices' figures, in the order of its devices, as
          they are packed (nine little-endian doubles each, 72 bytes); the caller checked that they
          are finite. Binary: no JSON to write, send or decode for the largest part of the batch.

  ARGV[13] with --per-device, optional (a window's 13th element says it holds its devices): each
          device's packed totals after the batch as the caller expects them, at the offsets of ARGV[12]
          (see storeDevices).

  Returns { counted, already_acked, late, dead_lettered, [finest window index, ...] }, the last the
  windows with expected totals whose devices were not stored as the caller sent them (merged here, or
  not written: every entry late or counted before).
]==]
local partition, agg, outbox = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local late, dlq = ARGV[8], ARGV[9]
local batchMaxts = tonumber(ARGV[4])
local batch = cjson.decode(ARGV[5])
local windows = cjson.decode(ARGV[6])
local sizes = cjson.decode(ARGV[11])
local ids, windowOf = batch.i, batch.k
local ENTRY_BYTES = 32

-- Nothing is written (no XACK either) unless every figure is a finite number: a script that failed
-- half-way would leave entries acknowledged and not counted.
local function finite(x) return type(x) == 'number' and x == x and x ~= math.huge and x ~= -math.huge end
for _, w in ipairs(windows) do
  if not (finite(w[1]) and finite(w[2]) and finite(w[3]) and finite(w[4]) and finite(w[5])) then
    return redis.error_reply('accumulate-batch: a window\'s figures are not finite numbers; batch refused whole')
  end
end

-- One consumer group counts a partition (the one that owns the averages, see ownership.ts): an entry
-- acknowledged in a second group would count twice. The first batch names it; take-over-2.lua moves it.
local owner = redis.call('HGET', agg, 'group')
if owner and owner ~= group then
  return redis.error_reply('NOTOWNER ' .. partition .. ' is counted by consumer group ' .. owner)
end
if not owner then redis.call('HSET', agg, 'group', group) end

-- Windows at or before their size's sealed marker are closed for good (seal-window-n.lua): a finest
-- window is late when its window of any size is.
local markers = {}
for j, size in ipairs(sizes) do markers[j] = tonumber(redis.call('HGET', agg, size[2]) or '-1') end
local state = {}
for g, w in ipairs(windows) do
  local s = { counted = 0, skipped = 0 }
  for j, k in ipairs(w[11]) do
    local start = tonumber(string.match(KEYS[k], '(%d+)$'))
    if not s.reason and start <= markers[j] then
      s.reason = sizes[j][1] .. ' ' .. start .. ' was already closed'
    end
  end
  state[g] = s
end

local function original(id)
  local entry = redis.call('XRANGE', partition, id, id)[1]
  local fields = {}
  if entry then
    for j = 1, #entry[2], 2 do fields[entry[2][j]] = entry[2][j + 1] end
  end
  return fields
end

local poison = {}
for _, x in ipairs(batch.x) do poison[x[1]] = x end

local counted, duplicates, lateCount, dead = 0, 0, 0, 0
local fresh = {}
for i = 1, #ids do
  local id, g = ids[i], windowOf[i]
  if g == 0 then
    -- Read delivery facts before the ack removes the PEL entry.
    local p = redis.call('XPENDING', partition, group, id, id, 1)
    if redis.call('XACK', partition, group, id) == 1 then
      local holder, deliveries, idle = consumer, 1, 0
      if p[1] then holder, idle, deliveries = p[1][2], p[1][3], p[1][4] end
      redis.call('XADD', outbox, '*', 'to', dlq, 'stream', partition, 'id', id, 'group', group, 'consumer', holder,
        'deliveries', deliveries, 'idle_ms', idle, 'reason', poison[i][2], 'fields', poison[i][3], 'dead_at', now)
      dead = dead + 1
    else
      duplicates = duplicates + 1
    end
  elseif redis.call('XACK', partition, group, id) == 1 then
    fresh[i] = true
    local s = state[g]
    if s.reason then
      redis.call('XADD', outbox, '*', 'to', late, 'stream', partition, 'id', id,
        'reason', s.reason, 'fields', cjson.encode(original(id)))
      lateCount = lateCount + 1
    else
      s.counted = s.counted + 1
      counted = counted + 1
    end
  else
    duplicates = duplicates + 1
    state[g].skipped = state[g].skipped + 1
  end
end

-- The figures of finest window g's entries acknowledged now, when some of its entries had been
-- acknowledged before: only those may count. Bounds travel as text (HSET), written exactly (%.17g).
local function exact(x) return string.format('%.17g', x) end
local function recount(g)
  local perDevice = windows[g][12] ~= nil
  local names = windows[g][10]
  local n, sum, sq, hn, hsum, min, max, first, last, devices, seen = 0, 0, 0, 0, 0, nil, nil, nil, nil, {}, {}
  local figures = {}
  for i = 1, #ids do
    if fresh[i] and windowOf[i] == g then
      local t, ts, h, at = struct.unpack('<dddd', ARGV[7], (i - 1) * ENTRY_BYTES + 1)
      n = n + 1
      sum = sum + t
      sq = sq + t * t
      -- NaN: the reading carries no humidity.
      if h == h then
        hn = hn + 1
        hsum = hsum + h
      end
      if not min or t < min then min = t end
      if not max or t > max then max = t end
      if not first or ts < first then first = ts end
      if not last or ts > last then last = ts end
      local device = names[at]
      if not seen[device] then
        seen[device] = #devices + 1
        devices[#devices + 1] = device
        if perDevice then figures[#devices] = { 0, 0, 0, t, t, ts, ts, 0, 0 } end
      end
      if perDevice then
        local d = figures[seen[device]]
        d[1], d[2], d[3] = d[1] + 1, d[2] + t, d[3] + t * t
        if t < d[4] then d[4] = t end
        if t > d[5] then d[5] = t end
        if ts < d[6] then d[6] = ts end
        if ts > d[7] then d[7] = ts end
        if h == h then d[8], d[9] = d[8] + 1, d[9] + h end
      end
    end
  end
  return { n, sum, sq, hn, hsum, exact(min), exact(max), first, last, devices, windows[g][11],
    perDevice and figures or nil }
end

--#include lib/device-totals.lua
-- With --per-device: merges each device's figures `w[12]` into its packed `d:<device>` field of the
-- finest window's hash (one HMGET, one HSET per 1000 devices); returns how many devices the hash did
-- not list. Used where the caller's totals cannot be trusted (see storeDevices).
local DEVICE_BYTES = 72
-- `figures`: the recounted figures (a table, see recount), or the byte offset of the caller's in ARGV[12].
local function mergeDevices(key, devices, figures)
  local blob = ARGV[12]
  local added = 0
  for from = 1, #devices, 1000 do
    local to = math.min(from + 999, #devices)
    local names = {}
    for i = from, to do names[#names + 1] = 'd:' .. devices[i] end
    local old = redis.call('HMGET', key, unpack(names))
    local packed = {}
    for i = from, to do
      local o = old[i - from + 1]
      packed[#packed + 1] = names[i - from + 1]
      local n, sum, sq, min, max, f, l, hn, hsum
      if type(figures) == 'table' then
        local d = figures[i]
        n, sum, sq, min, max, f, l, hn, hsum = d[1], d[2], d[3], tonumber(d[4]), tonumber(d[5]), d[6], d[7], d[8], d[9]
      elseif o then
        n, sum, sq, min, max, f, l, hn, hsum = struct.unpack(PACKED, blob, figures + (i - 1) * DEVICE_BYTES + 1)
      end
      if o then
        packed[#packed + 1] = mergedTotals(n, sum, sq, min, max, f, l, hn, hsum, o)
      else
        added = added + 1
        if n then packed[#packed + 1] = struct.pack(PACKED, n, sum, sq, min, max, f, l, hn, hsum)
        else
          -- The device's first figures of the window: stored as the caller packed them.
          local at = figures + (i - 1) * DEVICE_BYTES + 1
          packed[#packed + 1] = string.sub(blob, at, at + DEVICE_BYTES - 1)
        end
      end
    end
    redis.call('HSET', key, unpack(packed))
  end
  return added
end

-- mergeDevices when the caller knows the hash's device totals (DeviceTotalsCache): it sent each
-- device's totals after the batch in ARGV[13] (at the offsets of ARGV[12]), stored here as they are,
-- with no read, unpack, merge or pack per device. It knows them when the hash is as its previous batch
-- for the window left it (checked before this batch adds to it): `dv` holds that batch's token, which
-- only that batch's store writes (a merge writes `-`), and `n` the readings the caller counted into
-- the window (an earlier version of this script writes device totals without `dv`, never without `n`).
local function storeDevices(key, devices, offset)
  local after, added = ARGV[13], 0
  for from = 1, #devices, 1000 do
    local packed = {}
    for i = from, math.min(from + 999, #devices) do
      local at = offset + (i - 1) * DEVICE_BYTES + 1
      packed[#packed + 1] = 'd:' .. devices[i]
      packed[#packed + 1] = string.sub(after, at, at + DEVICE_BYTES - 1)
    end
    added = added + redis.call('HSET', key, unpack(packed))
  end
  return added
end

-- Companion state lives as long as its partition, so nothing is left behind when a day expires.
local ttl = redis.call('PTTL', partition)
-- The finest windows (by index) that came with expected totals (a 13th element) and were merged here
-- or not written at all: the caller's totals of them are a guess now.
local merged = {}
for g, w in ipairs(windows) do
  local s = state[g]
  -- w[13], w[14]: the finest window's hash as the caller expects it before this batch (storeDevices).
  local asExpected = false
  if s.counted > 0 and s.skipped == 0 and w[13] ~= nil then
    local held = redis.call('HMGET', KEYS[w[11][1]], 'n', 'dv')
    asExpected = tonumber(held[1] or '0') == w[13] and (held[2] or '') == w[14]
  end
  if s.counted > 0 then
    if s.skipped > 0 then w = recount(g) end
    for j, k in ipairs(w[11]) do
      local key = KEYS[k]
      redis.call('HINCRBY', key, 'n', w[1])
      redis.call('HINCRBYFLOAT', key, 'sum', w[2])
      redis.call('HINCRBYFLOAT', key, 'sq', w[3])
      if w[4] > 0 then
        redis.call('HINCRBY', key, 'hn', w[4])
        redis.call('HINCRBYFLOAT', key, 'hsum', w[5])
      end
      local old = redis.call('HMGET', key, 'min', 'max', 'f', 'l')
      if not old[1] or tonumber(w[6]) < tonumber(old[1]) then redis.call('HSET', key, 'min', w[6]) end
      if not old[2] or tonumber(w[7]) > tonumber(old[2]) then redis.call('HSET', key, 'max', w[7]) end
      if not old[3] or w[8] < tonumber(old[3]) then redis.call('HSET', key, 'f', string.format('%d', w[8])) end
      if not old[4] or w[9] > tonumber(old[4]) then redis.call('HSET', key, 'l', string.format('%d', w[9])) end
      local newDevices = 0
      if w[12] then
        if j == 1 and asExpected then
          newDevices = storeDevices(key, w[10], w[12])
          redis.call('HSET', key, 'dv', w[15])
        elseif j == 1 then
          newDevices = mergeDevices(key, w[10], w[12])
          -- Whatever a caller expects of the hash now, it is not what it holds.
          redis.call('HSET', key, 'dv', '-')
        end
      else
        -- HSET answers how many fields are new: one call per 2000 devices rather than one each.
        local names = w[10]
        for from = 1, #names, 2000 do
          local fields = {}
          for i = from, math.min(from + 1999, #names) do
            fields[#fields + 1] = 'd:' .. names[i]
            fields[#fields + 1] = 1
          end
          newDevices = newDevices + redis.call('HSET', key, unpack(fields))
        end
      end
      if newDevices > 0 then redis.call('HINCRBY', key, 'devices', newDevices) end
      local start = string.match(key, '(%d+)$')
      redis.call('ZADD', KEYS[3 + j], start, start)
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    end
  end
  -- windows[g], not w: a recount replaced w, without the caller's expectations.
  if windows[g][13] and not asExpected then merged[#merged + 1] = g end
end

if counted > 0 then
  if ttl > 0 then
    for j = 1, #sizes do redis.call('PEXPIRE', KEYS[3 + j], ttl) end
  end
  local old = tonumber(redis.call('HGET', agg, 'maxts'))
  if batchMaxts and (not old or batchMaxts > old) then redis.call('HSET', agg, 'maxts', batchMaxts) end
end
-- Also when nothing was counted: late readings push the partition's expiry too. The sealed markers
-- outlive the partition by as long as the published windows' sources: a partition that expires and is
-- written again (a straggler within --retention) must find its windows sealed, or their new readings
-- would count into totals that settle-hour drops as already published.
if ttl > 0 then redis.call('PEXPIRE', agg, ttl + tonumber(ARGV[10])) end
if ttl > 0 and (lateCount > 0 or dead > 0) then redis.call('PEXPIRE', outbox, ttl) end

return { counted, duplicates, lateCount, dead, merged }
