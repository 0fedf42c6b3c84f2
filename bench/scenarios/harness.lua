-- harness.lua: shared by every scenario script (loaded with dofile by each script, in wrk's main Lua state
-- and in every thread's state). Gives:
--   * a `setup` that numbers the threads (global `thread_id`, 0-based; `thread_count` from
--     BENCH_THREADS) and keeps them so `done` can read their counters;
--   * a `done` that writes wrk's summary, latency percentiles and the scenario's own counters
--     (names listed in the global COUNTERS table) as one JSON object to BENCH_RESULT_FILE,
--     which driver.py reads (wrk's text output is kept in the run log only).
-- A scenario script sets COUNTERS (and increments those globals) and defines request/response
-- only when it needs dynamic requests; static scripts just set wrk.method/body/headers.

COUNTERS = COUNTERS or {}
thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
thread_id = thread_id or 0

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function form_escape(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function basic_auth_header()
  -- the driver computes "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 2.3.1)
  return os.getenv("BENCH_BASIC_AUTH")
end

local function num(v) return string.format("%.17g", v or 0) end

function done(summary, latency, requests)
  local parts = {}
  local function add(k, v) table.insert(parts, string.format('"%s": %s', k, v)) end
  add("requests", num(summary.requests))
  add("duration_us", num(summary.duration))
  add("bytes", num(summary.bytes))
  add("errors_connect", num(summary.errors.connect))
  add("errors_read", num(summary.errors.read))
  add("errors_write", num(summary.errors.write))
  add("errors_status", num(summary.errors.status))
  add("errors_timeout", num(summary.errors.timeout))
  add("latency_mean_us", num(latency.mean))
  add("latency_max_us", num(latency.max))
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    add("latency_p" .. tostring(p):gsub("%.", "_") .. "_us", num(latency:percentile(p)))
  end
  for _, name in ipairs(COUNTERS) do
    local total = 0
    for _, t in ipairs(threads) do total = total + (tonumber(t:get(name)) or 0) end
    add("counter_" .. name, num(total))
  end
  local path = os.getenv("BENCH_RESULT_FILE")
  if path then
    local f = assert(io.open(path, "w"))
    f:write("{" .. table.concat(parts, ", ") .. "}\n")
    f:close()
  end
end
