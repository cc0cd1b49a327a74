-- Spreads requests over BENCH_USERS users (default 10000) x up to 3 sessions
-- with the identity headers, so every request is admitted, and counts what
-- each thread sent so the harness can check the gate's counters against it.
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local path = os.getenv("BENCH_PATH") or "/playlist.m3u8"
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  sent = 0
  math.randomseed(os.time() * 1000 + id)
end

function request()
  sent = sent + 1
  local u = math.random(users)
  local s = math.random(3)
  return wrk.format("GET", path, {
    ["X-User-Id"] = "user-" .. u,
    ["X-Session-Id"] = "user-" .. u .. "-s" .. s,
  })
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"sent":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, total, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
