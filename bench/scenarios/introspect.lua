-- introspect: POST <introspection_endpoint> token=<one access token> (RFC 7662, static request),
-- authenticated as a resource-server client. Runs only when the server's metadata has an
-- introspection_endpoint; the URL path comes from that metadata. The driver registers a
-- resource-server client (clients create --introspect) and mints the access token once.
dofile(os.getenv("BENCH_LUA_DIR") .. "/harness.lua")

wrk.method = "POST"
wrk.headers["Authorization"] = basic_auth_header()
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=" .. form_escape(os.getenv("BENCH_ACCESS_TOKEN")) .. "&token_type_hint=access_token"
