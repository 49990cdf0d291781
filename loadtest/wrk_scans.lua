-- wrk script for the benchmark's closed loop (loadtest/wrk_load.py writes its input and reads its output).
-- Each wrk thread reads its own file of prebuilt requests (`<prefix>.<thread>`: a decimal length, a
-- newline, then that many bytes of HTTP request, again and again) and sends each request once, in order.
-- No response() callback: wrk then parses nothing for Lua, so its own cost stays at the C level; the
-- verdicts are read back from Postgres. A thread that runs out of scans stops rather than repeat one
-- (a repeat would be an idempotent replay, not a new scan).

local threads = {}
local count = 0

function setup(thread)
  thread:set("part", count)
  count = count + 1
  threads[#threads + 1] = thread
end

function init(args)
  local f = assert(io.open(args[1] .. "." .. part, "rb"))
  data = f:read("*a")
  f:close()
  pos = 1  -- requests are cut out of the file as they are sent, so start-up costs only the read
  sent = 0
  extra = 0
  exhausted = 0
  -- wrk 4.1 checks the script by calling the first thread's request() once right after init(); what that
  -- call returns is parsed, never sent, so it must not use up a scan.
  checking = (part == 0)
end

function request()
  if checking or data == nil then
    checking = false
    return wrk.format("GET", "/healthz")
  end
  if pos > #data then
    exhausted = 1
    extra = extra + 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  local nl = data:find("\n", pos, true)
  local len = tonumber(data:sub(pos, nl - 1))
  pos = nl + len + 1
  sent = sent + 1
  return data:sub(nl + 1, nl + len)
end

function done(summary, latency, requests)
  local sent_all, extra_all, exhausted_all = 0, 0, 0
  for _, t in ipairs(threads) do
    sent_all = sent_all + (t:get("sent") or 0)
    extra_all = extra_all + (t:get("extra") or 0)
    exhausted_all = exhausted_all + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"duration_us": %d, "responses": %d, "sent": %d, "extra": %d, "exhausted_threads": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d}}\n',
    summary.duration, summary.requests, sent_all, extra_all, exhausted_all,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
