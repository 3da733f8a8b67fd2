-- wrk script for bench/bench_workers.py --light: POST the NDJSON stream, one short line after another, and count
-- the responses whose last event is a `final` served by elevenlabs_ws (anything else is an error).
-- The lines come from the environment (WRK_LINES, one JSON body per line), so the bench owns the line set.
local bodies = {}
for body in string.gmatch(os.getenv("WRK_LINES") or "", "[^\n]+") do
  table.insert(bodies, body)
end
local threads = {}
local i = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad = 0, 0
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/avatar/speak/stream", {["Content-Type"] = "application/json"}, bodies[i])
end

function response(status, headers, body)
  -- the final event is the body's last line (under 1 KB for these lines): look only at the end (a search over the
  -- whole ~120 KB body would cost wrk more CPU than the replay stand-in spends on the line)
  local tail = string.sub(body, -4096)
  local at = string.find(tail, '{"type":"final"', 1, true)
  if status == 200 and at and string.find(tail, '"provider":"elevenlabs_ws"', at, true) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local good, failed = 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    failed = failed + thread:get("bad")
  end
  io.write(string.format("WRK_RESULT ok=%d bad=%d\n", good, failed))
end
