-- A device's totals of a window, as its `d:<device>` field of the window hash holds them: nine
-- little-endian doubles `n sum sq min max f l hn hsum` (struct reads and writes them exactly at a
-- fraction of the cost of text). A field packed as text by an earlier version (the nine numbers space
-- separated) still reads. Included (`--#include`) by the scripts that merge totals.
local PACKED, TEXT = '<ddddddddd', '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$'
local function totalsOf(packed)
  -- A double of a small whole count starts with a zero byte; text starts with a digit.
  if string.byte(packed, 1) == 0 then return struct.unpack(PACKED, packed) end
  local n, sum, sq, min, max, f, l, hn, hsum = string.match(packed, TEXT)
  return tonumber(n), tonumber(sum), tonumber(sq), tonumber(min), tonumber(max), tonumber(f), tonumber(l),
    tonumber(hn), tonumber(hsum)
end
-- Totals `n .. hsum` and the packed totals `old` together, packed.
local function mergedTotals(n, sum, sq, min, max, f, l, hn, hsum, old)
  local on, osum, osq, omin, omax, of, ol, ohn, ohsum = totalsOf(old)
  if omin < min then min = omin end
  if omax > max then max = omax end
  if of < f then f = of end
  if ol > l then l = ol end
  return struct.pack(PACKED, n + on, sum + osum, sq + osq, min, max, f, l, hn + ohn, hsum + ohsum)
end
