-- fresh.lua: wrk sends a different bearer token with every request, taken
-- in order from a file of tokens (one per line).
--
--   wrk -t1 -c32 -d2s -s fresh.lua URL -- FILE [FIRST] [COUNT]
--
-- FIRST (1-based, default 1) and COUNT (default: to the end) pick a slice
-- of the file, so runs against one server use tokens it has not seen. When
-- a run sends more requests than the slice holds it starts over, and those
-- requests reuse tokens: the caller compares wrk's request count with COUNT.

local tokens = {}
local n, i = 0, 0

function init(args)
  local file = args[1]
  local first = tonumber(args[2] or "1")
  local count = tonumber(args[3] or "0")
  local k = 0
  for line in io.lines(file) do
    k = k + 1
    if k >= first and (count == 0 or k < first + count) and #line > 0 then
      n = n + 1
      tokens[n] = "Bearer " .. line
    end
  end
  if n == 0 then
    error("fresh.lua: no tokens in " .. tostring(file))
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return wrk.format(nil, nil, { Authorization = tokens[i] })
end
