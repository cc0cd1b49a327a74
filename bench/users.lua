-- Spreads requests over BENCH_USERS users (default 10000) x up to 3 sessions
-- with the identity headers, so every request is admitted, and counts what
-- each thread sent so the harness can check the gate's counters against it.
--
-- BENCH_ORDER says which session each request belongs to: "random" picks one
-- at random each time, so a session's gaps between requests vary as a
-- crowd's do, and some are long; "turn" asks every session in turn, in a
-- fixed shuffled order, so that each comes back every sessions/rate seconds,
-- as a player asks for its next segment at a steady pace. With "turn",
-- BENCH_PLACE_FILE names a file that keeps the place in that order from one wrk
-- run to the next, so that a run does not restart the round and leave some
-- sessions silent for longer than one.
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local path = os.getenv("BENCH_PATH") or "/playlist.m3u8"
local order = os.getenv("BENCH_ORDER") or "random"
local placeFile = os.getenv("BENCH_PLACE_FILE")
local sessions = users * 3
-- The order visits session (place * step) % sessions at each place: step is
-- a prime that divides no count of sessions the harness uses, so a round of
-- places visits every session once, a household's three far apart.
local step = 7919
local threads = {}

local function readPlace()
  if not placeFile then return 0 end
  local f = io.open(placeFile, "r")
  if not f then return 0 end
  local c = tonumber(f:read("*l") or "") or 0
  f:close()
  return c
end

function setup(thread)
  thread:set("id", #threads + 1)
  -- The harness runs one thread; more would each start an eighth of the
  -- round after the one before.
  thread:set("place", (readPlace() + #threads * math.floor(sessions / 8)) % sessions)
  table.insert(threads, thread)
end

function init(args)
  sent = 0
  math.randomseed(os.time() * 1000 + id)
  if order ~= "random" and order ~= "turn" then
    error("BENCH_ORDER must be random or turn, not " .. order)
  end
end

function request()
  sent = sent + 1
  local u, s
  if order == "turn" then
    place = (place + 1) % sessions
    local c = (place * step) % sessions
    u = c % users + 1
    s = math.floor(c / users) % 3 + 1
  else
    u = math.random(users)
    s = math.random(3)
  end
  return wrk.format("GET", path, {
    ["X-User-Id"] = "user-" .. u,
    ["X-Session-Id"] = "user-" .. u .. "-s" .. s,
  })
end

function done(summary, latency, requests)
  if placeFile and order == "turn" then
    local f = assert(io.open(placeFile, "w"))
    f:write(string.format("%d\n", threads[1]:get("place")))
    f:close()
  end
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
