#!lua
--[[
  Applies a batch of one partition's readings to the alert rules' state machines, atomically with the
  partition's position, so that a batch delivered again (a crash between this script and XACK) changes
  nothing: entries at or below the stored position are skipped.

  Each (rule, device) is ok (no field), pending (`p:<since>`) or firing (`f:<since>:<value>`):
    ok      -> pending  the condition holds (above: value > threshold; below: value < threshold)
    pending -> firing   it still holds `for` ms after it began (at once when `for` is 0)
    pending -> ok       it no longer holds, before that
    firing  -> ok       the value is back at or beyond `clear` (above: value <= clear; below: >= clear)
  A no_data rule fires when a device's reading comes `for` ms or more after its previous one (and
  resolves at once with that reading), or when check-silence found it silent (resolves on its next reading).
  Each firing and resolved transition is one XADD to the alerts stream:
    rule, device, state (firing|resolved), since, at (event times, ms), value ('' for no data).

  KEYS[1] states (hash `<rule>:<device>` -> state)   KEYS[2] positions (hash partition -> last entry ID)
  KEYS[3] devices seen (hash device -> newest ts)    KEYS[4] the alerts stream
  ARGV[1] rules (encodeRules: a line per rule, tab-separated name, pattern, kind, metric, threshold,
          clear, for)
  ARGV[2] the partition   ARGV[3] n, then n times: entry ID, device, ts, temp_f, humidity ('' if none)

  Returns {applied, skipped, fired, resolved}.
]]
local states, positions, seen, alerts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local rules = {}
for line in string.gmatch(ARGV[1], '[^\n]+') do
  local name, pattern, kind, metric, threshold, clear, forMs =
    string.match(line, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
  rules[#rules + 1] = {
    name = name, pattern = pattern, kind = kind, metric = metric,
    threshold = tonumber(threshold), clear = tonumber(clear), forMs = tonumber(forMs),
  }
end

-- Devices' last readings are kept only while a no_data rule needs them.
local tracksSeen = false
for i = 1, #rules do if rules[i].kind == 'no_data' then tracksSeen = true end end

local partition = ARGV[2]
local n = tonumber(ARGV[3])

-- Stream IDs `<ms>-<seq>`: both parts fit a double exactly.
local function idAbove(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am > bm end
  return tonumber(as) > tonumber(bs)
end

local position = redis.call('HGET', positions, partition)

-- Per call: which rules a device matches, each state and last-seen read once, written once at the end.
local matching, stateOf, changedStates, seenOf, changedSeen = {}, {}, {}, {}, {}
local function rulesOf(device)
  local list = matching[device]
  if not list then
    list = {}
    for i = 1, #rules do
      if string.find(device, rules[i].pattern) then list[#list + 1] = rules[i] end
    end
    matching[device] = list
  end
  return list
end
local function getState(field)
  local s = stateOf[field]
  if s == nil then
    s = redis.call('HGET', states, field) or ''
    stateOf[field] = s
  end
  return s
end
local function setState(field, s)
  stateOf[field] = s
  changedStates[field] = true
end
local function lastSeen(device)
  local s = seenOf[device]
  if s == nil then
    s = tonumber(redis.call('HGET', seen, device)) or false
    seenOf[device] = s
  end
  return s
end

local fired, resolved = 0, 0
local function emit(rule, device, state, since, at, value)
  redis.call('XADD', alerts, '*', 'rule', rule, 'device', device, 'state', state,
    'since', string.format('%d', since), 'at', string.format('%d', at), 'value', value)
  if state == 'firing' then fired = fired + 1 else resolved = resolved + 1 end
end

local applied, skipped, last = 0, 0, nil
for i = 0, n - 1 do
  local base = 4 + i * 5
  local id, device, tsText = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  if position and not idAbove(id, position) then
    skipped = skipped + 1
  else
    applied = applied + 1
    last = id
    local ts = tonumber(tsText)
    local temp, humidity = ARGV[base + 3], ARGV[base + 4]
    local previous = tracksSeen and lastSeen(device)
    for _, rule in ipairs(rulesOf(device)) do
      local field = rule.name .. ':' .. device
      local state = getState(field)
      if rule.kind == 'no_data' then
        if string.sub(state, 1, 2) == 'f:' then
          local since = tonumber(string.match(state, '^f:(%d+):'))
          emit(rule.name, device, 'resolved', since, ts, temp)
          setState(field, '')
        elseif previous and ts - previous >= rule.forMs then
          emit(rule.name, device, 'firing', previous, previous + rule.forMs, '')
          emit(rule.name, device, 'resolved', previous, ts, temp)
        end
      else
        local text = rule.metric == 'temp_f' and temp or humidity
        local value = tonumber(text)
        if value then
          local above = rule.kind == 'above'
          local holds = (above and value > rule.threshold) or (not above and value < rule.threshold)
          local kind = string.sub(state, 1, 1)
          if kind == 'f' then
            local cleared = (above and value <= rule.clear) or (not above and value >= rule.clear)
            if cleared then
              emit(rule.name, device, 'resolved', tonumber(string.match(state, '^f:(%d+):')), ts, text)
              setState(field, '')
            end
          elseif kind == 'p' then
            if not holds then
              setState(field, '')
            else
              local since = tonumber(string.sub(state, 3))
              if ts - since >= rule.forMs then
                emit(rule.name, device, 'firing', since, ts, text)
                setState(field, 'f:' .. string.format('%d', since) .. ':' .. text)
              end
            end
          elseif holds then
            if rule.forMs <= 0 then
              emit(rule.name, device, 'firing', ts, ts, text)
              setState(field, 'f:' .. tsText .. ':' .. text)
            else
              setState(field, 'p:' .. tsText)
            end
          end
        end
      end
    end
    if tracksSeen and (not previous or ts > previous) then
      seenOf[device] = ts
      changedSeen[device] = true
    end
  end
end

for field in pairs(changedStates) do
  if stateOf[field] == '' then
    redis.call('HDEL', states, field)
  else
    redis.call('HSET', states, field, stateOf[field])
  end
end
for device in pairs(changedSeen) do redis.call('HSET', seen, device, string.format('%d', seenOf[device])) end
if last then redis.call('HSET', positions, partition, last) end
return {applied, skipped, fired, resolved}
