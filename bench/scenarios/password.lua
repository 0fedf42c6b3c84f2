-- password: POST /oauth/token grant_type=password with fixed credentials (static request).
-- Each request costs one argon2id verify on the server and starts a new refresh-token family.
dofile(os.getenv("BENCH_LUA_DIR") .. "/harness.lua")

wrk.method = "POST"
wrk.headers["Authorization"] = basic_auth_header()
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=" .. form_escape(os.getenv("BENCH_USERNAME"))
  .. "&password=" .. form_escape(os.getenv("BENCH_PASSWORD")) .. "&scope=read"
