-- refresh: POST /oauth/token grant_type=refresh_token, chaining single-use refresh tokens.
--
-- Every wrk thread owns a FIFO pool of refresh tokens. request() pops one token (so no token is
-- ever sent twice); response() parses the successor out of a 200 body and pushes it back. With
-- P starting tokens per thread and c connections (P >= c), each connection always presents a
-- token that an earlier response handed out: P independent chains served round-robin. Starting
-- tokens (minted by driver.py with the password grant, one family each) come from
-- BENCH_TOKENS_FILE, one per line; thread i takes lines i, i+n, i+2n, ... (n = BENCH_THREADS).
--
-- Counters: chained (successor received), broken (non-200 or no refresh_token in the body: the
-- chain is lost), starved (pool empty, a dummy token was sent: it will come back as a 400).

dofile(os.getenv("BENCH_LUA_DIR") .. "/harness.lua")
COUNTERS = {"chained", "broken", "starved", "pool_left"}
chained, broken, starved, pool_left = 0, 0, 0, 0

local queue, head, tail = {}, 1, 0
local headers = {
  ["Authorization"] = basic_auth_header(),
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/json",
}

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if line ~= "" then
      if i % thread_count == thread_id then
        tail = tail + 1
        queue[tail] = line
      end
      i = i + 1
    end
  end
  pool_left = tail - head + 1
end

function request()
  local token
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  else
    token = "pool-empty"
    starved = starved + 1
  end
  pool_left = tail - head + 1
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. form_escape(token))
end

function response(status, hdrs, body)
  local token = nil
  if status == 200 then
    token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  end
  if token then
    tail = tail + 1
    queue[tail] = token
    chained = chained + 1
  else
    broken = broken + 1
  end
  pool_left = tail - head + 1
end
