-- client_credentials: POST /oauth/token grant_type=client_credentials (static request) with a
-- client the driver registers for that grant. Runs only when the server's metadata lists
-- client_credentials in grant_types_supported.
dofile(os.getenv("BENCH_LUA_DIR") .. "/harness.lua")

wrk.method = "POST"
wrk.headers["Authorization"] = basic_auth_header()
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&scope=read"
